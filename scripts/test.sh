#!/usr/bin/env bash
# Runs every test: unit tests, the plugin protocol tests, the kube-sandbox fidelity tests and the
# acceptance tests that drive the real terraform CLI against the provider binary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --workspace --all-targets
cargo test --workspace --all-targets
