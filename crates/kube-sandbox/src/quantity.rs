//! Resource quantities compared as the API server compares them (`2Gi` == `2048Mi` > `2G`), for the rules that
//! need an order: a claim may grow but not shrink, a volume is expanded once its capacity reaches the request.
//! Quantities are still stored as written.

use std::cmp::Ordering;

/// A parsed non-negative quantity, as an exact count of billionths (`1` is 10^9, `1m` is 10^6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity {
    nanos: u128,
}

const BINARY: [(&str, u32); 6] = [
    ("Ki", 1),
    ("Mi", 2),
    ("Gi", 3),
    ("Ti", 4),
    ("Pi", 5),
    ("Ei", 6),
];
const DECIMAL: [(&str, i32); 10] = [
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

impl Quantity {
    /// `None` for text that is not a quantity, a negative one, or one beyond what the arithmetic holds.
    pub fn parse(text: &str) -> Option<Quantity> {
        let rest = text.strip_prefix('+').unwrap_or(text);
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(split);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return None;
        }
        let digits = format!("{whole}{fraction}");
        let significant = digits.trim_start_matches('0');
        if significant.len() > 30 {
            return None;
        }
        let mantissa: u128 = if significant.is_empty() {
            0
        } else {
            significant.parse().ok()?
        };
        let (exp10, pow1024) = if let Some(&(_, p)) = BINARY.iter().find(|(s, _)| *s == suffix) {
            (0, p)
        } else if let Some(&(_, e)) = DECIMAL.iter().find(|(s, _)| *s == suffix) {
            (e, 0)
        } else {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            (exponent.parse().ok()?, 0)
        };
        let mut value = mantissa;
        for _ in 0..pow1024 {
            value = value.checked_mul(1024)?;
        }
        let exp = exp10 - i32::try_from(fraction.len()).ok()? + 9;
        let nanos = if exp >= 0 {
            value.checked_mul(10u128.checked_pow(exp as u32)?)?
        } else {
            match 10u128.checked_pow(exp.unsigned_abs()) {
                Some(divisor) => value.div_ceil(divisor),
                None => u128::from(value > 0),
            }
        };
        Some(Quantity { nanos })
    }
}

/// Orders two quantity texts; `None` when either is not a quantity.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(Quantity::parse(a)?.cmp(&Quantity::parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_amounts_in_different_units_compare_equal() {
        assert_eq!(compare("2Gi", "2048Mi"), Some(Ordering::Equal));
        assert_eq!(compare("100Gi", "102400Mi"), Some(Ordering::Equal));
        assert_eq!(compare("1.5Gi", "1536Mi"), Some(Ordering::Equal));
        assert_eq!(compare("1k", "1000"), Some(Ordering::Equal));
        assert_eq!(compare("1e3", "1k"), Some(Ordering::Equal));
        assert_eq!(compare("500m", "0.5"), Some(Ordering::Equal));
    }

    #[test]
    fn binary_and_decimal_units_are_ordered_exactly() {
        assert_eq!(compare("1Gi", "1G"), Some(Ordering::Greater));
        assert_eq!(compare("1Gi", "2Gi"), Some(Ordering::Less));
        assert_eq!(compare("1Ti", "1023Gi"), Some(Ordering::Greater));
        assert_eq!(compare("1Ei", "1E"), Some(Ordering::Greater));
    }

    #[test]
    fn text_that_is_not_a_quantity_does_not_compare() {
        for bad in ["", "Gi", "1 Gi", "1gi", "-1Gi", "1.2.3", "1e", "abc"] {
            assert_eq!(Quantity::parse(bad), None, "{bad:?}");
        }
        assert_eq!(compare("1Gi", "lots"), None);
    }
}
