# estate: the control plane for the department's technology estate.
# `make help` lists the targets.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

BIN ?= $(CURDIR)/bin
# Kubernetes binaries and the tests share CGO_ENABLED so the build cache is shared.
export CGO_ENABLED ?= 0
export ESTATE_BIN := $(BIN)
export KUBEBUILDER_ASSETS := $(BIN)
export PATH := $(BIN):$(PATH)
# Pulumi must never try to download a plugin or check for a newer CLI.
export PULUMI_SKIP_UPDATE_CHECK := true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION := true

CONTROLLER_GEN := $(BIN)/controller-gen
GO_TEST_FLAGS ?=

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: tools
tools: ## Build etcd, kube-apiserver, kube-controller-manager, kubectl and controller-gen into bin/ (skipped when current).
	@./hack/build-tools.sh

.PHONY: pulumi-tools
pulumi-tools: ## Build the pulumi CLI and the pulumi-resource-kubernetes plugin into bin/ (skipped when current).
	@./hack/build-pulumi.sh

.PHONY: generate
generate: tools ## Regenerate deep copies and CRD manifests from crds/v1alpha1.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./crds/...
	$(CONTROLLER_GEN) crd:crdVersions=v1 paths=./crds/... output:crd:artifacts:config=crds/manifests
	@gofmt -w crds/v1alpha1/zz_generated.deepcopy.go
	@# ClusterNetworkPolicy's CRD comes from the network-policy-api module at the version go.mod pins.
	cp "$$(go list -m -f '{{.Dir}}' sigs.k8s.io/network-policy-api)/config/crd/standard/policy.networking.k8s.io_clusternetworkpolicies.yaml" crds/thirdparty/
	@chmod 644 crds/thirdparty/*.yaml

.PHONY: verify
verify: generate ## Fail when generated files are stale or code is not gofmt-clean.
	@git diff --exit-code -- crds/ || { echo "verify: generated files are stale; run make generate and commit the result" >&2; exit 1; }
	@test -z "$$(git status --porcelain -- crds/)" || { echo "verify: untracked generated files under crds/; run make generate and commit them" >&2; git status --porcelain -- crds/ >&2; exit 1; }
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; test -z "$$out" || { echo "verify: not gofmt-clean: $$out" >&2; exit 1; }
	go vet ./...

.PHONY: build
build: ## Build estatectl and estate-operator into bin/.
	go build -o $(BIN)/estatectl ./cmd/estatectl
	go build -o $(BIN)/estate-operator ./cmd/estate-operator

.PHONY: run
run: tools build ## Start the local control plane, apply the reference estate, print placements, stop.
	$(BIN)/estatectl dev run -f examples/estate

.PHONY: test
test: verify build pulumi-tools ## Run unit, integration (envtest) and end-to-end (terratest, Pulumi) tests.
	go test $(GO_TEST_FLAGS) ./...
	go test $(GO_TEST_FLAGS) -tags e2e -count=1 -timeout 20m ./test/...

.PHONY: bench
bench: tools build ## Run the Go benchmarks and the local control plane runs; docs/benchmarks.md records the figures.
	go test -run '^$$' -bench . -benchmem -cpu 1 ./internal/...
	go test -run '^$$' -bench . -benchmem -tags e2e -benchtime 1x -timeout 30m ./test/...

.PHONY: clean
clean: ## Remove built binaries (the Kubernetes tools take minutes to rebuild).
	rm -rf $(BIN)
