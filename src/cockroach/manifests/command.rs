//! The command lines of the node and init containers.

use crate::cockroach::quantity::{bytes_flag_value, Quantity};

use super::names;
use super::spec::ZoneSpec;

/// What `--cache` and `--max-sql-memory` get without a memory limit: a share of what the node sees.
pub const MEMORY_SHARE_FLAG: &str = "25%";

/// `cockroach start` through a shell, as the public manifests run it: `$(hostname -f)` is the pod's own
/// `cockroachdb-<i>.cockroachdb.<zone>.svc.<domain>` name whatever the cluster domain, and `exec` leaves CockroachDB
/// as the process that receives the kubelet's SIGTERM. Every value spliced into the shell string has been
/// validated to contain no shell syntax (DNS names, locality values, byte counts).
pub fn start_command(spec: &ZoneSpec) -> Vec<String> {
    let memory = memory_flag_value(spec);
    let flags = [
        "--logtostderr".to_owned(),
        format!("--certs-dir={}", names::NODE_CERTS_DIR),
        "--advertise-host=$(hostname -f)".to_owned(),
        "--http-addr=0.0.0.0".to_owned(),
        // The kubelet replaces `$(COCKROACH_JOIN)` with the join ConfigMap's list when it creates the container.
        format!("--join=$({})", names::JOIN_ENV),
        format!("--locality={}", locality(spec)),
        format!("--cache={memory}"),
        format!("--max-sql-memory={memory}"),
    ];
    vec![
        "/bin/bash".to_owned(),
        "-ecx".to_owned(),
        format!("exec {} start {}", names::BINARY, flags.join(" ")),
    ]
}

/// The join list as the join ConfigMap holds it: every node of every zone.
pub fn join_list(spec: &ZoneSpec) -> String {
    spec.join_addresses.join(",")
}

/// `region=<r>,zone=<z>`, or `zone=<z>` alone: CockroachDB orders tiers from the widest.
pub fn locality(spec: &ZoneSpec) -> String {
    match &spec.region {
        Some(region) => format!("region={region},zone={}", spec.zone),
        None => format!("zone={}", spec.zone),
    }
}

/// A quarter of the memory limit in bytes, each for the cache and for SQL memory as CockroachDB recommends; without
/// a limit (or with one too small to quarter), 25% of what the node detects.
pub fn memory_flag_value(spec: &ZoneSpec) -> String {
    spec.memory_limit
        .as_deref()
        .and_then(|limit| Quantity::parse(limit).ok()?.bytes().ok())
        .map(|bytes| bytes / 4)
        .filter(|quarter| *quarter > 0)
        .map_or_else(|| MEMORY_SHARE_FLAG.to_owned(), bytes_flag_value)
}

/// `cockroach init` against the zone's first node. Not `cockroachdb-public`: that service has no endpoints until a
/// node is ready, and no node is ready before init. Not the bare headless name either: the node certificate covers
/// `*.cockroachdb`, not `cockroachdb`.
pub fn init_command() -> Vec<String> {
    vec![
        names::BINARY.to_owned(),
        "init".to_owned(),
        format!("--certs-dir={}", names::CLIENT_CERTS_DIR),
        format!(
            "--host={}-0.{}",
            names::STATEFULSET,
            names::HEADLESS_SERVICE
        ),
    ]
}

/// What `cockroach init` prints when the cluster is already initialised (it exits 1). Re-running init, after a
/// region is recreated, must count as done, not failed: the resource reads the init container's termination message
/// (the Job uses `FallbackToLogsOnError`) and checks it with `init_already_done`.
const ALREADY_INITIALISED: &str = "cluster has already been initialized";

pub fn init_already_done(termination_message: &str) -> bool {
    termination_message.contains(ALREADY_INITIALISED)
}
