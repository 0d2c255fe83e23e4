#!/usr/bin/env bash
# Builds the Kubernetes and etcd binaries that the local control plane and
# envtest use, plus controller-gen, from their Go modules into bin/.
# A rebuild is skipped when bin/.tools-stamp matches the inputs.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${ESTATE_BIN:-$root/bin}"
tools="$root/hack/tools"
mkdir -p "$bin"

# Kubernetes and our test binaries must share CGO_ENABLED, or the build cache
# cannot reuse the compiled Kubernetes packages between them.
export CGO_ENABLED="${CGO_ENABLED:-0}"

kube_version="$(awk '$1=="k8s.io/kubernetes"{print $2}' "$tools/go.mod")"
controller_gen_version="v0.23.0"
kube_minor="$(echo "$kube_version" | cut -d. -f2)"

stamp_input() {
  cat "$tools/go.mod" "$tools/go.sum" "$tools/etcd/main.go" "$0"
  go version
  echo "CGO_ENABLED=$CGO_ENABLED controller-gen=$controller_gen_version"
}
want="$(stamp_input | sha256sum | cut -d' ' -f1)"
have="$(cat "$bin/.tools-stamp" 2>/dev/null || true)"
binaries=(etcd kube-apiserver kube-controller-manager kubectl controller-gen)

missing=0
for b in "${binaries[@]}"; do [[ -x "$bin/$b" ]] || missing=1; done
if [[ "$want" == "$have" && $missing == 0 ]]; then
  echo "tools: up to date in $bin (Kubernetes $kube_version)"
  exit 0
fi

# A machine-wide copy keyed by the inputs lets a fresh clone on a warm machine
# skip the build; remove ~/.cache/estate/tools to force one.
shared="${ESTATE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/estate/tools}/$want"
cached=1
for b in "${binaries[@]}"; do [[ -x "$shared/$b" ]] || cached=0; done
if [[ $cached == 1 ]]; then
  for b in "${binaries[@]}"; do cp "$shared/$b" "$bin/$b"; done
  echo "$want" > "$bin/.tools-stamp"
  echo "tools: copied Kubernetes $kube_version binaries from $shared"
  exit 0
fi

ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor"
  ldflags+=" -X $pkg.gitTreeState=clean"
done

# build NAME PACKAGE runs go build with a heartbeat so a cold build, which takes
# minutes on a small machine, never looks hung.
build() {
  local name="$1" pkg="$2" start=$SECONDS
  echo "tools: building $name ($pkg)"
  ( while sleep 30; do echo "tools:   $name still building, $((SECONDS - start))s elapsed"; done ) &
  local ticker=$!
  trap 'kill $ticker 2>/dev/null || true' RETURN
  (cd "$tools" && go build -trimpath -ldflags "$ldflags" -o "$bin/$name" "$pkg")
  echo "tools: built $name in $((SECONDS - start))s"
}

echo "tools: building Kubernetes $kube_version binaries into $bin"
echo "tools: a cold build takes 10-15 minutes on 2 cores; warm rebuilds take seconds"
build etcd ./etcd
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build kubectl k8s.io/kubernetes/cmd/kubectl

echo "tools: building controller-gen $controller_gen_version"
GOBIN="$bin" go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$controller_gen_version"

echo "$want" > "$bin/.tools-stamp"
mkdir -p "$shared"
for b in "${binaries[@]}"; do cp "$bin/$b" "$shared/$b.tmp" && mv "$shared/$b.tmp" "$shared/$b"; done
echo "tools: done"
