#!/usr/bin/env bash
# Builds the real control plane that tests, the demo and benchmarks run
# against: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, kwok and promtool, from the Go modules pinned in hack/tools. Everything comes
# from the Go module proxy; binaries already in the cache folder are skipped.
#
# Usage: hack/install-testbin.sh [--demo] [DIR]   (prints DIR on success)
#   --demo: only what `make run` needs (no promtool, which alone took five
#   minutes of a cold build); `make test` builds the rest into the same DIR.
set -euo pipefail

demo=false
if [[ ${1:-} == --demo ]]; then demo=true; shift; fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$root/hack/tools"

kube_version=$(cd "$tools" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
etcd_version=$(cd "$tools" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
kwok_version=$(cd "$tools/kwok" && go list -m -f '{{.Version}}' sigs.k8s.io/kwok)
dir=${1:-${TESTBIN_DIR:-$root/_output/testbin/k8s-$kube_version-etcd-$etcd_version-kwok-$kwok_version}}
mkdir -p "$dir"

# Version ldflags, so the API server reports the release it was built from
# (without them it says v0.0.0-master and kubectl warns about skew).
minor=${kube_version#v1.}; minor=${minor%%.*}
kube_ldflags=""
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  kube_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

build() { # name module-dir package ldflags
  local name=$1 moddir=$2 pkg=$3 ldflags=${4:-}
  if [[ -x "$dir/$name" ]]; then return; fi
  echo ">> building $name ($pkg)" >&2
  local start=$SECONDS
  (cd "$moddir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$dir/$name.tmp.$$" "$pkg")
  mv "$dir/$name.tmp.$$" "$dir/$name"
  echo ">> built $name in $((SECONDS - start))s" >&2
}

# The Kubernetes commands share most of their packages and their ldflags:
# one go build compiles the shared packages once for all that are missing.
build_kube() {
  local missing=()
  for cmd in "$@"; do [[ -x "$dir/$cmd" ]] || missing+=("k8s.io/kubernetes/cmd/$cmd"); done
  if (( ${#missing[@]} == 0 )); then return; fi
  echo ">> building ${missing[*]##*/} (one go build)" >&2
  local start=$SECONDS tmp
  tmp=$(mktemp -d "$dir/.build.XXXXXX")
  (cd "$tools" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $kube_ldflags" -o "$tmp/" "${missing[@]}")
  mv "$tmp"/* "$dir/" && rmdir "$tmp"
  echo ">> built ${missing[*]##*/} in $((SECONDS - start))s" >&2
}

build etcd "$tools" ./cmd/etcd "-X go.etcd.io/etcd/api/v3/version.GitSHA=$etcd_version"
build_kube kube-apiserver kube-controller-manager kube-scheduler kubectl
if ! $demo; then
  build promtool "$tools/promtool" github.com/prometheus/prometheus/cmd/promtool
fi
build kwok "$tools/kwok" sigs.k8s.io/kwok/cmd/kwok \
  "-X sigs.k8s.io/kwok/pkg/consts.Version=${kwok_version#v}"

# kwok exits with "no stages found" without Stage configs: join the ones its
# module ships so nodes turn Ready and pods Running with IPs.
if [[ ! -s "$dir/kwok-stages.yaml" ]]; then
  stages=$(cd "$tools/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage
  for s in node/fast node/heartbeat pod/fast; do
    for f in "$stages/$s"/*.yaml; do
      [[ $(basename "$f") == kustomization.yaml ]] && continue
      echo "---"; cat "$f"
    done
  done > "$dir/kwok-stages.yaml.tmp"
  mv "$dir/kwok-stages.yaml.tmp" "$dir/kwok-stages.yaml"
fi

echo "$dir"
