#!/usr/bin/env bash
# Runs every test: unit tests, the plugin protocol tests, the kube-sandbox fidelity tests, the Kubernetes edge
# against a real kube-apiserver compared with kube-sandbox (tests/real_apiserver.rs), then the acceptance
# tests that drive a real CLI against the provider binary, once per client of the version matrix
# (scripts/setup.sh --matrix): every acceptance test under the oldest supported Terraform and under the newest
# Terraform, the core flows under OpenTofu. Prints, per client, its version and how many tests it passed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --matrix
cargo build --workspace --all-targets
cargo build --test acceptance

# The acceptance suite is `test = false` in Cargo.toml: it runs here, once per client, and not a fourth time
# under whichever client `cargo test` would pick.
# A failure here still lets the other test targets (--no-fail-fast) and the acceptance runs below report, so one CI
# run shows everything that failed.
unit_status=0
cargo test --workspace --all-targets --no-fail-fast || unit_status=$?

# What the OpenTofu run covers (test-name filters): the core flows — three regions deployed, planned empty, imported,
# scaled and grown (regions::), a patch upgrade and a scale-down (day2::), a major upgrade (upgrade::), a region
# added and removed, certificate renewal, the SQL resources, faults, one Ctrl-C, destroy, refusals on their line — the
# workflows of today's CLIs, secrets kept out of plan and state (secrets_out::), and
# installing a release from a mirror.
TOFU_FLOWS=(
  regions:: day2::a_patch_upgrade day2::scale_down_decommissions adding_then_removing_a_zone upgrade::
  certificates::a_plan_inside_the_renewal_window sql:: faults:: stop:: cluster:: examples:: modern:: workflows:: bad_input::
  release:: secrets_out::
)
# The core flows against real control planes with the sandbox's node side attached (attached::): four
# kube-apiservers and kube-controller-managers per run, so under the newest Terraform only.
NEWEST_ONLY=(attached::)
# Tests of what Terraform 1.0.3 predates (`import`/`moved`/`removed` blocks, -generate-config-out, write-only
# attributes and ephemeral resources).
NEEDS_NEWER_CLIENT=(modern:: secrets_out::)

logs=target/acceptance-logs
mkdir -p "$logs"
pids=()
labels=()
while IFS=$'\t' read -r label path; do
  args=()
  case "$label" in
    terraform-1.0.*) for skip in "${NEEDS_NEWER_CLIENT[@]}" "${NEWEST_ONLY[@]}"; do args+=(--skip "$skip"); done ;;
    tofu-*) args=("${TOFU_FLOWS[@]}") ;;
  esac
  echo "acceptance under $label: $path ${args[*]}"
  TF_ACC_TERRAFORM=$path cargo test --quiet --test acceptance -- "${args[@]}" >"$logs/$label.log" 2>&1 &
  pids+=($!)
  labels+=("$label")
done <.tools/clients/matrix

failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    failed=1
    echo "---- acceptance under ${labels[$i]} failed:"
    grep -v '^test .* ok$' "$logs/${labels[$i]}.log" | tail -n 200
  fi
done

echo
echo "acceptance tests per client:"
total_passed=0
total_failed=0
for label in "${labels[@]}"; do
  result=$(grep -E '^test result:' "$logs/$label.log" | tail -n 1)
  passed=$(sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p' <<<"$result")
  failures=$(sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p' <<<"$result")
  printf '  %-18s %4s passed, %s failed\n' "$label" "${passed:-0}" "${failures:-?}"
  total_passed=$((total_passed + ${passed:-0}))
  total_failed=$((total_failed + ${failures:-1}))
done
[ "$unit_status" = 0 ] || echo "unit, protocol, sandbox and edge tests: FAILED (see above)"
echo "acceptance: $total_passed passed, $total_failed failed"
[ "$unit_status" = 0 ] || exit "$unit_status"
exit $failed
