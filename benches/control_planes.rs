//! Three real control planes (etcd, kube-apiserver and kube-controller-manager each, built by
//! `scripts/control-planes.sh`): how long they take to answer `/readyz`, and the resident memory of each process
//! once they do and (under `cargo bench`) 30 s later. Prints numbers; asserts nothing about them.
//!
//! Run with `cargo test --bench control_planes -- --bench` (after `scripts/control-planes.sh`): the work is in the Go
//! processes, so the dev build measures the same as `cargo bench`, without an optimised build of every crate.
#[path = "../tests/support/control_planes.rs"]
// The tests use the clients and kubeconfig it also offers.
#[allow(dead_code)]
mod control_planes;

use control_planes::ControlPlanes;
use std::time::{Duration, Instant};

/// A process's resident set size in MiB, from /proc.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn print_memory(planes: &ControlPlanes, when: &str) {
    let mut total = 0.0;
    for plane in planes.planes() {
        let each: Vec<String> = plane
            .pids()
            .into_iter()
            .map(|(process, pid)| {
                let mib = rss_mib(pid);
                total += mib;
                format!("{process} {mib:.0} MiB")
            })
            .collect();
        println!("  {} ({when}): {}", plane.name, each.join(", "));
    }
    println!("  all three ({when}): {total:.0} MiB");
}

#[tokio::main]
async fn main() {
    println!(
        "control planes from {}",
        control_planes::binaries_dir().display()
    );
    let started = Instant::now();
    let planes = ControlPlanes::start(&["cp1", "cp2", "cp3"]).await;
    println!(
        "three control planes answer /readyz after {:.1?}",
        started.elapsed()
    );
    print_memory(&planes, "at /readyz");
    // `cargo test --all-targets` runs this once as a check that three start; only `cargo bench` waits to settle.
    if std::env::args().any(|arg| arg == "--bench") {
        tokio::time::sleep(Duration::from_secs(30)).await;
        print_memory(&planes, "30 s later");
    }
}
