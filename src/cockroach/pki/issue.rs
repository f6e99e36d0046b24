//! Node and client certificates, shaped the way CockroachDB checks them.

use std::net::{IpAddr, Ipv4Addr};

use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use super::authority::{subject, CertificateAuthority, ORGANIZATION};
use super::error::{PkiError, PkiInput};
use super::KeyPairPem;

/// The principal CockroachDB requires in a node certificate (CN, and here also a DNS SAN).
pub(crate) const NODE_PRINCIPAL: &str = "node";

pub(crate) const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A client certificate for SQL user `user` (`root` for the cluster's own operations): `CN=<user>`, clientAuth.
pub fn issue_client_certificate(
    ca: &CertificateAuthority,
    user: &str,
    validity: Duration,
    now: OffsetDateTime,
) -> Result<KeyPairPem, PkiError> {
    validate_sql_user(user)?;
    issue(
        ca,
        user,
        Vec::new(),
        &[ExtendedKeyUsagePurpose::ClientAuth],
        validity,
        now,
    )
}

/// The certificate of every node of `zone`. Nodes also use it as the client certificate towards their peers, hence
/// both serverAuth and clientAuth.
pub fn issue_node_certificate(
    ca: &CertificateAuthority,
    zone: &str,
    cluster_domain: &str,
    validity: Duration,
    now: OffsetDateTime,
) -> Result<KeyPairPem, PkiError> {
    let mut names: Vec<SanType> = node_certificate_dns_names(zone, cluster_domain)?
        .into_iter()
        .map(|name| {
            name.clone().try_into().map(SanType::DnsName).map_err(|_| {
                PkiError::invalid(PkiInput::Zone, format!("`{name}` is not a valid DNS name"))
            })
        })
        .collect::<Result<_, _>>()?;
    names.push(SanType::IpAddress(LOOPBACK));
    issue(
        ca,
        NODE_PRINCIPAL,
        names,
        &[
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
        validity,
        now,
    )
}

/// The DNS names a node of `zone` answers to: its own pod names through the headless service, the public service in
/// its namespace and through the `default` namespace alias, loopback, and the `node` principal. `127.0.0.1` comes on
/// top as an IP address.
pub fn node_certificate_dns_names(
    zone: &str,
    cluster_domain: &str,
) -> Result<Vec<String>, PkiError> {
    validate_dns_label(PkiInput::Zone, zone)?;
    validate_cluster_domain(cluster_domain)?;
    Ok(vec![
        NODE_PRINCIPAL.to_owned(),
        "localhost".to_owned(),
        "cockroachdb-public".to_owned(),
        "cockroachdb-public.default".to_owned(),
        format!("cockroachdb-public.{zone}"),
        format!("cockroachdb-public.{zone}.svc.{cluster_domain}"),
        "*.cockroachdb".to_owned(),
        format!("*.cockroachdb.{zone}"),
        format!("*.cockroachdb.{zone}.svc.{cluster_domain}"),
    ])
}

fn issue(
    ca: &CertificateAuthority,
    common_name: &str,
    subject_alt_names: Vec<SanType>,
    extended_key_usages: &[ExtendedKeyUsagePurpose],
    validity: Duration,
    now: OffsetDateTime,
) -> Result<KeyPairPem, PkiError> {
    let signer = ca.signer()?;
    let (not_before, not_after) = signer.leaf_validity(validity, now)?;

    let mut params = CertificateParams::default();
    params.distinguished_name = subject(&[
        (DnType::OrganizationName, ORGANIZATION),
        (DnType::CommonName, common_name),
    ]);
    params.subject_alt_names = subject_alt_names;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = extended_key_usages.to_vec();
    params.not_before = not_before;
    params.not_after = not_after;

    let key = KeyPair::generate().map_err(PkiError::signing)?;
    let cert = signer.sign(params, &key)?;
    Ok(KeyPairPem {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// CockroachDB's rule for creating SQL user names (`^[\p{Ll}0-9_][-\p{Ll}0-9_.]*$`, at most 63 bytes). It folds
/// the names users log in with to lowercase before comparing them with the certificate's CN, so an uppercase CN
/// could never match.
pub fn validate_sql_user(user: &str) -> Result<(), PkiError> {
    crate::cockroach::sql::username(user).map_err(|why| PkiError::invalid(PkiInput::User, why))?;
    if user == NODE_PRINCIPAL {
        // A client certificate with CN=node would carry the nodes' own privileges.
        return Err(PkiError::invalid(
            PkiInput::User,
            "`node` is reserved for the nodes' own certificates",
        ));
    }
    Ok(())
}

/// A Kubernetes namespace name: an RFC 1123 label.
fn validate_dns_label(input: PkiInput, label: &str) -> Result<(), PkiError> {
    let well_formed = !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-');
    if well_formed {
        Ok(())
    } else {
        Err(PkiError::invalid(
            input,
            format!("`{label}` is not a DNS label: 1 to 63 lowercase letters, digits and `-`, not starting or ending with `-`"),
        ))
    }
}

fn validate_cluster_domain(domain: &str) -> Result<(), PkiError> {
    if domain.len() > 253 {
        return Err(PkiError::invalid(
            PkiInput::ClusterDomain,
            "must be at most 253 characters long",
        ));
    }
    for label in domain.split('.') {
        validate_dns_label(PkiInput::ClusterDomain, label).map_err(|_| {
            PkiError::invalid(
                PkiInput::ClusterDomain,
                format!("`{domain}` is not a DNS name like `cluster.local` (no trailing dot, lowercase labels)"),
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_user_names_follow_cockroachdb_rules() {
        for good in ["root", "app_user", "_svc", "9lives", "jean.luc-p", "zoë"] {
            assert!(validate_sql_user(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Root",
            "-x",
            ".x",
            "a b",
            "a/b",
            "node",
            &"a".repeat(64),
        ] {
            assert!(validate_sql_user(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn zones_are_dns_labels_and_domains_dns_names() {
        assert!(node_certificate_dns_names("us-east1-b", "cluster.local").is_ok());
        assert!(node_certificate_dns_names("a", "corp").is_ok());
        for zone in ["", "US", "-a", "a-", "a.b", "a_b", &"a".repeat(64)] {
            let error = node_certificate_dns_names(zone, "cluster.local").unwrap_err();
            assert!(
                matches!(
                    error,
                    PkiError::InvalidInput {
                        input: PkiInput::Zone,
                        ..
                    }
                ),
                "{zone}: {error}"
            );
        }
        for domain in [
            "",
            "cluster.local.",
            ".local",
            "Cluster.local",
            "a..b",
            "*.local",
        ] {
            let error = node_certificate_dns_names("zone", domain).unwrap_err();
            assert!(
                matches!(
                    error,
                    PkiError::InvalidInput {
                        input: PkiInput::ClusterDomain,
                        ..
                    }
                ),
                "{domain}: {error}"
            );
        }
    }
}
