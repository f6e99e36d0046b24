//! Waiting for a zone's CockroachDB nodes to be ready, and saying why when they never are: nodes that logged that
//! they cannot connect to a peer zone are reported as such ("nodes of zone X cannot reach zone Y on port 26257"),
//! with the fix, rather than as a generic readiness timeout.
use crate::cockroach::manifests::names;
use crate::cockroach::reachability::{self, Unreachable};
use crate::framework::diag::Diagnostics;
use crate::kubernetes::{ClusterClient, Deadline, PodLog, WaitError};

/// How much of each unready node's log is read to explain a timeout: enough for several retries of every join
/// address (CockroachDB retries each about once a second).
const LOG_LINES: i64 = 200;

/// Waits until the zone's StatefulSet is rolled out with every node ready.
pub(crate) async fn wait_zone_ready(
    client: &ClusterClient,
    zone: &str,
    deadline: &Deadline,
) -> Result<(), Diagnostics> {
    match client
        .wait_rolled_out(zone, names::STATEFULSET, deadline)
        .await
    {
        Ok(_) => Ok(()),
        Err(timeout @ WaitError::TimedOut { .. }) => {
            let logs = client
                .unready_pod_logs(zone, names::STATEFULSET, names::CONTAINER, LOG_LINES)
                .await;
            Err(explain_timeout(zone, &timeout, &logs))
        }
        Err(other) => Err(other.into()),
    }
}

/// The diagnostic of a wait that gave up: what the nodes cannot reach when their logs say, the timeout as the edge
/// words it otherwise.
pub(crate) fn explain_timeout(zone: &str, timeout: &WaitError, logs: &[PodLog]) -> Diagnostics {
    let blocked =
        reachability::unreachable_peers(logs.iter().map(|l| (l.pod.as_str(), l.text.as_str())));
    if blocked.is_empty() {
        return timeout.to_diagnostics();
    }
    let mut diags = Diagnostics::new();
    for unreachable in &blocked {
        diags.error(
            capitalised(&unreachable.summary(zone)),
            explanation(zone, unreachable, timeout),
        );
    }
    diags
}

fn explanation(zone: &str, unreachable: &Unreachable, timeout: &WaitError) -> String {
    format!(
        "{pods} of zone {zone} could not open a connection on port {port}: {error}\n\n\
         CockroachDB nodes connect to each other's pod addresses directly. Allow TCP {port} (and 8080) from every \
         cluster's pod range to the nodes of every other cluster: on GKE a VPC firewall rule (docs/guides/gke.md), on \
         EKS the security groups and no SNAT towards the peers (docs/guides/eks.md); the pod ranges must be routable \
         between the clusters and must not overlap. The next apply continues from where this one stopped.\n\n({timeout})",
        pods = unreachable.pods.join(", "),
        port = unreachable.port,
        error = unreachable.last_error,
    )
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn timed_out() -> WaitError {
        WaitError::TimedOut {
            cluster: "us-west1-a".into(),
            object: "StatefulSet us-west1-a/cockroachdb".into(),
            waited: Duration::from_secs(600),
            state: "0 of 3 pods ready".into(),
            details: None,
        }
    }

    fn log(pod: &str, text: &str) -> PodLog {
        PodLog {
            pod: pod.into(),
            text: text.into(),
        }
    }

    const BLOCKED: &str = "W outgoing join rpc to cockroachdb-0.cockroachdb.us-east1-b:26257 unsuccessful: rpc \
        error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial tcp \
        10.8.0.4:26257: i/o timeout\"";

    #[test]
    fn a_timeout_whose_nodes_cannot_dial_a_peer_zone_names_both_zones_the_port_and_the_fix() {
        let diags = explain_timeout(
            "us-west1-a",
            &timed_out(),
            &[log("cockroachdb-0", BLOCKED), log("cockroachdb-1", BLOCKED)],
        );
        assert_eq!(diags.0.len(), 1);
        let d = &diags.0[0];
        assert_eq!(
            d.summary,
            "Nodes of zone us-west1-a cannot reach zone us-east1-b on port 26257"
        );
        assert!(
            d.detail
                .starts_with("cockroachdb-0, cockroachdb-1 of zone us-west1-a"),
            "{}",
            d.detail
        );
        assert!(d.detail.contains("i/o timeout"), "{}", d.detail);
        assert!(d.detail.contains("firewall rule"), "{}", d.detail);
        assert!(d.detail.contains("0 of 3 pods ready"), "{}", d.detail);
    }

    #[test]
    fn a_timeout_without_failed_dials_stays_the_edge_s_timeout() {
        let diags = explain_timeout(
            "us-west1-a",
            &timed_out(),
            &[log("cockroachdb-0", "initial startup completed.\n")],
        );
        assert_eq!(diags, timed_out().to_diagnostics());
    }
}
