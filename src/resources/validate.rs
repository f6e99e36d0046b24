//! Pure checks of user input shared by the resources, each returning the sentence a diagnostic
//! shows.

/// Namespaces Kubernetes itself owns: a zone named like one would deploy into it and, on
/// destroy, delete it.
const RESERVED_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// A DNS-1123 label: what Kubernetes requires of namespace names.
pub fn dns1123_label(value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > 63 {
        return Err(format!("{value:?} must be 1 to 63 characters long"));
    }
    let bytes = value.as_bytes();
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    if !bytes.iter().copied().all(allowed) {
        return Err(format!(
            "{value:?} may contain only lowercase letters, digits and '-'"
        ));
    }
    if !bytes[0].is_ascii_alphanumeric() || !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
        return Err(format!(
            "{value:?} must start and end with a letter or digit"
        ));
    }
    Ok(())
}

/// A zone becomes a namespace of its own; it must be a valid name no one else owns.
pub fn zone_name(value: &str) -> Result<(), String> {
    dns1123_label(value)?;
    if RESERVED_NAMESPACES.contains(&value) {
        return Err(format!(
            "{value:?} is a namespace Kubernetes owns; each zone gets a namespace of its own, named after it"
        ));
    }
    Ok(())
}

/// A DNS-1123 subdomain such as `cluster.local`.
pub fn dns1123_subdomain(value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > 253 {
        return Err(format!("{value:?} must be 1 to 253 characters long"));
    }
    value.split('.').try_for_each(dns1123_label)
}

/// A container image reference split into repository, tag and digest.
#[derive(Debug, PartialEq, Eq)]
pub struct ImageReference<'a> {
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

pub fn parse_image(reference: &str) -> Result<ImageReference<'_>, String> {
    if reference.is_empty() || reference.chars().any(char::is_whitespace) {
        return Err(format!("{reference:?} is not an image reference"));
    }
    let (name, digest) = match reference.split_once('@') {
        Some((name, digest)) => {
            let (algorithm, hex) = digest
                .split_once(':')
                .ok_or_else(|| format!("digest {digest:?} must look like sha256:<hex>"))?;
            if algorithm.is_empty() || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(format!("digest {digest:?} must look like sha256:<hex>"));
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
        return Err(format!("{reference:?} has no repository name"));
    }
    let path = &repository[repository.find('/').map_or(0, |i| i + 1)..];
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!("repository {repository:?} must be lowercase"));
    }
    if let Some(tag) = tag {
        let valid = !tag.is_empty()
            && tag.len() <= 128
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            && !tag.starts_with(['.', '-']);
        if !valid {
            return Err(format!("tag {tag:?} is not a valid image tag"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_dns_1123() {
        assert!(dns1123_label("us-east1-b").is_ok());
        for bad in ["", "Upper", "-lead", "trail-", "dot.ted", &"x".repeat(64)] {
            assert!(dns1123_label(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(dns1123_subdomain("cluster.local").is_ok());
        assert!(dns1123_subdomain("cluster..local").is_err());
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
    }
}
