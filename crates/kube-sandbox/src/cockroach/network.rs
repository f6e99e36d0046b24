//! Paths between clusters the emulated network drops (`World::set_path_blocked`, a missing firewall rule or
//! security group): which peers a node cannot dial, and what CockroachDB logs when it cannot. The wording is the
//! real binary's (`pkg/server/init.go` for a new node's join RPCs, `pkg/gossip/client.go` for a started node's
//! gossip), with gRPC's dial error for a connection that times out.

use serde_json::Value;

use super::cluster::NodeStatus;
use super::dns::CLUSTER_DOMAIN;
use crate::controllers::meta;
use crate::store::resource_type;
use crate::world::World;

/// CockroachDB's SQL and inter-node RPC port, which joins and gossip dial.
pub const RPC_PORT: u16 = 26257;

/// The live nodes among `nodes` a pod of `cluster` cannot open a connection to.
pub fn unreachable<'a>(
    world: &World,
    cluster: &str,
    nodes: &[&'a NodeStatus],
) -> Vec<&'a NodeStatus> {
    nodes
        .iter()
        .copied()
        .filter(|n| n.live && !world.path_open(cluster, &n.cluster, RPC_PORT))
        .collect()
}

/// A new node's failed join RPC to `host` (as its `--join` list names it), which resolved to `ip`.
pub fn join_dial_timed_out(host: &str, ip: &str) -> String {
    format!(
        "W outgoing join rpc to {host}:{RPC_PORT} unsuccessful: rpc error: code = Unavailable desc = connection \
         error: desc = \"transport: Error while dialing: dial tcp {ip}:{RPC_PORT}: i/o timeout\""
    )
}

/// A started node's failed gossip connection to the node `peer` advertises.
pub fn gossip_dial_timed_out(world: &World, peer: &NodeStatus) -> String {
    let pod = peer_pod(world, peer);
    let subdomain = pod
        .as_ref()
        .and_then(|p| meta::str_at(p, "/spec/subdomain"))
        .unwrap_or("cockroachdb");
    format!(
        "W failed to start gossip client to {}.{subdomain}.{}.svc.{CLUSTER_DOMAIN}:{RPC_PORT}: rpc error: code = \
         Unavailable desc = connection error: desc = \"transport: Error while dialing: dial tcp {}:{RPC_PORT}: i/o \
         timeout\"",
        peer.pod,
        peer.zone,
        ip_of(pod.as_ref())
    )
}

/// The pod behind a node, from its cluster's store.
pub fn peer_pod(world: &World, peer: &NodeStatus) -> Option<Value> {
    world
        .cluster(&peer.cluster)?
        .store
        .get(resource_type("pods")?, Some(&peer.zone), &peer.pod)
}

/// A pod's address as a dial error quotes it.
pub fn ip_of(pod: Option<&Value>) -> String {
    pod.and_then(|p| meta::str_at(p, "/status/podIP"))
        .unwrap_or("0.0.0.0")
        .to_owned()
}
