//! One Terraform workspace per region, a common layout: each workspace declares the cluster with the CA it is
//! given (the same files everywhere), its own region and its own DNS link, whose peers it reads from the other
//! workspaces' state. Separate runs share nothing but the database, whose disruption lease still keeps the whole
//! CockroachDB cluster to one node disrupted at a time.
use crate::day2::{assert_never_unavailable, images, is_lease_release, job_names, members, settle};
use crate::harness::{await_value, Run, Workspace};
use crate::regions::{Clusters, ZONES};
use std::time::Duration;
use terraform_provider_crdb::cockroach::pki::CertificateAuthority;

fn key(zone: &str) -> String {
    zone.replace('-', "_")
}

/// The workspace of `ZONES[at]`: the cluster (CA from files), its region, and, with `linked`, its DNS link
/// whose peers come from every workspace's `dns_address` output.
fn region_workspace(
    clusters: &Clusters,
    ws: &Workspace,
    all: &[Workspace],
    at: usize,
    tag: &str,
    linked: bool,
) -> String {
    let zone = ZONES[at];
    let zones: Vec<String> = ZONES.iter().map(|z| format!("{z:?}")).collect();
    let mut config = format!(
        "resource \"crdb_multiregion_cluster\" \"main\" {{\n  name           = \"main\"\n  image          = \"cockroachdb/cockroach:{tag}\"\n  zones          = [{}]\n  ca_certificate = file(\"${{path.module}}/ca.crt\")\n  ca_private_key = file(\"${{path.module}}/ca.key\")\n}}\n\nresource \"crdb_region\" \"this\" {{\n  cluster             = crdb_multiregion_cluster.main\n  zone                = \"{zone}\"\n  region              = \"{}\"\n  replicas            = 3\n  deletion_protection = false\n{}  timeouts {{\n    create = \"5m\"\n    update = \"5m\"\n    delete = \"5m\"\n  }}\n}}\n\noutput \"dns_address\" {{\n  value = crdb_region.this.dns_address\n}}\n",
        zones.join(", "),
        zone.rsplit_once('-').unwrap().0,
        clusters.connection_block(ws, zone)
    );
    if !linked {
        return config;
    }
    let mut peers = vec![format!("    \"{zone}\" = crdb_region.this.dns_address")];
    for (other, other_ws) in ZONES.iter().zip(all).filter(|(z, _)| **z != zone) {
        config.push_str(&format!(
            "\ndata \"terraform_remote_state\" \"{}\" {{\n  backend = \"local\"\n  config = {{\n    path = \"{}\"\n  }}\n}}\n",
            key(other),
            other_ws.path().join("terraform.tfstate").display()
        ));
        peers.push(format!(
            "    \"{other}\" = data.terraform_remote_state.{}.outputs.dns_address",
            key(other)
        ));
    }
    config.push_str(&format!(
        "\nresource \"crdb_dns_link\" \"this\" {{\n  zone  = \"{zone}\"\n  peers = {{\n{}\n  }}\n{}  timeouts {{\n    create = \"5m\"\n  }}\n}}\n",
        peers.join("\n"),
        clusters.connection_block(ws, zone)
    ));
    config
}

/// Every workspace written for `tag`, with the CA files beside each.
fn write_all(
    clusters: &Clusters,
    all: &[Workspace],
    ca: &CertificateAuthority,
    tag: &str,
    linked: bool,
) {
    for (at, ws) in all.iter().enumerate() {
        std::fs::write(ws.path().join("ca.crt"), ca.cert_pem()).unwrap();
        std::fs::write(ws.path().join("ca.key"), ca.key_pem()).unwrap();
        ws.write_config(&region_workspace(clusters, ws, all, at, tag, linked));
    }
}

#[test]
fn two_workspaces_changing_the_image_of_their_regions_at_once_disrupt_one_node_at_a_time() {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let world = clusters.sandbox.world().unwrap();
    let ca = CertificateAuthority::generate(
        "main",
        time::Duration::days(365),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let all: Vec<Workspace> = ZONES.iter().map(|_| Workspace::new("")).collect();
    // The regions first (each publishes its DNS address), then the links that read the others' addresses.
    write_all(&clusters, &all, &ca, "v24.1.0", false);
    for ws in &all {
        ws.apply();
    }
    write_all(&clusters, &all, &ca, "v24.1.0", true);
    for ws in &all {
        ws.apply();
    }
    await_value(
        "the cluster forming across the workspaces",
        Duration::from_secs(90),
        (9, 0),
        || members(&clusters),
    );
    assert_eq!(
        world.cockroach().clusters().len(),
        1,
        "one CockroachDB cluster"
    );
    settle(&clusters);

    // Two separate runs (two provider processes) change the image of their own regions at the same moment.
    write_all(&clusters, &all, &ca, "v24.1.26", true);
    let runs: Vec<_> = all[..2]
        .iter()
        .map(|ws| {
            ws.command(&["apply", "-auto-approve", "-input=false", "-no-color"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for run in runs {
        Run::from(run.wait_with_output().unwrap()).ok("a concurrent apply");
    }
    let seen = assert_never_unavailable(&clusters, "two workspaces upgrading at once");
    assert_eq!(seen.max_nodes_down, 1, "nodes did restart: {seen:?}");
    let upgraded: Vec<(String, String)> = images(&clusters)
        .into_iter()
        .filter(|(_, image)| image.ends_with("v24.1.26"))
        .collect();
    assert_eq!(
        upgraded.len(),
        6,
        "both workspaces' regions rolled: {upgraded:?}"
    );
    // Each run's release Job outlives its apply (the apply does not wait for it): the row goes within seconds,
    // deleted by a release (an expired lease would keep its row).
    let status = world.cockroach().clusters().remove(0);
    let row = || {
        world.cockroach().with(&status.ca, |c, _| {
            c.lease_tables
                .row_holder("crdb_provider.disruption_lease", "disruption")
        })
    };
    await_value(
        "the runs' release Jobs deleting the database's lease",
        Duration::from_secs(30),
        Some(None),
        row,
    );
    // Nobody followed them to their end: each removes itself once finished (ttlSecondsAfterFinished).
    let release_jobs = || {
        let mut names = job_names(&clusters);
        names.retain(|name| is_lease_release(name));
        names.len()
    };
    await_value(
        "the release Jobs removing themselves",
        Duration::from_secs(120),
        0,
        release_jobs,
    );
    for ws in &all[..2] {
        ws.assert_plan_empty("a workspace's upgrade");
    }
}
