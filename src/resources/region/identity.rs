//! Whose nodes a zone already runs: an apply never overwrites a zone whose nodes trust another CA or belong to
//! another cluster (a lost state file, a zone name reused, a second configuration pointed at the same place).
//! Pure: the live node secret and StatefulSet label are the ones the apply read when it connected.
use super::model::RegionModel;
use super::zone_run::ZoneRun;
use crate::cockroach::manifests::{names, secret_files};
use crate::cockroach::pki;
use crate::framework::diag::{AttributePath, Diagnostics};

/// What the zone runs that this cluster does not own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Foreign {
    /// The nodes' certificate is signed by neither the cluster's CA nor (mid-rotation) its previous one.
    Ca {
        live_fingerprint: String,
        cluster_fingerprint: String,
    },
    /// The nodes belong to a cluster of another name.
    Cluster { live_name: String, name: String },
}

/// The live zone's certificates, as its node secret holds them.
pub(super) struct LiveZone<'a> {
    /// `ca.crt` of the node secret, when there is one.
    pub ca: Option<&'a str>,
    /// `node.crt` of the node secret, when there is one.
    pub node_certificate: Option<&'a str>,
    /// The cluster name the StatefulSet's `app.kubernetes.io/part-of` label carries, when there is one.
    pub cluster_name: Option<&'a str>,
}

/// Whether the live zone belongs to another CockroachDB cluster than `planned`'s (or `prior`'s, whose CA or name
/// the zone may still carry while a change of them is applied). A zone with nothing running is nobody's.
pub(super) fn foreign(
    planned: &RegionModel,
    prior: Option<&RegionModel>,
    live: &LiveZone<'_>,
) -> Option<Foreign> {
    let cluster = planned.cluster.known()?;
    let ours = [Some(planned), prior].into_iter().flatten();
    if let (Some(node), Some(ca)) = (live.node_certificate, cluster.ca_certificate.known()) {
        // Mid-rotation the nodes may still run certificates of the cluster's previous CA.
        let trusted = ours
            .clone()
            .filter_map(|m| m.cluster.known())
            .flat_map(|c| [c.ca_certificate.known(), c.previous_ca_certificate.known()])
            .flatten()
            .any(|ca| pki::certificate_matches_ca(node, ca));
        if !trusted {
            let fingerprint = |pem: &str| {
                pki::certificate_fingerprint_sha256(pem).unwrap_or_else(|_| "unreadable".into())
            };
            return Some(Foreign::Ca {
                live_fingerprint: live.ca.map_or_else(
                    || format!("unknown (node certificate {})", fingerprint(node)),
                    fingerprint,
                ),
                cluster_fingerprint: fingerprint(ca),
            });
        }
    }
    let live_name = live.cluster_name?;
    let names: Vec<&String> = ours
        .filter_map(|m| m.cluster.known()?.name.known())
        .collect();
    let name = names.first()?;
    (!names.iter().any(|n| n.as_str() == live_name)).then(|| Foreign::Cluster {
        live_name: live_name.to_owned(),
        name: (*name).clone(),
    })
}

/// The refusal's detail: what runs there, that nothing was changed, and how to adopt it instead.
pub(super) fn refusal(foreign: &Foreign, zone: &str, cluster_label: &str) -> (String, String) {
    let adopt = format!(
        "Nothing in the zone was changed. To adopt the running nodes, give crdb_multiregion_cluster the CA they \
         trust (`ca_certificate` and `ca_private_key`, such as the files `cockroach cert create-ca` wrote) and \
         import the zone into the region instead of creating it: `terraform import crdb_region.<name> \
         <kubeconfig context>/{zone}`. If the zone's data is disposable, delete namespace {zone:?} first."
    );
    match foreign {
        Foreign::Ca {
            live_fingerprint,
            cluster_fingerprint,
        } => (
            format!("Zone {zone} runs CockroachDB under another CA"),
            format!(
                "Namespace {zone:?} on {cluster_label} already runs CockroachDB nodes whose certificates come from \
                 the CA with SHA-256 fingerprint {live_fingerprint}, not from this cluster's CA \
                 ({cluster_fingerprint}). Replacing their certificates would cut the nodes off from their peers and \
                 clients. Nothing in the zone was changed. How to proceed: if this configuration lost its state \
                 (a new CA was generated), import the cluster with the CA its nodes trust: set `ca_certificate` and \
                 `ca_private_key` of crdb_multiregion_cluster to that CA (fingerprint {live_fingerprint}), then \
                 `terraform import crdb_region.<name> <kubeconfig context>/{zone}` for each zone. To move the nodes \
                 to another CA, do that first, then start a CA rotation from it (see the certificates guide): a \
                 rotation keeps both CAs trusted while the nodes move, which replacing the certificates here would \
                 not. If the zone's data is disposable, delete namespace {zone:?} first."
            ),
        ),
        Foreign::Cluster { live_name, name } => (
            format!("Zone {zone} runs another CockroachDB cluster"),
            format!(
                "Namespace {zone:?} on {cluster_label} already runs the nodes of CockroachDB cluster {live_name:?}, \
                 not {name:?}. {adopt}"
            ),
        ),
    }
}

/// Refuses, before anything is touched, a zone whose running nodes belong to another CockroachDB cluster.
pub(super) fn refuse_foreign_zone(run: &ZoneRun, planned: &RegionModel) -> Result<(), Diagnostics> {
    let file = |name: &str| secret_files::text(run.node_secret.as_ref(), name);
    let live = LiveZone {
        ca: file(secret_files::CA_CRT),
        node_certificate: file(secret_files::NODE_CRT),
        cluster_name: run
            .live_set
            .as_ref()
            .and_then(|set| set.metadata.labels.as_ref()?.get(names::LABEL_PART_OF))
            .map(String::as_str),
    };
    let Some(foreign) = foreign(planned, run.prior, &live) else {
        return Ok(());
    };
    let (summary, detail) = refusal(&foreign, &run.spec.zone, run.client.label());
    Err(Diagnostics::with_attribute_error(
        AttributePath::root("zone"),
        summary,
        detail,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cockroach::pki::CertificateAuthority;
    use crate::framework::Attr;
    use crate::resources::region::model::ClusterRef;

    fn ca(name: &str) -> CertificateAuthority {
        let now = time::OffsetDateTime::now_utc();
        CertificateAuthority::generate(name, time::Duration::days(30), now).unwrap()
    }

    fn node_cert(ca: &CertificateAuthority) -> String {
        let now = time::OffsetDateTime::now_utc();
        pki::issue_node_certificate(ca, "a", "cluster.local", time::Duration::days(30), now)
            .unwrap()
            .cert_pem
    }

    fn region(ca: &CertificateAuthority, name: &str) -> RegionModel {
        RegionModel {
            cluster: Attr::Known(ClusterRef {
                name: Attr::Known(name.into()),
                ca_certificate: Attr::Known(ca.cert_pem().to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn live<'a>(ca: &'a str, node: &'a str, name: Option<&'a str>) -> LiveZone<'a> {
        LiveZone {
            ca: Some(ca),
            node_certificate: Some(node),
            cluster_name: name,
        }
    }

    #[test]
    fn a_zone_under_another_ca_is_foreign_unless_it_is_the_prior_one() {
        let (mine, theirs) = (ca("mine"), ca("theirs"));
        let their_node = node_cert(&theirs);
        let found = foreign(
            &region(&mine, "main"),
            None,
            &live(theirs.cert_pem(), &their_node, None),
        );
        let Some(Foreign::Ca {
            live_fingerprint,
            cluster_fingerprint,
        }) = found.clone()
        else {
            panic!("{found:?}")
        };
        assert_eq!(
            live_fingerprint,
            pki::certificate_fingerprint_sha256(theirs.cert_pem()).unwrap()
        );
        assert_eq!(
            cluster_fingerprint,
            pki::certificate_fingerprint_sha256(mine.cert_pem()).unwrap()
        );
        let (summary, detail) = refusal(found.as_ref().unwrap(), "a", "https://10.0.0.1");
        assert_eq!(summary, "Zone a runs CockroachDB under another CA");
        for said in [
            live_fingerprint.as_str(),
            cluster_fingerprint.as_str(),
            "Nothing in the zone was changed",
            "import the cluster with the CA its nodes trust",
            "terraform import crdb_region.<name> <kubeconfig context>/a",
            "start a CA rotation",
        ] {
            assert!(detail.contains(said), "{said}: {detail}");
        }
        let rotating = region(&theirs, "main");
        assert_eq!(
            foreign(
                &region(&mine, "main"),
                Some(&rotating),
                &live(theirs.cert_pem(), &their_node, None)
            ),
            None,
            "a CA rotation finds the previous CA in the zone"
        );
        let my_node = node_cert(&mine);
        assert_eq!(
            foreign(
                &region(&mine, "main"),
                None,
                &live(mine.cert_pem(), &my_node, Some("main"))
            ),
            None
        );
        let empty = LiveZone {
            ca: None,
            node_certificate: None,
            cluster_name: None,
        };
        assert_eq!(
            foreign(&region(&mine, "main"), None, &empty),
            None,
            "an empty zone is nobody's"
        );
    }

    #[test]
    fn a_zone_of_another_cluster_name_is_foreign_and_the_refusal_says_how_to_adopt_it() {
        let mine = ca("mine");
        let node = node_cert(&mine);
        let found = foreign(
            &region(&mine, "main"),
            None,
            &live(mine.cert_pem(), &node, Some("other")),
        )
        .unwrap();
        assert_eq!(
            found,
            Foreign::Cluster {
                live_name: "other".into(),
                name: "main".into()
            }
        );
        let (summary, detail) = refusal(&found, "a", "https://10.0.0.1");
        assert_eq!(summary, "Zone a runs another CockroachDB cluster");
        assert!(
            detail.contains("terraform import crdb_region.<name> <kubeconfig context>/a"),
            "{detail}"
        );
        assert!(
            detail.contains("Nothing in the zone was changed"),
            "{detail}"
        );
    }
}
