//! For the SQL resources' property tests: the sandbox's emulated CockroachDB as the oracle of what a script the
//! provider writes does to a cluster's catalog, and what the read Job would print of it. The script reaches it as
//! it reaches a real node (a file given to `cockroach sql --format=csv`, never a command line).
use crate::cockroach::sql::{SqlSnapshot, READ_SCRIPT};
use kube_sandbox::cockroach::cluster::CockroachCluster;
use kube_sandbox::cockroach::replication::Locality;
use kube_sandbox::cockroach::sql::{parse_script, run_script, Catalog, Format};

/// The regions of the oracle's nodes, one node each.
pub const REGIONS: [&str; 3] = ["r1", "r2", "r3"];

/// Cases per property: 256 in the suite (a quarter of a second), as many as `FUZZ_CASES` asks for when run long.
pub fn cases() -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases: std::env::var("FUZZ_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..Default::default()
    }
}

pub struct Oracle {
    cluster: CockroachCluster,
}

impl Oracle {
    /// An initialised cluster with a node in each of [`REGIONS`], a user `existing` and a database `shop`: what
    /// the provider must neither adopt nor drop.
    pub fn new() -> Oracle {
        let mut cluster = CockroachCluster::new(3);
        cluster.init("oracle".into(), None);
        for (i, region) in REGIONS.into_iter().enumerate() {
            let locality = Locality {
                region: region.into(),
                zone: format!("{region}-a"),
            };
            cluster.node_joined("ca", ("k", region, "p"), &format!("s{i}"), locality, 0.0);
        }
        let mut oracle = Oracle { cluster };
        let (code, out) = oracle.run("CREATE USER existing; CREATE DATABASE shop;");
        assert_eq!(code, 0, "{out}");
        oracle
    }

    pub fn catalog(&self) -> Catalog {
        self.cluster.catalog.clone()
    }

    /// Runs `script` as the SQL Job does: (exit code, what the client printed). A script the emulation cannot
    /// parse panics: the provider wrote SQL CockroachDB's client would refuse.
    pub fn run(&mut self, script: &str) -> (i32, String) {
        let statements = parse_script(script)
            .unwrap_or_else(|e| panic!("the sandbox cannot parse {script:?}: {e}"));
        run_script(&mut self.cluster, &statements, 1.0, b"salt", Format::Csv)
    }

    /// What a read Job prints, as the provider reads it.
    pub fn snapshot(&mut self) -> SqlSnapshot {
        let (code, out) = self.run(READ_SCRIPT);
        assert_eq!(code, 0, "{out}");
        SqlSnapshot::parse(&out).unwrap_or_else(|e| panic!("{e}: {out:?}"))
    }
}
