//! Kubernetes resource quantities, read as the API server reads them (the parser is shared with kube-sandbox),
//! and the byte counts CockroachDB's size flags take.

pub use kube_codecs::quantity::{format_bytes, Quantity, QuantityError};

/// A byte count as a CockroachDB size flag takes it (`--cache`, `--max-sql-memory`): a plain integer, which every
/// CockroachDB version reads as bytes, with no unit spelling to get wrong.
pub fn bytes_flag_value(bytes: u64) -> String {
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_flags_take_plain_bytes() {
        assert_eq!(bytes_flag_value(268_435_456), "268435456");
        let cache = Quantity::parse("256Mi").unwrap().bytes().unwrap();
        assert_eq!(bytes_flag_value(cache), "268435456");
    }
}
