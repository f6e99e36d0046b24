#!/usr/bin/env bash
# The main job: three emulated Kubernetes clusters (kube-sandbox), one CockroachDB cluster across
# them applied from examples/terraform/sandbox through the real terraform CLI, its state shown;
# the sandbox then runs until Ctrl-C. `--check`: verify every node is live and the plan empty,
# destroy, verify nothing is left, exit 0 only if all of that worked.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
cargo build --quiet --bin terraform-provider-crdb --example demo
exec target/debug/examples/demo "$@"
