//! CockroachDB's released versions, kept here once: which image tags a registry holds (only real releases start a
//! node), and the upgrade rule the emulation enforces, as the public upgrade docs give it: a binary runs on a
//! cluster whose (finalized) version is its own or the major release right before it; from v24.1 on, majors
//! alternate between Regular releases and Innovation releases (24.2, 25.1, 25.3, 26.1), which may be skipped, so a
//! Regular binary also runs on the Regular release before the Innovation one (v24.3 on a 24.1 cluster, v25.2 on
//! 24.3).

/// One major release line.
struct Line {
    major: Major,
    innovation: bool,
    /// The last patch release published as a `cockroachdb/cockroach` image that this table knows of (every patch
    /// from `.0` up to it was published); `None` for a line announced but not released yet.
    last_patch: Option<u32>,
}

const fn line(major: Major, innovation: bool, last_patch: Option<u32>) -> Line {
    Line {
        major,
        innovation,
        last_patch,
    }
}

/// Major releases in order, from CockroachDB's release index (Production releases only: alphas, betas and release
/// candidates go to `cockroachdb/cockroach-unstable`, and cloud-only patches, such as v25.1.9 on, are not
/// published as images).
const LINES: &[Line] = &[
    line((21, 1), false, Some(21)),
    line((21, 2), false, Some(17)),
    line((22, 1), false, Some(22)),
    line((22, 2), false, Some(19)),
    line((23, 1), false, Some(30)),
    line((23, 2), false, Some(30)),
    line((24, 1), false, Some(26)),
    line((24, 2), true, Some(10)),
    line((24, 3), false, Some(26)),
    line((25, 1), true, Some(8)),
    line((25, 2), false, Some(12)),
    line((25, 3), true, Some(7)),
    line((25, 4), false, Some(4)),
    line((26, 1), true, Some(0)),
    line((26, 2), false, None),
];

pub type Major = (u32, u32);

/// A tag's version: `v25.2.0` -> (25, 2, 0); `None` for anything else (`latest`, `v25.2`, `v25.2.0-rc.1`).
fn release_of_tag(tag: &str) -> Option<(u32, u32, u32)> {
    let mut parts = tag.strip_prefix('v')?.splitn(3, '.');
    let mut number = || -> Option<u32> {
        let digits = parts.next()?;
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        canonical.then(|| digits.parse().ok()).flatten()
    };
    Some((number()?, number()?, number()?))
}

/// Whether the registry holds `tag` of `cockroachdb/cockroach`: a released version, `latest`, or `latest-vYY.R`
/// for a line with a release.
pub fn is_released_tag(tag: &str) -> bool {
    if tag == "latest" {
        return true;
    }
    let released = |major: Major, patch: Option<u32>| {
        LINES.iter().any(|l| {
            l.major == major
                && l.last_patch
                    .is_some_and(|last| patch.is_none_or(|p| p <= last))
        })
    };
    if let Some(line) = tag.strip_prefix("latest-") {
        return line
            .strip_prefix('v')
            .and_then(parse)
            .is_some_and(|major| released(major, None));
    }
    release_of_tag(tag).is_some_and(|(year, release, patch)| released((year, release), Some(patch)))
}

/// The image's repository name and tag (`None` for a digest reference or no tag): `registry:5000/a/cockroach:v1`
/// -> (`registry:5000/a/cockroach`, `v1`).
fn split_image(image: &str) -> (&str, Option<&str>) {
    if image.contains('@') {
        return (image.split('@').next().unwrap_or(image), None);
    }
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    match image[name_start..].rfind(':') {
        Some(colon) => (
            &image[..name_start + colon],
            Some(&image[name_start + colon + 1..]),
        ),
        None => (image, Some("latest")),
    }
}

/// Whether `image` names the CockroachDB image, under any registry or mirror path: its last path segment is
/// `cockroach` (`cockroachdb/cockroach`, `registry.local:5000/mirror/cockroach`).
pub fn is_cockroach_image(image: &str) -> bool {
    let (repository, _) = split_image(image);
    repository.rsplit('/').next() == Some("cockroach")
}

/// Whether a registry would serve `image`: other images always, CockroachDB's only at a released tag (or by
/// digest, which is not checked).
pub fn registry_has(image: &str) -> bool {
    if !is_cockroach_image(image) {
        return true;
    }
    match split_image(image) {
        (_, Some(tag)) => is_released_tag(tag),
        (_, None) => true,
    }
}

/// `cockroachdb/cockroach:v25.2.0` -> (25, 2); None for `latest`, digests or unknown tags (no checks then).
pub fn major_of_image(image: &str) -> Option<Major> {
    let tag = image
        .rsplit('/')
        .next()?
        .split('@')
        .next()?
        .split_once(':')?
        .1;
    let mut parts = tag.trim_start_matches('v').split(['.', '-']);
    let year = parts.next()?.parse().ok()?;
    let release = parts.next()?.parse().ok()?;
    Some((year, release))
}

/// `24.1` -> (24, 1), the form cluster settings take.
pub fn parse(text: &str) -> Option<Major> {
    let (year, release) = text.trim().split_once('.')?;
    Some((year.parse().ok()?, release.parse().ok()?))
}

pub fn display(m: Major) -> String {
    format!("{}.{}", m.0, m.1)
}

/// The oldest cluster version a binary of major `binary` runs on, when the release sequence knows it.
pub fn minimum_supported(binary: Major) -> Option<Major> {
    let b = LINES.iter().position(|l| l.major == binary)?;
    let previous = b.checked_sub(1)?;
    let before = &LINES[previous];
    match previous.checked_sub(1) {
        Some(p) if before.innovation => Some(LINES[p].major),
        _ => Some(before.major),
    }
}

/// Whether a binary of version `binary` can join a cluster at `cluster`; Err says why not, as the node
/// would before exiting.
pub fn check_join(cluster: Major, binary: Major) -> Result<(), String> {
    if binary < cluster {
        return Err(format!(
            "ERROR: binary version {} is older than the cluster version {}; a node cannot be downgraded past a finalized upgrade",
            display(binary),
            display(cluster)
        ));
    }
    match minimum_supported(binary) {
        Some(minimum) if cluster < minimum && LINES.iter().any(|l| l.major == cluster) => Err(format!(
            "ERROR: cluster version {} is too old for running binary v{} (minimum supported version: {}); upgrade one major version at a time",
            display(cluster),
            display(binary),
            display(minimum)
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_parse() {
        assert_eq!(
            major_of_image("cockroachdb/cockroach:v25.2.0"),
            Some((25, 2))
        );
        assert_eq!(
            major_of_image("registry:5000/cockroachdb/cockroach:v24.3.11-fips"),
            Some((24, 3))
        );
        assert_eq!(major_of_image("cockroachdb/cockroach:latest"), None);
        assert_eq!(major_of_image("cockroachdb/cockroach"), None);
        assert_eq!(parse("24.1"), Some((24, 1)));
        assert_eq!(parse("24"), None);
    }

    #[test]
    fn one_major_step_at_a_time_where_innovation_releases_may_be_skipped() {
        assert!(check_join((24, 1), (24, 1)).is_ok());
        assert!(check_join((24, 1), (24, 2)).is_ok());
        assert!(
            check_join((24, 1), (24, 3)).is_ok(),
            "24.2 is an innovation release"
        );
        assert!(check_join((24, 3), (25, 2)).is_ok(), "25.1 too");
        assert!(check_join((24, 2), (25, 1))
            .unwrap_err()
            .contains("minimum supported version: 24.3"));
        assert!(check_join((23, 2), (24, 2))
            .unwrap_err()
            .contains("too old"));
        assert!(
            check_join((23, 2), (24, 3)).is_err(),
            "24.1 is a regular release"
        );
        assert!(check_join((24, 1), (25, 1)).is_err());
        assert!(check_join((24, 2), (24, 1))
            .unwrap_err()
            .contains("older than the cluster version"));
    }

    #[test]
    fn only_released_tags_are_in_the_registry() {
        for tag in [
            "v21.1.0",
            "v23.1.0",
            "v23.2.5",
            "v24.1.0",
            "v24.1.26",
            "v24.2.10",
            "v24.3.11",
            "v25.1.1",
            "v25.2.0",
            "v25.3.0",
            "v25.4.4",
            "v26.1.0",
            "latest",
            "latest-v25.4",
        ] {
            assert!(is_released_tag(tag), "{tag}");
        }
        for tag in [
            "v99",
            "v24.1",
            "v24.1.27",
            "v25.1.9",
            "v26.1.1",
            "v26.2.0",
            "v20.2.0",
            "v25.2.0-rc.1",
            "v25.2.00",
            "v25.02.0",
            "25.2.0",
            "v25.2.0.1",
            "1",
            "",
            "latest-v26.2",
            "latest-v99.1",
            "v24.3.11-fips",
        ] {
            assert!(!is_released_tag(tag), "{tag}");
        }
    }

    #[test]
    fn the_image_name_decides_not_the_registry_path() {
        for image in [
            "cockroachdb/cockroach:v25.2.0",
            "registry.local:5000/mirror/cockroach:v24.1.0",
            "gcr.io/acme/cockroach:v24.3.2",
            "cockroachdb/cockroach",
            "cockroachdb/cockroach@sha256:0123",
            "busybox",
            "registry.local:5000/cockroachdb/cockroach-operator:v99",
            "nginx:1.27",
        ] {
            assert!(registry_has(image), "{image}");
        }
        for image in [
            "cockroachdb/cockroach:v99",
            "registry.local:5000/mirror/cockroach:v24.1.99",
            "cockroach:1",
            "localhost:5000/cockroach:v25.2.0-beta.1",
        ] {
            assert!(is_cockroach_image(image), "{image}");
            assert!(!registry_has(image), "{image}");
        }
        assert!(!is_cockroach_image(
            "cockroachdb/cockroach-operator:v2.17.0"
        ));
    }
}
