//! The certificate secrets of a zone. Data goes in `data` (not `stringData`): server-side apply then owns exactly
//! the keys written, and a later read compares like with like.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;

use super::names::{self, common_labels};
use super::spec::{ZoneCertificates, ZoneSpec};

pub const CA_CRT: &str = "ca.crt";
pub const NODE_CRT: &str = "node.crt";
pub const NODE_KEY: &str = "node.key";
pub const ROOT_CRT: &str = "client.root.crt";
pub const ROOT_KEY: &str = "client.root.key";

/// What the nodes mount as their certs directory. The root client files ride along so that an operator can run
/// `cockroach sql` inside a node pod, as the original procedure allowed.
pub fn node_secret(spec: &ZoneSpec, certs: &ZoneCertificates) -> Secret {
    secret(
        spec,
        names::NODE_SECRET,
        &spec.zone,
        [
            (CA_CRT, &certs.ca_crt),
            (NODE_CRT, &certs.node_crt),
            (NODE_KEY, &certs.node_key),
            (ROOT_CRT, &certs.root_crt),
            (ROOT_KEY, &certs.root_key),
        ],
    )
}

/// The `root` client files, in the zone (for the init Job) or in `default` (for users' client pods).
pub fn client_root_secret(spec: &ZoneSpec, certs: &ZoneCertificates, namespace: &str) -> Secret {
    let name = if namespace == spec.zone {
        names::CLIENT_ROOT_SECRET.to_owned()
    } else {
        spec.layout.default_client_root_secret_name(&spec.zone)
    };
    secret(
        spec,
        &name,
        namespace,
        [
            (CA_CRT, &certs.ca_crt),
            (ROOT_CRT, &certs.root_crt),
            (ROOT_KEY, &certs.root_key),
        ],
    )
}

fn secret<const N: usize>(
    spec: &ZoneSpec,
    name: &str,
    namespace: &str,
    files: [(&str, &String); N],
) -> Secret {
    let data: BTreeMap<String, ByteString> = files
        .into_iter()
        .map(|(key, pem)| (key.to_owned(), ByteString(pem.as_bytes().to_vec())))
        .collect();
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(common_labels(&spec.cluster_name, &spec.zone)),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(data),
        ..Secret::default()
    }
}

/// A file of a live secret, as text.
pub fn text<'a>(secret: Option<&'a Secret>, name: &str) -> Option<&'a str> {
    let data = secret?.data.as_ref()?.get(name)?;
    std::str::from_utf8(&data.0).ok()
}

/// A certificate and its key, as files of a live secret.
pub fn pair(secret: Option<&Secret>, certificate: &str, key: &str) -> Option<(String, String)> {
    Some((
        text(secret, certificate)?.to_owned(),
        text(secret, key)?.to_owned(),
    ))
}
