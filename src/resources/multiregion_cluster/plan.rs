//! Validation and plan decisions of `crdb_multiregion_cluster`: pure, no I/O.
use super::model::{ClusterModel, DISRUPTION_BUDGETS, FINALIZATION_MODES, JOIN_NODES_PER_ZONE};
use crate::cockroach::pki::{self, CertificateAuthority};
use crate::cockroach::upgrade::{self, Major, Standing};
use crate::cockroach::validate;
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::Attr;
use crate::resources::certificates::{self, Lifetimes, Renewal};
use crate::resources::checks;
use time::OffsetDateTime;

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

pub(super) fn validate_config(config: &ClusterModel, diags: &mut Diagnostics) {
    diags.check_known(&config.name, "name", "Invalid cluster name", |v| {
        validate::dns1123_label(v)
    });
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
    diags.check_known(
        &config.upgrade_finalization,
        "upgrade_finalization",
        "Unknown upgrade finalization",
        |mode| validate::one_of(mode, &FINALIZATION_MODES),
    );
    diags.check_known(
        &config.disruption_budget,
        "disruption_budget",
        "Unknown disruption budget",
        |budget| validate::one_of(budget, &DISRUPTION_BUDGETS),
    );
    warn_zone_budget_cannot_apply(config, diags);
    validate_zones(config, diags);
    checks::cluster_domain(&config.cluster_domain, diags);
    diags.check_known(
        &config.pki_generation,
        "pki_generation",
        "Invalid PKI generation",
        |n| validate::at_least("pki_generation", *n, 1),
    );
    validate_user_ca(config, diags);
    certificates::validate(
        &config.certificate_validity,
        &config.certificate_renewal,
        &config.ca_validity,
        diags,
    );
}

/// What the plan can know of a zone budget: with fewer than three zones, some zone holds at least half of every
/// range's voters (two zones split any voter count unevenly or in halves), so every rollout falls back to one
/// node at a time. Where the voters are otherwise is only known to the apply (`cockroach::critical_zones`).
fn warn_zone_budget_cannot_apply(config: &ClusterModel, diags: &mut Diagnostics) {
    let (Attr::Known(budget), Attr::Known(zones)) = (&config.disruption_budget, &config.zones)
    else {
        return;
    };
    if budget == "zone" && zones.len() < 3 {
        diags.attribute_warning(
            AttributePath::root("disruption_budget"),
            "No zone can restart at once",
            format!(
                "With {} zone(s), one zone holds at least half of every range's voting replicas, so restarting \
                 all its nodes at once would make ranges unavailable: every rollout restarts one node at a time, \
                 as with disruption_budget = \"node\". A zone budget needs at least three zones.",
                zones.len()
            ),
        );
    }
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
        let path = AttributePath::root("zones").index(i);
        let zone = match zone {
            Attr::Known(zone) => zone,
            Attr::Unknown => continue,
            Attr::Null => {
                diags.attribute_error(
                    path,
                    "Null zone",
                    "Every element of `zones` must name a zone; remove the null one.",
                );
                continue;
            }
        };
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
    let (key_attribute, key) = match (&config.ca_private_key, &config.ca_private_key_wo) {
        (Attr::Null, Attr::Null) => {
            // A certificate alone is a CA whose key is given write-only when needed (`plan_key_out_of_state`).
            if let Attr::Known(cert) = &config.ca_certificate {
                if let Err(e) = pki::certificate_not_after(cert) {
                    diags.attribute_error(
                        AttributePath::root("ca_certificate"),
                        "Unusable CA",
                        e.to_string(),
                    );
                }
            }
            return;
        }
        (key, Attr::Null) => ("ca_private_key", key),
        (Attr::Null, key) => ("ca_private_key_wo", key),
        (_, _) => {
            diags.attribute_error(
                AttributePath::root("ca_private_key_wo"),
                "Two CA keys",
                "`ca_private_key` and `ca_private_key_wo` both give the CA's key: keep `ca_private_key_wo` (never \
                 stored) and remove `ca_private_key`.",
            );
            return;
        }
    };
    match (&config.ca_certificate, key) {
        // Each on the attribute the user wrote, which Terraform can show; the missing one has no line.
        (Attr::Null, _) => diags.attribute_error(
            AttributePath::root(key_attribute),
            "Missing CA certificate",
            format!(
                "{key_attribute} is set, so ca_certificate must be set too: bring both or neither."
            ),
        ),
        (Attr::Known(cert), Attr::Known(key)) => {
            if let Err(e) = CertificateAuthority::from_pem(cert, key, OffsetDateTime::now_utc()) {
                let blamed = match e.attribute.name() {
                    "ca_private_key" => key_attribute,
                    other => other,
                };
                diags.attribute_error(AttributePath::root(blamed), "Unusable CA", e.message);
            }
        }
        _ => {}
    }
}

/// A brought CA whose key is not in `ca_private_key` keeps every key out of the state: `ca_private_key` and the
/// `root` client (which each region then issues into its zone's Secrets) are null. The key must be given with a
/// certificate the cluster has not checked yet (a create, a rotation), so that no apply starts from a
/// certificate nobody can sign with.
pub(super) fn plan_key_out_of_state(
    prior: &ClusterModel,
    config: &ClusterModel,
    planned: &mut ClusterModel,
    diags: &mut Diagnostics,
) {
    if config.ca_certificate.is_null() || !config.ca_private_key.is_null() {
        return;
    }
    planned.ca_private_key = Attr::Null;
    planned.root_client_certificate = Attr::Null;
    planned.root_client_private_key = Attr::Null;
    planned.root_client_certificate_expires_at = Attr::Null;
    let new_certificate =
        config.ca_certificate.known().is_some() && config.ca_certificate != prior.ca_certificate;
    if new_certificate && config.ca_private_key_wo.is_null() {
        diags.attribute_error(
            AttributePath::root("ca_certificate"),
            "Missing CA private key",
            "ca_certificate is new to this cluster, so its private key must be given once to check that it \
             signs with this certificate: `ca_private_key_wo` (write-only, never stored; Terraform 1.11+ or OpenTofu \
             1.11+) or `ca_private_key` (kept in the state). After this apply `ca_private_key_wo` may be left out; \
             each crdb_region asks for its own when it has certificates to sign.",
        );
    }
}

/// Plans the values derived from the configuration so that they show in the plan.
pub(super) fn plan_derived(
    prior: &ClusterModel,
    config: &ClusterModel,
    planned: &mut ClusterModel,
) {
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
pub(super) fn plan_upgrade(
    prior: &ClusterModel,
    planned: &mut ClusterModel,
    diags: &mut Diagnostics,
) {
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
    let running_tag = prior.image.known().and_then(|i| validate::image_major(i));
    let finalized = prior
        .cluster_version
        .known()
        .and_then(|v| Major::parse(v))
        .or(running_tag);
    // Behind an unjudged tag (`:latest`) the cluster still runs at least the version it was last finalized
    // at: the next judged tag is judged from there, so that a detour through `:latest` is no way around
    // the downgrade rule.
    let running = running_tag.or(finalized);
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
        Some(false) => to.or(finalized).map(|m| m.to_string()).into(),
        Some(true) => finalized.or(to).map(|m| m.to_string()).into(),
    };
}

/// Plans the PKI: kept unless the configuration brings another CA or bumps the generation.
pub(super) fn plan_pki(prior: &ClusterModel, config: &ClusterModel, planned: &mut ClusterModel) {
    let user_ca = !config.ca_certificate.is_null();
    let regenerate = if user_ca {
        // A CA is its certificate: a key given another way (write-only, or back in the state) for the same
        // certificate changes no CA.
        config.ca_certificate != prior.ca_certificate
    } else {
        prior.ca_certificate.is_null()
            || prior.pki_generation != planned.pki_generation
                && prior.ca_generated == Attr::Known(true)
    };
    if !regenerate {
        // Known (null before any rotation) rather than left to apply: an update that rotates nothing shows no change.
        planned.previous_ca_certificate = prior.previous_ca_certificate.clone();
        return;
    }
    // A CA that replaces another starts a rotation: the regions trust both until every certificate is re-issued.
    planned.previous_ca_certificate = match &prior.ca_certificate {
        Attr::Known(old) => Attr::Known(old.clone()),
        _ => Attr::Null,
    };
    if user_ca {
        planned.ca_generated = Attr::Known(false);
        match &config.ca_certificate {
            Attr::Known(cert) => {
                planned.ca_fingerprint_sha256 =
                    pki::certificate_fingerprint_sha256(cert).ok().into();
                planned.ca_expires_at = certificates::expires_at(cert).into();
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
    reissue_root_client(planned);
}

/// The root client certificate, its key and its expiry are issued again at apply.
fn reissue_root_client(planned: &mut ClusterModel) {
    planned.root_client_certificate = Attr::Unknown;
    planned.root_client_private_key = Attr::Unknown;
    planned.root_client_certificate_expires_at = Attr::Unknown;
}

/// Plan modifier of the root client certificate: once it expires within `certificate_renewal` (or has expired),
/// the plan renews it in place with no configuration change, and warns, naming it and its expiry. The CA is
/// never renewed by itself (that is a rotation): the plan warns once certificates issued now would be cut short
/// by its expiry.
pub(super) fn renew_within_window(
    planned: &mut ClusterModel,
    now: OffsetDateTime,
    diags: &mut Diagnostics,
) {
    let lifetimes = Lifetimes::of(
        &planned.certificate_validity,
        &planned.certificate_renewal,
        &planned.ca_validity,
    );
    if let Some(not_after) = planned
        .root_client_certificate
        .known()
        .and_then(|cert| pki::certificate_not_after(cert).ok())
    {
        let standing = certificates::standing(not_after, lifetimes.certificate_renewal, now);
        if let Some((summary, detail)) =
            certificates::renewal_warning("root client certificate", not_after, standing, true)
        {
            diags.attribute_warning(
                AttributePath::root("root_client_certificate_expires_at"),
                summary,
                detail,
            );
            reissue_root_client(planned);
        }
    }
    if let Some(not_after) = planned
        .ca_certificate
        .known()
        .and_then(|cert| pki::certificate_not_after(cert).ok())
    {
        let standing = certificates::standing(not_after, lifetimes.certificate_validity, now);
        if let Some((summary, mut detail)) =
            certificates::renewal_warning("CA certificate", not_after, standing, false)
        {
            if standing == Renewal::Due {
                detail.push_str(
                    " Certificates issued from now on end when the CA does, sooner than certificate_validity.",
                );
            }
            diags.attribute_warning(AttributePath::root("ca_expires_at"), summary, detail);
        }
    }
}
