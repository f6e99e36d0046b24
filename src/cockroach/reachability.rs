//! Telling, from what CockroachDB nodes log while they wait, that they cannot open a connection to a peer zone,
//! so that a wait that gives up can say so instead of reporting a generic readiness timeout.
//!
//! The lines are CockroachDB's own (read in its source, `pkg/server/init.go` and `pkg/gossip/client.go`):
//!
//! - `outgoing join rpc to <addr> unsuccessful: <error>` — a new node dialling an address of its `--join` list;
//! - `failed to start gossip client to <addr>: <error>` — a started node dialling a gossip peer.
//!
//! `<addr>` is the address as dialled: for `--join` entries, the `<pod>.<service>.<zone>[:port]` names the provider
//! writes, whose third label is the zone's namespace. Only errors of the connection itself count (gRPC's
//! `Error while dialing: dial tcp <ip>:<port>: i/o timeout` behind a firewall that drops, `connection refused`
//! behind one that rejects, `no route to host` / `network is unreachable` for an unroutable pod range); a peer that
//! answers but is itself waiting for `cockroach init` is not unreachable.

use super::manifests::names;
use std::collections::BTreeMap;

/// The port joins and gossip dial when the address names none: CockroachDB's SQL and inter-node RPC port.
const DEFAULT_PORT: u16 = names::GRPC_PORT as u16;

const DIAL_FAILURES: [&str; 5] = [
    "i/o timeout",
    "connection refused",
    "no route to host",
    "network is unreachable",
    "Error while dialing",
];

/// One address a node failed to connect to, as one log line says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedDial {
    pub host: String,
    pub port: u16,
    /// The zone the host belongs to, when its name says (`<pod>.<service>.<zone>...`).
    pub zone: Option<String>,
    pub error: String,
}

/// The failed dial a log line reports, if it reports one.
pub fn failed_dial(line: &str) -> Option<FailedDial> {
    let (address, error) = if let Some((_, rest)) = line.split_once("outgoing join rpc to ") {
        rest.split_once(" unsuccessful: ")?
    } else {
        let (_, rest) = line.split_once("failed to start gossip client to ")?;
        rest.split_once(": ")?
    };
    if !DIAL_FAILURES.iter().any(|f| error.contains(f)) {
        return None;
    }
    let (host, port) = match address.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port.parse().ok()?),
        _ => (address, DEFAULT_PORT),
    };
    Some(FailedDial {
        host: host.to_owned(),
        port,
        zone: zone_of_host(host),
        error: error.trim().to_owned(),
    })
}

/// The namespace label of a `<pod>.<service>.<namespace>[.svc.<domain>]` name; none for addresses and short names.
fn zone_of_host(host: &str) -> Option<String> {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    host.split('.').nth(2).map(str::to_owned)
}

/// Where nodes of one zone could not connect: a peer zone (or, for an address that names none, the address).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Zone(String),
    Address(String),
}

/// One blocked direction: the nodes that logged it, and the last error one of them saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreachable {
    pub target: Target,
    pub port: u16,
    pub pods: Vec<String>,
    pub last_error: String,
}

impl Unreachable {
    /// `nodes of zone us-west1-a cannot reach zone us-east1-b on port 26257`.
    pub fn summary(&self, zone: &str) -> String {
        let target = match &self.target {
            Target::Zone(peer) => format!("zone {peer}"),
            Target::Address(host) => host.clone(),
        };
        format!(
            "nodes of zone {zone} cannot reach {target} on port {}",
            self.port
        )
    }
}

/// What the nodes of one zone cannot reach, judged from each pod's log tail (`(pod, log)`): only a pod's most
/// recent attempt per address counts, so an address it reached since (a later line that is not a failed dial to
/// it, e.g. the node started) does not. Sorted by target.
pub fn unreachable_peers<'a>(
    logs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<Unreachable> {
    let mut found: BTreeMap<(Target, u16), Unreachable> = BTreeMap::new();
    for (pod, log) in logs {
        if joined_after_last_failure(log) {
            continue;
        }
        for dial in log.lines().filter_map(failed_dial) {
            let target = match dial.zone {
                Some(zone) => Target::Zone(zone),
                None => Target::Address(dial.host),
            };
            let entry = found
                .entry((target.clone(), dial.port))
                .or_insert_with(|| Unreachable {
                    target,
                    port: dial.port,
                    pods: Vec::new(),
                    last_error: String::new(),
                });
            if !entry.pods.iter().any(|p| p == pod) {
                entry.pods.push(pod.to_owned());
            }
            entry.last_error = dial.error;
        }
    }
    found.into_values().collect()
}

/// A node that logged it started after its last failed dial is past it.
fn joined_after_last_failure(log: &str) -> bool {
    let lines: Vec<&str> = log.lines().collect();
    let last_failure = lines.iter().rposition(|l| failed_dial(l).is_some());
    let last_start = lines
        .iter()
        .rposition(|l| l.contains("CockroachDB node starting"));
    matches!((last_failure, last_start), (Some(f), Some(s)) if s > f)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: &str = "W251128 20:01:02.345678 61 server/init.go:421 ⋮ [T1,n?] 12  outgoing join rpc to \
        cockroachdb-0.cockroachdb.us-east1-b:26257 unsuccessful: rpc error: code = Unavailable desc = connection \
        error: desc = \"transport: Error while dialing: dial tcp 10.8.0.4:26257: i/o timeout\"";
    const REFUSED_GOSSIP: &str = "W251128 20:01:03.000000 88 gossip/client.go:124 ⋮ [n4] 40  failed to start \
        gossip client to cockroachdb-1.cockroachdb.europe-west1-c.svc.cluster.local:26257: rpc error: code = \
        Unavailable desc = connection error: desc = \"transport: Error while dialing: dial tcp 10.9.0.7:26257: \
        connect: connection refused\"";
    const WAITING_FOR_INIT: &str = "I251128 20:01:04.000000 61 server/init.go:417 ⋮ [T1,n?] 13  \
        cockroachdb-0.cockroachdb.us-west1-a:26257 is itself waiting for init, will retry";

    #[test]
    fn join_and_gossip_dial_failures_are_read_with_the_zone_their_address_names() {
        let dial = failed_dial(TIMEOUT).expect("a failed join dial");
        assert_eq!(dial.host, "cockroachdb-0.cockroachdb.us-east1-b");
        assert_eq!(dial.port, 26257);
        assert_eq!(dial.zone.as_deref(), Some("us-east1-b"));
        assert!(dial.error.ends_with("i/o timeout\""), "{}", dial.error);
        let gossip = failed_dial(REFUSED_GOSSIP).expect("a failed gossip dial");
        assert_eq!(gossip.zone.as_deref(), Some("europe-west1-c"));
        let by_address = failed_dial(
            "W outgoing join rpc to 10.8.0.4:26258 unsuccessful: dial tcp 10.8.0.4:26258: connect: no route to host",
        )
        .expect("an address");
        assert_eq!((by_address.zone, by_address.port), (None, 26258));
    }

    #[test]
    fn lines_that_are_not_failed_dials_are_not_read_as_such() {
        assert_eq!(failed_dial(WAITING_FOR_INIT), None);
        assert_eq!(
            failed_dial(
                "W outgoing join rpc to a.b.c:26257 unsuccessful: node belongs to another cluster"
            ),
            None
        );
        assert_eq!(failed_dial("initial startup completed."), None);
        assert_eq!(failed_dial("outgoing join rpc to "), None);
        assert_eq!(failed_dial("failed to start gossip client to x"), None);
    }

    #[test]
    fn each_blocked_zone_is_named_once_with_the_pods_that_failed_to_reach_it() {
        let log = format!("{TIMEOUT}\n{WAITING_FOR_INIT}\n{TIMEOUT}\n");
        let other = format!("{TIMEOUT}\n{REFUSED_GOSSIP}\n");
        let found = unreachable_peers([
            ("cockroachdb-0", log.as_str()),
            ("cockroachdb-1", other.as_str()),
        ]);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].target, Target::Zone("europe-west1-c".into()));
        assert_eq!(found[0].pods, ["cockroachdb-1"]);
        assert_eq!(found[1].target, Target::Zone("us-east1-b".into()));
        assert_eq!(found[1].pods, ["cockroachdb-0", "cockroachdb-1"]);
        assert_eq!(
            found[1].summary("us-west1-a"),
            "nodes of zone us-west1-a cannot reach zone us-east1-b on port 26257"
        );
    }

    #[test]
    fn a_node_that_started_after_its_failures_is_not_blocked() {
        let log = format!("{TIMEOUT}\nCockroachDB node starting\nnodeID: 4\n");
        assert!(unreachable_peers([("cockroachdb-0", log.as_str())]).is_empty());
        let again = format!("{log}{TIMEOUT}\n");
        assert_eq!(
            unreachable_peers([("cockroachdb-0", again.as_str())]).len(),
            1
        );
        assert!(unreachable_peers([("cockroachdb-0", WAITING_FOR_INIT)]).is_empty());
    }
}
