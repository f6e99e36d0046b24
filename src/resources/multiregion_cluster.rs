//! `crdb_multiregion_cluster`: the identity of one CockroachDB cluster (name, version, zones) and
//! its PKI. It touches no Kubernetes cluster; `crdb_region` resources consume it whole through
//! `cluster = crdb_multiregion_cluster.<name>`.
use super::validate;
use crate::cockroach::pki::{self, CertificateAuthority};
use crate::cockroach::upgrade::{self, Major, Standing};
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::{
    ApplyOutcome, Attr, Attribute, Block, OperationContext, PlanRequest, Resource, Schema, ToValue,
    Type, Value,
};
use crate::tf_model;
use time::{Duration, OffsetDateTime};

pub const TYPE_NAME: &str = "crdb_multiregion_cluster";

/// How many nodes of each zone every node is told to join: enough to survive losing two of them,
/// few enough that a zone with three replicas resolves every address.
pub const JOIN_NODES_PER_ZONE: usize = 3;
const CA_VALIDITY: Duration = Duration::days(3650);
const CLIENT_CERT_VALIDITY: Duration = Duration::days(1825);
const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";
/// The values of `upgrade_finalization`; the first is the default.
pub const FINALIZATION_MODES: [&str; 2] = ["auto", "manual"];

tf_model! {
    #[derive(Clone, Debug, Default)]
    pub struct ClusterModel {
        pub id: Attr<String>,
        pub name: Attr<String>,
        pub image: Attr<String>,
        pub version: Attr<String>,
        pub upgrade_finalization: Attr<String>,
        pub cluster_version: Attr<String>,
        pub zones: Attr<Vec<Attr<String>>>,
        pub init_zone: Attr<String>,
        pub join_addresses: Attr<Vec<String>>,
        pub cluster_domain: Attr<String>,
        pub pki_generation: Attr<i64>,
        pub ca_certificate: Attr<String>,
        pub ca_private_key: Attr<String>,
        pub ca_generated: Attr<bool>,
        pub ca_fingerprint_sha256: Attr<String>,
        pub ca_expires_at: Attr<String>,
        pub root_client_certificate: Attr<String>,
        pub root_client_private_key: Attr<String>,
    }
}

impl ClusterModel {
    /// The zones when every one of them is known.
    fn known_zones(&self) -> Option<Vec<String>> {
        self.zones
            .known()?
            .iter()
            .map(|z| z.known().cloned())
            .collect()
    }
}

/// Each node joins the first nodes of every zone, addressed through its zone's headless service.
pub fn join_addresses(zones: &[String]) -> Vec<String> {
    zones
        .iter()
        .flat_map(|zone| {
            (0..JOIN_NODES_PER_ZONE).map(move |i| format!("cockroachdb-{i}.cockroachdb.{zone}"))
        })
        .collect()
}

/// The image tag, which is the cluster's CockroachDB version.
fn image_version(image: &str) -> Option<String> {
    validate::parse_image(image).ok()?.tag.map(str::to_string)
}

pub struct MultiregionCluster;

fn schema() -> Schema {
    let s = Type::String;
    Schema {
        version: 0,
        block: Block::new(
            "One secure CockroachDB cluster spread over several zones, each zone a namespace in its own Kubernetes \
             cluster (see `crdb_region`). This resource holds the cluster's identity, its version and its PKI; it \
             contacts nothing. A CA is generated unless you bring one; a generated CA exists only in Terraform \
             state and cannot be recovered by import.",
        )
        .attribute(
            Attribute::computed("id", s.clone(), "The cluster name.").keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::required(
                "name",
                s.clone(),
                "Name of the CockroachDB cluster (a DNS-1123 label). Changing it creates a new cluster.",
            )
            .requires_replace(),
        )
        .attribute(Attribute::required(
            "image",
            s.clone(),
            "CockroachDB container image with a version tag, e.g. `cockroachdb/cockroach:v24.1.0`. The one source \
             of truth for the version: changing it rolls an upgrade through every region in place. The plan \
             refuses a change CockroachDB would refuse: any patch release of the running major version is fine, but \
             an upgrade goes one major version at a time, where Innovation releases (v24.2, v25.1, v25.3, v26.1, \
             every second major from v24.1 on) may be skipped: v23.2 to v24.1, v24.1 to v24.2 or v24.3, v24.2 to \
             v24.3, v24.3 to v25.1 or v25.2. Going back is possible only to the major version of an upgrade that is \
             not finalized (see `upgrade_finalization`). Tags that are not `vMAJOR.MINOR.PATCH` (`latest`, \
             digests) are not judged.",
        ))
        .attribute(Attribute::computed(
            "version",
            s.clone(),
            "The CockroachDB version: the tag of `image`.",
        ))
        .attribute(Attribute::computed(
            "cluster_version",
            s.clone(),
            "The major version the cluster is finalized at (`24.1`), what `SHOW CLUSTER SETTING version` reports \
             once the configuration is applied: the major version of `image`, except while a `manual` upgrade is \
             not finalized, when it stays at the major version the upgrade came from, the one `image` may roll back \
             to. Null for an image tag that is not a release version.",
        ))
        .attribute(Attribute::required(
            "zones",
            Type::list(s.clone()),
            "The zones that make up the cluster, in order. Each is a DNS-1123 label and becomes the namespace of \
             its `crdb_region`. Changing the list updates the join list in place.",
        ))
        .attribute(
            Attribute::optional_computed(
                "init_zone",
                s.clone(),
                "The zone whose region runs `cockroach init`. Defaults to the first zone and then stays put when \
                 zones are added.",
            ),
        )
        .attribute(Attribute::computed(
            "join_addresses",
            Type::list(s.clone()),
            "The `--join` addresses every node starts with: the first three nodes of each zone.",
        ))
        .attribute(
            Attribute::optional(
                "cluster_domain",
                s.clone(),
                "The Kubernetes cluster DNS domain, used in the nodes' certificate names.",
            )
            .default(Value::string(DEFAULT_CLUSTER_DOMAIN)),
        )
        .attribute(
            Attribute::optional(
                "pki_generation",
                Type::Number,
                "Bump this number to replace a generated CA and the root client certificate. No other change ever \
                 regenerates them.",
            )
            .default(Value::int(1)),
        )
        .attribute(
            Attribute::optional(
                "upgrade_finalization",
                s.clone(),
                "How a major-version upgrade is finalized. `auto`: CockroachDB finalizes it by itself once every \
                 node runs the new binary, and from then on the cluster can never run the old major version again \
                 (only a restore from a backup goes back). `manual`: before a region rolls its nodes to a new major \
                 version, it sets `cluster.preserve_downgrade_option` to the major version the cluster is finalized \
                 at (a `cockroach sql` Job in its zone, every region, idempotent), so the upgrade stays open: \
                 `cluster_version` keeps the old major version, features that need finalization stay off, and \
                 `image` may go back to that major version (a rollback; keep `manual` until it is applied). \
                 Switching from `manual` to `auto` finalizes: the regions run \
                 `RESET CLUSTER SETTING cluster.preserve_downgrade_option` and CockroachDB finalizes once every node \
                 runs the new binary; a rollback is refused from then on. The next upgrade may switch to `manual` \
                 again in the same change as its `image`.",
            )
            .default(Value::string(FINALIZATION_MODES[0])),
        )
        .attribute(
            Attribute::optional_computed(
                "ca_certificate",
                s.clone(),
                "PEM certificate of the cluster CA. Set it, with `ca_private_key`, to bring your own CA (for \
                 example the one the old setup script left in its safe directory); otherwise a CA is generated.",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::optional_computed(
                "ca_private_key",
                s.clone(),
                "PEM private key of the cluster CA (RSA, or ECDSA P-256/P-384; unencrypted). Generated with the CA unless you bring one.",
            )
            .sensitive()
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "ca_generated",
                Type::Bool,
                "Whether the provider generated the CA (true) or you brought it (false).",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "ca_fingerprint_sha256",
                s.clone(),
                "SHA-256 fingerprint of the CA certificate: shows a CA change in plans without showing the CA.",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed("ca_expires_at", s.clone(), "When the CA certificate expires (RFC 3339).")
                .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "root_client_certificate",
                s.clone(),
                "PEM client certificate of the `root` SQL user, signed by the CA.",
            )
            .keep_prior_value_when_unset(),
        )
        .attribute(
            Attribute::computed(
                "root_client_private_key",
                s,
                "PEM private key of the `root` client certificate.",
            )
            .sensitive()
            .keep_prior_value_when_unset(),
        ),
    }
}

fn model_of(value: &Value, diags: &mut Diagnostics) -> Option<ClusterModel> {
    crate::framework::model::decode_model(value, TYPE_NAME, diags)
}

fn validate_config(config: &ClusterModel, diags: &mut Diagnostics) {
    if let Attr::Known(name) = &config.name {
        if let Err(why) = validate::dns1123_label(name) {
            diags.attribute_error(AttributePath::root("name"), "Invalid cluster name", why);
        }
    }
    if let Attr::Known(image) = &config.image {
        match validate::parse_image(image) {
            Err(why) => diags.attribute_error(AttributePath::root("image"), "Invalid image", why),
            Ok(reference) => match reference.tag {
                None => diags.attribute_error(
                    AttributePath::root("image"),
                    "Image without a version tag",
                    format!(
                        "{image:?} names no tag. The tag is the cluster's version, which upgrades are planned \
                         from: use a tag such as cockroachdb/cockroach:v24.1.0."
                    ),
                ),
                Some(tag) if validate::cockroach_version(tag).is_none() => diags.attribute_warning(
                    AttributePath::root("image"),
                    "Image tag is not a CockroachDB release version",
                    format!("The tag {tag:?} is not of the form vMAJOR.MINOR.PATCH; upgrade checks cannot judge it."),
                ),
                Some(tag) if !validate::image_major(image).is_some_and(Major::is_known) => {
                    diags.attribute_warning(
                        AttributePath::root("image"),
                        "Unknown CockroachDB major version",
                        format!(
                            "The tag {tag:?} names a major version outside the release sequence this provider \
                             knows (v19.1 on); upgrade checks cannot judge it."
                        ),
                    )
                }
                Some(_) => {}
            },
        }
    }
    if let Attr::Known(mode) = &config.upgrade_finalization {
        if !FINALIZATION_MODES.contains(&mode.as_str()) {
            diags.attribute_error(
                AttributePath::root("upgrade_finalization"),
                "Unknown upgrade finalization",
                format!("{mode:?} is not one of {FINALIZATION_MODES:?}."),
            );
        }
    }
    validate_zones(config, diags);
    if let Attr::Known(domain) = &config.cluster_domain {
        if let Err(why) = validate::dns1123_subdomain(domain) {
            diags.attribute_error(
                AttributePath::root("cluster_domain"),
                "Invalid cluster domain",
                why,
            );
        }
    }
    if let Attr::Known(generation) = config.pki_generation {
        if generation < 1 {
            diags.attribute_error(
                AttributePath::root("pki_generation"),
                "Invalid PKI generation",
                format!("pki_generation must be 1 or more, got {generation}."),
            );
        }
    }
    validate_user_ca(config, diags);
}

fn validate_zones(config: &ClusterModel, diags: &mut Diagnostics) {
    let Attr::Known(zones) = &config.zones else {
        return;
    };
    if zones.is_empty() {
        diags.attribute_error(
            AttributePath::root("zones"),
            "No zones",
            "A cluster needs at least one zone.",
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, zone) in zones.iter().enumerate() {
        let Attr::Known(zone) = zone else { continue };
        let path = AttributePath::root("zones").index(i);
        if let Err(why) = validate::zone_name(zone) {
            diags.attribute_error(path, "Invalid zone", why);
        } else if !seen.insert(zone.as_str()) {
            diags.attribute_error(
                path,
                "Duplicate zone",
                format!("Zone {zone:?} is listed twice."),
            );
        }
    }
    if let (Attr::Known(init), Some(zones)) = (&config.init_zone, config.known_zones()) {
        if !zones.contains(init) {
            diags.attribute_error(
                AttributePath::root("init_zone"),
                "Unknown init zone",
                format!("init_zone {init:?} is not one of the zones {zones:?}."),
            );
        }
    }
}

fn validate_user_ca(config: &ClusterModel, diags: &mut Diagnostics) {
    match (&config.ca_certificate, &config.ca_private_key) {
        (Attr::Null, Attr::Null) => {}
        (Attr::Null, _) => diags.attribute_error(
            AttributePath::root("ca_certificate"),
            "Missing CA certificate",
            "ca_private_key is set, so ca_certificate must be set too: bring both or neither.",
        ),
        (_, Attr::Null) => diags.attribute_error(
            AttributePath::root("ca_private_key"),
            "Missing CA private key",
            "ca_certificate is set, so ca_private_key must be set too: bring both or neither.",
        ),
        (Attr::Known(cert), Attr::Known(key)) => {
            if let Err(e) = CertificateAuthority::from_pem(cert, key, OffsetDateTime::now_utc()) {
                diags.attribute_error(
                    AttributePath::root(e.attribute.name()),
                    "Unusable CA",
                    e.message,
                );
            }
        }
        _ => {}
    }
}

impl MultiregionCluster {
    /// Plans the values derived from the configuration so that they show in the plan.
    fn plan_derived(prior: &ClusterModel, config: &ClusterModel, planned: &mut ClusterModel) {
        planned.id = planned.name.clone();
        planned.version = match &planned.image {
            Attr::Known(image) => image_version(image).into(),
            _ => Attr::Unknown,
        };
        let zones = planned.known_zones();
        planned.join_addresses = match &zones {
            Some(zones) => Attr::Known(join_addresses(zones)),
            None => Attr::Unknown,
        };
        if config.init_zone.is_null() {
            planned.init_zone = match &zones {
                Some(zones) => {
                    let prior_init = prior.init_zone.known().filter(|z| zones.contains(z));
                    prior_init.or(zones.first()).cloned().into()
                }
                None => Attr::Unknown,
            };
        }
    }

    /// Judges an image change by CockroachDB's upgrade rules (an error on `image`) and plans the
    /// version the cluster is finalized at.
    fn plan_upgrade(prior: &ClusterModel, planned: &mut ClusterModel, diags: &mut Diagnostics) {
        let manual = match &planned.upgrade_finalization {
            Attr::Known(mode) => Some(mode == "manual"),
            Attr::Null => Some(false),
            _ => None,
        };
        let to = match &planned.image {
            Attr::Known(image) => validate::image_major(image),
            Attr::Null => None,
            _ => {
                planned.cluster_version = Attr::Unknown;
                return;
            }
        };
        let running = prior.image.known().and_then(|i| validate::image_major(i));
        let finalized = prior
            .cluster_version
            .known()
            .and_then(|v| Major::parse(v))
            .or(running);
        if let (Some(running), Some(finalized), Some(to)) = (running, finalized, to) {
            let from = Standing { running, finalized };
            if let Err(refusal) = upgrade::judge(from, to, manual == Some(false)) {
                diags.attribute_error(
                    AttributePath::root("image"),
                    refusal.summary,
                    refusal.detail,
                );
            }
        }
        planned.cluster_version = match manual {
            None => Attr::Unknown,
            Some(false) => to.map(|m| m.to_string()).into(),
            Some(true) => finalized.or(to).map(|m| m.to_string()).into(),
        };
    }

    /// Plans the PKI: kept unless the configuration brings another CA or bumps the generation.
    fn plan_pki(prior: &ClusterModel, config: &ClusterModel, planned: &mut ClusterModel) {
        let user_ca = !config.ca_certificate.is_null();
        let regenerate = if user_ca {
            config.ca_certificate != prior.ca_certificate
                || config.ca_private_key != prior.ca_private_key
        } else {
            prior.ca_certificate.is_null()
                || prior.pki_generation != planned.pki_generation
                    && prior.ca_generated == Attr::Known(true)
        };
        if !regenerate {
            return;
        }
        if user_ca {
            planned.ca_generated = Attr::Known(false);
            match &config.ca_certificate {
                Attr::Known(cert) => {
                    planned.ca_fingerprint_sha256 =
                        pki::certificate_fingerprint_sha256(cert).ok().into();
                    planned.ca_expires_at = pki::certificate_not_after(cert)
                        .ok()
                        .and_then(rfc3339)
                        .into();
                }
                _ => {
                    planned.ca_fingerprint_sha256 = Attr::Unknown;
                    planned.ca_expires_at = Attr::Unknown;
                }
            }
        } else {
            planned.ca_generated = Attr::Known(true);
            planned.ca_certificate = Attr::Unknown;
            planned.ca_private_key = Attr::Unknown;
            planned.ca_fingerprint_sha256 = Attr::Unknown;
            planned.ca_expires_at = Attr::Unknown;
        }
        planned.root_client_certificate = Attr::Unknown;
        planned.root_client_private_key = Attr::Unknown;
    }

    /// Computes every PKI value the plan left unknown. Nothing planned as known is touched.
    fn fill_in_pki(state: &mut ClusterModel) -> Result<(), String> {
        let now = OffsetDateTime::now_utc();
        let name = state.name.known().cloned().unwrap_or_default();
        let ca = match (&state.ca_certificate, &state.ca_private_key) {
            (Attr::Known(cert), Attr::Known(key)) => {
                CertificateAuthority::from_pem(cert, key, now).map_err(|e| e.to_string())?
            }
            _ => {
                let ca = CertificateAuthority::generate(&name, CA_VALIDITY, now)
                    .map_err(|e| e.to_string())?;
                state.ca_certificate = Attr::Known(ca.cert_pem().to_string());
                state.ca_private_key = Attr::Known(ca.key_pem().to_string());
                state.ca_generated = Attr::Known(true);
                ca
            }
        };
        if !matches!(state.ca_generated, Attr::Known(_)) {
            state.ca_generated = Attr::Known(false);
        }
        if !matches!(state.ca_fingerprint_sha256, Attr::Known(_)) {
            state.ca_fingerprint_sha256 = Attr::Known(
                pki::certificate_fingerprint_sha256(ca.cert_pem()).map_err(|e| e.to_string())?,
            );
        }
        if !matches!(state.ca_expires_at, Attr::Known(_)) {
            let not_after = pki::certificate_not_after(ca.cert_pem()).map_err(|e| e.to_string())?;
            state.ca_expires_at =
                Attr::Known(rfc3339(not_after).ok_or("unrepresentable CA expiry")?);
        }
        if !matches!(state.root_client_certificate, Attr::Known(_))
            || !matches!(state.root_client_private_key, Attr::Known(_))
        {
            let client = pki::issue_client_certificate(&ca, "root", CLIENT_CERT_VALIDITY, now)
                .map_err(|e| e.to_string())?;
            state.root_client_certificate = Attr::Known(client.cert_pem);
            state.root_client_private_key = Attr::Known(client.key_pem);
        }
        Ok(())
    }

    fn apply(planned: &Value) -> ApplyOutcome {
        let mut diags = Diagnostics::new();
        let Some(mut state) = model_of(planned, &mut diags) else {
            return ApplyOutcome {
                diagnostics: diags,
                ..Default::default()
            };
        };
        if let Err(why) = Self::fill_in_pki(&mut state) {
            diags.error("Cannot create the cluster PKI", why);
            return ApplyOutcome {
                diagnostics: diags,
                ..Default::default()
            };
        }
        ApplyOutcome {
            state: state.to_value(),
            private: Vec::new(),
            diagnostics: diags,
        }
    }
}

fn rfc3339(t: OffsetDateTime) -> Option<String> {
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

#[async_trait::async_trait]
impl Resource for MultiregionCluster {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(config) = model_of(config, diags) {
            validate_config(&config, diags);
        }
    }

    fn modify_plan(&self, request: &PlanRequest<'_>, planned: &mut Value, diags: &mut Diagnostics) {
        let prior = if request.prior.is_null() {
            Some(ClusterModel::default())
        } else {
            model_of(request.prior, diags)
        };
        let (Some(prior), Some(config), Some(mut model)) = (
            prior,
            model_of(request.config, diags),
            model_of(planned, diags),
        ) else {
            return;
        };
        Self::plan_derived(&prior, &config, &mut model);
        Self::plan_upgrade(&prior, &mut model, diags);
        Self::plan_pki(&prior, &config, &mut model);
        *planned = model.to_value();
    }

    async fn create(&self, _ctx: &OperationContext, planned: &Value) -> ApplyOutcome {
        Self::apply(planned)
    }

    async fn read(
        &self,
        _ctx: &OperationContext,
        state: &Value,
    ) -> Result<Option<Value>, Diagnostics> {
        // Nothing lives outside Terraform state: the state is the truth.
        Ok(Some(state.clone()))
    }

    async fn update(
        &self,
        _ctx: &OperationContext,
        _prior: &Value,
        planned: &Value,
    ) -> ApplyOutcome {
        Self::apply(planned)
    }

    async fn delete(&self, _ctx: &OperationContext, _prior: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    async fn import(&self, _ctx: &OperationContext, id: &str) -> Result<Value, Diagnostics> {
        let mut diags = Diagnostics::new();
        if let Err(why) = validate::dns1123_label(id) {
            diags.error(
                "Invalid import ID",
                format!("Import a crdb_multiregion_cluster by its name: {why}."),
            );
            return Err(diags);
        }
        let model = ClusterModel {
            id: Attr::Known(id.to_string()),
            name: Attr::Known(id.to_string()),
            ..Default::default()
        };
        Ok(model.to_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::plan;

    fn config(zones: &[&str]) -> ClusterModel {
        ClusterModel {
            name: Attr::Known("main".into()),
            image: Attr::Known("cockroachdb/cockroach:v24.1.0".into()),
            zones: Attr::Known(zones.iter().map(|z| Attr::Known(z.to_string())).collect()),
            ..Default::default()
        }
    }

    /// Plans like Terraform and the protocol layer do: proposed = config merged with prior.
    fn plan(prior: &Value, config: &ClusterModel) -> (Value, Diagnostics) {
        let config = config.to_value();
        let mut proposed = config.clone();
        if let Value::Object(prior_attrs) = prior {
            for attr in schema().block.attributes.iter().filter(|a| a.is_computed()) {
                if config.attr(attr.name).is_null() {
                    proposed.set_attr(attr.name, prior_attrs[attr.name].clone());
                }
            }
        }
        let mut planned = plan::plan_state(&schema().block, prior, &proposed, &config);
        let mut diags = Diagnostics::new();
        MultiregionCluster.modify_plan(
            &PlanRequest {
                prior,
                config: &config,
            },
            &mut planned,
            &mut diags,
        );
        (planned, diags)
    }

    fn applied(planned: &Value) -> Value {
        let outcome = MultiregionCluster::apply(planned);
        assert!(
            !outcome.diagnostics.has_errors(),
            "{:?}",
            outcome.diagnostics
        );
        outcome.state
    }

    #[test]
    fn join_list_names_three_nodes_per_zone() {
        let join = join_addresses(&["a".into(), "b".into()]);
        assert_eq!(join.len(), 6);
        assert_eq!(join[0], "cockroachdb-0.cockroachdb.a");
        assert_eq!(join[5], "cockroachdb-2.cockroachdb.b");
    }

    #[test]
    fn create_plans_derived_values_and_generates_pki_on_apply() {
        let (planned, diags) = plan(&Value::Null, &config(&["a", "b"]));
        assert!(diags.is_empty());
        assert_eq!(planned.attr("version"), &Value::string("v24.1.0"));
        assert_eq!(planned.attr("init_zone"), &Value::string("a"));
        assert_eq!(
            planned.attr("join_addresses").clone(),
            Value::List(
                join_addresses(&["a".into(), "b".into()])
                    .into_iter()
                    .map(Value::String)
                    .collect()
            )
        );
        assert_eq!(planned.attr("ca_certificate"), &Value::Unknown);
        let state = applied(&planned);
        assert!(state
            .attr("ca_certificate")
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE"));
        assert!(state
            .attr("root_client_private_key")
            .as_str()
            .unwrap()
            .contains("PRIVATE KEY"));
        assert_eq!(state.attr("ca_generated"), &Value::Bool(true));
    }

    #[test]
    fn image_and_zone_changes_keep_the_pki() {
        let (planned, _) = plan(&Value::Null, &config(&["a"]));
        let state = applied(&planned);
        let mut changed = config(&["a", "b"]);
        changed.image = Attr::Known("cockroachdb/cockroach:v24.2.0".into());
        let (planned, _) = plan(&state, &changed);
        for kept in [
            "ca_certificate",
            "ca_private_key",
            "root_client_certificate",
            "root_client_private_key",
        ] {
            assert_eq!(
                planned.attr(kept),
                state.attr(kept),
                "{kept} must not change"
            );
        }
        assert_eq!(planned.attr("version"), &Value::string("v24.2.0"));
        assert_eq!(planned.attr("init_zone"), &Value::string("a"));
        assert_eq!(
            applied(&planned).attr("ca_certificate"),
            state.attr("ca_certificate")
        );
    }

    #[test]
    fn unchanged_configuration_plans_exactly_the_state() {
        let (planned, _) = plan(&Value::Null, &config(&["a", "b"]));
        let state = applied(&planned);
        let (replanned, _) = plan(&state, &config(&["a", "b"]));
        assert_eq!(replanned, state);
    }

    #[test]
    fn bumping_the_generation_regenerates_a_generated_ca() {
        let (planned, _) = plan(&Value::Null, &config(&["a"]));
        let state = applied(&planned);
        let mut bumped = config(&["a"]);
        bumped.pki_generation = Attr::Known(2);
        let (planned, _) = plan(&state, &bumped);
        assert_eq!(planned.attr("ca_certificate"), &Value::Unknown);
        let rotated = applied(&planned);
        assert_ne!(rotated.attr("ca_certificate"), state.attr("ca_certificate"));
    }

    #[test]
    fn adding_a_zone_in_front_keeps_the_init_zone() {
        let (planned, _) = plan(&Value::Null, &config(&["b"]));
        let state = applied(&planned);
        let (planned, _) = plan(&state, &config(&["a", "b"]));
        assert_eq!(planned.attr("init_zone"), &Value::string("b"));
    }

    #[test]
    fn invalid_input_is_reported_on_each_attribute() {
        let mut bad = config(&["a", "Bad_Zone", "a", "default"]);
        bad.name = Attr::Known("Main".into());
        bad.image = Attr::Known("cockroachdb/cockroach".into());
        bad.init_zone = Attr::Known("z".into());
        bad.ca_certificate = Attr::Known("not a pem".into());
        let mut diags = Diagnostics::new();
        MultiregionCluster.validate(&bad.to_value(), &mut diags);
        let paths: Vec<String> = diags
            .0
            .iter()
            .map(|d| d.path.as_ref().unwrap().to_string())
            .collect();
        for expected in [
            "name",
            "image",
            "zones[1]",
            "zones[2]",
            "zones[3]",
            "init_zone",
            "ca_private_key",
        ] {
            assert!(
                paths.contains(&expected.to_string()),
                "no diagnostic on {expected}: {paths:?}"
            );
        }
    }

    #[test]
    fn unknown_values_are_not_judged() {
        let mut partly = config(&["a"]);
        partly.zones = Attr::Known(vec![Attr::Known("a".into()), Attr::Unknown]);
        partly.image = Attr::Unknown;
        let mut diags = Diagnostics::new();
        MultiregionCluster.validate(&partly.to_value(), &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        let (planned, _) = plan(&Value::Null, &partly);
        assert_eq!(planned.attr("join_addresses"), &Value::Unknown);
        assert_eq!(planned.attr("version"), &Value::Unknown);
    }

    fn with_image(mut config: ClusterModel, image: &str, mode: &str) -> ClusterModel {
        config.image = Attr::Known(format!("cockroachdb/cockroach:{image}"));
        config.upgrade_finalization = Attr::Known(mode.into());
        config
    }

    /// Plans `config` over `state`; the applied state, or the paths of the errors.
    fn step(state: &Value, config: &ClusterModel) -> Result<Value, Vec<String>> {
        let (planned, diags) = plan(state, config);
        if diags.has_errors() {
            return Err(diags
                .0
                .iter()
                .map(|d| d.path.as_ref().map(|p| p.to_string()).unwrap_or_default())
                .collect());
        }
        Ok(applied(&planned))
    }

    #[test]
    fn a_manual_upgrade_stays_open_for_a_rollback_until_switched_to_auto() {
        let base = config(&["a"]);
        let state = step(&Value::Null, &with_image(base.clone(), "v24.1.2", "manual")).unwrap();
        assert_eq!(state.attr("cluster_version"), &Value::string("24.1"));
        let upgraded = step(&state, &with_image(base.clone(), "v24.3.0", "manual")).unwrap();
        assert_eq!(
            upgraded.attr("cluster_version"),
            &Value::string("24.1"),
            "not finalized"
        );
        let (replanned, _) = plan(&upgraded, &with_image(base.clone(), "v24.3.0", "manual"));
        assert_eq!(replanned, upgraded, "an open upgrade plans no change");
        assert_eq!(
            step(&upgraded, &with_image(base.clone(), "v25.1.0", "manual")),
            Err(vec!["image".to_string()]),
            "no next major before finalizing"
        );
        assert_eq!(
            step(&upgraded, &with_image(base.clone(), "v24.1.0", "auto")),
            Err(vec!["image".to_string()]),
            "a rollback keeps manual until applied"
        );
        let rolled_back = step(&upgraded, &with_image(base.clone(), "v24.1.2", "manual")).unwrap();
        assert_eq!(rolled_back.attr("cluster_version"), &Value::string("24.1"));
        let again = step(&rolled_back, &with_image(base.clone(), "v24.3.1", "manual")).unwrap();
        let finalized = step(&again, &with_image(base.clone(), "v24.3.1", "auto")).unwrap();
        assert_eq!(finalized.attr("cluster_version"), &Value::string("24.3"));
        assert_eq!(
            step(&finalized, &with_image(base.clone(), "v24.1.2", "manual")),
            Err(vec!["image".to_string()]),
            "no rollback after finalizing"
        );
        let next = step(&finalized, &with_image(base, "v25.2.0", "manual")).unwrap();
        assert_eq!(
            next.attr("cluster_version"),
            &Value::string("24.3"),
            "the next upgrade may switch back to manual at once"
        );
    }

    #[test]
    fn an_auto_upgrade_finalizes_and_a_skip_is_refused_on_the_image() {
        let base = config(&["a"]);
        let state = step(&Value::Null, &with_image(base.clone(), "v24.1.2", "auto")).unwrap();
        let (_, diags) = plan(&state, &with_image(base.clone(), "v25.1.0", "auto"));
        assert_eq!(diags.0.len(), 1, "{diags:?}");
        let refusal = &diags.0[0];
        assert_eq!(refusal.path.as_ref().unwrap().to_string(), "image");
        assert_eq!(refusal.summary, "Upgrade skips a required major version");
        assert!(
            refusal
                .detail
                .contains("v24.2.x (an Innovation release, which may be skipped) or v24.3.x"),
            "{}",
            refusal.detail
        );
        let upgraded = step(&state, &with_image(base.clone(), "v24.3.0", "auto")).unwrap();
        assert_eq!(upgraded.attr("cluster_version"), &Value::string("24.3"));
        assert!(step(&upgraded, &with_image(base.clone(), "v24.1.2", "auto")).is_err());
        let patched = step(&upgraded, &with_image(base.clone(), "v24.3.9", "auto")).unwrap();
        let latest = step(&patched, &with_image(base, "latest", "auto")).unwrap();
        assert_eq!(latest.attr("cluster_version"), &Value::Null, "not judged");
    }

    #[test]
    fn upgrade_finalization_takes_auto_or_manual() {
        let mut bad = config(&["a"]);
        bad.upgrade_finalization = Attr::Known("never".into());
        let mut diags = Diagnostics::new();
        MultiregionCluster.validate(&bad.to_value(), &mut diags);
        assert_eq!(
            diags.0[0].path.as_ref().unwrap().to_string(),
            "upgrade_finalization"
        );
    }
}
