//! CockroachDB versions from image tags, and the upgrade rule the emulation enforces: a binary runs on a
//! cluster whose version is its own or the major release right before it (one step at a time, the rule the
//! public upgrade docs give; innovation releases that may be skipped are not modelled).

/// Major releases in order (year.release).
const MAJORS: &[(u32, u32)] = &[
    (21, 1),
    (21, 2),
    (22, 1),
    (22, 2),
    (23, 1),
    (23, 2),
    (24, 1),
    (24, 2),
    (24, 3),
    (25, 1),
    (25, 2),
    (25, 3),
    (25, 4),
    (26, 1),
    (26, 2),
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

pub fn display(m: Major) -> String {
    format!("{}.{}", m.0, m.1)
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
    let index = |m: Major| MAJORS.iter().position(|x| *x == m);
    match (index(cluster), index(binary)) {
        (Some(c), Some(b)) if b > c + 1 => Err(format!(
            "ERROR: cluster version {} is too old for running binary v{} (minimum supported version: {}); upgrade one major version at a time",
            display(cluster),
            display(binary),
            display(MAJORS[b - 1])
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
    }

    #[test]
    fn one_major_step_at_a_time() {
        assert!(check_join((24, 1), (24, 1)).is_ok());
        assert!(check_join((24, 1), (24, 2)).is_ok());
        assert!(check_join((24, 1), (24, 3))
            .unwrap_err()
            .contains("too old"));
        assert!(check_join((24, 2), (24, 1))
            .unwrap_err()
            .contains("older than the cluster version"));
    }
}
