//! `crdb_dns_link`: one Kubernetes cluster forwards its peer zones' service names to their DNS
//! load balancers. Only the provider's own entries are ever written or removed, with
//! resourceVersion-guarded updates so that a concurrent edit by anyone else is never lost.
use super::cluster_access::{connect_for_apply, connect_for_read, validate_connection};
use super::dns_link_schema::{
    self, forwarded_peers, DnsLinkModel, DEFAULT_CLUSTER_DOMAIN, DNS_PROVIDER_AUTO, TYPE_NAME,
};
use super::import_id::{self, ImportId};
use crate::cockroach::dns::{self, DnsFlavour, ForwardMap, Forwards, KubeSystemInventory};
use crate::cockroach::manifests::{names, Layout};
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::timeouts::{self, Operation};
use crate::framework::{
    ApplyOutcome, Attr, OperationContext, PlanRequest, Resource, Schema, ToValue, Value,
};
use crate::kubernetes::readiness::load_balancer_address;
use crate::kubernetes::{connection, Call, ClusterClient, Deadline, RemoteError};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

const CREATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// How often a resourceVersion conflict (someone else edited the ConfigMap meanwhile) is retried.
const CONFLICT_RETRIES: usize = 5;

pub struct DnsLink;

fn model_of(value: &Value, diags: &mut Diagnostics) -> Option<DnsLinkModel> {
    crate::framework::model::decode_model(value, TYPE_NAME, diags)
}

fn config_maps(client: &ClusterClient) -> Api<ConfigMap> {
    Api::namespaced(client.kube().clone(), names::KUBE_SYSTEM)
}

/// A failed raw call (the read-modify-write of a ConfigMap, a rollout restart), reported like
/// every other call of the Kubernetes edge: cluster, object, call, hint.
fn remote(client: &ClusterClient, call: Call, object: &str, source: kube::Error) -> Diagnostics {
    RemoteError {
        cluster: client.label().to_string(),
        object: object.to_string(),
        call,
        source,
    }
    .to_diagnostics()
}

/// Which DNS server the cluster runs, as configured or detected from kube-system.
async fn flavour(client: &ClusterClient, choice: &str) -> Result<DnsFlavour, Diagnostics> {
    let deployments = client
        .list::<Deployment>(Some(names::KUBE_SYSTEM), "")
        .await
        .map_err(|e| e.to_diagnostics())?;
    let maps = client
        .list::<ConfigMap>(Some(names::KUBE_SYSTEM), "")
        .await
        .map_err(|e| e.to_diagnostics())?;
    let corefile = maps
        .iter()
        .find(|m| m.metadata.name.as_deref() == Some("coredns"))
        .and_then(|m| m.data.as_ref()?.get("Corefile").cloned());
    let inventory = KubeSystemInventory {
        deployments: deployments
            .iter()
            .filter_map(|d| d.metadata.name.clone())
            .collect(),
        config_maps: maps
            .iter()
            .filter_map(|m| m.metadata.name.clone())
            .collect(),
        corefile,
    };
    let detected = dns::detect_dns_flavour(&inventory);
    let mut diags = Diagnostics::new();
    match (choice, detected) {
        ("kube-dns", _) => Ok(DnsFlavour::KubeDns),
        ("coredns", Ok(flavour @ (DnsFlavour::CoreDns | DnsFlavour::CoreDnsCustom))) => Ok(flavour),
        ("coredns", _) => Ok(DnsFlavour::CoreDns),
        (_, Ok(flavour)) => Ok(flavour),
        (_, Err(e)) => {
            diags.attribute_error(
                AttributePath::root("dns_provider"),
                format!("Cannot tell which DNS server {} runs", client.label()),
                format!("{e}. Set dns_provider to \"kube-dns\" or \"coredns\"."),
            );
            Err(diags)
        }
    }
}

fn flavour_name(flavour: DnsFlavour) -> &'static str {
    match flavour {
        DnsFlavour::KubeDns => "kube-dns",
        DnsFlavour::CoreDns | DnsFlavour::CoreDnsCustom => "coredns",
    }
}

/// The DNS server `choice` names or detection finds, and what its configuration forwards now.
async fn live_forwards(
    client: &ClusterClient,
    choice: &str,
) -> Result<(DnsFlavour, ForwardMap), Diagnostics> {
    let flavour = flavour(client, choice).await?;
    let name = flavour.config_map();
    let live = client
        .get::<ConfigMap>(Some(names::KUBE_SYSTEM), name)
        .await
        .map_err(|e| e.to_diagnostics())?;
    let forwards = read_forwards(flavour, live.as_ref()).map_err(|why| {
        let mut d = Diagnostics::new();
        d.error(
            format!(
                "Cannot read ConfigMap kube-system/{name} on {}",
                client.label()
            ),
            why,
        );
        d
    })?;
    Ok((flavour, forwards))
}

/// A link as a cluster's live DNS configuration shows it: every `<zone>.svc.<domain>` it forwards is a peer, and
/// the link owns those entries from now on (a peer the configuration leaves out shows as a removal in the plan).
/// `own_address` is the zone's own DNS address: configurations list every zone in `peers`, their own included
/// (it is never forwarded).
fn imported_link(
    zone: &str,
    own_address: Option<String>,
    flavour: DnsFlavour,
    forwards: &ForwardMap,
) -> DnsLinkModel {
    let domain = DEFAULT_CLUSTER_DOMAIN;
    let mut peers: BTreeMap<String, Attr<String>> = forwards
        .iter()
        .filter_map(|(forwarded, addresses)| {
            let peer = forwarded.strip_suffix(&format!(".svc.{domain}"))?;
            let is_zone = !peer.contains('.') && super::validate::zone_name(peer).is_ok();
            (is_zone && peer != zone).then(|| (peer.to_string(), addresses.first().cloned().into()))
        })
        .collect();
    let forwarded_zones = peers.keys().cloned().collect();
    if let Some(address) = own_address {
        peers.insert(zone.to_string(), Attr::Known(address));
    }
    DnsLinkModel {
        id: Attr::Known(zone.to_string()),
        zone: Attr::Known(zone.to_string()),
        forwarded_zones: Attr::Known(forwarded_zones),
        peers: Attr::Known(peers),
        cluster_domain: Attr::Known(domain.to_string()),
        dns_provider: Attr::Known(DNS_PROVIDER_AUTO.to_string()),
        detected_dns_provider: Attr::Known(flavour_name(flavour).to_string()),
        ..Default::default()
    }
}

/// The address of the zone's DNS load balancer, under the name either layout gives it.
async fn own_dns_address(
    client: &ClusterClient,
    zone: &str,
) -> Result<Option<String>, Diagnostics> {
    for layout in Layout::ALL {
        let service = client
            .get::<Service>(
                Some(names::KUBE_SYSTEM),
                &layout.dns_load_balancer_name(zone),
            )
            .await
            .map_err(|e| e.to_diagnostics())?;
        if service.as_ref().and_then(load_balancer_address).is_some() {
            return Ok(super::lb_resolver::service_dns_ip(service.as_ref()).await);
        }
    }
    Ok(None)
}

/// What the cluster's DNS configuration forwards now, domain by domain.
fn read_forwards(flavour: DnsFlavour, map: Option<&ConfigMap>) -> Result<ForwardMap, String> {
    let empty = BTreeMap::new();
    let data = map.and_then(|m| m.data.as_ref()).unwrap_or(&empty);
    match flavour {
        DnsFlavour::KubeDns => {
            dns::read_stub_domains(data.get(dns::STUB_DOMAINS_KEY).map(String::as_str))
                .map_err(|e| e.to_string())
        }
        DnsFlavour::CoreDns => Ok(dns::read_corefile_forwards(
            data.get("Corefile").map(String::as_str).unwrap_or(""),
        )),
        DnsFlavour::CoreDnsCustom => Ok(dns::read_coredns_custom_forwards(data)),
    }
}

/// The ConfigMap's data with our entries set to `forwards` and the zones in `retired` removed.
fn edited_data(
    flavour: DnsFlavour,
    data: &BTreeMap<String, String>,
    forwards: &Forwards,
    retired: &[String],
) -> Result<BTreeMap<String, String>, String> {
    let mut data = data.clone();
    match flavour {
        DnsFlavour::KubeDns => {
            let existing = data.get(dns::STUB_DOMAINS_KEY).cloned();
            let kept = dns::remove_stub_domains(existing.as_deref(), retired)
                .map_err(|e| e.to_string())?;
            let merged = if forwards.is_empty() {
                kept
            } else {
                Some(
                    dns::merge_stub_domains(kept.as_deref(), forwards)
                        .map_err(|e| e.to_string())?,
                )
            };
            match merged {
                Some(json) => data.insert(dns::STUB_DOMAINS_KEY.to_string(), json),
                None => data.remove(dns::STUB_DOMAINS_KEY),
            };
        }
        DnsFlavour::CoreDns => {
            let corefile = data.get("Corefile").cloned().unwrap_or_default();
            let kept = dns::remove_from_corefile(&corefile, retired);
            let merged = dns::merge_corefile(&kept, forwards).map_err(|e| e.to_string())?;
            data.insert("Corefile".to_string(), merged);
        }
        DnsFlavour::CoreDnsCustom => {
            data.retain(|key, _| !(key.starts_with("crdb-") && key.ends_with(".server")));
            data.extend(dns::coredns_custom_entries(forwards));
        }
    }
    Ok(data)
}

/// Writes our entries with an update guarded by the resourceVersion it read, re-reading and
/// re-merging when someone else changed the ConfigMap in between.
async fn write_forwards(
    client: &ClusterClient,
    flavour: DnsFlavour,
    forwards: &Forwards,
    retired: &[String],
) -> Result<(), Diagnostics> {
    let api = config_maps(client);
    let name = flavour.config_map();
    let object = format!("ConfigMap {}/{name}", names::KUBE_SYSTEM);
    for _ in 0..CONFLICT_RETRIES {
        let live = client
            .get::<ConfigMap>(Some(names::KUBE_SYSTEM), name)
            .await
            .map_err(|e| e.to_diagnostics())?;
        let data = live
            .as_ref()
            .and_then(|m| m.data.clone())
            .unwrap_or_default();
        let edited = edited_data(flavour, &data, forwards, retired).map_err(|why| {
            let mut diags = Diagnostics::new();
            diags.error(
                format!("Cannot merge into {object} on {}", client.label()),
                why,
            );
            diags
        })?;
        if edited == data && live.is_some() {
            return Ok(());
        }
        let result = match live {
            Some(mut map) => {
                map.data = Some(edited);
                api.replace(name, &PostParams::default(), &map).await
            }
            None => {
                let mut map = ConfigMap::default();
                map.metadata.name = Some(name.to_string());
                map.metadata.namespace = Some(names::KUBE_SYSTEM.to_string());
                map.data = Some(edited);
                api.create(&PostParams::default(), &map).await
            }
        };
        match result {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(e) => return Err(remote(client, Call::Update, &object, e)),
        }
    }
    let mut diags = Diagnostics::new();
    diags.error(
        format!("{object} on {} keeps changing", client.label()),
        format!("Someone else updated it {CONFLICT_RETRIES} times while the provider merged its entries; apply again."),
    );
    Err(diags)
}

/// CoreDNS without the `reload` plugin reads its Corefile only at start: roll its pods, one by one.
async fn reload_dns(client: &ClusterClient, flavour: DnsFlavour) -> Result<(), Diagnostics> {
    if flavour != DnsFlavour::CoreDns {
        return Ok(());
    }
    let map = client
        .get::<ConfigMap>(Some(names::KUBE_SYSTEM), "coredns")
        .await
        .map_err(|e| e.to_diagnostics())?;
    let corefile = map
        .and_then(|m| m.data?.get("Corefile").cloned())
        .unwrap_or_default();
    if corefile
        .lines()
        .any(|line| line.trim() == "reload" || line.trim().starts_with("reload "))
    {
        return Ok(());
    }
    let api: Api<Deployment> = Api::namespaced(client.kube().clone(), names::KUBE_SYSTEM);
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}});
    api.patch(
        "coredns",
        &PatchParams::default(),
        &Patch::Strategic(&patch),
    )
    .await
    .map(drop)
    .map_err(|e| {
        remote(
            client,
            Call::Patch,
            "Deployment kube-system/coredns (rollout restart)",
            e,
        )
    })
}

fn peer_addresses(model: &DnsLinkModel) -> BTreeMap<String, Vec<IpAddr>> {
    let zone = model.zone.known().cloned().unwrap_or_default();
    let peers = model.peers.known().cloned().unwrap_or_default();
    forwarded_peers(&zone, &peers)
        .into_iter()
        .filter_map(|(peer, address)| Some((peer, vec![address.parse().ok()?])))
        .collect()
}

impl DnsLink {
    async fn converge(
        ctx: &OperationContext,
        prior: Option<&DnsLinkModel>,
        planned: &Value,
        limit: Duration,
    ) -> ApplyOutcome {
        let mut diags = Diagnostics::new();
        let Some(mut state) = model_of(planned, &mut diags) else {
            return ApplyOutcome {
                diagnostics: diags,
                ..Default::default()
            };
        };
        let fail = |diags: Diagnostics| ApplyOutcome {
            state: prior.map(ToValue::to_value).unwrap_or(Value::Null),
            private: Vec::new(),
            diagnostics: diags,
        };
        let Some(client) = connect_for_apply(ctx, &state.kubernetes, "link", &mut diags).await
        else {
            return fail(diags);
        };
        let zone = state.zone.known().cloned().unwrap_or_default();
        let domain = state.peers_cluster_domain();
        let choice = state.dns_provider_choice();
        let flavour = match flavour(&client, &choice).await {
            Ok(f) => f,
            Err(d) => return fail(d),
        };
        let peers = peer_addresses(&state);
        let forwards = match Forwards::new(&[zone.as_str()], &domain, &peers) {
            Ok(f) => f,
            Err(e) => {
                diags.attribute_error(AttributePath::root("peers"), "Invalid peers", e.to_string());
                return fail(diags);
            }
        };
        // Zones this link forwarded before and no longer does.
        let retired: Vec<String> = prior
            .and_then(|p| p.forwarded_zones.known().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|z| !peers.contains_key(z))
            .map(|z| dns::forward_domain(&z, &domain))
            .collect();
        if let Err(d) = write_forwards(&client, flavour, &forwards, &retired).await {
            return fail(d);
        }
        if let Err(d) = reload_dns(&client, flavour).await {
            return fail(d);
        }
        state.id = Attr::Known(zone.clone());
        state.detected_dns_provider = Attr::Known(flavour_name(flavour).to_string());
        state.forwarded_zones = Attr::Known(peers.keys().cloned().collect());
        if state.wait_for_ready_replicas != Attr::Known(0) {
            let deadline = Deadline::after(limit, &ctx.stop);
            if let Err(e) = client
                .wait_rolled_out(&zone, names::STATEFULSET, &deadline)
                .await
            {
                diags.extend(e.to_diagnostics());
            }
        }
        ApplyOutcome {
            state: state.to_value(),
            private: Vec::new(),
            diagnostics: diags,
        }
    }
}

#[async_trait::async_trait]
impl Resource for DnsLink {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn model_fields(&self) -> &'static [&'static str] {
        <DnsLinkModel as crate::framework::model::Fields>::FIELDS
    }

    fn schema(&self) -> Schema {
        dns_link_schema::schema(connection::block())
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(model) = model_of(config, diags) {
            dns_link_schema::validate(&model, diags);
            validate_connection(&model.kubernetes, diags);
        }
    }

    fn modify_plan(
        &self,
        _request: &PlanRequest<'_>,
        planned: &mut Value,
        diags: &mut Diagnostics,
    ) {
        let Some(mut model) = model_of(planned, diags) else {
            return;
        };
        model.id = model.zone.clone();
        model.forwarded_zones = match (&model.zone, &model.peers) {
            (Attr::Known(zone), Attr::Known(peers)) if peers.values().all(|a| !a.is_unknown()) => {
                Attr::Known(forwarded_peers(zone, peers).into_keys().collect())
            }
            _ => Attr::Unknown,
        };
        *planned = model.to_value();
    }

    async fn create(&self, ctx: &OperationContext, planned: &Value) -> ApplyOutcome {
        let limit = timeouts::limit(planned.attr("timeouts"), Operation::Create, CREATE_TIMEOUT);
        Self::converge(ctx, None, planned, limit).await
    }

    async fn read(
        &self,
        ctx: &OperationContext,
        state: &Value,
    ) -> Result<Option<Value>, Diagnostics> {
        let mut diags = Diagnostics::new();
        let Some(mut model) = model_of(state, &mut diags) else {
            return Err(diags);
        };
        let Some(client) = connect_for_read(ctx, &model.kubernetes).await? else {
            // Imported, or the connection is unknown: nothing to read until the next apply.
            return Ok(Some(state.clone()));
        };
        let choice = model.dns_provider_choice();
        let (flavour, forwards) = live_forwards(&client, &choice).await?;
        let domain = model.peers_cluster_domain();
        let zone = model.zone.known().cloned().unwrap_or_default();
        // Peers whose forwarding is gone or points elsewhere show as drift on `peers`.
        if let Attr::Known(peers) = &mut model.peers {
            for (peer, address) in peers.iter_mut() {
                if *peer == zone {
                    continue;
                }
                let live_addresses = forwards.get(&dns::forward_domain(peer, &domain));
                match live_addresses {
                    Some(list) if address.known().is_some_and(|a| list.contains(a)) => {}
                    Some(list) => *address = list.first().cloned().into(),
                    None => *address = Attr::Null,
                }
            }
            peers.retain(|peer, address| *peer == zone || !address.is_null());
        }
        let mut forwarded: Vec<String> = forwards
            .keys()
            .filter_map(|d| {
                d.strip_suffix(&format!(".svc.{domain}"))
                    .map(str::to_string)
            })
            .filter(|z| {
                model
                    .forwarded_zones
                    .known()
                    .is_some_and(|ours| ours.contains(z))
            })
            .collect();
        forwarded.sort();
        model.forwarded_zones = Attr::Known(forwarded);
        model.detected_dns_provider = Attr::Known(flavour_name(flavour).to_string());
        Ok(Some(model.to_value()))
    }

    async fn update(&self, ctx: &OperationContext, prior: &Value, planned: &Value) -> ApplyOutcome {
        let mut diags = Diagnostics::new();
        let Some(prior) = model_of(prior, &mut diags) else {
            return ApplyOutcome {
                diagnostics: diags,
                ..Default::default()
            };
        };
        let limit = timeouts::limit(planned.attr("timeouts"), Operation::Update, UPDATE_TIMEOUT);
        Self::converge(ctx, Some(&prior), planned, limit).await
    }

    async fn delete(&self, ctx: &OperationContext, prior: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let Some(model) = model_of(prior, &mut diags) else {
            return diags;
        };
        let Some(client) = connect_for_apply(ctx, &model.kubernetes, "link", &mut diags).await
        else {
            return diags;
        };
        let _ = timeouts::limit(prior.attr("timeouts"), Operation::Delete, DELETE_TIMEOUT);
        let choice = model.dns_provider_choice();
        let flavour = match flavour(&client, &choice).await {
            Ok(f) => f,
            Err(d) => return d,
        };
        let domain = model.peers_cluster_domain();
        let zone = model.zone.known().cloned().unwrap_or_default();
        let mut zones: Vec<String> = model.forwarded_zones.known().cloned().unwrap_or_default();
        zones.extend(peer_addresses(&model).into_keys());
        zones.retain(|z| *z != zone);
        zones.sort();
        zones.dedup();
        let retired: Vec<String> = zones
            .iter()
            .map(|z| dns::forward_domain(z, &domain))
            .collect();
        let nothing = Forwards::new(&[zone.as_str()], &domain, &BTreeMap::new())
            .expect("an empty forward set is valid");
        if let Err(d) = write_forwards(&client, flavour, &nothing, &retired).await {
            return d;
        }
        if let Err(d) = reload_dns(&client, flavour).await {
            diags.extend(d);
        }
        diags
    }

    async fn import(&self, ctx: &OperationContext, id: &str) -> Result<Value, Diagnostics> {
        let ImportId { context, zone } = import_id::parse(id, TYPE_NAME)?;
        let Some(context) = context else {
            let model = DnsLinkModel {
                id: Attr::Known(zone.clone()),
                zone: Attr::Known(zone),
                ..Default::default()
            };
            return Ok(model.to_value());
        };
        let client = import_id::connect(ctx, &context).await?;
        let (flavour, forwards) = live_forwards(&client, DNS_PROVIDER_AUTO).await?;
        let own_address = own_dns_address(&client, &zone).await?;
        Ok(imported_link(&zone, own_address, flavour, &forwards).to_value())
    }
}

#[cfg(test)]
mod import_tests {
    use super::*;

    #[test]
    fn an_imported_link_claims_the_zone_forwards_it_finds_and_nothing_else() {
        let forwards: ForwardMap = [
            (
                "us-west1-a.svc.cluster.local",
                vec!["192.0.2.1".to_string()],
            ),
            (
                "us-east1-b.svc.cluster.local",
                vec!["192.0.2.2".to_string()],
            ),
            ("corp.example", vec!["192.0.2.250".to_string()]),
            ("db.team.svc.cluster.local", vec!["192.0.2.9".to_string()]),
        ]
        .into_iter()
        .map(|(d, a)| (d.to_string(), a))
        .collect();
        let link = imported_link(
            "us-east1-b",
            Some("192.0.2.2".into()),
            DnsFlavour::KubeDns,
            &forwards,
        );
        assert_eq!(
            link.peers,
            Attr::Known(
                [
                    (
                        "us-east1-b".to_string(),
                        Attr::Known("192.0.2.2".to_string())
                    ),
                    (
                        "us-west1-a".to_string(),
                        Attr::Known("192.0.2.1".to_string())
                    )
                ]
                .into()
            ),
            "its own zone from its load balancer, never from its forwarding"
        );
        assert_eq!(
            link.forwarded_zones,
            Attr::Known(vec!["us-west1-a".to_string()])
        );
        assert_eq!(link.detected_dns_provider, Attr::Known("kube-dns".into()));
        assert!(link.kubernetes.is_null());
    }
}
