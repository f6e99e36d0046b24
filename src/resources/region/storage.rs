//! A zone's data volumes: `storage_size` grows in place and never shrinks; `storage_class` cannot
//! change in place (the schema makes it replace the region).
//!
//! Plan ([`plan`], pure, nothing contacted): a size equal to the prior one in other units
//! (`100Gi` -> `102400Mi`) keeps the prior text, so nothing is planned; a smaller one is refused on
//! `storage_size`, since Kubernetes cannot shrink a volume, unless the region is replaced anyway.
//!
//! Apply ([`data_claims`] looked at and judged by [`growth_needed`], then [`grow_volumes`] before the zone's
//! objects are built and applied, then [`VolumeGrowth::wait`]), decided from what the cluster has rather than
//! from the prior state, so that an interrupted growth is resumed by the next apply:
//! 1. the claims `datadir-cockroachdb-N` that request less than the planned size are found, and
//!    their StorageClasses must allow expansion, or the apply fails naming the class before
//!    anything is touched;
//! 2. each such claim's request is raised;
//! 3. a StatefulSet whose claim template has another size is deleted with propagation Orphan: its
//!    pods keep running, and the apply that follows creates it again with the new template (an
//!    adopted one, whose pod template is not the provider's, is created again at once as it was);
//!    the same pod template is the same revision, so it adopts the pods without restarting them;
//! 4. once the zone is applied, the claims are watched until they report the new capacity.
//!
//! Read ([`read_volumes`]) reports the size the nodes really have: the claim template's, or less
//! while a claim in use has not reached it, so the plan after an interrupted growth shows it again.
use super::model::RegionModel;
use super::step::Need;
use super::zone_run::ZoneRun;
use crate::cockroach::manifests::{self, names, ZoneSpec};
use crate::cockroach::quantity::{format_bytes, Quantity};
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::Attr;
use crate::kubernetes::readiness::Progress;
use crate::kubernetes::wait::human_duration;
use crate::kubernetes::{ClusterClient, Deadline, Propagation, WaitError, FIELD_MANAGER};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as KubeQuantity;
use std::collections::BTreeMap;

/// Who creates an adopted StatefulSet again when its managed fields do not say who wrote it.
const ADOPTED_MANAGER: &str = "terraform-provider-crdb-adopted";
/// The claim condition of a volume that has grown but whose file system has not yet.
const FILE_SYSTEM_RESIZE_PENDING: &str = "FileSystemResizePending";

fn bytes(text: &str) -> Option<u64> {
    Quantity::parse(text).ok()?.bytes().ok()
}

/// The region is replaced by this plan (the schema's `requires_replace` attributes changed).
fn replaced(prior: &RegionModel, planned: &RegionModel) -> bool {
    prior.zone != planned.zone || prior.storage_class != planned.storage_class
}

/// Plan rule for `storage_size`: the same amount in other units plans nothing, and a smaller one is
/// an error on the attribute.
pub(super) fn plan(
    prior: Option<&RegionModel>,
    planned: &mut RegionModel,
    diags: &mut Diagnostics,
) {
    let Some(prior) = prior else { return };
    let (Attr::Known(before), Attr::Known(after)) = (&prior.storage_size, &planned.storage_size)
    else {
        return;
    };
    // An unparsable value is reported by validation.
    let (Some(was), Some(will)) = (bytes(before), bytes(after)) else {
        return;
    };
    if will == was {
        planned.storage_size = prior.storage_size.clone();
    } else if will < was && !replaced(prior, planned) {
        diags.attribute_error(
            AttributePath::root("storage_size"),
            "Data volumes cannot shrink",
            format!(
                "storage_size would go from {before} to {after}, but Kubernetes cannot shrink a persistent volume, \
                 so this cannot be applied in place. Keep storage_size at {before} or more. A zone gets smaller \
                 volumes only by being replaced, its nodes starting again on new, empty volumes: set \
                 deletion_protection = false, apply, then run `terraform apply -replace=<this region's address>`."
            ),
        );
    }
}

/// `datadir-cockroachdb-<n>`: the data claim of node `n`.
fn claim_ordinal(claim: &PersistentVolumeClaim) -> Option<i32> {
    let prefix = format!("{}-{}-", names::DATA_VOLUME, names::STATEFULSET);
    claim
        .metadata
        .name
        .as_deref()?
        .strip_prefix(&prefix)?
        .parse()
        .ok()
}

fn claim_name(claim: &PersistentVolumeClaim) -> String {
    claim.metadata.name.clone().unwrap_or_default()
}

fn requested(claim: &PersistentVolumeClaim) -> Option<&str> {
    let requests = claim.spec.as_ref()?.resources.as_ref()?.requests.as_ref()?;
    Some(requests.get("storage")?.0.as_str())
}

fn capacity(claim: &PersistentVolumeClaim) -> Option<&str> {
    let capacity = claim.status.as_ref()?.capacity.as_ref()?;
    Some(capacity.get("storage")?.0.as_str())
}

/// The message of the claim's `FileSystemResizePending` condition, when it has one.
fn resize_pending(claim: &PersistentVolumeClaim) -> Option<String> {
    claim
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == FILE_SYSTEM_RESIZE_PENDING && c.status == "True")
        .map(|c| c.message.clone().unwrap_or_default())
}

/// What the cluster says about the zone's volumes, written into the model read back. Only called
/// with the zone's live StatefulSet.
pub(super) fn observe(
    model: &mut RegionModel,
    set: &StatefulSet,
    claims: &[PersistentVolumeClaim],
) {
    let Some(template) = manifests::observe_data_volumes(set) else {
        return;
    };
    model.storage_class = template.class.map_or(Attr::Null, Attr::Known);
    let Some((size, template_bytes)) = template
        .size
        .and_then(|size| bytes(&size).map(|b| (size, b)))
    else {
        return;
    };
    let replicas = manifests::observe_nodes(set).replicas;
    let smallest_in_use = claims
        .iter()
        .filter(|c| claim_ordinal(c).is_some_and(|o| o < replicas))
        .filter_map(|c| bytes(capacity(c)?))
        .min();
    let live = match smallest_in_use {
        Some(smallest) if smallest < template_bytes => format_bytes(smallest),
        _ => size,
    };
    // The state's text stands for the same amount written otherwise.
    if model.storage_size.known().and_then(|s| bytes(s)) != bytes(&live) {
        model.storage_size = Attr::Known(live);
    }
}

/// What growing the zone's volumes to `target` bytes takes, from what the cluster has.
#[derive(Debug, Default, PartialEq, Eq)]
struct GrowthSteps {
    /// Claims requesting less than the size.
    expand: Vec<String>,
    /// The StatefulSet's claim template has another size: it must be created again.
    recreate: bool,
    /// Claims whose capacity has not reached the size, with their ordinals.
    watch: Vec<(String, i32)>,
}

fn growth_steps(
    target: u64,
    template_size: Option<&str>,
    claims: &[PersistentVolumeClaim],
) -> GrowthSteps {
    let mut steps = GrowthSteps {
        recreate: template_size.is_some_and(|size| bytes(size) != Some(target)),
        ..GrowthSteps::default()
    };
    for claim in claims {
        let Some(ordinal) = claim_ordinal(claim) else {
            continue;
        };
        if requested(claim).and_then(bytes).is_none_or(|b| b < target) {
            steps.expand.push(claim_name(claim));
        }
        if capacity(claim).and_then(bytes).is_none_or(|b| b < target) {
            steps.watch.push((claim_name(claim), ordinal));
        }
    }
    steps
}

/// Why a class keeps its claims from growing, if it does.
fn expansion_refusal(class: Option<&StorageClass>) -> Option<&'static str> {
    match class {
        None => Some("does not exist"),
        Some(class) if class.allow_volume_expansion != Some(true) => {
            Some("does not allow volume expansion")
        }
        Some(_) => None,
    }
}

/// The error when the claims of `class` (`None`: no class at all) cannot grow.
fn not_expandable(
    cluster: &str,
    zone: &str,
    size: &str,
    keep: &str,
    class: Option<&str>,
    why: &str,
    claims: &[String],
) -> (String, String) {
    let claims = claims.join(", ");
    let fallback = format!(
        "Otherwise keep storage_size at {keep}: volumes that cannot grow get bigger only by replacing the region \
         (its nodes then start on new, empty volumes)."
    );
    match class {
        Some(class) => (
            format!("StorageClass {class:?} {why}"),
            format!(
                "Zone {zone} on {cluster} cannot grow its data volumes to {size}: its claims {claims} belong to \
                 StorageClass {class:?}, which {why}, so Kubernetes refuses to resize them (it only expands claims \
                 of a class that sets allowVolumeExpansion: true). Nothing was changed.\n\nIf the class's \
                 provisioner can expand volumes (the CSI drivers of GKE, EKS and AKS can), allow it:\n\n  kubectl \
                 patch storageclass {class} -p '{{\"allowVolumeExpansion\": true}}'\n\nthen apply again. {fallback}"
            ),
        ),
        None => (
            format!("The data volumes of zone {zone} have no StorageClass"),
            format!(
                "Zone {zone} on {cluster} cannot grow its data volumes to {size}: its claims {claims} have no \
                 StorageClass (statically provisioned volumes), and Kubernetes only expands claims of a class \
                 that sets allowVolumeExpansion: true. Nothing was changed. {fallback}"
            ),
        ),
    }
}

/// Fails, touching nothing, unless every claim in `expand` may grow.
async fn check_expandable(
    client: &ClusterClient,
    spec: &ZoneSpec,
    keep: &str,
    claims: &[PersistentVolumeClaim],
    expand: &[String],
) -> Result<(), Diagnostics> {
    let mut by_class: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
    for claim in claims {
        let name = claim_name(claim);
        if expand.contains(&name) {
            let class = claim
                .spec
                .as_ref()
                .and_then(|s| s.storage_class_name.clone())
                .filter(|c| !c.is_empty());
            by_class.entry(class).or_default().push(name);
        }
    }
    let mut diags = Diagnostics::new();
    for (class, names) in by_class {
        let why = match &class {
            None => Some("has no class"),
            Some(name) => {
                let found = client.get::<StorageClass>(None, name).await?;
                expansion_refusal(found.as_ref())
            }
        };
        if let Some(why) = why {
            let (summary, detail) = not_expandable(
                client.label(),
                &spec.zone,
                &spec.storage_size,
                keep,
                class.as_deref(),
                why,
                &names,
            );
            diags.attribute_error(AttributePath::root("storage_size"), summary, detail);
        }
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(())
    }
}

/// A growth under way: the claims to watch until they report the new size.
#[derive(Debug)]
pub(super) struct VolumeGrowth {
    zone: String,
    size: String,
    target: u64,
    watch: Vec<(String, i32)>,
}

/// The deleted StatefulSet as the one to create in its place: its claim template asks for `size`.
/// Everything else (selector, service name, pod template) stays, so that the new StatefulSet
/// adopts the running pods on the same revision.
fn with_claim_size(mut set: StatefulSet, size: &str) -> StatefulSet {
    let templates = set
        .spec
        .as_mut()
        .and_then(|s| s.volume_claim_templates.as_mut());
    for claim in templates.into_iter().flatten() {
        if claim.metadata.name.as_deref() != Some(names::DATA_VOLUME) {
            continue;
        }
        let requests = claim
            .spec
            .get_or_insert_with(Default::default)
            .resources
            .get_or_insert_with(Default::default)
            .requests
            .get_or_insert_with(Default::default);
        requests.insert("storage".into(), KubeQuantity(size.to_string()));
    }
    set.status = None;
    set
}

/// Who wrote the pod template of `set`: the manager of `spec.template` other than the provider.
fn template_manager(set: &StatefulSet) -> Option<String> {
    set.metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|entry| entry.manager.as_deref() != Some(FIELD_MANAGER))
        .find(|entry| {
            entry
                .fields_v1
                .as_ref()
                .is_some_and(|f| f.0["f:spec"].get("f:template").is_some())
        })
        .and_then(|entry| entry.manager.clone())
}

/// An adopted StatefulSet (its pod template is not the provider's) is created again at once, as it
/// was but for its claim size, by the manager that wrote its template: the apply that follows then
/// keeps that template as it keeps any adopted one, and the pods run on unchanged.
async fn recreate_adopted(
    client: &ClusterClient,
    mut set: StatefulSet,
) -> Result<StatefulSet, Diagnostics> {
    let manager = template_manager(&set).unwrap_or_else(|| ADOPTED_MANAGER.to_string());
    let meta = &mut set.metadata;
    meta.uid = None;
    meta.resource_version = None;
    meta.creation_timestamp = None;
    meta.deletion_timestamp = None;
    meta.deletion_grace_period_seconds = None;
    meta.generation = None;
    meta.managed_fields = None;
    meta.finalizers = None;
    tracing::info!(zone = ?meta.namespace, %manager, "creating the adopted StatefulSet again");
    Ok(client.create(&set, &manager).await?)
}

/// The look [`growth_needed`] judges: the zone's data claims. None for a zone the apply creates (its volumes are
/// made at the planned size) and for a size that is not a quantity (validation reports it).
pub(super) async fn data_claims(
    run: &ZoneRun<'_>,
) -> Result<Option<Vec<PersistentVolumeClaim>>, Diagnostics> {
    if run.prior.is_none() || bytes(&run.spec.storage_size).is_none() {
        return Ok(None);
    }
    let claims = run
        .client
        .list::<PersistentVolumeClaim>(Some(&run.spec.zone), "")
        .await?;
    Ok(Some(
        claims
            .into_iter()
            .filter(|c| claim_ordinal(c).is_some())
            .collect(),
    ))
}

fn template_size(live: Option<&StatefulSet>) -> Option<String> {
    live.and_then(manifests::observe_data_volumes)
        .and_then(|t| t.size)
}

/// Whether the zone's volumes grow to `size`, and why. Preconditions: `live` is the zone's StatefulSet as read,
/// `claims` its data claims ([`data_claims`]; None: not looked at). Needed while a claim requests less, the claim
/// template asks for another size, or a claim has not reported the size yet (a growth an earlier apply began).
pub(super) fn growth_needed(
    size: &str,
    live: Option<&StatefulSet>,
    claims: Option<&[PersistentVolumeClaim]>,
) -> Need {
    let (Some(claims), Some(target)) = (claims, bytes(size)) else {
        return Need::skip("a new zone's volumes are made at the planned size");
    };
    let template = template_size(live);
    let steps = growth_steps(target, template.as_deref(), claims);
    let mut why = Vec::new();
    if !steps.expand.is_empty() {
        why.push(format!(
            "claims {} request less than {size}",
            steps.expand.join(", ")
        ));
    }
    if steps.recreate {
        why.push(format!(
            "the claim template asks for {}",
            template.as_deref().unwrap_or("?")
        ));
    }
    if !steps.watch.is_empty() {
        let names: Vec<&str> = steps.watch.iter().map(|(name, _)| name.as_str()).collect();
        why.push(format!(
            "claims {} have not reported {size}",
            names.join(", ")
        ));
    }
    if why.is_empty() {
        return Need::skip(format!("every data volume has {size}"));
    }
    Need::run(why.join("; "))
}

/// Steps 1 to 3 of a growth (see the module), when [`growth_needed`] says so; `claims` are the zone's data claims
/// ([`data_claims`]). When the zone's StatefulSet (`run.live_set`) is deleted to change its claim template, it
/// becomes the object to create in its place ([`with_claim_size`]), for the StatefulSet built next to keep its
/// immutable fields from. Must run before that StatefulSet is built.
pub(super) async fn grow_volumes(
    run: &mut ZoneRun<'_>,
    claims: &[PersistentVolumeClaim],
) -> Result<VolumeGrowth, Diagnostics> {
    let (client, spec, deadline, live) = (&run.client, &run.spec, &run.deadline, &mut run.live_set);
    let target = bytes(&spec.storage_size).unwrap_or_default();
    let zone = spec.zone.as_str();
    let template_size = template_size(live.as_ref());
    let steps = growth_steps(target, template_size.as_deref(), claims);
    if !steps.expand.is_empty() {
        let keep = run
            .prior
            .and_then(|p| p.storage_size.known().cloned())
            .or(template_size.clone())
            .unwrap_or_else(|| "its current size".into());
        check_expandable(client, spec, &keep, claims, &steps.expand).await?;
    }
    let request =
        serde_json::json!({"spec": {"resources": {"requests": {"storage": spec.storage_size}}}});
    for name in &steps.expand {
        tracing::info!(zone, claim = %name, size = %spec.storage_size, "expanding a data volume");
        client
            .merge_patch::<PersistentVolumeClaim>(Some(zone), name, &request)
            .await?;
    }
    if steps.recreate {
        // Claim templates are immutable: the StatefulSet goes without its pods, and the apply
        // that follows creates it again with the new template.
        tracing::info!(zone, "re-creating the StatefulSet around its running pods");
        client
            .delete::<StatefulSet>(Some(zone), names::STATEFULSET, Propagation::Orphan)
            .await?;
        client
            .wait_deleted::<StatefulSet>(Some(zone), names::STATEFULSET, deadline)
            .await?;
        let again = live
            .take()
            .map(|set| with_claim_size(set, &spec.storage_size));
        *live = match again {
            Some(set) if !manifests::template_is_ours(&set) => {
                Some(recreate_adopted(client, set).await?)
            }
            other => other,
        };
    }
    Ok(VolumeGrowth {
        zone: zone.to_string(),
        size: spec.storage_size.clone(),
        target,
        watch: steps.watch,
    })
}

/// Whether a watched claim has grown. A claim no pod uses (its ordinal at or beyond `replicas`)
/// finishes its file system resize when a pod mounts it again, so a grown volume is enough; a
/// claim that is gone (its node scaled away) is nothing to wait for.
fn judge(claim: Option<&PersistentVolumeClaim>, target: u64, in_use: bool) -> Progress {
    let Some(claim) = claim else {
        return Progress::Done;
    };
    if capacity(claim).and_then(bytes).is_some_and(|b| b >= target) {
        return Progress::Done;
    }
    let pending = resize_pending(claim);
    if pending.is_some() && !in_use {
        return Progress::Done;
    }
    let mut state = format!("capacity {}", capacity(claim).unwrap_or("unknown"));
    if let Some(message) = pending {
        state.push_str(&format!("; {FILE_SYSTEM_RESIZE_PENDING}: {message}"));
    }
    Progress::Pending(state)
}

impl VolumeGrowth {
    /// Whether the apply waits for claims to report the new size, and why: some had not when it began.
    pub(super) fn wait_needed(&self) -> Need {
        if self.watch.is_empty() {
            return Need::skip(format!("every claim reports {} already", self.size));
        }
        let names: Vec<&str> = self.watch.iter().map(|(name, _)| name.as_str()).collect();
        Need::run(format!(
            "claims {} have not reported {} yet",
            names.join(", "),
            self.size
        ))
    }

    /// Step 4: waits, within the apply's deadline, until every claim reports the new size. Until they do, the
    /// state keeps the prior size, so that the next apply waits again.
    pub(super) async fn wait(
        &self,
        run: &ZoneRun<'_>,
        state: &mut RegionModel,
    ) -> Result<(), Diagnostics> {
        let waited = self
            .wait_for_claims(&run.client, run.spec.replicas, &run.deadline)
            .await;
        if waited.is_err() {
            state.storage_size = run.prior.map_or(Attr::Null, |p| p.storage_size.clone());
        }
        waited
    }

    async fn wait_for_claims(
        &self,
        client: &ClusterClient,
        replicas: i32,
        deadline: &Deadline,
    ) -> Result<(), Diagnostics> {
        for (name, ordinal) in &self.watch {
            let in_use = *ordinal < replicas;
            let outcome = client
                .wait_for::<PersistentVolumeClaim, _>(Some(&self.zone), name, deadline, |c| {
                    judge(c, self.target, in_use)
                })
                .await;
            match outcome {
                Ok(_) => {}
                Err(WaitError::TimedOut { .. }) => {
                    return Err(self.timed_out(client, replicas, deadline).await)
                }
                Err(other) => return Err(other.into()),
            }
        }
        Ok(())
    }

    /// Names every claim that has not grown, and why as far as the cluster says.
    async fn timed_out(
        &self,
        client: &ClusterClient,
        replicas: i32,
        deadline: &Deadline,
    ) -> Diagnostics {
        let zone = &self.zone;
        let listed = client
            .explain(
                |client| async move { client.list::<PersistentVolumeClaim>(Some(zone), "").await },
            )
            .await;
        let behind: Vec<String> = match listed {
            Some(Ok(claims)) => claims
                .iter()
                .filter(|c| self.watch.iter().any(|(name, _)| *name == claim_name(c)))
                .filter_map(|c| {
                    let in_use = claim_ordinal(c).is_some_and(|o| o < replicas);
                    match judge(Some(c), self.target, in_use) {
                        Progress::Done => None,
                        Progress::Pending(state) => Some(format!("{} ({state})", claim_name(c))),
                    }
                })
                .collect(),
            _ => self.watch.iter().map(|(name, _)| name.clone()).collect(),
        };
        Diagnostics::with_error(
            format!(
                "Timed out waiting for the data volumes of zone {} to grow to {}",
                self.zone, self.size
            ),
            format!(
                "On {}, after {}, not yet grown: {}. Their requests are raised and the StatefulSet has the new \
                 size; the next apply waits for them again (raise the resource's `timeouts` if they only need \
                 longer). A claim left {FILE_SYSTEM_RESIZE_PENDING} while its pod runs needs that pod restarted \
                 when the volume driver grows file systems only offline: `kubectl delete pod cockroachdb-<n> -n {}`, \
                 one node at a time.",
                client.label(),
                human_duration(deadline.limit()),
                if behind.is_empty() {
                    "none by the last look".to_string()
                } else {
                    behind.join(", ")
                },
                self.zone
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cockroach::manifests::stateful_set;
    use k8s_openapi::api::core::v1::{
        PersistentVolumeClaimCondition, PersistentVolumeClaimSpec, PersistentVolumeClaimStatus,
        VolumeResourceRequirements,
    };

    fn model(size: &str) -> RegionModel {
        RegionModel {
            zone: Attr::Known("us-east1-b".into()),
            storage_size: Attr::Known(size.into()),
            ..Default::default()
        }
    }

    fn planned(prior: &RegionModel, size: &str) -> (RegionModel, Diagnostics) {
        let mut planned = prior.clone();
        planned.storage_size = Attr::Known(size.into());
        let mut diags = Diagnostics::new();
        plan(Some(prior), &mut planned, &mut diags);
        (planned, diags)
    }

    #[test]
    fn the_same_size_in_other_units_plans_no_change() {
        let prior = model("100Gi");
        let (same, diags) = planned(&prior, "102400Mi");
        assert!(diags.is_empty());
        assert_eq!(
            same.storage_size,
            Attr::Known("100Gi".into()),
            "the prior text stays"
        );
        let (bigger, diags) = planned(&prior, "200Gi");
        assert!(diags.is_empty());
        assert_eq!(bigger.storage_size, Attr::Known("200Gi".into()));
    }

    #[test]
    fn a_smaller_size_is_an_error_on_storage_size_unless_the_region_is_replaced() {
        let prior = model("100Gi");
        let (_, diags) = planned(&prior, "99Gi");
        assert_eq!(diags.0.len(), 1);
        let error = &diags.0[0];
        assert_eq!(error.path.as_ref().unwrap().to_string(), "storage_size");
        assert_eq!(error.summary, "Data volumes cannot shrink");
        assert!(
            error.detail.contains("from 100Gi to 99Gi"),
            "{}",
            error.detail
        );
        let (_, diags) = planned(&prior, "100G");
        assert!(diags.has_errors(), "100G is less than 100Gi");

        let mut moved = prior.clone();
        moved.storage_class = Attr::Known("premium-rwo".into());
        moved.storage_size = Attr::Known("10Gi".into());
        let mut diags = Diagnostics::new();
        plan(Some(&prior), &mut moved, &mut diags);
        assert!(diags.is_empty(), "a replaced region starts on new volumes");
    }

    #[test]
    fn new_unknown_or_unparsable_sizes_are_not_judged() {
        let mut fresh = model("1Gi");
        let mut diags = Diagnostics::new();
        plan(None, &mut fresh, &mut diags);
        let prior = model("100Gi");
        let mut unknown = prior.clone();
        unknown.storage_size = Attr::Unknown;
        plan(Some(&prior), &mut unknown, &mut diags);
        let (_, more) = planned(&prior, "lots");
        assert!(diags.is_empty() && more.is_empty());
    }

    fn claim(ordinal: i32, request: &str, capacity: Option<&str>) -> PersistentVolumeClaim {
        let storage = |q: &str| Some([("storage".to_string(), KubeQuantity(q.into()))].into());
        PersistentVolumeClaim {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(format!("datadir-cockroachdb-{ordinal}")),
                ..Default::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                storage_class_name: Some("standard".into()),
                resources: Some(VolumeResourceRequirements {
                    requests: storage(request),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            status: Some(PersistentVolumeClaimStatus {
                phase: Some("Bound".into()),
                capacity: capacity.and_then(storage),
                ..Default::default()
            }),
        }
    }

    fn pending(mut claim: PersistentVolumeClaim) -> PersistentVolumeClaim {
        claim.status.as_mut().unwrap().conditions = Some(vec![PersistentVolumeClaimCondition {
            type_: FILE_SYSTEM_RESIZE_PENDING.into(),
            status: "True".into(),
            message: Some("Waiting for user to (re-)start a pod".into()),
            ..Default::default()
        }]);
        claim
    }

    fn gi(n: u64) -> u64 {
        n << 30
    }

    #[test]
    fn growth_expands_smaller_claims_and_recreates_a_template_of_another_size() {
        let claims = [
            claim(0, "1Gi", Some("1Gi")),
            claim(1, "2Gi", Some("1Gi")),
            claim(2, "2048Mi", Some("2Gi")),
        ];
        let mut stranger = claim(0, "1Gi", Some("1Gi"));
        stranger.metadata.name = Some("other-claim".into());
        let all: Vec<_> = claims.iter().cloned().chain([stranger]).collect();
        let steps = growth_steps(gi(2), Some("1Gi"), &all);
        assert_eq!(steps.expand, ["datadir-cockroachdb-0"]);
        assert!(steps.recreate);
        assert_eq!(
            steps.watch,
            [
                ("datadir-cockroachdb-0".to_string(), 0),
                ("datadir-cockroachdb-1".to_string(), 1)
            ]
        );
        assert_eq!(
            growth_steps(gi(2), Some("2048Mi"), &claims[2..]),
            GrowthSteps::default(),
            "nothing to do at the same size in other units"
        );
        let resumed = growth_steps(gi(2), None, &claims[1..]);
        assert!(
            !resumed.recreate && resumed.expand.is_empty(),
            "a StatefulSet deleted by an interrupted apply is left to the apply to create"
        );
        assert_eq!(resumed.watch.len(), 1, "the claim still growing is awaited");
    }

    #[test]
    fn growth_is_needed_while_a_claim_or_the_template_lags_and_waits_while_a_claim_has_not_grown() {
        let mut spec = crate::cockroach::manifests::fixtures::spec();
        spec.storage_size = "1Gi".into();
        let live = stateful_set(&spec);
        let grown = [claim(0, "2Gi", Some("2Gi")), claim(1, "2Gi", Some("2Gi"))];
        assert_eq!(
            growth_needed("2Gi", Some(&live), Some(&grown)),
            Need::run("the claim template asks for 1Gi")
        );
        spec.storage_size = "2048Mi".into();
        let live = stateful_set(&spec);
        assert_eq!(
            growth_needed("2Gi", Some(&live), Some(&grown)),
            Need::skip("every data volume has 2Gi")
        );
        let lagging = [claim(0, "1Gi", Some("1Gi")), claim(1, "2Gi", Some("1Gi"))];
        assert_eq!(
            growth_needed("2Gi", Some(&live), Some(&lagging)),
            Need::run(
                "claims datadir-cockroachdb-0 request less than 2Gi; claims datadir-cockroachdb-0, \
                 datadir-cockroachdb-1 have not reported 2Gi"
            )
        );
        assert!(
            !growth_needed("2Gi", Some(&live), None).is_run(),
            "a new zone's claims are not looked at"
        );

        let growth = |watch: Vec<(String, i32)>| VolumeGrowth {
            zone: "a".into(),
            size: "2Gi".into(),
            target: gi(2),
            watch,
        };
        assert!(growth(vec![("datadir-cockroachdb-1".into(), 1)])
            .wait_needed()
            .is_run());
        assert_eq!(
            growth(Vec::new()).wait_needed(),
            Need::skip("every claim reports 2Gi already")
        );
    }

    #[test]
    fn the_statefulset_created_again_differs_only_in_its_claim_size() {
        let mut spec = crate::cockroach::manifests::fixtures::spec();
        spec.storage_size = "1Gi".into();
        let mut live = stateful_set(&spec);
        live.metadata.uid = Some("u1".into());
        live.status = Some(Default::default());
        let again = with_claim_size(live.clone(), "2Gi");
        let size = manifests::observe_data_volumes(&again).unwrap().size;
        assert_eq!(size.as_deref(), Some("2Gi"));
        assert_eq!(again.status, None);
        let (mut was, mut now) = (live.spec.clone().unwrap(), again.spec.clone().unwrap());
        was.volume_claim_templates = None;
        now.volume_claim_templates = None;
        assert_eq!(now, was, "selector, service and pod template are kept");
    }

    #[test]
    fn an_adopted_template_is_created_again_by_the_manager_that_wrote_it() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
        let entry = |manager: &str, fields: serde_json::Value| ManagedFieldsEntry {
            manager: Some(manager.into()),
            operation: Some("Update".into()),
            fields_v1: Some(FieldsV1(fields)),
            ..Default::default()
        };
        let mut set = stateful_set(&crate::cockroach::manifests::fixtures::spec());
        set.metadata.managed_fields = Some(vec![
            entry(
                "kube-controller-manager",
                serde_json::json!({"f:status": {}}),
            ),
            entry(
                FIELD_MANAGER,
                serde_json::json!({"f:spec": {"f:template": {}}}),
            ),
            entry(
                "kubectl-client-side-apply",
                serde_json::json!({"f:spec": {"f:replicas": {}, "f:template": {}}}),
            ),
        ]);
        assert_eq!(
            template_manager(&set).as_deref(),
            Some("kubectl-client-side-apply")
        );
        set.metadata.managed_fields = None;
        assert_eq!(template_manager(&set), None);
    }

    #[test]
    fn a_claim_has_grown_once_its_capacity_reaches_the_size() {
        let target = gi(2);
        assert_eq!(
            judge(Some(&claim(0, "2Gi", Some("2Gi"))), target, true),
            Progress::Done
        );
        assert_eq!(
            judge(Some(&claim(0, "2Gi", Some("3Gi"))), target, true),
            Progress::Done
        );
        assert_eq!(judge(None, target, true), Progress::Done, "scaled away");
        let Progress::Pending(state) =
            judge(Some(&pending(claim(0, "2Gi", Some("1Gi")))), target, true)
        else {
            panic!("a claim in use waits for its file system")
        };
        assert!(
            state.contains("capacity 1Gi") && state.contains(FILE_SYSTEM_RESIZE_PENDING),
            "{state}"
        );
        assert_eq!(
            judge(Some(&pending(claim(4, "2Gi", Some("1Gi")))), target, false),
            Progress::Done,
            "a claim no pod mounts finishes when one does"
        );
        assert!(matches!(
            judge(Some(&claim(4, "2Gi", Some("1Gi"))), target, false),
            Progress::Pending(_)
        ));
    }

    #[test]
    fn only_classes_that_allow_expansion_let_claims_grow() {
        let class = |allow: Option<bool>| StorageClass {
            allow_volume_expansion: allow,
            ..Default::default()
        };
        assert_eq!(expansion_refusal(Some(&class(Some(true)))), None);
        assert_eq!(
            expansion_refusal(Some(&class(Some(false)))),
            Some("does not allow volume expansion")
        );
        assert_eq!(
            expansion_refusal(Some(&class(None))),
            Some("does not allow volume expansion")
        );
        assert_eq!(expansion_refusal(None), Some("does not exist"));
        let (summary, detail) = not_expandable(
            "https://34.1.2.3",
            "us-east1-b",
            "2Gi",
            "1Gi",
            Some("fixed"),
            "does not allow volume expansion",
            &["datadir-cockroachdb-0".into()],
        );
        assert_eq!(
            summary,
            "StorageClass \"fixed\" does not allow volume expansion"
        );
        for part in [
            "https://34.1.2.3",
            "us-east1-b",
            "datadir-cockroachdb-0",
            "kubectl patch storageclass fixed",
            "Nothing was changed",
            "keep storage_size at 1Gi",
        ] {
            assert!(detail.contains(part), "{part:?} missing from: {detail}");
        }
    }

    #[test]
    fn reading_reports_the_template_or_less_while_a_claim_in_use_has_not_grown() {
        let mut spec = crate::cockroach::manifests::fixtures::spec();
        spec.storage_size = "2Gi".into();
        spec.replicas = 2;
        let set = stateful_set(&spec);
        let observed = |text: &str, claims: &[PersistentVolumeClaim]| {
            let mut state = model(text);
            observe(&mut state, &set, claims);
            state
        };
        let grown = [claim(0, "2Gi", Some("2Gi")), claim(1, "2Gi", Some("2Gi"))];
        let state = observed("2048Mi", &grown);
        assert_eq!(
            state.storage_size,
            Attr::Known("2048Mi".into()),
            "same amount, state text kept"
        );
        assert_eq!(state.storage_class, Attr::Null);

        let mut imported = RegionModel::default();
        observe(&mut imported, &set, &grown);
        assert_eq!(imported.storage_size, Attr::Known("2Gi".into()));

        let behind = [claim(0, "2Gi", Some("2Gi")), claim(1, "2Gi", Some("1Gi"))];
        assert_eq!(
            observed("2Gi", &behind).storage_size,
            Attr::Known("1Gi".into()),
            "the plan shows the growth again"
        );
        let beyond = [claim(0, "2Gi", Some("2Gi")), claim(5, "1Gi", Some("1Gi"))];
        assert_eq!(
            observed("2Gi", &beyond).storage_size,
            Attr::Known("2Gi".into()),
            "claims of no node do not count"
        );

        spec.storage_class = Some("premium-rwo".into());
        let mut state = model("2Gi");
        observe(&mut state, &stateful_set(&spec), &grown);
        assert_eq!(state.storage_class, Attr::Known("premium-rwo".into()));
    }
}
