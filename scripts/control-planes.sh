#!/usr/bin/env bash
# Builds a real Kubernetes control plane from published Go modules only: kube-apiserver and
# kube-controller-manager from k8s.io/kubernetes, and etcd from go.etcd.io/etcd/server/v3, at the versions the
# wrapper module scripts/control-planes/go.mod pins. The tests that talk to a real API server
# (tests/real_apiserver.rs) start them; see crates/kube-sandbox/README.md, "Real control planes".
#
#   scripts/control-planes.sh          build unless built; print the directory holding the three binaries
#
# Everything is cached outside the repository, under $CRDB_TOOLS_CACHE (by default
# ~/.cache/terraform-provider-crdb): the binaries in control-planes/<kubernetes version>/, the Go module cache
# and the Go build cache in go/. A second run rebuilds nothing; a run with the module cache filled needs no
# network. A binary that cannot be built fails the script with the reason and the build's last lines.
set -euo pipefail
cd "$(dirname "$0")/control-planes"

CACHE="${CRDB_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-crdb}"
export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build"
# go.sum is committed: the build reads it and never rewrites the wrapper.
export GOFLAGS=-mod=readonly CGO_ENABLED=0

fail() {
  echo "control-planes: $*" >&2
  exit 1
}

# The one place the version is written: the wrapper's requirement of k8s.io/kubernetes.
KUBERNETES_VERSION=$(sed -n 's/^\(require \|\t\)k8s\.io\/kubernetes \(v1\.[0-9]*\.[0-9]*\)$/\2/p' go.mod)
[ -n "$KUBERNETES_VERSION" ] || fail "scripts/control-planes/go.mod requires no k8s.io/kubernetes v1.Y.Z"
STAGING_VERSION="v0.${KUBERNETES_VERSION#v1.}"

# Every k8s.io staging module must come from the same release as k8s.io/kubernetes: a mixed set builds, and
# then misbehaves in ways no test would pin on the version.
mixed=$(awk -v want="$STAGING_VERSION" '$1 ~ /^k8s\.io\// && $2 == "=>" && $4 != want {print $1 " " $4}' go.mod)
[ -z "$mixed" ] || fail "k8s.io modules not at $STAGING_VERSION (the release of k8s.io/kubernetes $KUBERNETES_VERSION): $mixed"

OUT="$CACHE/control-planes/$KUBERNETES_VERSION"
BINARIES=(kube-apiserver kube-controller-manager etcd)
# The build is keyed by the wrapper's go.mod and go.sum: a changed pin rebuilds, the same pin never does.
STAMP=$(cat go.mod go.sum | sha256sum | cut -c1-16)

built() {
  [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$STAMP" ] || return 1
  for binary in "${BINARIES[@]}"; do [ -x "$OUT/$binary" ] || return 1; done
}

if ! built; then
  command -v go >/dev/null 2>&1 ||
    fail "kube-apiserver, kube-controller-manager and etcd cannot be built: the go command is not on PATH"
  need=$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)
  have=$(go env GOVERSION | sed 's/^go//')
  [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | sed -n 1p)" = "$need" ] ||
    fail "k8s.io/kubernetes $KUBERNETES_VERSION needs Go $need or newer; the go on PATH is $have"
  mkdir -p "$OUT" "$GOMODCACHE" "$GOCACHE"
  rm -f "$OUT/.stamp"
  log="$OUT/build.log"
  echo "control-planes: building kube-apiserver, kube-controller-manager ($KUBERNETES_VERSION) and etcd" \
    "(once; cached in $OUT, log $log)" >&2
  version=k8s.io/component-base/version
  ldflags="-s -w -X $version.gitVersion=$KUBERNETES_VERSION -X $version.gitTreeState=clean"
  ldflags+=" -X $version.gitMajor=1 -X $version.gitMinor=$(cut -d. -f2 <<<"$KUBERNETES_VERSION")"
  build() { # $1: binary name, $2: package
    nice go build -trimpath -ldflags "$ldflags" -o "$OUT/$1.partial" "$2" >>"$log" 2>&1 || {
      tail -n 15 "$log" >&2
      fail "$1 cannot be built from $2 (module versions in scripts/control-planes/go.mod; log: $log)"
    }
    mv "$OUT/$1.partial" "$OUT/$1"
  }
  : >"$log"
  # One package at a time: each build already uses every core, and two at once would only thrash memory.
  build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
  build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
  build etcd go.etcd.io/etcd/server/v3
  echo "$STAMP" >"$OUT/.stamp"
fi

for binary in "${BINARIES[@]}"; do
  "$OUT/$binary" --version >/dev/null 2>&1 || fail "$OUT/$binary was built but does not run (\`$binary --version\` failed)"
done
echo "$OUT"
