//! CockroachDB's rules for moving a running cluster from one version to another, as its public documentation
//! gives them ("Upgrade CockroachDB self-hosted": Types of upgrades, Compatible versions, Roll back, Finalize;
//! the release table `versions.csv` of the cockroachdb/docs repository for which majors are Innovation releases):
//!
//! - Majors are named `vYY.R`. Until 2023 there were two a year (X.1, X.2), each a required step:
//!   22.2 -> 23.1 -> 23.2 -> 24.1.
//! - From v24.1 on, majors alternate between Regular releases and Innovation releases. Innovation releases (so
//!   far v24.2, v25.1, v25.3, v26.1: six months of support, no assistance phase) may be skipped; Regular ones
//!   (v24.1, v24.3, v25.2, v25.4, v26.2) may not. 2024 had three majors; 2025 four, X.1 and X.3 Innovation.
//!   Later years are assumed to follow 2025's pattern.
//! - From a Regular release a cluster may move to the next major (an Innovation release) or to the Regular
//!   release after it; from an Innovation release only to the next Regular release.
//! - A major-version upgrade finalizes by itself once every node runs the new binary, unless the cluster setting
//!   `cluster.preserve_downgrade_option` holds the old major. Until it is finalized, the cluster may be rolled
//!   back to the major it came from; after that, never (only a restore from backup goes back).
//! - Patch releases within a major may be exchanged freely, either way.
use std::fmt;

/// A CockroachDB major version, `24.1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Major {
    pub year: u32,
    pub release: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseKind {
    /// Before v24.1: every major is a step no upgrade may skip.
    Required,
    Regular,
    /// May be skipped by an upgrade from the Regular release before it.
    Innovation,
}

/// The first year of the release sequence this module knows; earlier tags are not judged.
const FIRST_YEAR: u32 = 19;

impl Major {
    pub const fn new(year: u32, release: u32) -> Major {
        Major { year, release }
    }

    /// `24.1` (the form of cluster settings and of `cluster_version`).
    pub fn parse(text: &str) -> Option<Major> {
        let (year, release) = text.split_once('.')?;
        Some(Major::new(year.parse().ok()?, release.parse().ok()?))
    }

    fn releases_in(year: u32) -> Option<u32> {
        match year {
            y if y < FIRST_YEAR => None,
            19..=23 => Some(2),
            24 => Some(3),
            _ => Some(4),
        }
    }

    /// Whether the release sequence has this major.
    pub fn is_known(self) -> bool {
        Self::releases_in(self.year).is_some_and(|n| (1..=n).contains(&self.release))
    }

    pub fn kind(self) -> ReleaseKind {
        match self.year {
            y if y < 24 => ReleaseKind::Required,
            24 if self.release == 2 => ReleaseKind::Innovation,
            24 => ReleaseKind::Regular,
            _ if self.release % 2 == 1 => ReleaseKind::Innovation,
            _ => ReleaseKind::Regular,
        }
    }

    /// The major released after this one.
    pub fn next(self) -> Major {
        match Self::releases_in(self.year) {
            Some(n) if self.release < n => Major::new(self.year, self.release + 1),
            _ => Major::new(self.year + 1, 1),
        }
    }

    /// The majors a finalized cluster at this version may upgrade to, nearest first.
    pub fn upgrade_targets(self) -> Vec<Major> {
        let next = self.next();
        if self.kind() == ReleaseKind::Regular && next.kind() == ReleaseKind::Innovation {
            vec![next, next.next()]
        } else {
            vec![next]
        }
    }
}

impl fmt::Display for Major {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.year, self.release)
    }
}

/// Where a cluster stands: the major its nodes run and the major it is finalized at. They differ while a
/// major-version upgrade is not finalized (`cluster.preserve_downgrade_option` holds `finalized`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    pub running: Major,
    pub finalized: Major,
}

impl Standing {
    pub fn finalized_at(major: Major) -> Standing {
        Standing {
            running: major,
            finalized: major,
        }
    }

    pub fn is_finalized(self) -> bool {
        self.running == self.finalized
    }

    /// The sentence that says which versions may come next.
    pub fn allowed_next(self) -> String {
        let patches = format!("any v{}.x patch release", self.running);
        if !self.is_finalized() {
            return format!(
                "Allowed now: {patches}, or v{}.x to roll back. Finalize the upgrade (upgrade_finalization = \
                 \"auto\") before the next major version.",
                self.finalized
            );
        }
        let targets: Vec<String> = self
            .running
            .upgrade_targets()
            .into_iter()
            .map(|m| match m.kind() {
                ReleaseKind::Innovation => {
                    format!("v{m}.x (an Innovation release, which may be skipped)")
                }
                _ => format!("v{m}.x"),
            })
            .collect();
        format!("Allowed next: {patches}, {}.", targets.join(" or "))
    }
}

/// What an image change does to the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Within the running major.
    Patch,
    Upgrade {
        from: Major,
        to: Major,
    },
    /// Back to the major an unfinalized upgrade came from.
    Rollback {
        to: Major,
    },
    /// A major this module does not know: not judged.
    Unjudged,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub summary: String,
    pub detail: String,
}

/// Judges moving a cluster that stands at `from` to binaries of major `to`. `finalize` says whether the same
/// change also finalizes (automatic finalization): a rollback cannot, because finalizing first would make the
/// upgrade permanent while the nodes still run the newer binary.
pub fn judge(from: Standing, to: Major, finalize: bool) -> Result<Change, Refusal> {
    if to == from.running {
        return Ok(Change::Patch);
    }
    if !to.is_known() || !from.running.is_known() || !from.finalized.is_known() {
        return Ok(Change::Unjudged);
    }
    let refuse = |summary: &str, why: String| {
        Err(Refusal {
            summary: summary.to_string(),
            detail: format!("{why} {}", from.allowed_next()),
        })
    };
    if !from.is_finalized() {
        if to == from.finalized {
            if finalize {
                return refuse(
                    "Rollback and finalization in one change",
                    format!(
                        "Rolling back to v{to} must keep upgrade_finalization = \"manual\" until every node runs \
                         v{to} again: finalizing first would make the upgrade to v{} permanent. Roll back, apply, \
                         then switch to \"auto\".",
                        from.running
                    ),
                );
            }
            return Ok(Change::Rollback { to });
        }
        return refuse(
            "Upgrade not finalized",
            format!(
                "The cluster runs v{} but is still finalized at v{}, so it can move only within v{} or back to \
                 v{}, not to v{to}.",
                from.running, from.finalized, from.running, from.finalized
            ),
        );
    }
    if to < from.running {
        return refuse(
            "CockroachDB cannot be downgraded",
            format!(
                "The cluster is finalized at v{}: a binary of v{to} would not start on it. A downgrade is possible \
                 only back to the major version of an upgrade that is not finalized (upgrade_finalization = \
                 \"manual\").",
                from.running
            ),
        );
    }
    if from.running.upgrade_targets().contains(&to) {
        return Ok(Change::Upgrade {
            from: from.running,
            to,
        });
    }
    refuse(
        "Upgrade skips a required major version",
        format!(
            "CockroachDB upgrades one major version at a time (only Innovation releases may be skipped): v{} \
             cannot go straight to v{to}; a binary of v{to} would refuse to join the cluster.",
            from.running
        ),
    )
}

/// The statement that holds the cluster at `major` until `finalize_statement` runs.
pub fn preserve_statement(major: Major) -> String {
    format!("SET CLUSTER SETTING cluster.preserve_downgrade_option = '{major}';")
}

/// Lets CockroachDB finalize: once every node runs the new binary, the cluster version moves.
pub const FINALIZE_STATEMENT: &str = "RESET CLUSTER SETTING cluster.preserve_downgrade_option;";

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> Major {
        Major::parse(text).unwrap()
    }

    fn at(text: &str) -> Standing {
        Standing::finalized_at(m(text))
    }

    #[test]
    fn the_release_sequence_follows_the_docs() {
        let mut seen = Vec::new();
        let mut major = m("22.2");
        while major <= m("26.2") {
            seen.push(major.to_string());
            major = major.next();
        }
        assert_eq!(
            seen,
            [
                "22.2", "23.1", "23.2", "24.1", "24.2", "24.3", "25.1", "25.2", "25.3", "25.4",
                "26.1", "26.2"
            ]
        );
        let innovation: Vec<String> = [
            "24.1", "24.2", "24.3", "25.1", "25.2", "25.3", "25.4", "26.1", "26.2",
        ]
        .iter()
        .filter(|t| m(t).kind() == ReleaseKind::Innovation)
        .map(|t| t.to_string())
        .collect();
        assert_eq!(innovation, ["24.2", "25.1", "25.3", "26.1"]);
        assert!(!m("24.4").is_known() && !m("23.3").is_known() && !m("2.1").is_known());
    }

    #[test]
    fn a_regular_release_may_skip_the_innovation_release_after_it() {
        assert_eq!(m("23.1").upgrade_targets(), [m("23.2")]);
        assert_eq!(m("23.2").upgrade_targets(), [m("24.1")]);
        assert_eq!(m("24.1").upgrade_targets(), [m("24.2"), m("24.3")]);
        assert_eq!(m("24.2").upgrade_targets(), [m("24.3")]);
        assert_eq!(m("24.3").upgrade_targets(), [m("25.1"), m("25.2")]);
        assert_eq!(m("25.1").upgrade_targets(), [m("25.2")]);
        assert_eq!(m("25.4").upgrade_targets(), [m("26.1"), m("26.2")]);
    }

    #[test]
    fn one_legal_step_forward_is_an_upgrade() {
        for (from, to) in [
            ("23.1", "23.2"),
            ("23.2", "24.1"),
            ("24.1", "24.2"),
            ("24.1", "24.3"),
            ("24.2", "24.3"),
            ("24.3", "25.2"),
        ] {
            assert_eq!(
                judge(at(from), m(to), true),
                Ok(Change::Upgrade {
                    from: m(from),
                    to: m(to)
                }),
                "{from} -> {to}"
            );
        }
        assert_eq!(judge(at("24.1"), m("24.1"), true), Ok(Change::Patch));
    }

    #[test]
    fn skipping_a_required_major_is_refused_naming_what_may_come_next() {
        for (from, to) in [
            ("23.1", "24.1"),
            ("24.1", "25.1"),
            ("24.2", "25.1"),
            ("24.1", "25.2"),
            ("23.2", "24.2"),
        ] {
            let refusal = judge(at(from), m(to), true).unwrap_err();
            assert_eq!(refusal.summary, "Upgrade skips a required major version");
            assert!(
                refusal.detail.contains(&format!("v{from}.x patch")),
                "{refusal:?}"
            );
        }
        let refusal = judge(at("24.1"), m("25.1"), false).unwrap_err();
        assert!(
            refusal.detail.ends_with(
                "Allowed next: any v24.1.x patch release, v24.2.x (an Innovation release, which may be skipped) \
                 or v24.3.x."
            ),
            "{}",
            refusal.detail
        );
    }

    #[test]
    fn a_downgrade_is_refused_once_finalized() {
        let refusal = judge(at("24.3"), m("24.1"), false).unwrap_err();
        assert_eq!(refusal.summary, "CockroachDB cannot be downgraded");
        assert!(refusal.detail.contains("v25.1.x"), "{}", refusal.detail);
    }

    #[test]
    fn an_unfinalized_upgrade_may_roll_back_but_not_move_on() {
        let open = Standing {
            running: m("24.3"),
            finalized: m("24.1"),
        };
        assert_eq!(
            judge(open, m("24.1"), false),
            Ok(Change::Rollback { to: m("24.1") })
        );
        assert_eq!(judge(open, m("24.3"), false), Ok(Change::Patch));
        for to in ["25.1", "25.2", "24.2", "23.2"] {
            let refusal = judge(open, m(to), false).unwrap_err();
            assert_eq!(refusal.summary, "Upgrade not finalized", "{to}");
            assert!(
                refusal.detail.contains("or v24.1.x to roll back"),
                "{}",
                refusal.detail
            );
        }
        let refusal = judge(open, m("24.1"), true).unwrap_err();
        assert_eq!(refusal.summary, "Rollback and finalization in one change");
    }

    #[test]
    fn majors_outside_the_sequence_are_not_judged() {
        assert_eq!(judge(at("24.1"), m("24.4"), true), Ok(Change::Unjudged));
        assert_eq!(judge(at("2.1"), m("24.1"), true), Ok(Change::Unjudged));
    }

    #[test]
    fn statements_name_the_major() {
        assert_eq!(
            preserve_statement(m("24.1")),
            "SET CLUSTER SETTING cluster.preserve_downgrade_option = '24.1';"
        );
    }
}
