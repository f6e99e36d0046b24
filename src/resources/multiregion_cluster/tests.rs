//! Plans and applies of `crdb_multiregion_cluster` as Terraform drives them.
use super::model::schema;
use super::*;
use crate::framework::diag::Diagnostics;
use crate::framework::{plan, Attr, FromValue, PlanRequest, Resource, ToValue, Value};

/// A cluster of `zones` at v24.1.0, as configured.
pub(crate) fn config(zones: &[&str]) -> ClusterModel {
    ClusterModel {
        name: Attr::Known("main".into()),
        image: Attr::Known("cockroachdb/cockroach:v24.1.0".into()),
        zones: Attr::Known(zones.iter().map(|z| Attr::Known(z.to_string())).collect()),
        ..Default::default()
    }
}

/// Plans like Terraform and the protocol layer do: proposed = config merged with prior.
fn plan(prior: &Value, config: &ClusterModel) -> (Value, Diagnostics) {
    let config = config.to_value();
    let mut proposed = config.clone();
    if let Value::Object(prior_attrs) = prior {
        for attr in schema().block.attributes.iter().filter(|a| a.is_computed()) {
            if config.attr(attr.name).is_null() {
                proposed.set_attr(attr.name, prior_attrs[attr.name].clone());
            }
        }
    }
    let mut planned = plan::plan_state(&schema().block, prior, &proposed, &config);
    let mut diags = Diagnostics::new();
    Resource::modify_plan(
        &MultiregionCluster,
        &PlanRequest {
            prior,
            config: &config,
            client: Default::default(),
        },
        &mut planned,
        &mut diags,
    );
    (planned, diags)
}

fn applied(planned: &Value) -> Value {
    let outcome = apply::apply(ClusterModel::from_value(planned).unwrap());
    assert!(
        !outcome.diagnostics.has_errors(),
        "{:?}",
        outcome.diagnostics
    );
    outcome.state.unwrap().to_value()
}

#[test]
fn join_list_names_three_nodes_per_zone() {
    let join = join_addresses(&["a".into(), "b".into()]);
    assert_eq!(join.len(), 6);
    assert_eq!(join[0], "cockroachdb-0.cockroachdb.a");
    assert_eq!(join[5], "cockroachdb-2.cockroachdb.b");
}

#[test]
fn create_plans_derived_values_and_generates_pki_on_apply() {
    let (planned, diags) = plan(&Value::Null, &config(&["a", "b"]));
    assert!(diags.is_empty());
    assert_eq!(planned.attr("version"), &Value::string("v24.1.0"));
    assert_eq!(planned.attr("init_zone"), &Value::string("a"));
    assert_eq!(
        planned.attr("join_addresses").clone(),
        Value::List(
            join_addresses(&["a".into(), "b".into()])
                .into_iter()
                .map(Value::String)
                .collect()
        )
    );
    assert_eq!(planned.attr("ca_certificate"), &Value::Unknown);
    let state = applied(&planned);
    assert!(state
        .attr("ca_certificate")
        .as_str()
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    assert!(state
        .attr("root_client_private_key")
        .as_str()
        .unwrap()
        .contains("PRIVATE KEY"));
    assert_eq!(state.attr("ca_generated"), &Value::Bool(true));
}

#[test]
fn image_and_zone_changes_keep_the_pki() {
    let (planned, _) = plan(&Value::Null, &config(&["a"]));
    let state = applied(&planned);
    let mut changed = config(&["a", "b"]);
    changed.image = Attr::Known("cockroachdb/cockroach:v24.2.0".into());
    let (planned, _) = plan(&state, &changed);
    for kept in [
        "ca_certificate",
        "ca_private_key",
        "root_client_certificate",
        "root_client_private_key",
    ] {
        assert_eq!(
            planned.attr(kept),
            state.attr(kept),
            "{kept} must not change"
        );
    }
    assert_eq!(planned.attr("version"), &Value::string("v24.2.0"));
    assert_eq!(planned.attr("init_zone"), &Value::string("a"));
    assert_eq!(
        applied(&planned).attr("ca_certificate"),
        state.attr("ca_certificate")
    );
}

#[test]
fn an_update_that_rotates_nothing_plans_no_previous_ca() {
    let (planned, _) = plan(&Value::Null, &config(&["a"]));
    let state = applied(&planned);
    let mut changed = config(&["a", "b"]);
    changed.image = Attr::Known("cockroachdb/cockroach:v24.1.5".into());
    let (planned, _) = plan(&state, &changed);
    assert_eq!(planned.attr("previous_ca_certificate"), &Value::Null);
    assert_eq!(
        planned.attr("root_client_certificate_expires_at"),
        state.attr("root_client_certificate_expires_at")
    );
}

#[test]
fn unchanged_configuration_plans_exactly_the_state() {
    let (planned, _) = plan(&Value::Null, &config(&["a", "b"]));
    let state = applied(&planned);
    let (replanned, _) = plan(&state, &config(&["a", "b"]));
    assert_eq!(replanned, state);
}

#[test]
fn bumping_the_generation_regenerates_a_generated_ca() {
    let (planned, _) = plan(&Value::Null, &config(&["a"]));
    let state = applied(&planned);
    let mut bumped = config(&["a"]);
    bumped.pki_generation = Attr::Known(2);
    let (planned, _) = plan(&state, &bumped);
    assert_eq!(planned.attr("ca_certificate"), &Value::Unknown);
    let rotated = applied(&planned);
    assert_ne!(rotated.attr("ca_certificate"), state.attr("ca_certificate"));
    assert_eq!(
        state.attr("previous_ca_certificate"),
        &Value::Null,
        "no rotation before"
    );
    assert_eq!(
        rotated.attr("previous_ca_certificate"),
        state.attr("ca_certificate"),
        "the regions keep trusting the CA rotated from"
    );
    let (replanned, _) = plan(&rotated, &bumped);
    assert_eq!(
        replanned, rotated,
        "the previous CA stays until the next rotation"
    );
}

#[test]
fn adding_a_zone_in_front_keeps_the_init_zone() {
    let (planned, _) = plan(&Value::Null, &config(&["b"]));
    let state = applied(&planned);
    let (planned, _) = plan(&state, &config(&["a", "b"]));
    assert_eq!(planned.attr("init_zone"), &Value::string("b"));
}

#[test]
fn invalid_input_is_reported_on_each_attribute() {
    let mut bad = config(&["a", "Bad_Zone", "a", "default"]);
    bad.name = Attr::Known("Main".into());
    bad.image = Attr::Known("cockroachdb/cockroach".into());
    bad.init_zone = Attr::Known("z".into());
    bad.ca_certificate = Attr::Known("not a pem".into());
    let mut diags = Diagnostics::new();
    Resource::validate(&MultiregionCluster, &bad.to_value(), &mut diags);
    let paths = diags.attribute_paths();
    for expected in [
        "name",
        "image",
        "zones[1]",
        "zones[2]",
        "zones[3]",
        "init_zone",
        "ca_certificate",
    ] {
        assert!(
            paths.contains(&expected.to_string()),
            "no diagnostic on {expected}: {paths:?}"
        );
    }
    assert!(
        !paths.contains(&"ca_private_key".to_string()),
        "a missing key is reported on the certificate the user wrote: {paths:?}"
    );
    let mut key_alone = config(&["a"]);
    key_alone.ca_private_key = Attr::Known("a key".into());
    let mut diags = Diagnostics::new();
    Resource::validate(&MultiregionCluster, &key_alone.to_value(), &mut diags);
    assert_eq!(diags.attribute_paths(), ["ca_private_key"]);
}

#[test]
fn unknown_values_are_not_judged() {
    let mut partly = config(&["a"]);
    partly.zones = Attr::Known(vec![Attr::Known("a".into()), Attr::Unknown]);
    partly.image = Attr::Unknown;
    let mut diags = Diagnostics::new();
    Resource::validate(&MultiregionCluster, &partly.to_value(), &mut diags);
    assert!(diags.is_empty(), "{diags:?}");
    let (planned, _) = plan(&Value::Null, &partly);
    assert_eq!(planned.attr("join_addresses"), &Value::Unknown);
    assert_eq!(planned.attr("version"), &Value::Unknown);
}

fn with_image(mut config: ClusterModel, image: &str, mode: &str) -> ClusterModel {
    config.image = Attr::Known(format!("cockroachdb/cockroach:{image}"));
    config.upgrade_finalization = Attr::Known(mode.into());
    config
}

/// Plans `config` over `state`; the applied state, or the paths of the errors.
fn step(state: &Value, config: &ClusterModel) -> Result<Value, Vec<String>> {
    let (planned, diags) = plan(state, config);
    if diags.has_errors() {
        return Err(diags.attribute_paths());
    }
    Ok(applied(&planned))
}

#[test]
fn a_manual_upgrade_stays_open_for_a_rollback_until_switched_to_auto() {
    let base = config(&["a"]);
    let state = step(&Value::Null, &with_image(base.clone(), "v24.1.2", "manual")).unwrap();
    assert_eq!(state.attr("cluster_version"), &Value::string("24.1"));
    let upgraded = step(&state, &with_image(base.clone(), "v24.3.0", "manual")).unwrap();
    assert_eq!(
        upgraded.attr("cluster_version"),
        &Value::string("24.1"),
        "not finalized"
    );
    let (replanned, _) = plan(&upgraded, &with_image(base.clone(), "v24.3.0", "manual"));
    assert_eq!(replanned, upgraded, "an open upgrade plans no change");
    assert_eq!(
        step(&upgraded, &with_image(base.clone(), "v25.1.0", "manual")),
        Err(vec!["image".to_string()]),
        "no next major before finalizing"
    );
    assert_eq!(
        step(&upgraded, &with_image(base.clone(), "v24.1.0", "auto")),
        Err(vec!["image".to_string()]),
        "a rollback keeps manual until applied"
    );
    let rolled_back = step(&upgraded, &with_image(base.clone(), "v24.1.2", "manual")).unwrap();
    assert_eq!(rolled_back.attr("cluster_version"), &Value::string("24.1"));
    let again = step(&rolled_back, &with_image(base.clone(), "v24.3.1", "manual")).unwrap();
    let finalized = step(&again, &with_image(base.clone(), "v24.3.1", "auto")).unwrap();
    assert_eq!(finalized.attr("cluster_version"), &Value::string("24.3"));
    assert_eq!(
        step(&finalized, &with_image(base.clone(), "v24.1.2", "manual")),
        Err(vec!["image".to_string()]),
        "no rollback after finalizing"
    );
    let next = step(&finalized, &with_image(base, "v25.2.0", "manual")).unwrap();
    assert_eq!(
        next.attr("cluster_version"),
        &Value::string("24.3"),
        "the next upgrade may switch back to manual at once"
    );
}

#[test]
fn an_auto_upgrade_finalizes_and_a_skip_is_refused_on_the_image() {
    let base = config(&["a"]);
    let state = step(&Value::Null, &with_image(base.clone(), "v24.1.2", "auto")).unwrap();
    let (_, diags) = plan(&state, &with_image(base.clone(), "v25.1.0", "auto"));
    assert_eq!(diags.0.len(), 1, "{diags:?}");
    let refusal = &diags.0[0];
    assert_eq!(refusal.path.as_ref().unwrap().to_string(), "image");
    assert_eq!(refusal.summary, "Upgrade skips a required major version");
    assert!(
        refusal
            .detail
            .contains("v24.2.x (an Innovation release, which may be skipped) or v24.3.x"),
        "{}",
        refusal.detail
    );
    let upgraded = step(&state, &with_image(base.clone(), "v24.3.0", "auto")).unwrap();
    assert_eq!(upgraded.attr("cluster_version"), &Value::string("24.3"));
    assert!(step(&upgraded, &with_image(base.clone(), "v24.1.2", "auto")).is_err());
    let patched = step(&upgraded, &with_image(base.clone(), "v24.3.9", "auto")).unwrap();
    let latest = step(&patched, &with_image(base.clone(), "latest", "auto")).unwrap();
    assert_eq!(
        latest.attr("cluster_version"),
        &Value::string("24.3"),
        "an unjudged tag keeps the version last finalized"
    );
    assert_eq!(
        step(&latest, &with_image(base.clone(), "v22.1.0", "auto")),
        Err(vec!["image".to_string()]),
        "a detour through an unjudged tag is no way around the downgrade rule"
    );
    let onwards = step(&latest, &with_image(base, "v25.1.0", "auto")).unwrap();
    assert_eq!(onwards.attr("cluster_version"), &Value::string("25.1"));
}

#[test]
fn null_zones_are_refused_on_their_element() {
    let mut holed = config(&["a"]);
    holed.zones = Attr::Known(vec![Attr::Known("a".into()), Attr::Null]);
    let mut diags = Diagnostics::new();
    Resource::validate(&MultiregionCluster, &holed.to_value(), &mut diags);
    assert_eq!(diags.attribute_paths(), ["zones[1]"]);
    assert_eq!(diags.0[0].summary, "Null zone");
}

#[test]
fn a_cluster_domain_with_an_empty_label_is_quoted_whole() {
    let mut bad = config(&["a"]);
    bad.cluster_domain = Attr::Known("cluster..local".into());
    let mut diags = Diagnostics::new();
    Resource::validate(&MultiregionCluster, &bad.to_value(), &mut diags);
    assert_eq!(diags.attribute_paths(), ["cluster_domain"]);
    assert!(
        diags.0[0].detail.contains("\"cluster..local\""),
        "{}",
        diags.0[0].detail
    );
}

#[test]
fn upgrade_finalization_takes_auto_or_manual() {
    let mut bad = config(&["a"]);
    bad.upgrade_finalization = Attr::Known("never".into());
    let mut diags = Diagnostics::new();
    Resource::validate(&MultiregionCluster, &bad.to_value(), &mut diags);
    assert_eq!(
        diags.0[0].path.as_ref().unwrap().to_string(),
        "upgrade_finalization"
    );
}

/// A cluster whose certificates last ten minutes and are renewed in their last five.
fn short_lived(zones: &[&str]) -> ClusterModel {
    ClusterModel {
        certificate_validity: Attr::Known("10m".into()),
        certificate_renewal: Attr::Known("5m".into()),
        ..config(zones)
    }
}

#[test]
fn the_root_client_certificate_lasts_certificate_validity_and_its_expiry_is_shown() {
    let (planned, _) = plan(&Value::Null, &short_lived(&["a"]));
    let state = ClusterModel::from_value(&applied(&planned)).unwrap();
    let cert = state.root_client_certificate.known().unwrap();
    let not_after = crate::cockroach::pki::certificate_not_after(cert).unwrap();
    let lifetime = not_after - time::OffsetDateTime::now_utc();
    assert!(
        lifetime > time::Duration::minutes(9) && lifetime <= time::Duration::minutes(10),
        "{lifetime}"
    );
    assert_eq!(
        state.root_client_certificate_expires_at,
        Attr::Known(crate::resources::certificates::rfc3339(not_after).unwrap())
    );
    let ca_lifetime =
        crate::cockroach::pki::certificate_not_after(state.ca_certificate.known().unwrap())
            .unwrap()
            - time::OffsetDateTime::now_utc();
    assert!(
        ca_lifetime > time::Duration::days(3649),
        "the default CA lasts ten years: {ca_lifetime}"
    );
}

#[test]
fn inside_its_window_the_root_client_certificate_is_renewed_with_no_config_change() {
    let (planned, _) = plan(&Value::Null, &short_lived(&["a"]));
    let state = ClusterModel::from_value(&applied(&planned)).unwrap();
    let now = time::OffsetDateTime::now_utc();

    let mut early = state.clone();
    let diags = Diagnostics::of_check(|d| super::plan::renew_within_window(&mut early, now, d));
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(early.root_client_certificate, state.root_client_certificate);

    let mut due = state.clone();
    let later = now + time::Duration::minutes(6);
    let diags = Diagnostics::of_check(|d| super::plan::renew_within_window(&mut due, later, d));
    assert_eq!(
        diags.attribute_paths(),
        ["root_client_certificate_expires_at"]
    );
    assert_eq!(diags.0[0].summary, "root client certificate expires soon");
    let date = state.root_client_certificate_expires_at.known().unwrap();
    assert!(
        diags.0[0].detail.contains(date.as_str()),
        "{}",
        diags.0[0].detail
    );
    assert_eq!(due.root_client_certificate, Attr::Unknown);
    assert_eq!(due.root_client_private_key, Attr::Unknown);
    assert_eq!(due.ca_certificate, state.ca_certificate, "the CA stays");

    let renewed = ClusterModel::from_value(&applied(&due.to_value())).unwrap();
    assert_ne!(
        renewed.root_client_certificate,
        state.root_client_certificate
    );
    assert!(crate::cockroach::pki::certificate_matches_ca(
        renewed.root_client_certificate.known().unwrap(),
        state.ca_certificate.known().unwrap()
    ));

    let mut expired = state.clone();
    let after = now + time::Duration::minutes(11);
    let diags = Diagnostics::of_check(|d| super::plan::renew_within_window(&mut expired, after, d));
    assert_eq!(diags.0[0].summary, "root client certificate has expired");
    assert_eq!(expired.root_client_certificate, Attr::Unknown);
}

#[test]
fn a_ca_that_would_cut_new_certificates_short_is_warned_about_not_replaced() {
    let (planned, _) = plan(&Value::Null, &config(&["a"]));
    let state = ClusterModel::from_value(&applied(&planned)).unwrap();
    let mut late = state.clone();
    let when = time::OffsetDateTime::now_utc() + time::Duration::days(3650 - 100);
    let diags = Diagnostics::of_check(|d| super::plan::renew_within_window(&mut late, when, d));
    let paths = diags.attribute_paths();
    assert!(paths.contains(&"ca_expires_at".to_string()), "{diags:?}");
    let warning = diags
        .0
        .iter()
        .find(|d| d.summary == "CA certificate expires soon")
        .unwrap();
    assert!(warning.detail.contains("CA rotation"), "{}", warning.detail);
    assert_eq!(late.ca_certificate, state.ca_certificate);
}

#[test]
fn certificate_settings_are_validated_on_their_attributes() {
    let mut bad = config(&["a"]);
    bad.certificate_validity = Attr::Known("5m".into());
    bad.certificate_renewal = Attr::Known("1h".into());
    bad.ca_validity = Attr::Known("a decade".into());
    let mut diags = Diagnostics::new();
    Resource::validate(&MultiregionCluster, &bad.to_value(), &mut diags);
    assert_eq!(
        diags.attribute_paths(),
        ["ca_validity", "certificate_renewal"]
    );
}

/// A brought CA with its key given write-only keeps every key out of the planned and applied state: no
/// `ca_private_key`, no `root` client. A key is needed with a certificate new to the cluster, and not after.
#[test]
fn a_write_only_ca_key_is_checked_at_plan_and_kept_nowhere() {
    use crate::cockroach::pki::CertificateAuthority;
    let now = time::OffsetDateTime::now_utc();
    let ca = CertificateAuthority::generate("main", time::Duration::days(3650), now).unwrap();
    let other = CertificateAuthority::generate("other", time::Duration::days(365), now).unwrap();
    let mut brought = config(&["a"]);
    brought.ca_certificate = Attr::Known(ca.cert_pem().into());
    brought.ca_private_key_wo = Attr::Known(ca.key_pem().into());

    let (planned, diags) = plan(&Value::Null, &brought);
    assert!(!diags.has_errors(), "{diags:?}");
    // (`ca_private_key_wo` itself is nulled by the protocol layer, as every write-only attribute.)
    for kept_nowhere in [
        "ca_private_key",
        "root_client_certificate",
        "root_client_private_key",
    ] {
        assert_eq!(planned.attr(kept_nowhere), &Value::Null, "{kept_nowhere}");
    }
    let state = applied(&planned);
    assert_eq!(state.attr("ca_private_key"), &Value::Null);
    assert_eq!(state.attr("root_client_private_key"), &Value::Null);
    assert!(state.attr("ca_fingerprint_sha256").as_str().is_some());

    // Later plans need no key; the same certificate is no rotation.
    let mut without_key = brought.clone();
    without_key.ca_private_key_wo = Attr::Null;
    let (again, diags) = plan(&state, &without_key);
    assert!(!diags.has_errors(), "{diags:?}");
    assert_eq!(again.attr("previous_ca_certificate"), &Value::Null);

    // A certificate new to the cluster needs its key, on the certificate's line; a key of another CA is refused
    // on the key's.
    let (_, diags) = plan(&Value::Null, &without_key);
    assert_eq!(diags.attribute_paths(), ["ca_certificate"]);
    let mut mismatched = brought.clone();
    mismatched.ca_private_key_wo = Attr::Known(other.key_pem().into());
    let mut diags = Diagnostics::new();
    Resource::validate(&MultiregionCluster, &mismatched.to_value(), &mut diags);
    assert_eq!(diags.attribute_paths(), ["ca_private_key_wo"]);
    let mut both = brought.clone();
    both.ca_private_key = Attr::Known(ca.key_pem().into());
    let mut diags = Diagnostics::new();
    Resource::validate(&MultiregionCluster, &both.to_value(), &mut diags);
    assert_eq!(diags.attribute_paths(), ["ca_private_key_wo"]);
}

/// A cluster whose CA key was in the state (generated, or `ca_private_key`) moves it out by giving the same
/// certificate with `ca_private_key_wo`: no rotation, and the keys leave the state.
#[test]
fn moving_the_ca_key_out_of_the_state_rotates_nothing() {
    let (planned, _) = plan(&Value::Null, &config(&["a"]));
    let generated = applied(&planned);
    let cert = generated
        .attr("ca_certificate")
        .as_str()
        .unwrap()
        .to_string();
    let key = generated
        .attr("ca_private_key")
        .as_str()
        .unwrap()
        .to_string();
    let mut moved = config(&["a"]);
    moved.ca_certificate = Attr::Known(cert.clone());
    moved.ca_private_key_wo = Attr::Known(key);
    let (planned, diags) = plan(&generated, &moved);
    assert!(!diags.has_errors(), "{diags:?}");
    assert_eq!(planned.attr("previous_ca_certificate"), &Value::Null);
    assert_eq!(planned.attr("ca_certificate"), &Value::string(cert));
    assert_eq!(
        planned.attr("ca_fingerprint_sha256"),
        generated.attr("ca_fingerprint_sha256")
    );
    assert_eq!(planned.attr("ca_private_key"), &Value::Null);
    assert_eq!(planned.attr("root_client_private_key"), &Value::Null);
    let state = applied(&planned);
    assert_eq!(state.attr("ca_private_key"), &Value::Null);
}

#[test]
fn disruption_budget_takes_node_or_zone_on_the_attribute() {
    let mut bad = config(&["a"]);
    bad.disruption_budget = Attr::Known("region".into());
    let mut diags = Diagnostics::new();
    Resource::validate(&MultiregionCluster, &bad.to_value(), &mut diags);
    assert_eq!(diags.attribute_paths(), ["disruption_budget"]);
    assert!(diags.0[0].detail.contains("zone"), "{}", diags.0[0].detail);
    for good in super::model::DISRUPTION_BUDGETS {
        let mut ok = config(&["a"]);
        ok.disruption_budget = Attr::Known(good.into());
        let mut diags = Diagnostics::new();
        Resource::validate(&MultiregionCluster, &ok.to_value(), &mut diags);
        assert!(!diags.has_errors(), "{good}: {diags:?}");
    }
}

#[test]
fn a_zone_budget_over_fewer_than_three_zones_warns_at_plan_time_that_it_falls_back() {
    let budget = |zones: &[&str]| {
        let mut config = config(zones);
        config.disruption_budget = Attr::Known("zone".into());
        let mut diags = Diagnostics::new();
        Resource::validate(&MultiregionCluster, &config.to_value(), &mut diags);
        diags
    };
    let two = budget(&["a", "b"]);
    assert!(!two.has_errors(), "{two:?}");
    assert_eq!(two.attribute_paths(), ["disruption_budget"]);
    assert!(two.0[0].detail.contains("With 2 zone(s)"), "{two:?}");
    assert!(budget(&["a", "b", "c"]).is_empty());
}
