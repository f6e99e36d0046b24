//! Kubernetes resource quantities (`100Gi`, `500m`, `1.5Gi`, `8G`, `1e3`) read exactly, the way the API server
//! reads them: the provider checks and derives values (a cache size from a memory limit) before anything reaches a
//! cluster, and the sandbox orders them as the API server does (`2Gi` == `2048Mi` > `2G`) for the rules that need
//! an order (a claim may grow but not shrink).
//!
//! A quantity is kept as `mantissa × 10^exp10 × 1024^pow1024` with an integer mantissa: no floating point, so
//! `1.5Gi` is exactly 1 610 612 736 bytes.

use std::cmp::Ordering;
use std::fmt;

/// A parsed, non-negative quantity with the text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    text: String,
    mantissa: u128,
    exp10: i32,
    pow1024: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Not a quantity at all.
    #[error(
        "{0:?} is not a Kubernetes quantity: expected a number with an optional suffix, such as 500m, 2, 1.5Gi, \
         8G or 1e3"
    )]
    Malformed(String),
    /// A well-formed negative quantity where only sizes make sense.
    #[error("{0:?} must not be negative")]
    Negative(String),
    /// Does not fit in 64 bits once converted.
    #[error("{0:?} is too large")]
    TooLarge(String),
}

/// Binary suffixes, powers of 1024.
const BINARY_SUFFIXES: [(&str, u32); 6] = [
    ("Ki", 1),
    ("Mi", 2),
    ("Gi", 3),
    ("Ti", 4),
    ("Pi", 5),
    ("Ei", 6),
];

/// Decimal suffixes, powers of ten. Note `m` is milli and `M` mega, as in Kubernetes.
const DECIMAL_SUFFIXES: [(&str, i32); 10] = [
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];

/// The API server caps quantities far below this; it only bounds the arithmetic here.
const MAX_MANTISSA_DIGITS: usize = 30;

impl Quantity {
    /// Parses a quantity as Kubernetes does: an optionally signed decimal number, then one suffix (binary `Ki`..`Ei`,
    /// decimal `n`..`E`) or a decimal exponent (`e3`, `E-2`). Negative values are rejected: every quantity the
    /// provider takes is a size.
    pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
        let malformed = || QuantityError::Malformed(text.to_owned());
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(malformed());
        }
        let digits = format!("{whole}{fraction}");
        let significant = digits.trim_start_matches('0');
        if significant.len() > MAX_MANTISSA_DIGITS {
            return Err(QuantityError::TooLarge(text.to_owned()));
        }
        let mantissa: u128 = if significant.is_empty() {
            0
        } else {
            significant.parse().map_err(|_| malformed())?
        };
        let fraction_digits = i32::try_from(fraction.len()).map_err(|_| malformed())?;
        let (suffix_exp10, pow1024) = parse_suffix(suffix).ok_or_else(malformed)?;
        if negative && mantissa != 0 {
            return Err(QuantityError::Negative(text.to_owned()));
        }
        Ok(Quantity {
            text: text.to_owned(),
            mantissa,
            exp10: suffix_exp10 - fraction_digits,
            pow1024,
        })
    }

    /// The text as the user wrote it (what goes into a manifest).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The quantity in bytes, fractions rounded up (as the API server does).
    pub fn bytes(&self) -> Result<u64, QuantityError> {
        self.in_u64(0)
    }

    /// The quantity in thousandths (millicores for CPU), fractions rounded up (`0.1m` is `1m`).
    pub fn millis(&self) -> Result<u64, QuantityError> {
        self.in_u64(3)
    }

    /// The quantity in billionths, the finest unit Kubernetes keeps (`1n`), fractions rounded up: an exact key to
    /// order quantities by. `None` beyond what the arithmetic holds (far above `1000Ei`).
    pub fn nanos(&self) -> Option<u128> {
        self.scaled_ceil(9)
    }

    fn in_u64(&self, extra_exp10: i32) -> Result<u64, QuantityError> {
        self.scaled_ceil(extra_exp10)
            .and_then(|value| u64::try_from(value).ok())
            .ok_or_else(|| QuantityError::TooLarge(self.text.clone()))
    }

    /// `ceil(self × 10^extra_exp10)` as an integer; `None` when it overflows.
    fn scaled_ceil(&self, extra_exp10: i32) -> Option<u128> {
        if self.mantissa == 0 {
            return Some(0);
        }
        let mut numerator = self.mantissa;
        for _ in 0..self.pow1024 {
            numerator = numerator.checked_mul(1024)?;
        }
        let exp10 = self.exp10 + extra_exp10;
        let divisor_or_factor = 10u128.checked_pow(exp10.unsigned_abs());
        if exp10 >= 0 {
            numerator.checked_mul(divisor_or_factor?)
        } else {
            // A divisor beyond u128 means a positive value below 1: it rounds up to 1.
            Some(divisor_or_factor.map_or(1, |divisor| numerator.div_ceil(divisor)))
        }
    }
}

/// Orders two quantity texts by the amount they stand for; `None` when either is not a (non-negative) quantity.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let amount = |text| Quantity::parse(text).ok()?.nanos();
    Some(amount(a)?.cmp(&amount(b)?))
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_suffix(suffix: &str) -> Option<(i32, u32)> {
    if let Some(&(_, pow)) = BINARY_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
        return Some((0, pow));
    }
    if let Some(&(_, exp)) = DECIMAL_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
        return Some((exp, 0));
    }
    // `e3` / `E-2`: a decimal exponent. A lone `E` is exa, handled above.
    let exponent = suffix.strip_prefix(['e', 'E'])?;
    let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 3 {
        return None;
    }
    Some((exponent.parse().ok()?, 0))
}

/// A byte count for people: the largest binary unit that divides it exactly (`1Gi`, `1536Mi`, `1000`), in the
/// Kubernetes spelling, so it can be pasted back into a configuration.
pub fn format_bytes(bytes: u64) -> String {
    let mut value = bytes;
    let mut unit = "";
    for (suffix, _) in BINARY_SUFFIXES {
        if value == 0 || !value.is_multiple_of(1024) {
            break;
        }
        value /= 1024;
        unit = suffix;
    }
    format!("{value}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &str) -> u64 {
        Quantity::parse(text)
            .unwrap_or_else(|e| panic!("{e}"))
            .bytes()
            .unwrap()
    }

    fn millis(text: &str) -> u64 {
        Quantity::parse(text)
            .unwrap_or_else(|e| panic!("{e}"))
            .millis()
            .unwrap()
    }

    #[test]
    fn binary_and_decimal_suffixes_are_exact() {
        assert_eq!(bytes("100Gi"), 100 * 1024 * 1024 * 1024);
        assert_eq!(bytes("1.5Gi"), 1_610_612_736);
        assert_eq!(bytes("8G"), 8_000_000_000);
        assert_eq!(bytes("512Mi"), 536_870_912);
        assert_eq!(bytes("1Ki"), 1024);
        assert_eq!(bytes("2k"), 2000);
        assert_eq!(bytes("3M"), 3_000_000);
        assert_eq!(bytes("1Ei"), 1 << 60);
        assert_eq!(bytes("2"), 2);
        assert_eq!(bytes("+7"), 7);
        assert_eq!(bytes("0"), 0);
        assert_eq!(bytes(".5Ki"), 512);
    }

    #[test]
    fn exponents_and_millis() {
        assert_eq!(bytes("1e3"), 1000);
        assert_eq!(bytes("1E3"), 1000);
        assert_eq!(bytes("25e-1"), 3, "2.5 bytes round up");
        assert_eq!(millis("500m"), 500);
        assert_eq!(millis("2"), 2000);
        assert_eq!(millis("1.5"), 1500);
        assert_eq!(
            millis("0.1m"),
            1,
            "sub-millicore rounds up as Kubernetes does"
        );
        assert_eq!(millis("100u"), 1);
        assert_eq!(millis("1e-3"), 1);
        assert_eq!(bytes("1500m"), 2, "1.5 bytes round up");
    }

    #[test]
    fn a_lone_e_is_exa_not_an_exponent() {
        assert_eq!(bytes("1E"), 1_000_000_000_000_000_000);
    }

    #[test]
    fn malformed_quantities_are_rejected_with_a_diagnostic() {
        for bad in [
            "", "Gi", "1.5.3Gi", "1gi", "1 Gi", "1Gib", "1KB", "e3", "1e", "1e+", "1.Gi.", "--1",
            "1e3Gi", "0x10", "1ee3", "1e1000",
        ] {
            let err = Quantity::parse(bad).expect_err(bad);
            assert!(
                matches!(err, QuantityError::Malformed(_)),
                "{bad:?}: {err:?}"
            );
            assert!(
                err.to_string().contains("not a Kubernetes quantity"),
                "{err}"
            );
        }
    }

    #[test]
    fn negative_and_oversized_quantities_are_rejected() {
        assert_eq!(
            Quantity::parse("-1Gi").unwrap_err().to_string(),
            "\"-1Gi\" must not be negative"
        );
        assert_eq!(bytes("-0"), 0);
        let huge = Quantity::parse("100Ei").unwrap();
        assert!(matches!(huge.bytes(), Err(QuantityError::TooLarge(_))));
        assert!(matches!(
            Quantity::parse(&"9".repeat(40)),
            Err(QuantityError::TooLarge(_))
        ));
    }

    #[test]
    fn the_original_text_is_kept() {
        assert_eq!(Quantity::parse("1.5Gi").unwrap().as_str(), "1.5Gi");
        assert_eq!(Quantity::parse("1.5Gi").unwrap().to_string(), "1.5Gi");
    }

    #[test]
    fn bytes_render_for_people() {
        assert_eq!(format_bytes(1 << 30), "1Gi");
        assert_eq!(format_bytes(1536 * 1024 * 1024), "1536Mi");
        assert_eq!(format_bytes(1000), "1000");
        assert_eq!(format_bytes(0), "0");
        for text in ["100Gi", "1.5Gi", "3Mi", "7"] {
            assert_eq!(bytes(&format_bytes(bytes(text))), bytes(text), "{text}");
        }
    }

    #[test]
    fn quantities_order_by_the_amount_whatever_the_unit() {
        use Ordering::{Equal, Greater, Less};
        for (a, b, order) in [
            ("2Gi", "2048Mi", Equal),
            ("100Gi", "102400Mi", Equal),
            ("1.5Gi", "1536Mi", Equal),
            ("1k", "1000", Equal),
            ("1e3", "1k", Equal),
            ("500m", "0.5", Equal),
            ("+1Gi", "1Gi", Equal),
            ("1Gi", "1G", Greater),
            ("1Gi", "2Gi", Less),
            ("1Ti", "1023Gi", Greater),
            ("1Ei", "1E", Greater),
            ("1n", "0", Greater),
            ("100Ei", "99Ei", Greater),
        ] {
            assert_eq!(compare(a, b), Some(order), "{a} vs {b}");
        }
    }

    #[test]
    fn text_that_is_not_a_quantity_does_not_compare() {
        for bad in ["", "Gi", "1 Gi", "1gi", "-1Gi", "1.2.3", "1e", "abc"] {
            assert_eq!(compare(bad, "1"), None, "{bad:?}");
        }
        assert_eq!(compare("1Gi", "lots"), None);
        assert_eq!(
            compare(&"9".repeat(30), "1e999"),
            None,
            "beyond the arithmetic"
        );
    }
}
