//! What the `cockroach` binary does in a pod: `start` checks its certificates (or exits 1), waits for init and
//! joins through its `--join` list once its cluster's DNS can resolve the peers; `init` bootstraps the cluster
//! once through a running node, with a root client certificate signed by the nodes' CA; `sql -e`/`-f` runs the
//! statements the emulation knows (`sql`) the same way.

use std::collections::BTreeMap;

use serde_json::Value;

use super::cluster::NodeStatus;
use super::command::{host_only, invocation, invocations, CockroachArgs, Invocation};
use super::dns::{namespace_of, resolve, ClusterDnsView, Resolution, CLUSTER_DOMAIN};
use super::replication::Locality;
use super::{certs, metrics, mounts, network, sql, version};
use crate::controllers::meta;
use crate::world::World;

/// From `cockroach start` to a node serving (store opened, liveness record heartbeated, gossip connected): a
/// few seconds on a real cluster, so a restarted pod's node stays down this long after its container starts.
pub const NODE_STARTUP: std::time::Duration = std::time::Duration::from_secs(5);

/// What a container runs, as far as the sandbox cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// Runs until stopped (restartPolicy Always pods).
    Service,
    /// Runs briefly and exits 0 (Job pods and other run-to-completion pods).
    Batch,
    Start(CockroachArgs),
    Init(CockroachArgs),
    Decommission(CockroachArgs),
    Sql(CockroachArgs),
    NodeStatus(CockroachArgs),
    /// Client commands a shell runs one after the other (`a && b`): each only when the one before succeeded.
    Steps(Vec<Program>),
}

pub fn program(pod: &Value, container: &Value) -> Program {
    let steps: Vec<Program> = invocations(container)
        .into_iter()
        .filter_map(|i| match i {
            Invocation::Sql(a) => Some(Program::Sql(a)),
            Invocation::NodeStatus(a) => Some(Program::NodeStatus(a)),
            _ => None,
        })
        .collect();
    if steps.len() > 1 {
        return Program::Steps(steps);
    }
    match invocation(container) {
        Invocation::Start(a) => Program::Start(a),
        Invocation::Init(a) => Program::Init(a),
        Invocation::Decommission(a) => Program::Decommission(a),
        Invocation::Sql(a) => Program::Sql(a),
        Invocation::NodeStatus(a) => Program::NodeStatus(a),
        Invocation::Other
            if meta::str_at(pod, "/spec/restartPolicy").unwrap_or("Always") == "Always" =>
        {
            Program::Service
        }
        Invocation::Other => Program::Batch,
    }
}

/// Everything the binary can see from one pod: the world, and DNS as of this moment.
pub struct Env<'a> {
    pub world: &'a World,
    pub views: &'a [ClusterDnsView],
    pub cluster: &'a str,
}

impl Env<'_> {
    fn secret_in(&self, cluster: &str, ns: &str) -> impl Fn(&str) -> Option<Value> + '_ {
        let store = self.world.cluster(cluster).map(|c| c.store);
        let ns = ns.to_string();
        move |name: &str| {
            store
                .as_ref()
                .and_then(|s| s.get(crate::store::resource_type("secrets")?, Some(&ns), name))
        }
    }
}

/// The node's identity on disk: its data PVC (by uid, so a recreated claim is a new, empty store), or the pod
/// itself when it has none.
pub fn node_store(world: &World, cluster: &str, pod: &Value) -> String {
    let ns = meta::namespace(pod);
    let claim = pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|v| {
            v.pointer("/persistentVolumeClaim/claimName")
                .and_then(Value::as_str)
        });
    let pvc_uid = claim.and_then(|c| {
        let store = world.cluster(cluster)?.store;
        let pvc = store.get(
            crate::store::resource_type("persistentvolumeclaims")?,
            Some(ns),
            c,
        )?;
        Some(meta::uid(&pvc).to_string())
    });
    match (claim, pvc_uid) {
        (Some(c), Some(uid)) => format!("{ns}/{c}@{uid}"),
        _ => format!("pod:{}", meta::uid(pod)),
    }
}

/// Whether the store a node lives on still exists in its cluster.
pub fn store_exists(world: &World, cluster: &str, store: &str) -> bool {
    let Some((path, uid)) = store.split_once('@') else {
        return true;
    };
    let Some((ns, claim)) = path.split_once('/') else {
        return true;
    };
    let Some(entry) = world.cluster(cluster) else {
        return false;
    };
    crate::store::resource_type("persistentvolumeclaims")
        .and_then(|rt| entry.store.get(rt, Some(ns), claim))
        .is_some_and(|pvc| meta::uid(&pvc) == uid)
}

/// The names peers and clients dial for this pod (`$(hostname -f)` and the zone-qualified join form).
pub fn pod_dns_names(pod: &Value) -> Vec<String> {
    let host = meta::str_at(pod, "/spec/hostname").unwrap_or(meta::name(pod));
    let ns = meta::namespace(pod);
    match meta::str_at(pod, "/spec/subdomain") {
        Some(sub) => vec![
            format!("{host}.{sub}.{ns}"),
            format!("{host}.{sub}.{ns}.svc.{CLUSTER_DOMAIN}"),
        ],
        None => Vec::new(),
    }
}

/// Which CockroachDB cluster a node or client belongs to: the CA it trusts (nodes of one cluster share a CA).
pub fn ca_key(
    env: &Env,
    cluster: &str,
    pod: &Value,
    container: &Value,
    args: &CockroachArgs,
) -> String {
    if args.insecure {
        return "insecure".into();
    }
    let secret = env.secret_in(cluster, meta::namespace(pod));
    args.certs_dir
        .as_deref()
        .and_then(|d| mounts::certs_dir(pod, container, d, &secret))
        .and_then(|f| f.get("ca.crt").map(|c| ca_key_of(&c.data)))
        .unwrap_or_else(|| "unknown".into())
}

/// A short stable name for a CA certificate (FNV-1a over its PEM without whitespace).
pub fn ca_key_of(pem: &[u8]) -> String {
    let h = pem
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    format!("ca-{h:016x}")
}

/// `cockroach start` up to "waiting for init": Err is what the process prints before exiting 1.
pub fn start(
    env: &Env,
    pod: &Value,
    container: &Value,
    args: &CockroachArgs,
) -> Result<(), String> {
    check_store_version(env, pod, container)?;
    if args.insecure {
        return Ok(());
    }
    let Some(dir) = &args.certs_dir else {
        return Err("ERROR: cannot load certificates.\nCheck your certificate settings, set --certs-dir, or use --insecure for insecure clusters.\n\nproblem using security settings: no certificates found; does certs dir exist?".into());
    };
    let secret = env.secret_in(env.cluster, meta::namespace(pod));
    let files = mounts::certs_dir(pod, container, dir, &secret).ok_or_else(|| {
        format!("ERROR: cannot load certificates.\nCheck your certificate settings, set --certs-dir, or use --insecure for insecure clusters.\n\nproblem using security settings: no certificates found in {dir}; does certs dir exist?")
    })?;
    certs::check_node(&files, &pod_dns_names(pod))
        .map_err(|e| format!("ERROR: cannot load certificates.\nCheck your certificate settings, set --certs-dir, or use --insecure for insecure clusters.\n\nproblem with node certificate: {e}"))?;
    env.world
        .cockroach()
        .remember_certs(env.cluster, meta::namespace(pod), meta::name(pod), files);
    Ok(())
}

/// A node whose store already belongs to a cluster reads the cluster version from it as it opens the store, so a
/// binary that cannot run that version exits at once, before the start-up a serving node needs.
fn check_store_version(env: &Env, pod: &Value, container: &Value) -> Result<(), String> {
    let cockroach = env.world.cockroach();
    let store = node_store(env.world, env.cluster, pod);
    let cluster_version = cockroach
        .node_of(env.cluster, &store)
        .and_then(|n| cockroach.cluster_version_of(&n.ca));
    let binary = container
        .get("image")
        .and_then(Value::as_str)
        .and_then(version::major_of_image);
    match (cluster_version, binary) {
        (Some(cluster_version), Some(binary)) => version::check_join(cluster_version, binary),
        _ => Ok(()),
    }
}

/// What a node's TLS handshake with a peer says when neither side's CA signed the other's certificate; the
/// node keeps retrying, as the real one does.
const UNKNOWN_AUTHORITY: &str =
    "W failed to connect to peers: x509: certificate signed by unknown authority; retrying";

/// Whether the node of `pod` and the node `peer` accept each other's certificates (insecure nodes only talk to
/// insecure ones).
fn peers_trust(env: &Env, pod: &Value, insecure: bool, peer: &NodeStatus) -> bool {
    let cockroach = env.world.cockroach();
    let theirs = cockroach.certs_of(&peer.cluster, &peer.zone, &peer.pod);
    let mine = cockroach.certs_of(env.cluster, meta::namespace(pod), meta::name(pod));
    match (insecure, mine, theirs) {
        (true, _, None) => true,
        (false, Some(mine), Some(theirs)) => certs::mutual(&mine, &theirs),
        _ => false,
    }
}

/// What a running node logs once the certificate it loaded at start has expired: its peers refuse its handshakes
/// (and it theirs, for the same certificate), so it stops heartbeating its liveness and serving; only a restart
/// with a new certificate brings it back. None while the certificate is current (or the node is insecure).
pub fn certificate_expired(env: &Env, pod: &Value) -> Option<String> {
    let loaded =
        env.world
            .cockroach()
            .certs_of(env.cluster, meta::namespace(pod), meta::name(pod))?;
    certs::node_certificate_current(&loaded).err().map(|why| {
        format!("W failed to connect to peers: x509: certificate has expired or is not yet valid ({why}); retrying")
    })
}

/// A started node tries to join. A node whose store already has an ID rejoins; a new node needs an initialised
/// cluster, every zone of its join list resolvable from its own cluster, and a live node behind one of them.
pub fn join(
    env: &Env,
    pod: &Value,
    container: &Value,
    args: &CockroachArgs,
) -> Result<(u32, String), String> {
    if let Some(expired) = certificate_expired(env, pod) {
        return Err(expired);
    }
    let ca = ca_key(env, env.cluster, pod, container, args);
    let store = node_store(env.world, env.cluster, pod);
    let ns = meta::namespace(pod);
    if env
        .world
        .cockroach()
        .node_decommissioned(env.cluster, &store)
    {
        return Err("ERROR: this node was decommissioned and cannot rejoin the cluster".into());
    }
    let binary = container
        .get("image")
        .and_then(Value::as_str)
        .and_then(version::major_of_image);
    if let (Some(cluster_version), Some(binary)) =
        (env.world.cockroach().cluster_version_of(&ca), binary)
    {
        version::check_join(cluster_version, binary)?;
    }
    let joined = join_unversioned(env, pod, args, &ca, &store, ns)?;
    if let Some(binary) = binary {
        env.world
            .cockroach()
            .node_binary(&joined.1, env.cluster, &store, binary);
    }
    Ok(joined)
}

fn join_unversioned(
    env: &Env,
    pod: &Value,
    args: &CockroachArgs,
    ca: &str,
    store: &str,
    ns: &str,
) -> Result<(u32, String), String> {
    let locality = Locality::parse(args.locality.as_deref(), env.cluster, ns);
    let cockroach = env.world.cockroach();
    let live: Vec<NodeStatus> = cockroach.nodes().into_iter().filter(|n| n.live).collect();
    let trusted = |n: &NodeStatus| peers_trust(env, pod, args.insecure, n);
    if let Some(key) = cockroach.node_of(env.cluster, store).map(|n| n.ca) {
        // A restarted node finds its cluster through whichever peers are up; it must trust them and they it.
        let peers: Vec<&NodeStatus> = live
            .iter()
            .filter(|n| n.ca == key && n.store != store)
            .collect();
        if !peers.is_empty() && !peers.iter().any(|n| trusted(n)) {
            return Err(UNKNOWN_AUTHORITY.into());
        }
        // A node that cannot dial some of its cluster's live nodes would fail its liveness heartbeats or its
        // ranges there: it is not let back in, and logs each dial that times out.
        let blocked = network::unreachable(env.world, env.cluster, &peers);
        if !blocked.is_empty() {
            let lines: Vec<String> = blocked
                .iter()
                .map(|p| network::gossip_dial_timed_out(env.world, p))
                .collect();
            return Err(lines.join("\n"));
        }
        let id = cockroach.node_joined(&key, (env.cluster, ns, meta::name(pod)), store, locality);
        return Ok((id, key));
    }
    let mut zones: BTreeMap<String, Vec<(String, Resolution)>> = BTreeMap::new();
    for entry in &args.join {
        let host = host_only(entry);
        let r = resolve(env.views, env.cluster, ns, host);
        let labels: Vec<&str> = host.split('.').collect();
        let zone = r
            .fqdn()
            .and_then(namespace_of)
            .map(str::to_string)
            .unwrap_or_else(|| {
                if labels.len() >= 3 {
                    labels[2].to_string()
                } else {
                    ns.to_string()
                }
            });
        zones.entry(zone).or_default().push((host.to_string(), r));
    }
    // The live nodes behind the join names, of any cluster: a node learns which cluster it joins from them.
    let behind: Vec<&NodeStatus> = live
        .iter()
        .filter(|n| {
            zones.values().flatten().any(|(_, r)| {
                let (Some(cluster), Some(fqdn)) = (r.cluster(env.cluster), r.fqdn()) else {
                    return false;
                };
                let pod_name = fqdn.split('.').next().unwrap_or("");
                let zone = namespace_of(fqdn).unwrap_or("");
                n.cluster == cluster && n.zone == zone && n.pod == pod_name
            })
        })
        .collect();
    let joinable = behind
        .iter()
        .find(|n| trusted(n) && cockroach.initialised_for(&n.ca));
    if joinable.is_none() && !cockroach.initialised_for(ca) {
        return Err("initial startup completed.\nNode will now attempt to join a running cluster, or wait for `cockroach init`.\nClient connections will be accepted after this completes successfully.".into());
    }
    for (zone, entries) in &zones {
        if !entries.iter().any(|(_, r)| r.is_found()) {
            let why: Vec<String> = entries
                .iter()
                .map(|(h, r)| match r {
                    Resolution::NotFound(w) => format!("{h}: {w}"),
                    _ => h.clone(),
                })
                .collect();
            return Err(format!(
                "W failed to connect to join addresses of zone {zone}: lookup failed: {}",
                why.join("; ")
            ));
        }
    }
    if let Some(dials) = blocked_join_dials(env, ca, &live, &zones) {
        return Err(dials);
    }
    let Some(peer) = joinable else {
        return Err(if behind.is_empty() {
            "W no live node reachable through --join yet; retrying".into()
        } else {
            UNKNOWN_AUTHORITY.into()
        });
    };
    let key = peer.ca.clone();
    let id = cockroach.node_joined(&key, (env.cluster, ns, meta::name(pod)), store, locality);
    Ok((id, key))
}

/// A new node whose pod cannot dial some live nodes of the cluster it would join does not join (through a
/// reachable peer it would still fail to reach the ranges and liveness records held across the blocked path): the
/// failed join RPCs to its `--join` addresses behind the block, one line each, as the real node logs them.
fn blocked_join_dials(
    env: &Env,
    ca: &str,
    live: &[NodeStatus],
    zones: &BTreeMap<String, Vec<(String, Resolution)>>,
) -> Option<String> {
    let members: Vec<&NodeStatus> = live.iter().filter(|n| n.ca == ca).collect();
    if network::unreachable(env.world, env.cluster, &members).is_empty() {
        return None;
    }
    let lines: Vec<String> = zones
        .values()
        .flatten()
        .filter_map(|(host, r)| {
            let cluster = r.cluster(env.cluster)?;
            if env.world.path_open(env.cluster, cluster, network::RPC_PORT) {
                return None;
            }
            let pod = r.fqdn().and_then(|f| target_pod(env.world, cluster, f));
            Some(network::join_dial_timed_out(
                host,
                &network::ip_of(pod.as_ref()),
            ))
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// A client command's connection: certs from its certs dir, `--host` resolved from the pod's cluster to a running
/// node, and the root client certificate accepted by that node's CA. Ok: (cluster, node pod, the node's CA key).
fn connect(
    env: &Env,
    pod: &Value,
    container: &Value,
    args: &CockroachArgs,
) -> Result<(String, Value, String), (i32, String)> {
    let ns = meta::namespace(pod);
    let files = if args.insecure {
        None
    } else {
        let Some(dir) = &args.certs_dir else {
            return Err((1, "ERROR: problem using security settings: no certificates found; does certs dir exist?".into()));
        };
        let secret = env.secret_in(env.cluster, ns);
        match mounts::certs_dir(pod, container, dir, &secret) {
            Some(f) => Some(f),
            None => {
                return Err((1, format!("ERROR: problem using security settings: no certificates found in {dir}; does certs dir exist?")))
            }
        }
    };
    let host = host_only(args.host.as_deref().unwrap_or("localhost")).to_string();
    let cannot_dial = |why: String| {
        (1, format!("ERROR: cannot dial server.\nIs the server running?\nIf the server is running, check --host client-side and --advertise server-side.\n\n{why}"))
    };
    let r = resolve(env.views, env.cluster, ns, &host);
    let (Some(cluster), Some(fqdn)) = (
        r.cluster(env.cluster).map(str::to_string),
        r.fqdn().map(str::to_string),
    ) else {
        return Err(cannot_dial(format!(
            "dial tcp: lookup {host} on 10.96.0.10:53: no such host"
        )));
    };
    let Some(target) = target_pod(env.world, &cluster, &fqdn) else {
        return Err(cannot_dial(format!(
            "dial tcp {host}:26257: connect: connection refused"
        )));
    };
    let target_container = target
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| matches!(invocation(c), Invocation::Start(_)))
        })
        .cloned();
    let running = target
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c.pointer("/state/running").is_some()));
    let Some(target_container) = target_container.filter(|_| running) else {
        return Err(cannot_dial(format!(
            "dial tcp {host}:26257: connect: connection refused"
        )));
    };
    let Invocation::Start(target_args) = invocation(&target_container) else {
        unreachable!("target_container was found as a start invocation")
    };
    // The cluster the node belongs to, once it joined one: its `ca.crt` may have changed since (a CA rotation
    // adds a CA to it), but not the cluster.
    let ca = env
        .world
        .cockroach()
        .node_of(&cluster, &node_store(env.world, &cluster, &target))
        .map(|n| n.ca)
        .unwrap_or_else(|| ca_key(env, &cluster, &target, &target_container, &target_args));
    if let Some(files) = &files {
        // The node trusts the CAs it loaded when it started, not what its secret holds now.
        let loaded =
            env.world
                .cockroach()
                .certs_of(&cluster, meta::namespace(&target), meta::name(&target));
        let target_secret = env.secret_in(&cluster, meta::namespace(&target));
        let node_ca = loaded
            .or_else(|| {
                target_args
                    .certs_dir
                    .as_deref()
                    .and_then(|d| mounts::certs_dir(&target, &target_container, d, &target_secret))
            })
            .and_then(|f| f.get("ca.crt").map(|c| c.data.clone()));
        if let Err(e) = certs::check_root_client(files, node_ca.as_deref()) {
            return Err((1, format!("ERROR: failed to connect to the node: {e}")));
        }
    }
    Ok((cluster, target, ca))
}

/// `cockroach init`: (exit code, output).
pub fn init(env: &Env, pod: &Value, container: &Value, args: &CockroachArgs) -> (i32, String) {
    let (cluster, target, ca) = match connect(env, pod, container, args) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let binary = target_container_image(&target)
        .as_deref()
        .and_then(version::major_of_image);
    if !env.world.cockroach().init_at(&ca, binary) {
        return (1, "ERROR: cluster has already been initialized".into());
    }
    let ns = meta::namespace(&target);
    let locality = start_args(&target)
        .and_then(|a| a.locality)
        .map(|l| Locality::parse(Some(&l), &cluster, ns))
        .unwrap_or_else(|| Locality::parse(None, &cluster, ns));
    env.world.cockroach().node_joined(
        &ca,
        (&cluster, ns, meta::name(&target)),
        &node_store(env.world, &cluster, &target),
        locality,
    );
    (0, "Cluster successfully initialized".into())
}

/// `cockroach node decommission <ids> | --self`: None while the nodes still hand their replicas over (the real
/// command keeps running and printing progress), then (exit code, output). The pre-flight checks refuse, before
/// anything changes, when some replica would have nowhere to go.
pub fn decommission(
    env: &Env,
    pod: &Value,
    container: &Value,
    args: &CockroachArgs,
) -> Option<(i32, String)> {
    let (cluster, target, ca) = match connect(env, pod, container, args) {
        Ok(t) => t,
        Err(e) => return Some(e),
    };
    let cockroach = env.world.cockroach();
    if !cockroach.initialised_for(&ca) {
        return Some((
            1,
            "ERROR: cannot dial server: the node is waiting for `cockroach init`".into(),
        ));
    }
    let mut ids = Vec::new();
    if args.self_ {
        match cockroach.node_id_of(&cluster, &node_store(env.world, &cluster, &target)) {
            Some(id) => ids.push(id),
            None => return Some((1, "ERROR: the target node has no node ID yet".into())),
        }
    }
    for p in &args.positional {
        match p.parse::<u32>() {
            Ok(id) => ids.push(id),
            Err(_) => return Some((1, format!("ERROR: invalid node ID {p:?}"))),
        }
    }
    if ids.is_empty() {
        return Some((
            1,
            "ERROR: no node ID specified; use --self or list node IDs".into(),
        ));
    }
    let step = cockroach.with(&ca, |c, now| {
        c.start_decommission(&ids, now)?;
        Ok::<_, String>(c.finish_decommission(&ids, now))
    })?;
    match step {
        Err(e) => Some((1, e)),
        Ok(false) => None,
        Ok(true) => {
            let rows: Vec<String> = ids.iter().map(|id| format!("  {id:>2} |  true   |        0 |        true        | decommissioned |    false")).collect();
            Some((0, format!("  id | is_live | replicas | is_decommissioning |   membership   | is_draining\n-----+---------+----------+--------------------+----------------+--------------\n{}\n({} rows)\n\nNo more data reported on target nodes. Please verify cluster health before removing the nodes.", rows.join("\n"), ids.len())))
        }
    }
}

/// `cockroach node status --format=csv|tsv [--all] [--ranges] [--stats] [--decommission]`: (exit code, output),
/// every node of the cluster the host belongs to, with the real columns in the real order, as the liveness
/// records show it (a node stopped a moment ago still looks live).
pub fn node_status(
    env: &Env,
    pod: &Value,
    container: &Value,
    args: &CockroachArgs,
) -> (i32, String) {
    let (_, _, ca) = match connect(env, pod, container, args) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let separator = match args.format.as_deref() {
        Some("csv") => ',',
        Some("tsv") | None => '\t',
        Some(other) => {
            return (
                1,
                format!("ERROR: the sandbox prints node status only as csv or tsv, not {other}"),
            )
        }
    };
    let columns = metrics::NodeStatusColumns {
        ranges: args.all || args.show_ranges,
        stats: args.all || args.show_stats,
        decommission: args.all || args.show_decommission,
    };
    let address = |n: &super::cluster::NodeStatus| {
        format!("{}.cockroachdb.{}.svc.{CLUSTER_DOMAIN}", n.pod, n.zone)
    };
    env.world
        .cockroach()
        .with(&ca, |c, now| {
            let seen = c.as_liveness_shows(now);
            (0, metrics::node_status(&seen, columns, separator, address, now))
        })
        .unwrap_or_else(|| {
            (
                1,
                "ERROR: server is not accepting clients, trying again: the node is waiting for `cockroach init`".into(),
            )
        })
}

/// `cockroach sql -e <statements>... | -f <file>`: (exit code, output). The file is read from the pod's mounted
/// Secret volumes (how the provider hands over statements that carry a password hash). Every statement is
/// parsed before any runs; then `sql::run_script` runs them as the real client does.
pub fn sql(env: &Env, pod: &Value, container: &Value, args: &CockroachArgs) -> (i32, String) {
    let (_, _, ca) = match connect(env, pod, container, args) {
        Ok(t) => t,
        Err(e) => return e,
    };
    if !env.world.cockroach().initialised_for(&ca) {
        return (
            1,
            "ERROR: server is not accepting clients, trying again: the node is waiting for `cockroach init`".into(),
        );
    }
    let format = match sql::Format::parse(args.format.as_deref()) {
        Ok(f) => f,
        Err(e) => return (1, e),
    };
    let mut scripts = args.execute.clone();
    if let Some(path) = &args.file {
        match mounted_file(env, pod, container, path) {
            Some(text) => scripts.push(text),
            None => return (1, format!("ERROR: open {path}: no such file or directory")),
        }
    }
    if scripts.is_empty() {
        return (
            1,
            "ERROR: the sandbox runs `cockroach sql` only with -e/--execute or -f/--file".into(),
        );
    }
    let mut statements = Vec::new();
    for text in &scripts {
        match sql::parse_script(text) {
            Ok(s) => statements.extend(s),
            Err(e) => return (1, e),
        }
    }
    let mut salt = [0u8; 16];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt).is_err() {
        return (1, "ERROR: no randomness for a password salt".into());
    }
    let ran = env.world.cockroach().with(&ca, |c, now| {
        sql::run_script(c, &statements, now, &salt, format)
    });
    ran.unwrap_or_else(|| (1, "ERROR: cluster is not initialised".into()))
}

/// The text of a file the container sees under one of its Secret volume mounts.
fn mounted_file(env: &Env, pod: &Value, container: &Value, path: &str) -> Option<String> {
    let (dir, file) = path.rsplit_once('/')?;
    let secret = env.secret_in(env.cluster, meta::namespace(pod));
    let files = mounts::certs_dir(pod, container, dir, &secret)?;
    String::from_utf8(files.get(file)?.data.clone()).ok()
}

/// A shell's client commands joined by `&&`: each runs when the one before succeeded; (the last exit code, every
/// output in order).
pub fn steps(env: &Env, pod: &Value, container: &Value, steps: &[Program]) -> (i32, String) {
    let mut output = Vec::new();
    for step in steps {
        let (code, said) = match step {
            Program::Sql(args) => sql(env, pod, container, args),
            Program::NodeStatus(args) => node_status(env, pod, container, args),
            _ => (0, String::new()),
        };
        output.push(said);
        if code != 0 {
            return (code, output.join("\n"));
        }
    }
    (0, output.join("\n"))
}

/// The `cockroach start` arguments of a node's pod.
fn start_args(target: &Value) -> Option<CockroachArgs> {
    target
        .pointer("/spec/containers")?
        .as_array()?
        .iter()
        .find_map(|c| match invocation(c) {
            Invocation::Start(a) => Some(a),
            _ => None,
        })
}

fn target_container_image(target: &Value) -> Option<String> {
    target
        .pointer("/spec/containers")?
        .as_array()?
        .iter()
        .find(|c| matches!(invocation(c), Invocation::Start(_)))?
        .get("image")?
        .as_str()
        .map(str::to_string)
}

/// The pod a resolved name lands on: `<pod>.<svc>.<ns>.svc...` directly, `<svc>.<ns>.svc...` through the
/// service's selector (a running pod behind it).
fn target_pod(world: &World, cluster: &str, fqdn: &str) -> Option<Value> {
    let store = world.cluster(cluster)?.store;
    let ns = namespace_of(fqdn)?;
    let labels: Vec<&str> = fqdn
        .strip_suffix(&format!(".{ns}.svc.{CLUSTER_DOMAIN}"))?
        .split('.')
        .collect();
    let pods = crate::store::resource_type("pods")?;
    match labels.as_slice() {
        [pod, _svc] => store.get(pods, Some(ns), pod),
        [svc] => {
            let svc = store.get(crate::store::resource_type("services")?, Some(ns), svc)?;
            let selector = svc.pointer("/spec/selector")?.clone();
            store.list(pods, Some(ns)).into_iter().find(|p| {
                meta::labels_match(&selector, p)
                    && meta::str_at(p, "/status/phase") == Some("Running")
            })
        }
        _ => None,
    }
}
