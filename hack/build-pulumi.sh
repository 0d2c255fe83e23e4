#!/usr/bin/env bash
# Builds the Pulumi CLI (module hack/pulumi/cli) and the Pulumi Kubernetes
# provider plugin (module hack/pulumi/kubernetes) from their Go modules into
# bin/, for running stacks with no downloads. A rebuild is skipped when
# bin/.pulumi-stamp matches the inputs.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${ESTATE_BIN:-$root/bin}"
cli_module="$root/hack/pulumi/cli"
provider_module="$root/hack/pulumi/kubernetes"
mkdir -p "$bin"

# Both are built without cgo: a cgo build of the CLI was seen asking the
# system resolver before reading /etc/hosts.
export CGO_ENABLED="${CGO_ENABLED:-0}"

# module_version GO_MOD MODULE prints the version GO_MOD requires of MODULE.
module_version() { awk -v m="$2" '($1==m){print $2} ($1=="require" && $2==m){print $3}' "$1"; }
cli_version="$(module_version "$cli_module/go.mod" github.com/pulumi/pulumi/pkg/v3)"
provider_module_version="$(module_version "$provider_module/go.mod" github.com/pulumi/pulumi-kubernetes/provider/v4)"
# The provider module has no release tags, so the proxy serves a pseudo-version
# such as v4.0.0-20260115033456-f47bc2d6f199. It is valid semver, which the
# engine requires of a plugin's reported version, and it names the commit.
provider_version="${provider_module_version#v}"

stamp_input() {
  cat "$cli_module/go.mod" "$cli_module/go.sum" "$provider_module/go.mod" "$provider_module/go.sum" \
    "$provider_module/main.go" "$provider_module/embedschema/main.go" "$0"
  go version
  echo "CGO_ENABLED=$CGO_ENABLED"
}
want="$(stamp_input | sha256sum | cut -d' ' -f1)"
have="$(cat "$bin/.pulumi-stamp" 2>/dev/null || true)"
binaries=(pulumi pulumi-resource-kubernetes)

missing=0
for b in "${binaries[@]}"; do [[ -x "$bin/$b" ]] || missing=1; done
if [[ "$want" == "$have" && $missing == 0 ]]; then
  echo "pulumi: up to date in $bin (CLI $cli_version, Kubernetes provider $provider_version)"
  exit 0
fi

# A machine-wide copy keyed by the inputs lets a fresh clone on a warm machine
# skip the build; remove ~/.cache/estate/tools to force one.
shared="${ESTATE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/estate/tools}/$want"
cached=1
for b in "${binaries[@]}"; do [[ -x "$shared/$b" ]] || cached=0; done
if [[ $cached == 1 ]]; then
  for b in "${binaries[@]}"; do cp "$shared/$b" "$bin/$b"; done
  echo "$want" > "$bin/.pulumi-stamp"
  echo "pulumi: copied the CLI $cli_version and Kubernetes provider $provider_version from $shared"
  exit 0
fi

# build NAME MODULE_DIR PACKAGE LDFLAGS runs go build with a heartbeat so a cold build,
# which takes minutes on a small machine, never looks hung. The EXIT trap
# stops the heartbeat when a failed build ends the script.
ticker=""
trap '[[ -n "$ticker" ]] && kill "$ticker" 2>/dev/null; true' EXIT
build() {
  local name="$1" dir="$2" pkg="$3" ldflags="$4" start=$SECONDS
  echo "pulumi: building $name ($pkg)"
  ( while sleep 30; do echo "pulumi:   $name still building, $((SECONDS - start))s elapsed"; done ) &
  ticker=$!
  (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$bin/$name.tmp" "$pkg")
  kill "$ticker" 2>/dev/null || true
  ticker=""
  mv "$bin/$name.tmp" "$bin/$name"
  echo "pulumi: built $name in $((SECONDS - start))s"
}

echo "pulumi: building the Pulumi CLI $cli_version and Kubernetes provider $provider_version into $bin"
echo "pulumi: a cold build takes about 11 minutes on 2 cores, and the provider's link needs about 5 GB of memory"

# Without a version the CLI prints an empty one, and the Automation API
# refuses to drive it.
build pulumi "$cli_module" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
  "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$cli_version"

# The provider's own main embeds two generated files that its module zip
# lacks; generate them from the module's schema.json and terraform-mapping.json.
provider_source="$(cd "$provider_module" && go mod download github.com/pulumi/pulumi-kubernetes/provider/v4 &&
  go list -m -f '{{.Dir}}' github.com/pulumi/pulumi-kubernetes/provider/v4)"
(cd "$provider_module" && go run ./embedschema \
  -from "$provider_source/cmd/pulumi-resource-kubernetes" -to . -version "$provider_version")
build pulumi-resource-kubernetes "$provider_module" . \
  "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$provider_version"

echo "$want" > "$bin/.pulumi-stamp"
mkdir -p "$shared"
for b in "${binaries[@]}"; do cp "$bin/$b" "$shared/$b.tmp" && mv "$shared/$b.tmp" "$shared/$b"; done
echo "pulumi: done"
