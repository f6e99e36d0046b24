//! Certificate lifetimes as settings, and the one rule every resource renews by: a certificate whose expiry is
//! closer than the renewal window is issued again at the next apply, and the plan says so. Pure: `now` is passed
//! in, so the rule is tested without clocks.
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::timeouts::parse_duration_within;
use crate::framework::Attr;
use time::{Duration, OffsetDateTime};

/// Node and client certificates last a year unless configured otherwise.
pub const DEFAULT_CERTIFICATE_VALIDITY: &str = "8760h";
/// Renewed 30 days before they expire.
pub const DEFAULT_CERTIFICATE_RENEWAL: &str = "720h";
/// A generated CA lasts ten years.
pub const DEFAULT_CA_VALIDITY: &str = "87600h";

/// The shortest certificate lifetime accepted: short enough for tests that watch a renewal happen, long enough
/// for a rolling restart of a small cluster to finish inside it.
const MIN_VALIDITY: std::time::Duration = std::time::Duration::from_secs(60);
/// Node and client certificates: at most ten years.
const MAX_CERTIFICATE_VALIDITY: std::time::Duration = std::time::Duration::from_secs(87_600 * 3600);
/// A generated CA: at most a hundred years (X.509 dates end in 9999 anyway).
const MAX_CA_VALIDITY: std::time::Duration = std::time::Duration::from_secs(876_000 * 3600);

/// The lifetimes a cluster issues with, read from its settings (defaults where unset or unreadable: validation
/// reports the unreadable ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetimes {
    pub certificate_validity: Duration,
    pub certificate_renewal: Duration,
    pub ca_validity: Duration,
}

impl Lifetimes {
    pub fn of(validity: &Attr<String>, renewal: &Attr<String>, ca_validity: &Attr<String>) -> Self {
        let read = |attr: &Attr<String>, default: &str, max| {
            let text = attr.known().map_or(default, String::as_str);
            let parsed = parse_duration_within(text, max)
                .or_else(|_| parse_duration_within(default, max))
                .unwrap_or(MIN_VALIDITY);
            Duration::try_from(parsed).unwrap_or(Duration::MAX)
        };
        Lifetimes {
            certificate_validity: read(
                validity,
                DEFAULT_CERTIFICATE_VALIDITY,
                MAX_CERTIFICATE_VALIDITY,
            ),
            certificate_renewal: read(
                renewal,
                DEFAULT_CERTIFICATE_RENEWAL,
                MAX_CERTIFICATE_VALIDITY,
            ),
            ca_validity: read(ca_validity, DEFAULT_CA_VALIDITY, MAX_CA_VALIDITY),
        }
    }
}

/// Checks the three settings, each on its own attribute: readable, within limits, the renewal window shorter than
/// the certificates' lifetime, and the CA outliving the certificates it signs.
pub fn validate(
    validity: &Attr<String>,
    renewal: &Attr<String>,
    ca_validity: &Attr<String>,
    diags: &mut Diagnostics,
) {
    // Each setting's value (its default when unset); None when unknown or refused.
    let mut read = |name: &str, attr: &Attr<String>, default: &str, max: std::time::Duration| {
        let text = match attr {
            Attr::Known(text) => text.as_str(),
            Attr::Null => default,
            Attr::Unknown => return None,
        };
        let minimum = if name == "certificate_renewal" {
            std::time::Duration::from_secs(1)
        } else {
            MIN_VALIDITY
        };
        match parse_duration_within(text, max) {
            Err(why) => diags.attribute_error(
                AttributePath::root(name),
                "Invalid duration",
                format!("{text:?} is not a duration: {why}. Use Go durations like \"8760h\", \"720h\" or \"90m\"."),
            ),
            Ok(d) if d < minimum => diags.attribute_error(
                AttributePath::root(name),
                "Duration too short",
                format!("{name} is {text:?}; it must be at least {}.", go_duration(minimum)),
            ),
            Ok(d) => return Some(d),
        }
        None
    };
    let validity_value = read(
        "certificate_validity",
        validity,
        DEFAULT_CERTIFICATE_VALIDITY,
        MAX_CERTIFICATE_VALIDITY,
    );
    let renewal_value = read(
        "certificate_renewal",
        renewal,
        DEFAULT_CERTIFICATE_RENEWAL,
        MAX_CERTIFICATE_VALIDITY,
    );
    let ca_value = read(
        "ca_validity",
        ca_validity,
        DEFAULT_CA_VALIDITY,
        MAX_CA_VALIDITY,
    );
    if let (Some(v), Some(r)) = (validity_value, renewal_value) {
        if r >= v {
            let blamed = if renewal.is_null() {
                "certificate_validity"
            } else {
                "certificate_renewal"
            };
            diags.attribute_error(
                AttributePath::root(blamed),
                "Renewal window not shorter than the certificates' lifetime",
                format!(
                    "certificate_renewal ({}) must be shorter than certificate_validity ({}): otherwise every \
                     certificate would be due for renewal as soon as it is issued.",
                    go_duration(r),
                    go_duration(v)
                ),
            );
        }
    }
    if let (Some(v), Some(ca)) = (validity_value, ca_value) {
        if ca <= v {
            let blamed = if ca_validity.is_null() {
                "certificate_validity"
            } else {
                "ca_validity"
            };
            diags.attribute_error(
                AttributePath::root(blamed),
                "CA lifetime not longer than the certificates' lifetime",
                format!(
                    "ca_validity ({}) must be longer than certificate_validity ({}): a certificate never outlives \
                     the CA that signed it.",
                    go_duration(ca),
                    go_duration(v)
                ),
            );
        }
    }
}

/// Where a certificate stands against its renewal window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renewal {
    /// Valid beyond the renewal window.
    NotYet,
    /// Valid, but inside the renewal window: the next apply issues a new one.
    Due,
    /// Past its expiry: nothing that checks it accepts it any more.
    Expired,
}

/// Where a certificate that expires at `not_after` stands at `now`, renewed `renewal` before it expires.
pub fn standing(not_after: OffsetDateTime, renewal: Duration, now: OffsetDateTime) -> Renewal {
    if not_after <= now {
        Renewal::Expired
    } else if not_after - now <= renewal {
        Renewal::Due
    } else {
        Renewal::NotYet
    }
}

/// The plan's warning for a certificate that is not fresh, naming it and its expiry, on the attribute that will
/// change (or the resource). None for a fresh one.
pub fn renewal_warning(
    certificate: &str,
    not_after: OffsetDateTime,
    standing: Renewal,
    renewed_by_apply: bool,
) -> Option<(String, String)> {
    let date = rfc3339(not_after).unwrap_or_else(|| not_after.to_string());
    let next = if renewed_by_apply {
        "This apply issues a new one and rolls it out without downtime."
    } else {
        "Start a CA rotation (see the certificates guide) before it expires."
    };
    match standing {
        Renewal::NotYet => None,
        Renewal::Due => Some((
            format!("{certificate} expires soon"),
            format!("The {certificate} expires at {date}, inside its renewal window. {next}"),
        )),
        Renewal::Expired => Some((
            format!("{certificate} has expired"),
            format!(
                "The {certificate} expired at {date}: nodes and clients no longer accept it. {next}"
            ),
        )),
    }
}

/// A certificate's expiry as RFC 3339 (the format of every `*_expires_at` attribute).
pub fn rfc3339(t: OffsetDateTime) -> Option<String> {
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// The expiry of a PEM certificate as RFC 3339, when it can be read.
pub fn expires_at(cert_pem: &str) -> Option<String> {
    crate::cockroach::pki::certificate_not_after(cert_pem)
        .ok()
        .and_then(rfc3339)
}

/// A duration the way the settings are written (`720h`, `5m30s`).
fn go_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(text: &str) -> Attr<String> {
        Attr::Known(text.to_owned())
    }

    fn paths(validity: Attr<String>, renewal: Attr<String>, ca: Attr<String>) -> Vec<String> {
        Diagnostics::of_check(|d| validate(&validity, &renewal, &ca, d)).attribute_paths()
    }

    #[test]
    fn defaults_are_a_year_renewed_thirty_days_ahead_and_a_ten_year_ca() {
        let lifetimes = Lifetimes::of(&Attr::Null, &Attr::Null, &Attr::Null);
        assert_eq!(lifetimes.certificate_validity, Duration::days(365));
        assert_eq!(lifetimes.certificate_renewal, Duration::days(30));
        assert_eq!(lifetimes.ca_validity, Duration::days(3650));
        assert!(paths(Attr::Null, Attr::Null, Attr::Null).is_empty());
    }

    #[test]
    fn settings_are_checked_on_their_own_attribute() {
        assert_eq!(
            paths(known("10 years"), Attr::Null, Attr::Null),
            ["certificate_validity"]
        );
        assert_eq!(
            paths(known("30s"), Attr::Null, Attr::Null),
            ["certificate_validity"]
        );
        assert_eq!(
            paths(known("87601h"), Attr::Null, Attr::Null),
            ["certificate_validity"]
        );
        assert_eq!(
            paths(known("10m"), known("10m"), Attr::Null),
            ["certificate_renewal"]
        );
        assert_eq!(
            paths(known("10m"), Attr::Null, Attr::Null),
            ["certificate_validity"],
            "the default renewal (720h) is longer than 10m: blamed on the attribute that was set"
        );
        assert_eq!(
            paths(known("10m"), known("0s"), Attr::Null),
            ["certificate_renewal"]
        );
        assert_eq!(
            paths(Attr::Null, Attr::Null, known("8760h")),
            ["ca_validity"]
        );
        assert!(paths(known("10m"), known("8m"), known("1h")).is_empty());
        assert!(paths(Attr::Unknown, known("8m"), Attr::Unknown).is_empty());
        let detail =
            Diagnostics::of_check(|d| validate(&known("10m"), &known("1h"), &Attr::Null, d));
        assert!(
            detail.0[0]
                .detail
                .contains("(1h) must be shorter than certificate_validity (10m)"),
            "{detail:?}"
        );
    }

    #[test]
    fn a_certificate_is_due_inside_its_window_and_expired_after() {
        let now = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        let window = Duration::minutes(5);
        assert_eq!(
            standing(now + Duration::minutes(6), window, now),
            Renewal::NotYet
        );
        assert_eq!(
            standing(now + Duration::minutes(5), window, now),
            Renewal::Due
        );
        assert_eq!(
            standing(now + Duration::seconds(1), window, now),
            Renewal::Due
        );
        assert_eq!(standing(now, window, now), Renewal::Expired);
    }

    #[test]
    fn the_warning_names_the_certificate_and_its_date() {
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let (summary, detail) =
            renewal_warning("node certificate of zone a", at, Renewal::Due, true).unwrap();
        assert_eq!(summary, "node certificate of zone a expires soon");
        assert!(detail.contains("2023-11-14T22:13:20Z"), "{detail}");
        let (summary, _) = renewal_warning("CA certificate", at, Renewal::Expired, false).unwrap();
        assert_eq!(summary, "CA certificate has expired");
        assert_eq!(renewal_warning("x", at, Renewal::NotYet, true), None);
    }
}
