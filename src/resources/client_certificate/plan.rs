//! Validation of `crdb_client_certificate` and the issue itself: pure, `now` passed in.
use super::model::{ClientCertificateModel, DEFAULT_TTL};
use crate::cockroach::pki::{self, CertificateAuthority};
use crate::cockroach::validate::{refuse, Invalid};
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::timeouts::parse_duration_within;
use crate::framework::Attr;
use crate::resources::certificates;
use std::time::Duration;
use time::OffsetDateTime;

/// The shortest certificate: a tool of the same run must be able to connect with it, on nodes whose clocks may be
/// a few minutes ahead of the machine running the client.
const MIN_TTL: Duration = Duration::from_secs(5 * 60);
/// The longest: a certificate for one run, which nothing revokes, should be worthless within a day.
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

pub(super) fn validate(config: &ClientCertificateModel, diags: &mut Diagnostics) {
    diags.check_known(&config.username, "username", "Invalid user name", |u| {
        pki::validate_sql_user(u).map_err(|e| e.to_string())
    });
    if let Attr::Known(ttl) = &config.ttl {
        if let Err(why) = ttl_of(ttl) {
            diags.attribute_error(AttributePath::root("ttl"), "Invalid ttl", why);
        }
    }
}

/// The TTL `text` asks for, within the floor and the ceiling.
fn ttl_of(text: &str) -> Result<Duration, Invalid> {
    let ttl = parse_duration_within(text, MAX_TTL)
        .map_err(|e| format!("{text:?} is not a duration from 5m to 24h: {e}"))?;
    if ttl < MIN_TTL {
        return refuse(format!(
            "{text:?} is shorter than 5m: the certificate could expire before a tool of the same run has connected"
        ));
    }
    Ok(ttl)
}

/// The certificate `config` asks for, issued at `now`: the configuration with its results. Errors are on the
/// attribute at fault.
pub(super) fn issue(
    config: &ClientCertificateModel,
    now: OffsetDateTime,
) -> Result<ClientCertificateModel, Diagnostics> {
    let mut diags = Diagnostics::of_check(|diags| validate(config, diags));
    let cluster = config.cluster.known();
    let ca_pem = cluster.and_then(|c| c.ca_certificate.known());
    let cluster_key = cluster.and_then(|c| c.ca_private_key.known());
    if cluster_key.is_some() && !config.ca_private_key.is_null() {
        diags.attribute_error(
            AttributePath::root("ca_private_key"),
            "Two CA keys",
            "`cluster` carries the CA's key already (the cluster keeps it in the state): remove `ca_private_key`.",
        );
    }
    let key_pem = cluster_key.or(config.ca_private_key.known());
    let (Some(ca_pem), Some(key_pem)) = (ca_pem, key_pem) else {
        let (attribute, detail) = match ca_pem {
            Some(_) => (
                "ca_private_key",
                "The cluster keeps its CA key out of the state (`ca_private_key_wo`): give the same key in \
                 `ca_private_key`.",
            ),
            None => (
                "cluster",
                "`cluster` must carry the cluster's `ca_certificate`: set `cluster = \
                 crdb_multiregion_cluster.<name>`.",
            ),
        };
        diags.attribute_error(AttributePath::root(attribute), "No cluster CA", detail);
        return Err(diags);
    };
    if diags.has_errors() {
        return Err(diags);
    }
    let refused = |summary: &str, why: String| {
        Diagnostics::with_attribute_error(AttributePath::root("cluster"), summary, why)
    };
    let ca = CertificateAuthority::from_pem(ca_pem, key_pem, now)
        .map_err(|e| refused("Cannot use the cluster CA", e.to_string()))?;
    let ttl = ttl_of(config.ttl.known().map_or(DEFAULT_TTL, String::as_str))
        .ok()
        .and_then(|ttl| time::Duration::try_from(ttl).ok())
        .unwrap_or(time::Duration::HOUR);
    let user = config.username.known().cloned().unwrap_or_default();
    let pair = pki::issue_client_certificate(&ca, &user, ttl, now)
        .map_err(|e| refused("Cannot issue the client certificate", e.to_string()))?;
    let expires_at = certificates::expires_at(&pair.cert_pem).ok_or_else(|| {
        refused(
            "Cannot issue the client certificate",
            "its expiry cannot be read back".into(),
        )
    })?;
    let mut result = config.clone();
    result.ttl = Attr::Known(
        config
            .ttl
            .known()
            .map_or(DEFAULT_TTL, String::as_str)
            .into(),
    );
    result.certificate = Attr::Known(pair.cert_pem);
    result.private_key = Attr::Known(pair.key_pem);
    result.ca_certificate = Attr::Known(ca.cert_pem().to_string());
    result.expires_at = Attr::Known(expires_at);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cockroach::pki::test_support::{
        assert_leaf_of, common_names, generated_ca, not_after, with_cert, NOW,
    };
    use crate::cockroach::pki::KeyPairPem;
    use crate::resources::client_certificate::model::ClusterCa;

    fn config(ca: &CertificateAuthority, user: &str, ttl: Option<&str>) -> ClientCertificateModel {
        ClientCertificateModel {
            cluster: Attr::Known(ClusterCa {
                ca_certificate: Attr::Known(ca.cert_pem().into()),
                ca_private_key: Attr::Known(ca.key_pem().into()),
            }),
            username: Attr::Known(user.into()),
            ttl: ttl.map_or(Attr::Null, |t| Attr::Known(t.into())),
            ..Default::default()
        }
    }

    fn errors(config: &ClientCertificateModel) -> Vec<(String, String)> {
        let mut diags = Diagnostics::new();
        validate(config, &mut diags);
        diags
            .0
            .iter()
            .map(|d| (d.path.as_ref().unwrap().to_string(), d.summary.clone()))
            .collect()
    }

    #[test]
    fn a_certificate_for_the_user_signed_by_the_cluster_ca_lasting_its_ttl() {
        let ca = generated_ca();
        let issued = issue(&config(&ca, "app", None), NOW).unwrap();
        let pair = KeyPairPem {
            cert_pem: issued.certificate.known().unwrap().clone(),
            key_pem: issued.private_key.known().unwrap().clone(),
        };
        assert_leaf_of(&ca, &pair);
        with_cert(&pair.cert_pem, |cert| {
            assert_eq!(common_names(cert), ["app"])
        });
        let whole_now = NOW.replace_nanosecond(0).unwrap();
        assert_eq!(not_after(&pair.cert_pem), whole_now + time::Duration::HOUR);
        assert_eq!(issued.ttl, Attr::Known("1h".into()), "the default");
        assert_eq!(issued.ca_certificate.known().unwrap(), ca.cert_pem());
        assert_eq!(
            issued.expires_at.known().unwrap(),
            &certificates::rfc3339(whole_now + time::Duration::HOUR).unwrap()
        );

        let day = issue(&config(&ca, "root", Some("24h")), NOW).unwrap();
        assert_eq!(
            not_after(day.certificate.known().unwrap()),
            whole_now + time::Duration::DAY
        );
        let again = issue(&config(&ca, "app", None), NOW).unwrap();
        assert_ne!(
            again.private_key, issued.private_key,
            "a new key each opening"
        );
    }

    #[test]
    fn the_ttl_has_a_floor_and_a_ceiling_and_the_user_cockroachdb_rules_on_their_attributes() {
        let ca = generated_ca();
        for good in ["5m", "1h", "90m", "24h"] {
            assert_eq!(errors(&config(&ca, "app", Some(good))), [], "{good}");
        }
        let ttl = |t: &str| errors(&config(&ca, "app", Some(t)));
        let bad = vec![("ttl".to_string(), "Invalid ttl".to_string())];
        for refused in ["4m59s", "0s", "24h1s", "720h", "soon", ""] {
            assert_eq!(ttl(refused), bad, "{refused}");
        }
        for refused in ["App", "node", ""] {
            assert_eq!(
                errors(&config(&ca, refused, None)),
                [("username".to_string(), "Invalid user name".to_string())],
                "{refused:?}"
            );
        }
        let mut unknown = config(&ca, "app", None);
        unknown.username = Attr::Unknown;
        unknown.ttl = Attr::Unknown;
        unknown.cluster = Attr::Unknown;
        assert_eq!(errors(&unknown), []);
    }

    #[test]
    fn no_ca_or_an_unusable_one_is_refused_on_cluster() {
        let ca = generated_ca();
        let mut missing = config(&ca, "app", None);
        missing.cluster = Attr::Known(ClusterCa::default());
        let paths = issue(&missing, NOW).unwrap_err().attribute_paths();
        assert_eq!(paths, ["cluster"]);
        let other = generated_ca();
        let mut mismatched = config(&ca, "app", None);
        mismatched.cluster = Attr::Known(ClusterCa {
            ca_certificate: Attr::Known(ca.cert_pem().into()),
            ca_private_key: Attr::Known(other.key_pem().into()),
        });
        let refused = issue(&mismatched, NOW).unwrap_err();
        assert_eq!(refused.attribute_paths(), ["cluster"]);
        let text = format!("{refused:?}");
        assert!(!text.contains("PRIVATE KEY"), "{text}");
        // An expired CA signs nothing.
        let expired = issue(&config(&ca, "app", None), NOW + time::Duration::days(3651));
        assert_eq!(expired.unwrap_err().attribute_paths(), ["cluster"]);
    }
}
