//! What a zone signs (its node certificate, and with a write-only CA key its `root` client), what it keeps from its
//! Secret instead, the CA key it signs with, and when the plan must ask for that key. With the cluster's key in the
//! state (a generated CA, or one brought as `ca_private_key`) every region has it through `cluster`. With a key brought
//! write-only (`crdb_multiregion_cluster.ca_private_key_wo`) nothing holds it between runs: each region is given the
//! same key in its own `ca_private_key_wo` for the applies that sign (a new zone, a renewal, a CA rotation, a lost
//! Secret), and the plan says so, on that attribute, when one of them lacks it. The zone's node key and its `root`
//! client certificate then live only in the zone's Secrets (the cluster issues no `root` client), renewed together.
//! Pure.
use super::model::{ClusterRef, RegionModel};
use super::spec::{known, lifetimes};
use super::zone_run::ZoneRun;
use crate::cockroach::manifests::{names, secret_files, ZoneCertificates, ZoneSpec};
use crate::cockroach::pki::{self, CertificateAuthority, KeyPairPem, PkiError};
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::Attr;
use crate::resources::certificates::{self, Lifetimes};
use time::OffsetDateTime;

pub const ATTRIBUTE: &str = "ca_private_key_wo";

/// Where the zone finds the CA's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyHome {
    /// In the cluster's state, through `cluster`.
    State,
    /// In the region's `ca_private_key_wo`, during the applies given it.
    WriteOnly,
    /// The cluster is not known yet (planned in the same run, or computed from unknowns).
    NotKnownYet,
}

pub(super) fn home(model: &RegionModel) -> KeyHome {
    let Some(cluster) = model.cluster.known() else {
        return KeyHome::NotKnownYet;
    };
    match (&cluster.ca_certificate, &cluster.ca_private_key) {
        (Attr::Known(_), Attr::Known(_)) => KeyHome::State,
        (Attr::Known(_), Attr::Null) => KeyHome::WriteOnly,
        _ => KeyHome::NotKnownYet,
    }
}

/// Plan modifier, after the node certificate's own (`plan::plan`, `plan::renew_within_window`): with a write-only
/// key, the node key is not kept, a lost node Secret is issued again, and an apply that signs without a key
/// given is refused on `ca_private_key_wo`, naming why it signs; a key given is checked against the CA.
pub(super) fn plan(
    prior: Option<&RegionModel>,
    config: &RegionModel,
    planned: &mut RegionModel,
    diags: &mut Diagnostics,
) {
    let path = || AttributePath::root(ATTRIBUTE);
    // Without the node key in the state, a lost Secret is a new certificate (with it, the apply writes it back).
    if prior.is_some_and(|p| node_secret_lost(p) && p.node_private_key.is_null()) {
        super::plan::reissue_node_certificate(planned);
    }
    match home(planned) {
        KeyHome::NotKnownYet => {}
        KeyHome::State => {
            if !config.ca_private_key_wo.is_null() {
                diags.attribute_error(
                    path(),
                    "The cluster keeps its CA key in the state",
                    "This region signs with the key of its `cluster` (a generated CA, or `ca_private_key`), so \
                     `ca_private_key_wo` is not used: remove it here, or move the cluster's key to its own \
                     `ca_private_key_wo` (see the security guide).",
                );
            }
        }
        KeyHome::WriteOnly => {
            planned.node_private_key = Attr::Null;
            if let (Some(cluster), Attr::Known(key)) =
                (planned.cluster.known(), &config.ca_private_key_wo)
            {
                let cert = cluster.ca_certificate.known().map_or("", String::as_str);
                if let Err(e) = CertificateAuthority::from_pem(cert, key, OffsetDateTime::now_utc())
                {
                    diags.attribute_error(path(), "Not the cluster's CA key", e.message);
                }
            }
            if config.ca_private_key_wo.is_null() {
                if let Some(why) = signs(prior, planned) {
                    diags.attribute_error(
                        path(),
                        "The CA key is needed for this apply",
                        format!(
                            "{why}, so this apply signs certificates, and the cluster's CA key is write-only: give \
                             it in `ca_private_key_wo` (the same key as the cluster's `ca_private_key_wo`, from an \
                             ephemeral variable or resource). It is used during this apply only and never stored."
                        ),
                    );
                }
            }
        }
    }
}

/// Why the planned apply signs the zone's node certificate, if it does.
fn signs(prior: Option<&RegionModel>, planned: &RegionModel) -> Option<String> {
    let zone = planned.zone.known().map_or("?", String::as_str);
    let root_client_in_state = |m: &RegionModel| {
        m.cluster
            .known()
            .is_some_and(|c| !c.root_client_certificate.is_null())
    };
    if prior.is_some_and(root_client_in_state) && !root_client_in_state(planned) {
        return Some(format!(
            "The cluster stops keeping the `root` client certificate (its keys leave the state), so zone {zone} \
             issues its own"
        ));
    }
    if !planned.node_certificate.is_unknown() {
        return None;
    }
    let fingerprint = |m: &RegionModel| {
        m.cluster
            .known()
            .and_then(|c| c.ca_fingerprint_sha256.known().cloned())
    };
    Some(match prior {
        None => {
            format!("Zone {zone} is created (its node certificate and `root` client are issued)")
        }
        Some(p) if p.node_certificate.is_null() => {
            format!("No node certificate is recorded for zone {zone}")
        }
        Some(p) if node_secret_lost(p) => format!(
            "The Secret {} of zone {zone}, which held its node key, is gone",
            names::NODE_SECRET
        ),
        Some(p) if fingerprint(p) != fingerprint(planned) => {
            format!(
                "The cluster's CA changes, so zone {zone} is issued certificates under the new one"
            )
        }
        Some(p) => format!(
            "The node certificate of zone {zone} is due for renewal (it expires at {})",
            p.node_certificate_expires_at
                .known()
                .map_or("?", String::as_str)
        ),
    })
}

/// Whether the last read found the zone's node Secret missing.
fn node_secret_lost(prior: &RegionModel) -> bool {
    let Some(zone) = prior.zone.known() else {
        return false;
    };
    let lost = format!("Secret/{zone}/{}", names::NODE_SECRET);
    prior
        .missing_objects
        .known()
        .is_some_and(|missing| missing.contains(&lost))
}

/// The CA as this apply can sign with it: its certificate, and its key when the state or the configuration
/// gave one.
pub(super) struct Signer<'a> {
    pub ca_certificate: &'a str,
    pub key: Option<&'a str>,
    pub lifetimes: Lifetimes,
    pub now: OffsetDateTime,
}

impl<'a> Signer<'a> {
    /// The CA of `model`'s cluster, with the key its home holds.
    pub fn of(model: &'a RegionModel, lifetimes: Lifetimes) -> Result<Signer<'a>, Diagnostics> {
        let cluster = model.cluster.known();
        let Some(ca_certificate) = cluster.and_then(|c| c.ca_certificate.known()) else {
            return Err(Diagnostics::with_attribute_error(
                AttributePath::root("cluster"),
                "Cluster CA not known",
                "The cluster's CA must be known to sign the zone's node certificate.",
            ));
        };
        let key = cluster
            .and_then(|c| c.ca_private_key.known())
            .or(model.ca_private_key_wo.known());
        Ok(Signer {
            ca_certificate,
            key: key.map(String::as_str),
            lifetimes,
            now: OffsetDateTime::now_utc(),
        })
    }

    /// A node certificate for `spec`'s zone, signed now.
    pub fn node(&self, spec: &ZoneSpec) -> Result<KeyPairPem, Diagnostics> {
        let ca = self.authority(&format!("the node certificate of zone {}", spec.zone))?;
        pki::issue_node_certificate(
            &ca,
            &spec.zone,
            &spec.cluster_domain,
            self.lifetimes.certificate_validity,
            self.now,
        )
        .map_err(|why| issue_failed("node certificate", why))
    }

    /// A `root` client certificate for `zone`, signed now, as long-lived as its node certificate.
    pub fn root_client(&self, zone: &str) -> Result<KeyPairPem, Diagnostics> {
        let ca = self.authority(&format!("the `root` client certificate of zone {zone}"))?;
        pki::issue_client_certificate(&ca, "root", self.lifetimes.certificate_validity, self.now)
            .map_err(|why| issue_failed("root client certificate", why))
    }

    /// Whether a certificate found in the zone's Secret can stay: signed by this CA and not inside its renewal
    /// window.
    fn keeps(&self, cert: &str) -> bool {
        pki::certificate_matches_ca(cert, self.ca_certificate)
            && pki::certificate_not_after(cert).is_ok_and(|not_after| {
                certificates::standing(not_after, self.lifetimes.certificate_renewal, self.now)
                    == certificates::Renewal::NotYet
            })
    }

    fn authority(&self, what: &str) -> Result<CertificateAuthority, Diagnostics> {
        let Some(key) = self.key else {
            return Err(Diagnostics::with_attribute_error(
                AttributePath::root(ATTRIBUTE),
                "The CA key is needed for this apply",
                format!(
                    "This apply must issue {what} (its Secret does not hold a usable one), and the cluster's CA \
                     key is write-only: give it in `ca_private_key_wo`. Nothing was changed."
                ),
            ));
        };
        CertificateAuthority::from_pem(self.ca_certificate, key, self.now)
            .map_err(|e| issue_failed("certificate", PkiError::from(e)))
    }
}

/// A node certificate found in the zone's live secret, worth keeping: one the signer keeps, covering every name of
/// the zone. An adopted zone keeps the certificate its nodes already use.
fn reusable_node_certificate(
    live: Option<(String, String)>,
    signer: &Signer,
    spec: &ZoneSpec,
) -> Option<(String, String)> {
    live.filter(|(cert, _)| {
        signer.keeps(cert) && pki::node_certificate_covers(cert, &spec.zone, &spec.cluster_domain)
    })
}

/// The zone's node certificate and key: the planned certificate when the plan kept it (its key from the state,
/// else from the zone's Secret), else the live one when it still fits, else one signed now.
pub(super) fn node_certificate(
    model: &RegionModel,
    spec: &ZoneSpec,
    live: Option<(String, String)>,
    signer: &Signer,
) -> Result<(String, String), Diagnostics> {
    if let Attr::Known(cert) = &model.node_certificate {
        let key = model
            .node_private_key
            .known()
            .cloned()
            .or_else(|| live.filter(|(live, _)| live == cert).map(|(_, key)| key));
        return match key {
            Some(key) => Ok((cert.clone(), key)),
            None => Err(Diagnostics::with_attribute_error(
                AttributePath::root("node_certificate"),
                "The zone's node key is gone",
                format!(
                    "The Secret {} of zone {} no longer holds the key of the node certificate in the state. \
                     Nothing was changed: refresh (`terraform apply -refresh-only`), and the next plan issues a new \
                     certificate.",
                    names::NODE_SECRET,
                    spec.zone
                ),
            )),
        };
    }
    if let Some(kept) = reusable_node_certificate(live, signer, spec) {
        return Ok(kept);
    }
    let pair = signer.node(spec)?;
    Ok((pair.cert_pem, pair.key_pem))
}

/// The zone's `root` client: the cluster's when it keeps one in the state; else the zone's own, kept from its
/// Secret while it is signed by the CA, not due for renewal, and no older than the node certificate (so that it
/// is renewed with it, by an apply the plan asks the CA key for), else signed now.
pub(super) fn root_client(
    cluster: &ClusterRef,
    live: Option<(String, String)>,
    node_crt: &str,
    signer: &Signer,
    zone: &str,
) -> Result<(String, String), Diagnostics> {
    if let (Attr::Known(crt), Attr::Known(key)) = (
        &cluster.root_client_certificate,
        &cluster.root_client_private_key,
    ) {
        return Ok((crt.clone(), key.clone()));
    }
    let not_after = |cert: &str| pki::certificate_not_after(cert).ok();
    // `keeps` reads the expiry first: a root client whose expiry cannot be read is never kept.
    if let Some(kept) =
        live.filter(|(crt, _)| signer.keeps(crt) && not_after(crt) >= not_after(node_crt))
    {
        return Ok(kept);
    }
    let pair = signer.root_client(zone)?;
    Ok((pair.cert_pem, pair.key_pem))
}

fn issue_failed(what: &str, why: PkiError) -> Diagnostics {
    Diagnostics::with_attribute_error(
        AttributePath::root("cluster"),
        format!("Cannot issue the {what}"),
        why.to_string(),
    )
}

/// The files of the zone's secrets: the cluster's CA, the `root` client, and the zone's node certificate.
pub(super) fn zone_certificates(
    run: &ZoneRun,
    state: &RegionModel,
) -> Result<ZoneCertificates, Diagnostics> {
    let (spec, node_secret) = (&run.spec, run.node_secret.as_ref());
    let mut diags = Diagnostics::new();
    let Some(cluster) = known(&state.cluster, "cluster", &mut diags) else {
        return Err(diags);
    };
    let signer = Signer::of(state, lifetimes(state))?;
    let (node_crt, node_key) = node_certificate(
        state,
        spec,
        secret_files::pair(node_secret, secret_files::NODE_CRT, secret_files::NODE_KEY),
        &signer,
    )?;
    let (root_crt, root_key) = root_client(
        cluster,
        secret_files::pair(node_secret, secret_files::ROOT_CRT, secret_files::ROOT_KEY),
        &node_crt,
        &signer,
        &spec.zone,
    )?;
    Ok(ZoneCertificates {
        ca_crt: signer.ca_certificate.to_owned(),
        node_crt,
        node_key,
        root_crt,
        root_key,
    })
}

/// Records the zone's node certificate in the state; its key only when the CA key is kept there too (with a
/// write-only CA key it lives only in the zone's Secret) and the plan left it to this apply.
pub(super) fn record_node_certificate(state: &mut RegionModel, certs: &ZoneCertificates) {
    state.node_certificate = Attr::Known(certs.node_crt.clone());
    state.node_certificate_expires_at = certificates::expires_at(&certs.node_crt).into();
    if home(state) == KeyHome::WriteOnly {
        state.node_private_key = Attr::Null;
    } else if !state.node_private_key.is_null() {
        state.node_private_key = Attr::Known(certs.node_key.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Cluster {
        ca: CertificateAuthority,
        other: CertificateAuthority,
    }

    fn cluster() -> Cluster {
        let now = OffsetDateTime::now_utc();
        let generate = |name| CertificateAuthority::generate(name, time::Duration::days(3650), now);
        Cluster {
            ca: generate("main").unwrap(),
            other: generate("other").unwrap(),
        }
    }

    /// A zone `a` of a cluster whose CA key is write-only (or, `in_state`, kept in the state), with a node
    /// certificate issued now for `validity`.
    fn region(c: &Cluster, in_state: bool, validity: time::Duration) -> RegionModel {
        let now = OffsetDateTime::now_utc();
        let node = pki::issue_node_certificate(&c.ca, "a", "cluster.local", validity, now).unwrap();
        let cluster = ClusterRef {
            zones: Attr::Known(vec![Attr::Known("a".into())]),
            certificate_validity: Attr::Known("8760h".into()),
            certificate_renewal: Attr::Known("720h".into()),
            ca_certificate: Attr::Known(c.ca.cert_pem().into()),
            ca_private_key: if in_state {
                Attr::Known(c.ca.key_pem().into())
            } else {
                Attr::Null
            },
            ca_fingerprint_sha256: pki::certificate_fingerprint_sha256(c.ca.cert_pem())
                .ok()
                .into(),
            ..Default::default()
        };
        RegionModel {
            cluster: Attr::Known(cluster),
            zone: Attr::Known("a".into()),
            node_certificate_expires_at: certificates::expires_at(&node.cert_pem).into(),
            node_certificate: Attr::Known(node.cert_pem),
            node_private_key: Attr::Null,
            missing_objects: Attr::Known(Vec::new()),
            ..Default::default()
        }
    }

    /// The plan of `config` over `prior` (None: a create), as `Region::modify_plan` runs it.
    fn planned(prior: Option<&RegionModel>, config: &RegionModel) -> (RegionModel, Diagnostics) {
        let mut planned = config.clone();
        if prior.is_none() {
            planned.node_certificate = Attr::Unknown;
            planned.node_private_key = Attr::Unknown;
        }
        let mut diags = Diagnostics::new();
        crate::resources::region::plan::plan(prior, &mut planned);
        crate::resources::region::plan::renew_within_window(
            &mut planned,
            OffsetDateTime::now_utc(),
            &mut diags,
        );
        plan(prior, config, &mut planned, &mut diags);
        (planned, diags)
    }

    fn said(diags: &Diagnostics) -> String {
        format!("{diags:?}")
    }

    #[test]
    fn a_plan_that_signs_without_the_write_only_key_is_refused_on_it_saying_why() {
        let c = cluster();
        let year = time::Duration::days(365);
        let fresh = region(&c, false, year);
        let mut keyed = fresh.clone();
        keyed.ca_private_key_wo = Attr::Known(c.ca.key_pem().into());

        let (_, diags) = planned(None, &fresh);
        assert_eq!(diags.attribute_paths(), [ATTRIBUTE]);
        assert!(said(&diags).contains("Zone a is created"), "{diags:?}");
        let (created, diags) = planned(None, &keyed);
        assert!(!diags.has_errors(), "{diags:?}");
        assert_eq!(created.node_private_key, Attr::Null, "never planned");

        // An apply that signs nothing needs no key.
        let (kept, diags) = planned(Some(&fresh), &fresh);
        assert!(!diags.has_errors(), "{diags:?}");
        assert_eq!(kept.node_certificate, fresh.node_certificate);

        // A certificate inside its renewal window is signed again: the key is asked for, with the date.
        let due = region(&c, false, time::Duration::days(10));
        let (_, diags) = planned(Some(&due), &due);
        let text = said(&diags);
        assert!(
            diags.has_errors() && text.contains("due for renewal"),
            "{text}"
        );
        assert!(text.contains(due.node_certificate_expires_at.known().unwrap()));

        // Moving the key out of the state: the zone issues its own `root` client, so the key is asked for.
        let mut in_state = fresh.clone();
        if let Attr::Known(cluster) = &mut in_state.cluster {
            cluster.ca_private_key = Attr::Known(c.ca.key_pem().into());
            cluster.root_client_certificate = Attr::Known("ROOT".into());
        }
        let (_, diags) = planned(Some(&in_state), &fresh);
        assert!(said(&diags).contains("issues its own"), "{diags:?}");
        let (_, diags) = planned(Some(&in_state), &keyed);
        assert!(!diags.has_errors(), "{diags:?}");

        // A node Secret found missing, with no key in the state, is a new certificate.
        let mut lost = fresh.clone();
        lost.missing_objects = Attr::Known(vec![format!("Secret/a/{}", names::NODE_SECRET)]);
        let (reissued, diags) = planned(Some(&lost), &lost);
        assert!(reissued.node_certificate.is_unknown());
        assert!(said(&diags).contains("is gone"), "{diags:?}");
    }

    #[test]
    fn a_key_is_checked_against_the_ca_and_refused_where_the_state_holds_one() {
        let c = cluster();
        let mut wrong = region(&c, false, time::Duration::days(365));
        wrong.ca_private_key_wo = Attr::Known(c.other.key_pem().into());
        let (_, diags) = planned(None, &wrong);
        assert_eq!(diags.attribute_paths(), [ATTRIBUTE]);
        assert!(said(&diags).contains("Not the cluster's CA key"));

        let mut twice = region(&c, true, time::Duration::days(365));
        twice.ca_private_key_wo = Attr::Known(c.ca.key_pem().into());
        let (_, diags) = planned(Some(&twice), &twice);
        assert_eq!(diags.attribute_paths(), [ATTRIBUTE]);

        // The key in the state signs without asking; a legacy node key stays recorded.
        let mut in_state = region(&c, true, time::Duration::days(10));
        in_state.node_private_key = Attr::Known("KEY".into());
        let (renewed, diags) = planned(Some(&in_state), &in_state);
        assert!(!diags.has_errors(), "{diags:?}");
        assert!(renewed.node_private_key.is_unknown());
    }

    fn spec() -> ZoneSpec {
        ZoneSpec {
            zone: "a".into(),
            cluster_domain: "cluster.local".into(),
            ..crate::cockroach::manifests::fixtures::spec()
        }
    }

    #[test]
    fn the_apply_keeps_what_the_secret_holds_and_signs_only_what_it_must() {
        let c = cluster();
        let year = time::Duration::days(365);
        let model = region(&c, false, year);
        let node_crt = model.node_certificate.known().unwrap().clone();
        let live_node = Some((node_crt.clone(), "NODE KEY".to_string()));
        let without_key = Signer::of(&model, super::super::spec::lifetimes(&model)).unwrap();

        // The planned certificate, its key from the Secret; nothing signed, so no key needed.
        let pair = node_certificate(&model, &spec(), live_node.clone(), &without_key).unwrap();
        assert_eq!(
            pair,
            (node_crt.clone(), "NODE KEY".to_string()),
            "nothing signed"
        );
        let gone = node_certificate(&model, &spec(), None, &without_key).unwrap_err();
        assert_eq!(gone.attribute_paths(), ["node_certificate"]);

        // A `root` client no older than the node certificate is kept; an older one (the cluster's, before the
        // key left the state) is signed again, which needs the key.
        let cluster_ref = model.cluster.known().unwrap();
        let now = OffsetDateTime::now_utc();
        let newer =
            pki::issue_client_certificate(&c.ca, "root", year + time::Duration::days(1), now)
                .unwrap();
        let live_root = Some((newer.cert_pem.clone(), newer.key_pem.clone()));
        let kept = root_client(cluster_ref, live_root, &node_crt, &without_key, "a").unwrap();
        assert_eq!(kept.0, newer.cert_pem);
        let older =
            pki::issue_client_certificate(&c.ca, "root", time::Duration::days(300), now).unwrap();
        let live_root = Some((older.cert_pem.clone(), older.key_pem.clone()));
        let refused =
            root_client(cluster_ref, live_root.clone(), &node_crt, &without_key, "a").unwrap_err();
        assert_eq!(refused.attribute_paths(), [ATTRIBUTE]);
        let mut keyed = model.clone();
        keyed.ca_private_key_wo = Attr::Known(c.ca.key_pem().into());
        let with_key = Signer::of(&keyed, super::super::spec::lifetimes(&keyed)).unwrap();
        let (root_crt, root_key) =
            root_client(cluster_ref, live_root, &node_crt, &with_key, "a").unwrap();
        assert!(pki::certificate_matches_ca(&root_crt, c.ca.cert_pem()));
        assert_eq!(
            pki::key_matches_certificate(&root_crt, &root_key),
            Some(true)
        );

        // A zone with no certificate planned and none live signs one.
        let mut new = keyed.clone();
        new.node_certificate = Attr::Unknown;
        let (crt, key) = node_certificate(&new, &spec(), None, &with_key).unwrap();
        assert!(pki::certificate_matches_ca(&crt, c.ca.cert_pem()));
        assert!(pki::node_certificate_covers(&crt, "a", "cluster.local"));
        assert_eq!(pki::key_matches_certificate(&crt, &key), Some(true));
    }
}
