//! The one-disruption-at-a-time lease kept in the CockroachDB cluster itself, for Terraform runs that share
//! nothing but the database (one workspace per region): a row of `crdb_provider.disruption_lease` that a provider
//! process takes with one atomic upsert only when it is free, expired or already its own, renews by taking it
//! again, and releases by deleting it. Expiry is judged by the database's clock alone (`now()` in the statement),
//! so the clocks of the machines running Terraform do not matter. The statements run in the health gate's Job,
//! before `cockroach node status`, so a disruption costs no extra Job (see `manifests::gate_job`).

use std::time::Duration;

pub const DATABASE: &str = "crdb_provider";
pub const TABLE: &str = "disruption_lease";
/// The one row: the whole CockroachDB cluster has one disruption lease.
const LEASE_ID: &str = "disruption";

/// How long a taken lease lasts without renewal: what a crashed holder costs the other runs at most.
pub const TIME_TO_LIVE: Duration = Duration::from_secs(180);
/// How often a holder renews while one disruption lasts (a decommission moving many replicas).
pub const RENEW_EVERY: Duration = Duration::from_secs(60);

/// This provider process's name as a holder: random, so that two runs never take each other for the same one.
pub fn holder() -> &'static str {
    static HOLDER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOLDER.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        // Each RandomState is seeded from the operating system's randomness.
        let mut parts = [0u64; 2];
        for (i, part) in parts.iter_mut().enumerate() {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u32(std::process::id());
            hasher.write_usize(i);
            *part = hasher.finish();
        }
        format!("{:016x}{:016x}", parts[0], parts[1])
    })
}

/// The statements that create the table if needed and take (or renew) the lease for `holder`; the last one
/// returns `holder` only when it now holds the lease.
pub fn take_statements(holder: &str) -> Vec<String> {
    vec![
        format!("CREATE DATABASE IF NOT EXISTS {DATABASE}"),
        format!(
            "CREATE TABLE IF NOT EXISTS {DATABASE}.{TABLE} (id STRING PRIMARY KEY, holder STRING NOT NULL, \
             expires_at TIMESTAMPTZ NOT NULL)"
        ),
        take_statement(holder),
    ]
}

/// The upsert alone, for a renewal once the table exists.
pub fn take_statement(holder: &str) -> String {
    format!(
        "INSERT INTO {DATABASE}.{TABLE} (id, holder, expires_at) VALUES ('{LEASE_ID}', '{holder}', now() + \
         INTERVAL '{}s') ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, expires_at = \
         excluded.expires_at WHERE {TABLE}.expires_at < now() OR {TABLE}.holder = excluded.holder RETURNING holder",
        TIME_TO_LIVE.as_secs()
    )
}

pub fn release_statement(holder: &str) -> String {
    format!("DELETE FROM {DATABASE}.{TABLE} WHERE id = '{LEASE_ID}' AND holder = '{holder}'")
}

/// Whether `cockroach sql --format=csv` printed `holder` as the upsert's returned row.
pub fn held(sql_output: &str, holder: &str) -> bool {
    let lines: Vec<&str> = sql_output.lines().map(str::trim).collect();
    lines
        .windows(2)
        .any(|pair| pair[0] == "holder" && pair[1] == holder)
}

/// Splits a gate Job's log into what `cockroach sql` printed and what `cockroach node status` printed, which
/// starts at its header line (`id,address,...`).
pub fn split_gate_log(log: &str) -> (&str, &str) {
    let mut at = 0;
    for line in log.split_inclusive('\n') {
        if line.trim_start().starts_with("id,") {
            return log.split_at(at);
        }
        at += line.len();
    }
    (log, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_process_has_its_own_stable_holder_name() {
        assert_eq!(holder(), holder());
        assert_eq!(holder().len(), 32);
        assert!(holder().chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn the_upsert_takes_the_lease_only_when_free_expired_or_already_ours() {
        let take = take_statement("abc");
        assert!(
            take.contains("VALUES ('disruption', 'abc', now() + INTERVAL '180s')"),
            "{take}"
        );
        assert!(
            take.contains(
                "WHERE disruption_lease.expires_at < now() OR disruption_lease.holder = excluded.holder"
            ),
            "{take}"
        );
        assert!(take.ends_with("RETURNING holder"));
        assert_eq!(take_statements("abc").len(), 3);
        assert!(release_statement("abc").ends_with("WHERE id = 'disruption' AND holder = 'abc'"));
    }

    #[test]
    fn only_our_returned_row_means_the_lease_is_ours() {
        let ours = "CREATE DATABASE\nCREATE TABLE\nholder\nabc\n";
        assert!(held(ours, "abc"));
        assert!(!held(ours, "abd"));
        assert!(
            !held("CREATE DATABASE\nCREATE TABLE\nholder\n", "abc"),
            "no row: someone else holds it"
        );
        assert!(!held("", "abc"));
    }

    #[test]
    fn the_gate_log_splits_at_the_node_status_header() {
        let log = "CREATE DATABASE\nholder\nabc\nid,address,locality\n1,a,zone=z\n";
        let (sql, status) = split_gate_log(log);
        assert_eq!(sql, "CREATE DATABASE\nholder\nabc\n");
        assert_eq!(status, "id,address,locality\n1,a,zone=z\n");
        assert_eq!(split_gate_log("id,address\n"), ("", "id,address\n"));
        assert_eq!(split_gate_log("holder\n"), ("holder\n", ""));
    }
}
