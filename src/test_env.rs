//! A process environment for tests: the start-up code reads its variables through a lookup function, so tests
//! hand it a fixed table instead of touching the real environment.

/// A lookup answering from `pairs`, as `std::env::var` would from the environment.
pub fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |key| {
        pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    }
}
