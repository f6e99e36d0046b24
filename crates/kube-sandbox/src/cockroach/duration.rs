//! CockroachDB's duration settings (`server.time_until_store_dead`, a lease's ttl) as seconds.

/// Reads `5m0s`, `1m15s`, `90s`, `1h`, `500ms`: CockroachDB's duration settings.
pub fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim().trim_matches('\'');
    let mut total = 0.0;
    let mut number = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                0.001
            }
            ('h', _) => 3600.0,
            ('m', _) => 60.0,
            ('s', _) => 1.0,
            _ => return None,
        };
        total += number.parse::<f64>().ok()? * unit;
        number.clear();
        any = true;
    }
    (any && number.is_empty()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_cockroachdb_settings() {
        assert_eq!(parse_duration("5m0s"), Some(300.0));
        assert_eq!(parse_duration("1m15s"), Some(75.0));
        assert_eq!(parse_duration("'90s'"), Some(90.0));
        assert_eq!(parse_duration("500ms"), Some(0.5));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("5"), None);
    }
}
