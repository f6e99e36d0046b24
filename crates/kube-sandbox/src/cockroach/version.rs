//! CockroachDB versions from image tags, and the upgrade rule the emulation enforces, as the public upgrade docs
//! give it: a binary runs on a cluster whose (finalized) version is its own or the major release right before it;
//! from v24.1 on, majors alternate between Regular releases and Innovation releases (24.2, 25.1, 25.3, 26.1),
//! which may be skipped, so a Regular binary also runs on the Regular release before the Innovation one
//! (v24.3 on a 24.1 cluster, v25.2 on 24.3).

/// Major releases in order (year.release), each with whether it is an Innovation release.
const MAJORS: &[(Major, bool)] = &[
    ((21, 1), false),
    ((21, 2), false),
    ((22, 1), false),
    ((22, 2), false),
    ((23, 1), false),
    ((23, 2), false),
    ((24, 1), false),
    ((24, 2), true),
    ((24, 3), false),
    ((25, 1), true),
    ((25, 2), false),
    ((25, 3), true),
    ((25, 4), false),
    ((26, 1), true),
    ((26, 2), false),
];

pub type Major = (u32, u32);

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
    let b = MAJORS.iter().position(|(m, _)| *m == binary)?;
    let previous = b.checked_sub(1)?;
    let (before, innovation) = MAJORS[previous];
    match previous.checked_sub(1) {
        Some(p) if innovation => Some(MAJORS[p].0),
        _ => Some(before),
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
        Some(minimum) if cluster < minimum && MAJORS.iter().any(|(m, _)| *m == cluster) => Err(format!(
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
}
