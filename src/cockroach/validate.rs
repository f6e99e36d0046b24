//! Pure checks of user input shared by the resources and the zone manifests, each returning the sentence a diagnostic
//! shows.

/// Why a value is refused: the sentence a diagnostic shows as its detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl From<String> for Invalid {
    fn from(sentence: String) -> Self {
        Invalid(sentence)
    }
}

/// A refusal with `sentence` as its reason: `return refuse(format!("..."))`.
pub fn refuse<T>(sentence: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid(sentence.into()))
}

/// The sentence itself, to quote or search.
impl std::ops::Deref for Invalid {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<Invalid> for String {
    fn from(invalid: Invalid) -> Self {
        invalid.0
    }
}

/// Namespaces Kubernetes itself owns: a zone named like one would deploy into it and, on
/// destroy, delete it.
const RESERVED_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// One of the values an attribute takes.
pub fn one_of(value: &str, allowed: &[&str]) -> Result<(), Invalid> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(Invalid(format!("{value:?} is not one of {allowed:?}.")))
    }
}

/// A whole number no smaller than `min`, for attribute `name`.
pub fn at_least(name: &str, value: i64, min: i64) -> Result<(), Invalid> {
    if value >= min {
        Ok(())
    } else {
        Err(Invalid(format!(
            "{name} must be {min} or more, got {value}."
        )))
    }
}

/// A whole number from `min` to `max`, for attribute `name`.
pub fn within(name: &str, value: i64, min: i64, max: i64) -> Result<(), Invalid> {
    at_least(name, value, min)?;
    if value <= max {
        Ok(())
    } else {
        Err(Invalid(format!(
            "{name} must be {max} or less, got {value}."
        )))
    }
}

/// A DNS-1123 label: what Kubernetes requires of namespace names.
pub fn dns1123_label(value: &str) -> Result<(), Invalid> {
    if value.is_empty() || value.len() > 63 {
        return Err(Invalid::from(format!(
            "{value:?} must be 1 to 63 characters long"
        )));
    }
    let bytes = value.as_bytes();
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    if !bytes.iter().copied().all(allowed) {
        return Err(Invalid::from(format!(
            "{value:?} may contain only lowercase letters, digits and '-'"
        )));
    }
    if !bytes[0].is_ascii_alphanumeric() || !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
        return Err(Invalid::from(format!(
            "{value:?} must start and end with a letter or digit"
        )));
    }
    Ok(())
}

/// A zone becomes a namespace of its own; it must be a valid name no one else owns.
pub fn zone_name(value: &str) -> Result<(), Invalid> {
    dns1123_label(value)?;
    if RESERVED_NAMESPACES.contains(&value) {
        return Err(Invalid::from(format!(
            "{value:?} is a namespace Kubernetes owns; each zone gets a namespace of its own, named after it"
        )));
    }
    Ok(())
}

/// A DNS-1123 subdomain such as `cluster.local`.
pub fn dns1123_subdomain(value: &str) -> Result<(), Invalid> {
    if value.is_empty() || value.len() > 253 {
        return Err(Invalid::from(format!(
            "{value:?} must be 1 to 253 characters long"
        )));
    }
    value.split('.').try_for_each(|label| {
        dns1123_label(label).map_err(|why| {
            Invalid::from(format!("{value:?} is not a DNS subdomain: its label {why}"))
        })
    })
}

/// A container image reference split into repository, tag and digest.
#[derive(Debug, PartialEq, Eq)]
pub struct ImageReference<'a> {
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

pub fn parse_image(reference: &str) -> Result<ImageReference<'_>, Invalid> {
    if reference.is_empty() || reference.chars().any(char::is_whitespace) {
        return Err(Invalid::from(format!(
            "{reference:?} is not an image reference"
        )));
    }
    let (name, digest) = match reference.split_once('@') {
        Some((name, digest)) => {
            let (algorithm, hex) = digest.split_once(':').ok_or_else(|| {
                Invalid::from(format!("digest {digest:?} must look like sha256:<hex>"))
            })?;
            if algorithm.is_empty() || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(Invalid::from(format!(
                    "digest {digest:?} must look like sha256:<hex>"
                )));
            }
            (name, Some(digest))
        }
        None => (reference, None),
    };
    // A ':' after the last '/' separates the tag; one before it belongs to a registry port.
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    if repository.is_empty() || repository.ends_with('/') || repository.contains("//") {
        return Err(Invalid::from(format!(
            "{reference:?} has no repository name"
        )));
    }
    let path = &repository[repository.find('/').map_or(0, |i| i + 1)..];
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(Invalid::from(format!(
            "repository {repository:?} must be lowercase"
        )));
    }
    if let Some(tag) = tag {
        let valid = !tag.is_empty()
            && tag.len() <= 128
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            && !tag.starts_with(['.', '-']);
        if !valid {
            return Err(Invalid::from(format!(
                "tag {tag:?} is not a valid image tag"
            )));
        }
    }
    Ok(ImageReference {
        repository,
        tag,
        digest,
    })
}

/// A CockroachDB release version `vMAJOR.MINOR.PATCH[-suffix]` as (major, minor, patch).
pub fn cockroach_version(tag: &str) -> Option<(u32, u32, u32)> {
    let core = tag.strip_prefix('v')?;
    let core = core.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

/// The CockroachDB major version of an image whose tag is a release version (`...:v24.1.3` -> 24.1).
pub fn image_major(image: &str) -> Option<crate::cockroach::upgrade::Major> {
    let (year, release, _) = cockroach_version(parse_image(image).ok()?.tag?)?;
    Some(crate::cockroach::upgrade::Major::new(year, release))
}

/// A Kubernetes resource quantity such as `100Gi` or `500m`, parsed exactly.
pub fn quantity(value: &str) -> Result<crate::cockroach::quantity::Quantity, Invalid> {
    crate::cockroach::quantity::Quantity::parse(value).map_err(|e| Invalid(e.to_string()))
}

/// The largest quantity the provider takes for a node's size (CPU, memory or volume): 1Ei, beyond any node
/// and far inside what the arithmetic of sizes and flags holds.
pub const MAX_QUANTITY: &str = "1Ei";

/// A node size (`storage_size`, `memory_limit`...): a quantity of at most [`MAX_QUANTITY`], and above zero
/// unless `zero_allowed` (a request of 0 asks for nothing; a volume or limit of 0 cannot run a node).
pub fn node_size(
    value: &str,
    zero_allowed: bool,
) -> Result<crate::cockroach::quantity::Quantity, Invalid> {
    let parsed = quantity(value)?;
    let amount = parsed.nanos();
    let max = quantity(MAX_QUANTITY)?.nanos();
    if amount.is_none() || amount > max {
        return Err(Invalid::from(format!(
            "{value:?} is larger than the provider's limit of {MAX_QUANTITY}."
        )));
    }
    if !zero_allowed && amount == Some(0) {
        return Err(Invalid::from(format!(
            "{value:?} is zero; a node needs more than that."
        )));
    }
    Ok(parsed)
}

/// A request must not exceed its limit: Kubernetes would reject the pod template.
pub fn request_within_limit(request: Option<&str>, limit: Option<&str>) -> Result<(), Invalid> {
    let (Some(request), Some(limit)) = (request, limit) else {
        return Ok(());
    };
    let (Ok(wanted), Ok(allowed)) = (quantity(request), quantity(limit)) else {
        // Each value gets its own diagnostic from `quantity`.
        return Ok(());
    };
    match (wanted.nanos(), allowed.nanos()) {
        (Some(w), Some(a)) if w > a => Err(Invalid::from(format!(
            "the request {request:?} exceeds the limit {limit:?}"
        ))),
        _ => Ok(()),
    }
}

/// A label value (`app.kubernetes.io/part-of` carries the cluster name): up to 63 letters, digits, `-`, `_`
/// and `.`, beginning and ending with a letter or digit.
pub fn label_value(value: &str) -> Result<(), Invalid> {
    let bytes = value.as_bytes();
    let inner = |b: &u8| b.is_ascii_alphanumeric() || b"-_.".contains(b);
    let well_formed = !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(inner)
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric();
    if well_formed {
        Ok(())
    } else {
        Err(Invalid::from(format!(
            "{value:?} must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        )))
    }
}

/// The most nodes one zone may run: far beyond any real zone, and well inside the StatefulSet's 32-bit count.
pub const MAX_REPLICAS: i64 = 1000;

/// `value` quoted whole, or its first 40 characters and its length when longer: a diagnostic shows what was
/// given without repeating a page of text.
fn quoted_prefix(value: &str) -> String {
    match value.char_indices().nth(40) {
        Some((end, _)) => format!("{:?}… ({} bytes)", &value[..end], value.len()),
        None => format!("{value:?}"),
    }
}

/// A value of `--locality` (`region=<value>`): CockroachDB splits the flag on `,` and `=`, and the value also
/// becomes part of the node command line.
pub fn locality_value(value: &str) -> Result<(), Invalid> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    // 63 like a label value: a region names the nodes' pods and Services and CockroachDB's SQL regions.
    if value.is_empty() || value.len() > 63 || !value.chars().all(allowed) {
        return Err(Invalid::from(format!(
            "{} must be a locality value of 1 to 63 letters, digits, '-', '_' and '.'",
            quoted_prefix(value)
        )));
    }
    Ok(())
}

/// One `--join` entry: a DNS name or IP address with an optional port.
pub fn join_address(value: &str) -> Result<(), Invalid> {
    let (host, port) = match value.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (value, None),
    };
    if let Some(port) = port {
        if !matches!(port.parse::<u16>(), Ok(p) if p > 0) {
            return Err(Invalid::from(format!(
                "{value:?} has an invalid port {port:?}"
            )));
        }
    }
    if host.parse::<std::net::IpAddr>().is_ok() || dns1123_subdomain(host).is_ok() {
        Ok(())
    } else {
        Err(Invalid::from(format!(
            "{value:?} is not a join address: expected a DNS name or IP address with an optional port"
        )))
    }
}

/// An annotation key: an optional DNS-subdomain prefix and `/`, then a name of up to 63 letters, digits, `-`,
/// `_` and `.` that begins and ends with a letter or digit.
pub fn annotation_key(key: &str) -> Result<(), Invalid> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| dns1123_subdomain(p).is_ok());
    if prefix_ok && label_value(name).is_ok() {
        Ok(())
    } else {
        Err(Invalid::from(format!(
            "{key:?} is not an annotation key: expected an optional DNS subdomain prefix and '/', then up to 63 \
             letters, digits, '-', '_' or '.'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_sizes_are_above_zero_and_at_most_the_limit() {
        assert!(node_size("100Gi", false).is_ok());
        assert!(node_size("0", true).is_ok());
        assert!(node_size("1Ei", false).is_ok());
        for (bad, why) in [
            ("0", "zero"),
            ("0Gi", "zero"),
            ("1e999", "limit of 1Ei"),
            ("1025Pi", "limit of 1Ei"),
            ("99999999999999999999999999999", "limit of 1Ei"),
            ("-1Gi", "negative"),
        ] {
            let refused = node_size(bad, false).unwrap_err();
            assert!(refused.contains(why), "{bad:?}: {refused}");
        }
        let too_large = request_within_limit(Some("2Ei"), Some("8Gi")).unwrap_err();
        assert!(too_large.contains("exceeds"), "{too_large}");
    }

    #[test]
    fn labels_follow_dns_1123() {
        assert!(dns1123_label("us-east1-b").is_ok());
        for bad in ["", "Upper", "-lead", "trail-", "dot.ted", &"x".repeat(64)] {
            assert!(dns1123_label(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(dns1123_subdomain("cluster.local").is_ok());
        let why = dns1123_subdomain("cluster..local").unwrap_err();
        assert!(
            why.contains("\"cluster..local\" is not a DNS subdomain"),
            "{why}"
        );
    }

    #[test]
    fn zones_may_not_take_kubernetes_namespaces() {
        assert!(zone_name("europe-west1-b").is_ok());
        let why = zone_name("kube-system").unwrap_err();
        assert!(why.contains("Kubernetes owns"), "{why}");
    }

    #[test]
    fn image_references_split_into_parts() {
        assert_eq!(
            parse_image("cockroachdb/cockroach:v24.1.0").unwrap(),
            ImageReference {
                repository: "cockroachdb/cockroach",
                tag: Some("v24.1.0"),
                digest: None
            }
        );
        let with_port = parse_image("registry.local:5000/crdb/cockroach:v23.2.1").unwrap();
        assert_eq!(with_port.repository, "registry.local:5000/crdb/cockroach");
        assert_eq!(with_port.tag, Some("v23.2.1"));
        let digest = format!("cockroachdb/cockroach@sha256:{}", "a".repeat(64));
        assert_eq!(parse_image(&digest).unwrap().tag, None);
        for bad in [
            "",
            "has space:v1",
            "Cockroach/DB:v1",
            "repo:",
            "repo@sha256:xyz",
            ":v1",
        ] {
            assert!(parse_image(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn versions_parse_from_release_tags() {
        assert_eq!(cockroach_version("v24.1.0"), Some((24, 1, 0)));
        assert_eq!(cockroach_version("v23.2.10-rc.1"), Some((23, 2, 10)));
        assert_eq!(cockroach_version("latest"), None);
        assert_eq!(cockroach_version("v24.1"), None);
        assert_eq!(
            image_major("registry:5000/cockroachdb/cockroach:v24.3.2").map(|m| m.to_string()),
            Some("24.3".to_string())
        );
        assert_eq!(image_major("cockroachdb/cockroach:latest"), None);
        assert_eq!(
            image_major("cockroachdb/cockroach@sha256:0123456789abcdef0123456789abcdef"),
            None
        );
    }

    #[test]
    fn quantities_and_bounds() {
        assert!(quantity("1.5Gi").is_ok());
        assert!(quantity("1.5GB")
            .unwrap_err()
            .contains("not a Kubernetes quantity"));
        assert!(request_within_limit(Some("500m"), Some("1")).is_ok());
        assert!(request_within_limit(Some("2"), Some("1500m")).is_err());
        assert!(request_within_limit(Some("8Gi"), Some("8G")).is_err());
        assert!(request_within_limit(None, Some("1")).is_ok());
    }

    #[test]
    fn label_values_locality_join_and_annotations() {
        assert!(label_value("my_cluster.v2").is_ok());
        for bad in ["", "-x", "x-", "a b", &"x".repeat(64)] {
            assert!(label_value(bad).is_err(), "{bad:?}");
        }
        assert!(locality_value("us-east1").is_ok());
        for bad in ["", "a,b", "a=b", "a b", "$(x)", &"r".repeat(64)] {
            assert!(locality_value(bad).is_err(), "{bad:?}");
        }
        let long = locality_value(&"r".repeat(10_000)).unwrap_err().to_string();
        assert!(long.contains("(10000 bytes)") && long.len() < 200, "{long}");
        for good in [
            "cockroachdb-0.cockroachdb.us-east1-b",
            "10.0.0.1:26257",
            "host:26257",
        ] {
            assert!(join_address(good).is_ok(), "{good:?}");
        }
        for bad in ["", "a,b", "host:0", "host:x", "Bad_Host", "a b"] {
            assert!(join_address(bad).is_err(), "{bad:?}");
        }
        assert!(annotation_key("service.beta.kubernetes.io/aws-load-balancer-type").is_ok());
        assert!(annotation_key("plain").is_ok());
        for bad in ["", "/x", "Bad_Prefix/x", "x/", "a b"] {
            assert!(annotation_key(bad).is_err(), "{bad:?}");
        }
    }
}
