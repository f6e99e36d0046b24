//! The certificate checks `cockroach start` and `cockroach init` make on their certs directory, so that a wrong
//! SAN, a foreign CA, a missing EKU or a key readable by others fails in the sandbox the way it fails for real.

use std::collections::BTreeMap;

use ring::signature::KeyPair;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;

/// One file of a mounted certs directory: contents and the permission bits the kubelet would give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFile {
    pub data: Vec<u8>,
    pub mode: u32,
}

/// The files visible at the certs directory, keyed by file name.
pub type CertsDir = BTreeMap<String, CertFile>;

/// Checks what a node needs: ca.crt, node.crt signed by it, principal `node`, serverAuth+clientAuth, SANs
/// covering every name in `dns_names` (the names peers and clients dial), a matching private key kept private.
pub fn check_node(dir: &CertsDir, dns_names: &[String]) -> Result<(), String> {
    let ca_pems = pems(dir, "ca.crt")?;
    let node_pems = pems(dir, "node.crt")?;
    let ca = first_cert(&ca_pems, "ca.crt")?;
    check_is_ca(&ca)?;
    let node = first_cert(&node_pems, "node.crt")?;
    check_signed_by(&node, &ca_pems, "node.crt")?;
    check_current(&node, "node.crt")?;
    let principals = principals(&node);
    if !principals.iter().any(|p| p == "node") {
        return Err(format!(
            "node certificate has principals {principals:?}; expected \"node\" (common name or a DNS SAN)"
        ));
    }
    let (server, client) = ext_key_usage(&node);
    if !server || !client {
        return Err(format!(
            "node certificate must be usable for both server and client authentication (ExtKeyUsage serverAuth={server}, clientAuth={client})"
        ));
    }
    let sans = dns_sans(&node);
    for name in dns_names {
        if !sans.iter().any(|san| san_matches(san, name)) {
            return Err(format!(
                "x509: certificate is valid for {}, not {name} (node.crt SANs do not cover this pod's address)",
                sans.join(", ")
            ));
        }
    }
    check_key(dir, "node.key", &node)
}

/// Checks what `cockroach init` needs to act as `root`: a CA, client.root.crt with CN=root and clientAuth signed by
/// the nodes' CA (`node_ca_pem`, the ca.crt the target node trusts), and a private matching key.
pub fn check_root_client(dir: &CertsDir, node_ca_pem: Option<&[u8]>) -> Result<(), String> {
    let own_ca_pems = pems(dir, "ca.crt")?;
    let cert_pems = pems(dir, "client.root.crt")?;
    let cert = first_cert(&cert_pems, "client.root.crt")?;
    let cn = common_names(&cert);
    if !cn.iter().any(|c| c == "root") {
        return Err(format!(
            "client certificate has common name {cn:?}; expected \"root\""
        ));
    }
    let (_, client) = ext_key_usage(&cert);
    if !client {
        return Err("client certificate is not valid for client authentication (ExtKeyUsage clientAuth missing)".into());
    }
    check_current(&cert, "client.root.crt")?;
    check_signed_by(&cert, &own_ca_pems, "client.root.crt")?;
    if let Some(node_ca) = node_ca_pem {
        let node_ca_pems = parse_pems(node_ca).map_err(|e| format!("node ca.crt: {e}"))?;
        check_signed_by(&cert, &node_ca_pems, "client.root.crt")
            .map_err(|_| "x509: certificate signed by unknown authority (client.root.crt is not signed by the CA the nodes trust)".to_string())?;
    }
    check_key(dir, "client.root.key", &cert)
}

/// Whether `peer`'s node certificate is current and chains to a CA in `trusting`'s `ca.crt` (which may hold
/// several CAs while they rotate): what one node's TLS handshake accepts of another.
pub fn trusts(trusting: &CertsDir, peer: &CertsDir) -> bool {
    let (Ok(cas), Ok(node)) = (pems(trusting, "ca.crt"), pems(peer, "node.crt")) else {
        return false;
    };
    first_cert(&node, "node.crt").is_ok_and(|cert| {
        check_current(&cert, "node.crt").is_ok() && check_signed_by(&cert, &cas, "node.crt").is_ok()
    })
}

/// Whether the node certificate a process loaded is still current: once it expires, every peer's TLS handshake
/// refuses it (and the node's own outgoing connections present it), so the node drops out of the cluster.
pub fn node_certificate_current(dir: &CertsDir) -> Result<(), String> {
    let node = pems(dir, "node.crt")?;
    let cert = first_cert(&node, "node.crt")?;
    check_current(&cert, "node.crt")
}

/// Two nodes talk only when each trusts the other's certificate (mutual TLS between peers).
pub fn mutual(a: &CertsDir, b: &CertsDir) -> bool {
    trusts(a, b) && trusts(b, a)
}

fn pems(dir: &CertsDir, file: &str) -> Result<Vec<Pem>, String> {
    let f = dir
        .get(file)
        .ok_or_else(|| format!("no {file} found in the certs directory"))?;
    parse_pems(&f.data).map_err(|e| format!("{file}: {e}"))
}

fn parse_pems(data: &[u8]) -> Result<Vec<Pem>, String> {
    let pems: Vec<Pem> = Pem::iter_from_buffer(data)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("invalid PEM: {e}"))?;
    if pems.is_empty() {
        return Err("no PEM block".into());
    }
    Ok(pems)
}

fn first_cert<'a>(pems: &'a [Pem], file: &str) -> Result<X509Certificate<'a>, String> {
    let pem = pems
        .iter()
        .find(|p| p.label == "CERTIFICATE")
        .ok_or_else(|| format!("{file}: no CERTIFICATE block"))?;
    pem.parse_x509()
        .map_err(|e| format!("{file}: failed to parse certificate: {e}"))
}

fn check_is_ca(ca: &X509Certificate) -> Result<(), String> {
    let is_ca = ca
        .basic_constraints()
        .ok()
        .flatten()
        .is_some_and(|bc| bc.value.ca);
    if !is_ca {
        return Err("ca.crt is not a CA certificate (basicConstraints CA:true missing)".into());
    }
    check_current(ca, "ca.crt")
}

fn check_current(cert: &X509Certificate, file: &str) -> Result<(), String> {
    if !cert.validity().is_valid() {
        return Err(format!(
            "{file}: certificate has expired or is not yet valid (valid from {} to {})",
            cert.validity().not_before,
            cert.validity().not_after
        ));
    }
    Ok(())
}

fn check_signed_by(cert: &X509Certificate, ca_pems: &[Pem], file: &str) -> Result<(), String> {
    let signed = ca_pems
        .iter()
        .filter(|p| p.label == "CERTIFICATE")
        .any(|p| {
            p.parse_x509().is_ok_and(|ca| {
                ca.subject() == cert.issuer()
                    && cert.verify_signature(Some(ca.public_key())).is_ok()
            })
        });
    if signed {
        Ok(())
    } else {
        Err(format!(
            "{file}: x509: certificate signed by unknown authority (not signed by ca.crt)"
        ))
    }
}

fn common_names(cert: &X509Certificate) -> Vec<String> {
    cert.subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .map(str::to_string)
        .collect()
}

fn dns_sans(cert: &X509Certificate) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => out.push(d.to_string()),
                GeneralName::IPAddress(ip) if ip.len() == 4 => {
                    out.push(format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]))
                }
                _ => {}
            }
        }
    }
    out
}

/// CockroachDB reads a certificate's principals from its common name and its DNS SANs.
fn principals(cert: &X509Certificate) -> Vec<String> {
    let mut p = common_names(cert);
    p.extend(dns_sans(cert));
    p
}

fn ext_key_usage(cert: &X509Certificate) -> (bool, bool) {
    match cert.extended_key_usage() {
        Ok(Some(eku)) => (
            eku.value.server_auth || eku.value.any,
            eku.value.client_auth || eku.value.any,
        ),
        _ => (false, false),
    }
}

/// TLS hostname matching: exact (case-insensitive), or a leading `*.` standing for exactly one label.
pub fn san_matches(san: &str, name: &str) -> bool {
    let san = san.trim_end_matches('.').to_ascii_lowercase();
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if san == name {
        return true;
    }
    match (san.strip_prefix("*."), name.split_once('.')) {
        (Some(rest), Some((first, name_rest))) => !first.is_empty() && rest == name_rest,
        _ => false,
    }
}

fn check_key(dir: &CertsDir, file: &str, cert: &X509Certificate) -> Result<(), String> {
    let f = dir
        .get(file)
        .ok_or_else(|| format!("no {file} found in the certs directory"))?;
    // Like the real binary: a key readable by group or others is refused before it is even parsed.
    if f.mode & 0o077 != 0 {
        return Err(format!(
            "key file {file} has permissions {}, exceeds -rwx------ (set the secret volume's defaultMode to 0400)",
            mode_string(f.mode)
        ));
    }
    let pems = parse_pems(&f.data).map_err(|e| format!("{file}: {e}"))?;
    let pem = pems
        .iter()
        .find(|p| p.label.ends_with("PRIVATE KEY"))
        .ok_or_else(|| format!("{file}: no PRIVATE KEY block"))?;
    let public = public_key_of(&pem.label, &pem.contents)
        .ok_or_else(|| format!("{file}: unsupported or invalid private key"))?;
    if public != cert.public_key().subject_public_key.data.as_ref() {
        return Err(format!(
            "{file}: tls: private key does not match public key"
        ));
    }
    Ok(())
}

fn public_key_of(label: &str, der: &[u8]) -> Option<Vec<u8>> {
    use ring::signature as sig;
    let rng = ring::rand::SystemRandom::new();
    match label {
        "PRIVATE KEY" => {
            for alg in [
                &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
                &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
            ] {
                if let Ok(k) = sig::EcdsaKeyPair::from_pkcs8(alg, der, &rng) {
                    return Some(k.public_key().as_ref().to_vec());
                }
            }
            if let Ok(k) = sig::RsaKeyPair::from_pkcs8(der) {
                return Some(k.public_key().as_ref().to_vec());
            }
            sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .ok()
                .map(|k| k.public_key().as_ref().to_vec())
        }
        "RSA PRIVATE KEY" => sig::RsaKeyPair::from_der(der)
            .ok()
            .map(|k| k.public_key().as_ref().to_vec()),
        "EC PRIVATE KEY" => sec1_public_key(der),
        _ => None,
    }
}

/// SEC1 keys carry their public point in the optional `[1]` field; ring cannot load SEC1, and the point is all we
/// need, so it is read from the fixed encodings of P-256 and P-384.
fn sec1_public_key(der: &[u8]) -> Option<Vec<u8>> {
    for (marker, len) in [
        ([0xa1u8, 0x44, 0x03, 0x42, 0x00], 65usize),
        ([0xa1, 0x64, 0x03, 0x62, 0x00], 97),
    ] {
        if let Some(at) = der.windows(marker.len()).position(|w| w == marker) {
            let start = at + marker.len();
            return der.get(start..start + len).map(<[u8]>::to_vec);
        }
    }
    None
}

fn mode_string(mode: u32) -> String {
    let bits = ['r', 'w', 'x'];
    let mut s = String::from("-");
    for shift in [6, 3, 0] {
        for (i, c) in bits.iter().enumerate() {
            s.push(if mode >> shift & (4 >> i) != 0 {
                *c
            } else {
                '-'
            });
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };

    pub struct Ca {
        pub pem: String,
        issuer: Issuer<'static, KeyPair>,
    }

    fn ca() -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(DnType::CommonName, "Cockroach CA");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(p, key),
        }
    }

    fn leaf(
        ca: &Ca,
        cn: &str,
        sans: &[&str],
        eku: Vec<ExtendedKeyUsagePurpose>,
    ) -> (String, String) {
        let mut p =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = eku;
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &ca.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn both() -> Vec<ExtendedKeyUsagePurpose> {
        vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ]
    }

    const ZONE_SANS: &[&str] = &[
        "localhost",
        "node",
        "*.cockroachdb.east",
        "*.cockroachdb.east.svc.cluster.local",
    ];

    fn names() -> Vec<String> {
        vec![
            "cockroachdb-0.cockroachdb.east".into(),
            "cockroachdb-0.cockroachdb.east.svc.cluster.local".into(),
        ]
    }

    fn dir(files: &[(&str, &str, u32)]) -> CertsDir {
        files
            .iter()
            .map(|(n, d, m)| {
                (
                    n.to_string(),
                    CertFile {
                        data: d.as_bytes().to_vec(),
                        mode: *m,
                    },
                )
            })
            .collect()
    }

    fn node_dir(ca: &Ca, cert: &str, key: &str, key_mode: u32) -> CertsDir {
        dir(&[
            ("ca.crt", &ca.pem, 0o400),
            ("node.crt", cert, 0o400),
            ("node.key", key, key_mode),
        ])
    }

    #[test]
    fn good_node_certificate_passes() {
        let ca = ca();
        let (cert, key) = leaf(&ca, "node", ZONE_SANS, both());
        check_node(&node_dir(&ca, &cert, &key, 0o400), &names()).unwrap();
    }

    #[test]
    fn wrong_san_is_named_in_the_error() {
        let ca = ca();
        let (cert, key) = leaf(
            &ca,
            "node",
            &["*.cockroachdb.west", "*.cockroachdb.west.svc.cluster.local"],
            both(),
        );
        let err = check_node(&node_dir(&ca, &cert, &key, 0o400), &names()).unwrap_err();
        assert!(err.contains("not cockroachdb-0.cockroachdb.east"), "{err}");
    }

    #[test]
    fn foreign_ca_is_refused() {
        let (ca1, ca2) = (ca(), ca());
        let (cert, key) = leaf(&ca2, "node", ZONE_SANS, both());
        let err = check_node(&node_dir(&ca1, &cert, &key, 0o400), &names()).unwrap_err();
        assert!(err.contains("unknown authority"), "{err}");
    }

    #[test]
    fn server_only_eku_is_refused() {
        let ca = ca();
        let (cert, key) = leaf(
            &ca,
            "node",
            ZONE_SANS,
            vec![ExtendedKeyUsagePurpose::ServerAuth],
        );
        let err = check_node(&node_dir(&ca, &cert, &key, 0o400), &names()).unwrap_err();
        assert!(err.contains("clientAuth=false"), "{err}");
    }

    #[test]
    fn principal_node_is_required() {
        let ca = ca();
        let sans: Vec<&str> = ZONE_SANS.iter().copied().filter(|s| *s != "node").collect();
        let (cert, key) = leaf(&ca, "cockroachdb", &sans, both());
        let err = check_node(&node_dir(&ca, &cert, &key, 0o400), &names()).unwrap_err();
        assert!(err.contains("expected \"node\""), "{err}");
    }

    #[test]
    fn mismatched_key_is_refused() {
        let ca = ca();
        let (cert, _) = leaf(&ca, "node", ZONE_SANS, both());
        let (_, other_key) = leaf(&ca, "node", ZONE_SANS, both());
        let err = check_node(&node_dir(&ca, &cert, &other_key, 0o400), &names()).unwrap_err();
        assert!(err.contains("does not match"), "{err}");
    }

    #[test]
    fn world_readable_key_is_refused() {
        let ca = ca();
        let (cert, key) = leaf(&ca, "node", ZONE_SANS, both());
        let err = check_node(&node_dir(&ca, &cert, &key, 0o644), &names()).unwrap_err();
        assert!(err.contains("-rw-r--r--"), "{err}");
    }

    #[test]
    fn missing_files_are_named() {
        let ca = ca();
        let err = check_node(&dir(&[("ca.crt", &ca.pem, 0o400)]), &names()).unwrap_err();
        assert!(err.contains("no node.crt"), "{err}");
    }

    #[test]
    fn root_client_checks() {
        let (ca1, ca2) = (ca(), ca());
        let (cert, key) = leaf(&ca1, "root", &[], vec![ExtendedKeyUsagePurpose::ClientAuth]);
        let d = dir(&[
            ("ca.crt", &ca1.pem, 0o400),
            ("client.root.crt", &cert, 0o400),
            ("client.root.key", &key, 0o400),
        ]);
        check_root_client(&d, Some(ca1.pem.as_bytes())).unwrap();
        let err = check_root_client(&d, Some(ca2.pem.as_bytes())).unwrap_err();
        assert!(err.contains("unknown authority"), "{err}");

        let (cert, key) = leaf(
            &ca1,
            "admin",
            &[],
            vec![ExtendedKeyUsagePurpose::ClientAuth],
        );
        let d = dir(&[
            ("ca.crt", &ca1.pem, 0o400),
            ("client.root.crt", &cert, 0o400),
            ("client.root.key", &key, 0o400),
        ]);
        assert!(check_root_client(&d, None)
            .unwrap_err()
            .contains("expected \"root\""));
    }

    #[test]
    fn wildcard_matches_one_label_only() {
        assert!(san_matches(
            "*.cockroachdb.east",
            "cockroachdb-0.cockroachdb.east"
        ));
        assert!(!san_matches("*.cockroachdb.east", "a.b.cockroachdb.east"));
        assert!(!san_matches("*.cockroachdb.east", "cockroachdb.east"));
        assert!(san_matches("Node", "node"));
    }
}
