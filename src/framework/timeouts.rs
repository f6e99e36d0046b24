//! The `timeouts { create = "30m" ... }` block users know from other providers.
use super::diag::{AttributePath, Diagnostics};
use super::model::Attr;
use super::schema::{Attribute, Block};
use super::types::Type;
use super::value::Value;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Read,
    Update,
    Delete,
}

impl Operation {
    pub fn attribute(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Read => "read",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

/// The schema of a `timeouts` block offering the given operations.
pub fn block(operations: &[Operation]) -> Block {
    operations.iter().fold(
        Block::new(
            "Time limits for each operation, as Go durations such as `30s`, `20m` or `1h30m`, from `1s` (less \
             cannot finish one Kubernetes call, so every operation would fail at once) to `168h` (7 days).",
        ),
        |block, op| {
            let description = match op {
                Operation::Create => "How long creation may take before it fails.",
                Operation::Read => "How long reading the live objects may take.",
                Operation::Update => "How long an update (scale, upgrade, repair) may take.",
                Operation::Delete => {
                    "How long deletion may take, including waiting for the namespace to disappear."
                }
            };
            block.attribute(Attribute::optional(
                op.attribute(),
                Type::String,
                description,
            ))
        },
    )
}

/// The limit for `operation` from a resource's `timeouts` block, or `default`.
pub fn limit(timeouts: &Attr<Value>, operation: Operation, default: Duration) -> Duration {
    let Attr::Known(timeouts) = timeouts else {
        return default;
    };
    match timeouts.attr(operation.attribute()).as_str() {
        Some(text) => parse_duration_between(text, MIN_TIMEOUT, MAX_DURATION).unwrap_or(default),
        None => default,
    }
}

/// Adds a diagnostic for each unparsable duration in a `timeouts` block.
pub fn validate(timeouts: &Attr<Value>, diags: &mut Diagnostics) {
    let Some(attrs) = timeouts.known().and_then(Value::as_object) else {
        return;
    };
    for (name, value) in attrs {
        if let Value::String(text) = value {
            if let Err(why) = parse_duration_between(text, MIN_TIMEOUT, MAX_DURATION) {
                diags.attribute_error(
                    AttributePath::root("timeouts").attr(name),
                    "Invalid duration",
                    format!("{text:?} is not a duration: {why}. Use forms like \"90s\", \"20m\" or \"1h30m\"."),
                );
            }
        }
    }
}

/// Why a duration cannot be read: the sentence a diagnostic quotes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidDuration(String);

/// The longest time limit a `timeouts` block may set: a week, far beyond any operation's need and far
/// below what a clock can add without overflowing.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The shortest limit a `timeouts` block may set: about one Kubernetes call.
pub const MIN_TIMEOUT: Duration = Duration::from_secs(1);

/// Parses Go-style durations: a sequence of `<number><unit>` with Go's units (h, m, s, ms, us/µs/μs, ns),
/// summing to at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, InvalidDuration> {
    parse_duration_within(text, MAX_DURATION)
}

/// [`parse_duration_within`] `max`, and at least `min`: a limit shorter than what any operation needs would only
/// make it fail at once.
pub fn parse_duration_between(
    text: &str,
    min: Duration,
    max: Duration,
) -> Result<Duration, InvalidDuration> {
    let duration = parse_duration_within(text, max)?;
    if duration < min {
        return Err(InvalidDuration(format!(
            "it is shorter than the minimum of {}s",
            min.as_secs()
        )));
    }
    Ok(duration)
}

/// [`parse_duration`] with another ceiling (certificate lifetimes run to years).
pub fn parse_duration_within(text: &str, max: Duration) -> Result<Duration, InvalidDuration> {
    let too_long = || {
        InvalidDuration(format!(
            "it is longer than the provider's limit of {}h",
            max.as_secs() / 3600
        ))
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(InvalidDuration("it is empty".into()));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| InvalidDuration(format!("{rest:?} has no unit")))?;
        if digits == 0 {
            return Err(InvalidDuration(format!("expected a number at {rest:?}")));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| InvalidDuration(format!("{:?} is not a number", &rest[..digits])))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e-6,
            "ns" => 1e-9,
            other => return Err(InvalidDuration(format!("unknown unit {other:?}"))),
        };
        let term = number * seconds;
        // Checked before converting: `Duration::from_secs_f64` panics beyond its range.
        if !term.is_finite() || term > max.as_secs_f64() {
            return Err(too_long());
        }
        total = total
            .checked_add(Duration::from_secs_f64(term))
            .filter(|sum| *sum <= max)
            .ok_or_else(too_long)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        for bad in ["", "10", "m", "5 minutes", "3d", "1..5s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(parse_duration("168h").unwrap(), MAX_DURATION);
        // Go's three spellings of microseconds (micro sign, Greek mu, u) and nanoseconds.
        for micro in ["5\u{b5}s", "5\u{3bc}s", "5us"] {
            assert_eq!(
                parse_duration(micro).unwrap(),
                Duration::from_micros(5),
                "{micro}"
            );
        }
        assert_eq!(parse_duration("1m1500ns").unwrap(), Duration::new(60, 1500));
    }

    #[test]
    fn limits_below_the_floor_are_refused() {
        assert!(parse_duration_between("999ms", MIN_TIMEOUT, MAX_DURATION)
            .unwrap_err()
            .0
            .contains("minimum of 1s"));
        assert!(parse_duration_between("0s", MIN_TIMEOUT, MAX_DURATION).is_err());
        assert_eq!(
            parse_duration_between("1s", MIN_TIMEOUT, MAX_DURATION),
            Ok(MIN_TIMEOUT)
        );
        let timeouts = Value::Object(BTreeMap::from([(
            "create".to_string(),
            Value::string("1ms"),
        )]));
        let mut diags = Diagnostics::new();
        validate(&Attr::Known(timeouts.clone()), &mut diags);
        assert_eq!(diags.attribute_paths(), ["timeouts.create"]);
        let default = Duration::from_secs(600);
        assert_eq!(
            limit(&Attr::Known(timeouts), Operation::Create, default),
            default
        );
    }

    #[test]
    fn durations_beyond_the_limit_are_refused_not_panicked_on() {
        for huge in [
            "18446744073709551616s",
            "18000000000000000000s",
            "6000000000000000h",
            "168h1s",
            "100h100h",
            &format!("{}s", "9".repeat(400)),
        ] {
            let why = parse_duration(huge).unwrap_err();
            assert!(why.0.contains("168h"), "{huge:?}: {why}");
        }
    }

    #[test]
    fn limits_fall_back_to_the_default_and_bad_values_get_a_diagnostic() {
        let timeouts = Value::Object(BTreeMap::from([
            ("create".to_string(), Value::string("2m")),
            ("delete".to_string(), Value::string("soon")),
        ]));
        let default = Duration::from_secs(600);
        assert_eq!(
            limit(&Attr::Known(timeouts.clone()), Operation::Create, default),
            Duration::from_secs(120)
        );
        assert_eq!(
            limit(&Attr::Known(timeouts.clone()), Operation::Update, default),
            default
        );
        let mut diags = Diagnostics::new();
        validate(&Attr::Known(timeouts), &mut diags);
        assert_eq!(diags.0.len(), 1);
        assert_eq!(
            diags.0[0].path.as_ref().unwrap().to_string(),
            "timeouts.delete"
        );
    }
}
