//! The shape every step of a zone's apply shares (see `apply.rs`): a pure predicate in the step's topic file says
//! whether the step is needed and why, and the director logs that before it runs the step or skips it.

/// Whether a step of the apply is needed, and why, in words for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Need {
    Run(String),
    Skip(String),
}

impl Need {
    pub fn run(why: impl Into<String>) -> Need {
        Need::Run(why.into())
    }

    pub fn skip(why: impl Into<String>) -> Need {
        Need::Skip(why.into())
    }

    pub fn is_run(&self) -> bool {
        matches!(self, Need::Run(_))
    }
}

/// Logs at DEBUG that `step` runs in `zone`, or is skipped, and why; true when it runs.
pub(super) fn runs(zone: &str, step: &str, need: Need) -> bool {
    match &need {
        Need::Run(why) => tracing::debug!(zone, step, why = %why, "running a step of the apply"),
        Need::Skip(why) => tracing::debug!(zone, step, why = %why, "skipping a step of the apply"),
    }
    need.is_run()
}
