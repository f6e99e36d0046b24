//! CockroachDB emulation: what `cockroach start` and `cockroach init` would do inside the sandbox's pods.

pub mod certs;
pub mod command;
pub mod dns;
