//! Fidelity of the emulated API server as kube-rs sees it.

mod common;

use common::{api_err, client, code, sandbox};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::discovery::{Discovery, Scope};
use serde_json::json;

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}),
    )
    .unwrap()
}

fn sts(name: &str, replicas: i32, image: &str) -> StatefulSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "serviceName": name, "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
                {"name": "db", "image": image, "ports": [{"containerPort": 26257, "name": "grpc"}],
                 "env": [{"name": "A", "value": "1"}]}
            ]}},
            "volumeClaimTemplates": [{"metadata": {"name": "datadir"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn discovery_and_version() {
    let sb = sandbox(&["a"]).await;
    let c = client(&sb, "a").await;
    let v = c.apiserver_version().await.unwrap();
    assert_eq!((v.major.as_str(), v.minor.as_str()), ("1", "33"));
    for discovery in [
        Discovery::new(c.clone()).run().await.unwrap(),
        Discovery::new(c.clone()).run_aggregated().await.unwrap(),
    ] {
        let (sts_res, caps) = discovery
            .resolve_gvk(&kube::core::GroupVersionKind::gvk(
                "apps",
                "v1",
                "StatefulSet",
            ))
            .expect("statefulsets discovered");
        assert_eq!(sts_res.plural, "statefulsets");
        assert_eq!(caps.scope, Scope::Namespaced);
        assert!(
            caps.subresources
                .iter()
                .any(|(r, _)| r.plural == "statefulsets/scale" || r.plural == "scale"),
            "{:?}",
            caps.subresources
        );
        for (g, k) in [
            ("", "Pod"),
            ("batch", "Job"),
            ("policy", "PodDisruptionBudget"),
            ("rbac.authorization.k8s.io", "ClusterRole"),
        ] {
            assert!(
                discovery
                    .resolve_gvk(&kube::core::GroupVersionKind::gvk(g, "v1", k))
                    .is_some(),
                "{k}"
            );
        }
    }
}

#[tokio::test]
async fn wrong_token_is_401() {
    let sb = sandbox(&["a"]).await;
    let mut cfg = common::config(&sb, "a").await;
    cfg.auth_info.token = Some("wrong".to_string().into());
    let c = kube::Client::try_from(cfg).unwrap();
    let r = Api::<Namespace>::all(c).list(&ListParams::default()).await;
    assert_eq!(code(r), 401);
}

#[tokio::test]
async fn crud_conflicts_and_errors() {
    let sb = sandbox(&["a"]).await;
    let c = client(&sb, "a").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
    let pp = PostParams::default();
    let created = api
        .create(&pp, &cm("one", json!({"app": "x"})))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(
        meta.uid.is_some() && meta.creation_timestamp.is_some() && meta.resource_version.is_some()
    );
    api.create(&pp, &cm("two", json!({"app": "y"})))
        .await
        .unwrap();

    let e = api_err(api.create(&pp, &cm("one", json!({}))).await);
    assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));
    let e = api_err(api.get("missing").await);
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));
    let e = api_err(api.create(&pp, &cm("Bad_Name", json!({}))).await);
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert_eq!(e.details.unwrap().causes[0].field, "metadata.name");

    let listed = api
        .list(&ListParams::default().labels("app=x"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    let listed = api
        .list(&ListParams::default().fields("metadata.name=two"))
        .await
        .unwrap();
    assert_eq!(listed.items[0].metadata.name.as_deref(), Some("two"));
    let listed = api
        .list(&ListParams::default().labels("app in (x,y)").limit(1))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(listed.metadata.continue_.is_some());

    // Update with the current resourceVersion works once; the stale one then conflicts.
    let mut first = api.get("one").await.unwrap();
    first.data = Some([("k".to_string(), "w".to_string())].into());
    let updated = api.replace("one", &pp, &first).await.unwrap();
    assert_ne!(
        updated.metadata.resource_version,
        first.metadata.resource_version
    );
    let e = api_err(api.replace("one", &pp, &first).await);
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));

    // Namespaces that do not exist and namespaces being deleted.
    let nowhere: Api<ConfigMap> = Api::namespaced(c.clone(), "nowhere");
    assert_eq!(code(nowhere.create(&pp, &cm("x", json!({}))).await), 404);
    let nss: Api<Namespace> = Api::all(c.clone());
    nss.create(
        &pp,
        &serde_json::from_value(json!({"metadata": {"name": "doomed"}})).unwrap(),
    )
    .await
    .unwrap();
    nss.delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    let ns = nss.get("doomed").await.unwrap();
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Terminating"));
    let doomed: Api<ConfigMap> = Api::namespaced(c.clone(), "doomed");
    let e = api_err(doomed.create(&pp, &cm("x", json!({}))).await);
    assert_eq!((e.code, e.reason.as_str()), (403, "Forbidden"));

    // dryRun=All validates and answers, but stores nothing.
    api.create(
        &PostParams {
            dry_run: true,
            ..Default::default()
        },
        &cm("dry", json!({})),
    )
    .await
    .unwrap();
    assert_eq!(code(api.get("dry").await), 404);

    // deletecollection with a label selector.
    api.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("app=y"),
    )
    .await
    .unwrap();
    assert_eq!(code(api.get("two").await), 404);
    api.delete("one", &DeleteParams::default()).await.unwrap();
    assert_eq!(code(api.get("one").await), 404);
}

#[tokio::test]
async fn statefulset_defaults_generation_immutability_scale() {
    let sb = sandbox(&["a"]).await;
    let c = client(&sb, "a").await;
    let api: Api<StatefulSet> = Api::namespaced(c, "default");
    let s = api
        .create(
            &PostParams::default(),
            &sts("db", 3, "cockroachdb/cockroach:v25.1.0"),
        )
        .await
        .unwrap();
    let spec = s.spec.clone().unwrap();
    assert_eq!(spec.pod_management_policy.as_deref(), Some("OrderedReady"));
    assert_eq!(spec.revision_history_limit, Some(10));
    assert_eq!(
        spec.update_strategy.unwrap().type_.as_deref(),
        Some("RollingUpdate")
    );
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Always"));
    assert_eq!(pod.dns_policy.as_deref(), Some("ClusterFirst"));
    assert_eq!(
        pod.containers[0].ports.as_ref().unwrap()[0]
            .protocol
            .as_deref(),
        Some("TCP")
    );
    assert_eq!(s.metadata.generation, Some(1));

    // Spec change bumps generation; metadata-only change does not.
    let p = api
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 4}})),
        )
        .await
        .unwrap();
    assert_eq!(p.metadata.generation, Some(2));
    let p = api
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(p.metadata.generation, Some(2));

    // Immutable fields.
    for patch in [
        json!({"spec": {"serviceName": "other"}}),
        json!({"spec": {"podManagementPolicy": "Parallel"}}),
        json!({"spec": {"selector": {"matchLabels": {"app": "db", "b": "c"}}}}),
    ] {
        let e = api_err(
            api.patch("db", &PatchParams::default(), &Patch::Merge(patch.clone()))
                .await,
        );
        assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"), "{patch}");
    }

    // Scale subresource.
    let scale = api.get_scale("db").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(4));
    api.patch_scale(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 5}})),
    )
    .await
    .unwrap();
    assert_eq!(api.get("db").await.unwrap().spec.unwrap().replicas, Some(5));

    // Status goes through /status only.
    let mut whole = api.get("db").await.unwrap();
    whole.status.as_mut().unwrap().ready_replicas = Some(9);
    let after = api
        .replace("db", &PostParams::default(), &whole)
        .await
        .unwrap();
    assert_ne!(after.status.unwrap().ready_replicas, Some(9));
    let after = api
        .patch_status(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"readyReplicas": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(after.status.unwrap().ready_replicas, Some(2));

    // Required fields.
    let mut bad = sts("bad", 1, "x");
    bad.spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap()
        .containers
        .clear();
    let e = api_err(api.create(&PostParams::default(), &bad).await);
    assert_eq!(e.code, 422);
    assert!(e
        .details
        .unwrap()
        .causes
        .iter()
        .any(|c| c.field == "spec.template.spec.containers"));
}

#[tokio::test]
async fn service_cluster_ip_and_port_defaults() {
    let sb = sandbox(&["a"]).await;
    let c = client(&sb, "a").await;
    let api: Api<Service> = Api::namespaced(c, "default");
    let svc: Service = serde_json::from_value(
        json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
        "ports": [{"name": "http", "port": 8080}]}}),
    )
    .unwrap();
    let s = api.create(&PostParams::default(), &svc).await.unwrap();
    let spec = s.spec.unwrap();
    let ip = spec.cluster_ip.clone().unwrap();
    assert!(ip.starts_with("10.96."), "{ip}");
    let port = &spec.ports.unwrap()[0];
    assert_eq!(port.protocol.as_deref(), Some("TCP"));
    assert_eq!(
        serde_json::to_value(&port.target_port).unwrap(),
        json!(8080)
    );
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    let e = api_err(
        api.patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"clusterIP": "10.96.9.9"}})),
        )
        .await,
    );
    assert_eq!(e.code, 422);
    // A replace that leaves clusterIP out keeps it.
    let mut again = api.get("web").await.unwrap();
    again.spec.as_mut().unwrap().cluster_ip = None;
    again.spec.as_mut().unwrap().cluster_ips = None;
    let kept = api
        .replace("web", &PostParams::default(), &again)
        .await
        .unwrap();
    let kept_ip = kept.spec.unwrap().cluster_ip.unwrap();
    assert_eq!(kept_ip, ip);
    // Headless and names that are not DNS-1035 labels.
    let headless: Service = serde_json::from_value(
        json!({"metadata": {"name": "cockroachdb"}, "spec": {"clusterIP": "None",
        "publishNotReadyAddresses": true, "ports": [{"name": "grpc", "port": 26257}]}}),
    )
    .unwrap();
    assert_eq!(
        api.create(&PostParams::default(), &headless)
            .await
            .unwrap()
            .spec
            .unwrap()
            .cluster_ip
            .as_deref(),
        Some("None")
    );
    // An explicit clusterIP already allocated is refused.
    let taken: Service = serde_json::from_value(
        json!({"metadata": {"name": "taken"}, "spec": {"clusterIP": kept_ip,
        "ports": [{"port": 80}]}}),
    )
    .unwrap();
    assert_eq!(code(api.create(&PostParams::default(), &taken).await), 422);
    let bad: Service = serde_json::from_value(
        json!({"metadata": {"name": "1web"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .unwrap();
    assert_eq!(code(api.create(&PostParams::default(), &bad).await), 422);
}

#[tokio::test]
async fn patch_types() {
    let sb = sandbox(&["a"]).await;
    let c = client(&sb, "a").await;
    let api: Api<StatefulSet> = Api::namespaced(c, "default");
    api.create(&PostParams::default(), &sts("db", 3, "img:1"))
        .await
        .unwrap();
    let pp = PatchParams::default();

    // Strategic merge: containers and env merge by name.
    let p = api
        .patch(
            "db",
            &pp,
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "sidecar", "image": "side:1"},
                {"name": "db", "env": [{"name": "B", "value": "2"}]}
            ]}}}})),
        )
        .await
        .unwrap();
    let cs = p.spec.unwrap().template.spec.unwrap().containers;
    assert_eq!(cs.len(), 2);
    let db = cs.iter().find(|c| c.name == "db").unwrap();
    assert_eq!(db.image.as_deref(), Some("img:1"));
    assert_eq!(db.env.as_ref().unwrap().len(), 2);

    // JSON merge patch replaces lists.
    let p = api
        .patch("db", &pp, &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "db", "image": "img:2"}]}}}})))
        .await
        .unwrap();
    assert_eq!(p.spec.unwrap().template.spec.unwrap().containers.len(), 1);

    // JSON patch, including a failing test op.
    let ops: json_patch::Patch =
        serde_json::from_value(json!([{"op": "replace", "path": "/spec/replicas", "value": 7}]))
            .unwrap();
    assert_eq!(
        api.patch("db", &pp, &Patch::<()>::Json(ops))
            .await
            .unwrap()
            .spec
            .unwrap()
            .replicas,
        Some(7)
    );
    let ops: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/spec/replicas", "value": 1}]))
            .unwrap();
    assert_eq!(
        code(api.patch("db", &pp, &Patch::<()>::Json(ops)).await),
        422
    );
}

#[tokio::test]
async fn server_side_apply_ownership() {
    let sb = sandbox(&["a"]).await;
    let c = client(&sb, "a").await;
    let api: Api<StatefulSet> = Api::namespaced(c, "default");
    let mut config = serde_json::to_value(sts("db", 3, "img:1")).unwrap();
    config["metadata"]["labels"] = json!({"owner": "tf"});
    let tf = PatchParams::apply("terraform");
    let s = api.patch("db", &tf, &Patch::Apply(&config)).await.unwrap();
    let mf = s.metadata.managed_fields.unwrap();
    assert_eq!(mf[0].manager.as_deref(), Some("terraform"));
    assert_eq!(mf[0].operation.as_deref(), Some("Apply"));

    // Another manager changes replicas; applying a different value conflicts, force takes it back.
    api.patch_scale(
        "db",
        &PatchParams::apply("hpa").force(),
        &Patch::Merge(json!({"spec": {"replicas": 5}})),
    )
    .await
    .ok();
    api.patch(
        "db",
        &PatchParams {
            field_manager: Some("kubectl-scale".into()),
            ..Default::default()
        },
        &Patch::Merge(json!({"spec": {"replicas": 6}})),
    )
    .await
    .unwrap();
    let e = api_err(api.patch("db", &tf, &Patch::Apply(&config)).await);
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert!(
        e.message.contains("kubectl-scale") && e.message.contains(".spec.replicas"),
        "{}",
        e.message
    );
    let forced = api
        .patch("db", &tf.clone().force(), &Patch::Apply(&config))
        .await
        .unwrap();
    assert_eq!(forced.spec.unwrap().replicas, Some(3));

    // Dropping a field from the apply configuration removes it.
    config["metadata"].as_object_mut().unwrap().remove("labels");
    let s = api.patch("db", &tf, &Patch::Apply(&config)).await.unwrap();
    assert!(!s.metadata.labels.unwrap_or_default().contains_key("owner"));

    // Apply creates, and requires a field manager.
    let mut other = serde_json::to_value(sts("db2", 1, "img:1")).unwrap();
    other["metadata"]["namespace"] = json!("default");
    api.patch("db2", &tf, &Patch::Apply(&other)).await.unwrap();
    let e = api_err(
        api.patch("db2", &PatchParams::default(), &Patch::Apply(&other))
            .await,
    );
    assert_eq!(e.code, 400);

    // Apply with dryRun stores nothing.
    let mut dry_cfg = serde_json::to_value(sts("db3", 1, "img:1")).unwrap();
    dry_cfg["metadata"]["namespace"] = json!("default");
    let mut dry = PatchParams::apply("terraform");
    dry.dry_run = true;
    api.patch("db3", &dry, &Patch::Apply(&dry_cfg))
        .await
        .unwrap();
    assert_eq!(code(api.get("db3").await), 404);
}

#[tokio::test]
async fn finalizers_and_garbage_collection() {
    let sb = sandbox(&["a"]).await;
    let c = client(&sb, "a").await;
    let api: Api<ConfigMap> = Api::namespaced(c, "default");
    let pp = PostParams::default();
    let mut held = cm("held", json!({}));
    held.metadata.finalizers = Some(vec!["example.com/keep".into()]);
    api.create(&pp, &held).await.unwrap();
    api.delete("held", &DeleteParams::default()).await.unwrap();
    let terminating = api.get("held").await.unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some());
    api.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(code(api.get("held").await), 404);

    for (policy, survives) in [
        (PropagationPolicy::Background, false),
        (PropagationPolicy::Foreground, false),
        (PropagationPolicy::Orphan, true),
    ] {
        let owner = api.create(&pp, &cm("owner", json!({}))).await.unwrap();
        let mut dep = cm("dep", json!({}));
        dep.metadata.owner_references = Some(vec![serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid.unwrap()
        })).unwrap()]);
        api.create(&pp, &dep).await.unwrap();
        let dp = DeleteParams {
            propagation_policy: Some(policy.clone()),
            ..Default::default()
        };
        api.delete("owner", &dp).await.unwrap();
        assert_eq!(code(api.get("owner").await), 404, "{policy:?}");
        let dep = api.get("dep").await;
        assert_eq!(dep.is_ok(), survives, "{policy:?}");
        if let Ok(d) = dep {
            assert!(d.metadata.owner_references.unwrap_or_default().is_empty());
            api.delete("dep", &DeleteParams::default()).await.unwrap();
        }
    }
}

#[tokio::test]
async fn immutable_jobs_and_secrets() {
    let sb = sandbox(&["a"]).await;
    let c = client(&sb, "a").await;
    let jobs: Api<Job> = Api::namespaced(c.clone(), "default");
    let job: Job = serde_json::from_value(
        json!({"metadata": {"name": "init"}, "spec": {"template": {"spec": {
        "restartPolicy": "OnFailure", "containers": [{"name": "init", "image": "cockroach:1"}]}}}}),
    )
    .unwrap();
    let j = jobs.create(&PostParams::default(), &job).await.unwrap();
    let spec = j.spec.unwrap();
    assert_eq!(spec.backoff_limit, Some(6));
    assert!(spec
        .selector
        .unwrap()
        .match_labels
        .unwrap()
        .contains_key("batch.kubernetes.io/controller-uid"));
    let e = api_err(jobs.patch("init", &PatchParams::default(), &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "init", "image": "cockroach:2"}]}}}}))).await);
    assert_eq!(e.code, 422);
    let bad: Job = serde_json::from_value(
        json!({"metadata": {"name": "bad"}, "spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "x"}]}}}}),
    )
    .unwrap();
    assert_eq!(code(jobs.create(&PostParams::default(), &bad).await), 422);

    let secrets: Api<Secret> = Api::namespaced(c, "default");
    let s: Secret = serde_json::from_value(
        json!({"metadata": {"name": "s"}, "immutable": true, "stringData": {"a": "b"}}),
    )
    .unwrap();
    let s = secrets.create(&PostParams::default(), &s).await.unwrap();
    assert_eq!(s.type_.as_deref(), Some("Opaque"));
    assert_eq!(s.data.unwrap()["a"].0, b"b");
    let e = api_err(
        secrets
            .patch(
                "s",
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"a": "Yw=="}})),
            )
            .await,
    );
    assert_eq!(e.code, 422);
}

#[tokio::test]
async fn rbac_pdb_and_cluster_scope() {
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
    let sb = sandbox(&["a"]).await;
    let c = client(&sb, "a").await;
    let pp = PostParams::default();

    let roles: Api<Role> = Api::namespaced(c.clone(), "default");
    let role: Role = serde_json::from_value(json!({"metadata": {"name": "cockroachdb"}, "rules": [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}))
    .unwrap();
    roles.create(&pp, &role).await.unwrap();
    let rbs: Api<RoleBinding> = Api::namespaced(c.clone(), "default");
    let rb: RoleBinding = serde_json::from_value(json!({"metadata": {"name": "cockroachdb"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cockroachdb"},
        "subjects": [{"kind": "ServiceAccount", "name": "cockroachdb", "namespace": "default"}]}))
    .unwrap();
    rbs.create(&pp, &rb).await.unwrap();
    // roleRef cannot change.
    let e = api_err(
        rbs.patch(
            "cockroachdb",
            &PatchParams::default(),
            &Patch::Merge(json!({"roleRef": {"name": "other"}})),
        )
        .await,
    );
    assert_eq!(e.code, 422);

    let crs: Api<ClusterRole> = Api::all(c.clone());
    let cr: ClusterRole =
        serde_json::from_value(json!({"metadata": {"name": "system:sandbox-reader"}, "rules": []}))
            .unwrap();
    let created = crs.create(&pp, &cr).await.unwrap();
    assert!(created.metadata.namespace.is_none());
    let crbs: Api<ClusterRoleBinding> = Api::all(c.clone());
    let crb: ClusterRoleBinding = serde_json::from_value(json!({"metadata": {"name": "sandbox-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:sandbox-reader"}})).unwrap();
    crbs.create(&pp, &crb).await.unwrap();
    assert_eq!(crbs.list(&Default::default()).await.unwrap().items.len(), 1);

    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(c.clone(), "default");
    let pdb: PodDisruptionBudget =
        serde_json::from_value(json!({"metadata": {"name": "cockroachdb-budget"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "cockroachdb"}}}}))
        .unwrap();
    let created = pdbs.create(&pp, &pdb).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let both: PodDisruptionBudget = serde_json::from_value(json!({"metadata": {"name": "both"},
        "spec": {"maxUnavailable": 1, "minAvailable": 1}}))
    .unwrap();
    assert_eq!(code(pdbs.create(&pp, &both).await), 422);

    // All-namespaces list of a namespaced type.
    let everywhere: Api<Role> = Api::all(c);
    assert_eq!(
        everywhere
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

#[tokio::test]
async fn pod_logs_and_decode_errors() {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::LogParams;
    use std::sync::Arc;
    let sb = sandbox(&["a"]).await;
    sb.cluster("a")
        .unwrap()
        .set_log_source(Arc::new(|ns: &str, pod: &str| {
            format!("one {ns}/{pod}\ntwo\nthree\n")
        }));
    let c = client(&sb, "a").await;
    let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
    let pod: Pod =
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "db", "image": "x:1"}, {"name": "side", "image": "y:1"}]}}))
        .unwrap();
    let created = pods.create(&PostParams::default(), &pod).await.unwrap();
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));
    let text = pods
        .logs(
            "p",
            &LogParams {
                container: Some("db".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(text, "one default/p\ntwo\nthree\n");
    let tail = pods
        .logs(
            "p",
            &LogParams {
                container: Some("db".into()),
                tail_lines: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(tail, "three\n");
    assert_eq!(code(pods.logs("p", &LogParams::default()).await), 400);
    assert_eq!(code(pods.logs("missing", &LogParams::default()).await), 404);

    let secrets: Api<Secret> = Api::namespaced(c.clone(), "default");
    let raw = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad"}, "data": {"k": "not base64!"}});
    let r = secrets
        .patch("bad", &PatchParams::apply("t"), &Patch::Apply(&raw))
        .await;
    assert_eq!(code(r), 400);

    let cms: Api<ConfigMap> = Api::namespaced(c, "default");
    let mut orphan = cm("refs", json!({}));
    orphan.metadata.owner_references = Some(vec![serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": ""}),
    )
    .unwrap()]);
    let e = api_err(cms.create(&PostParams::default(), &orphan).await);
    assert_eq!(e.code, 422);
    assert!(e
        .details
        .unwrap()
        .causes
        .iter()
        .any(|c| c.field == "metadata.ownerReferences[0].uid"));
}

#[tokio::test]
async fn unknown_fields_are_dropped_warned_or_refused() {
    use kube::api::ValidationDirective;
    let sb = sandbox(&["a"]).await;
    let c = client(&sb, "a").await;
    let api: Api<StatefulSet> = Api::namespaced(c, "default");
    let mut typo = serde_json::to_value(sts("db", 3, "img:1")).unwrap();
    typo["spec"]["replica"] = json!(5);
    // Create and merge patch drop it (a real server warns in a Warning header).
    let created: StatefulSet = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(typo.clone()).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(created.spec.unwrap().replicas, Some(3));
    let raw: serde_json::Value = serde_json::to_value(api.get("db").await.unwrap()).unwrap();
    assert!(raw["spec"].get("replica").is_none());
    let patched = api
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replica": 7}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.spec.unwrap().replicas, Some(3));
    // Strict refuses.
    let strict = PatchParams::default().validation(ValidationDirective::Strict);
    let e = api_err(
        api.patch(
            "db",
            &strict,
            &Patch::Merge(json!({"spec": {"replica": 7}})),
        )
        .await,
    );
    assert_eq!(e.code, 400);
    assert!(
        e.message.contains("unknown field \"spec.replica\""),
        "{}",
        e.message
    );
    // Server-side apply refuses unless told to ignore.
    let e = api_err(
        api.patch("db", &PatchParams::apply("tf"), &Patch::Apply(&typo))
            .await,
    );
    assert_eq!(e.code, 400);
    assert!(
        e.message
            .contains(".spec.replica: field not declared in schema"),
        "{}",
        e.message
    );
    // (forced: the creator owns the atomic volumeClaimTemplates, whose stored form carries defaults)
    let lenient = PatchParams::apply("tf")
        .force()
        .validation(ValidationDirective::Ignore);
    api.patch("db", &lenient, &Patch::Apply(&typo))
        .await
        .unwrap();
}

#[tokio::test]
async fn server_side_apply_of_namespaces_and_secrets() {
    let sb = sandbox(&["a"]).await;
    let c = client(&sb, "a").await;
    let tf = PatchParams::apply("terraform").force();
    let nss: Api<Namespace> = Api::all(c.clone());
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "us-east1", "labels": {"zone": "us-east1"}}});
    let created = nss
        .patch("us-east1", &tf, &Patch::Apply(&ns))
        .await
        .unwrap();
    assert_eq!(
        created.metadata.labels.unwrap()["kubernetes.io/metadata.name"],
        "us-east1"
    );
    let secrets: Api<Secret> = Api::namespaced(c, "us-east1");
    let s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cockroachdb.node"},
        "stringData": {"ca.crt": "CA"}, "type": "Opaque"});
    let applied = secrets
        .patch("cockroachdb.node", &tf, &Patch::Apply(&s))
        .await
        .unwrap();
    assert_eq!(applied.data.unwrap()["ca.crt"].0, b"CA");
    // Applying the same configuration again changes nothing.
    let again = secrets
        .patch("cockroachdb.node", &tf, &Patch::Apply(&s))
        .await
        .unwrap();
    assert_eq!(
        again.metadata.resource_version,
        applied.metadata.resource_version
    );
}

#[tokio::test]
async fn storage_classes_default_claims_and_gate_their_expansion() {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    use k8s_openapi::api::storage::v1::StorageClass;
    let sb = sandbox(&["a"]).await;
    let c = client(&sb, "a").await;
    let pp = PostParams::default();
    let classes: Api<StorageClass> = Api::all(c.clone());
    for (name, expandable, default) in [("standard", true, true), ("fixed", false, false)] {
        let mut class = json!({"metadata": {"name": name}, "provisioner": "example.com/disk",
                               "allowVolumeExpansion": expandable});
        if default {
            class["metadata"]["annotations"] =
                json!({"storageclass.kubernetes.io/is-default-class": "true"});
        }
        classes
            .create(&pp, &serde_json::from_value(class).unwrap())
            .await
            .unwrap();
    }
    let fixed = classes.get("fixed").await.unwrap();
    assert_eq!(fixed.reclaim_policy.as_deref(), Some("Delete"));
    assert_eq!(fixed.volume_binding_mode.as_deref(), Some("Immediate"));
    let moved = classes
        .patch(
            "fixed",
            &PatchParams::default(),
            &Patch::Merge(json!({"provisioner": "example.com/other"})),
        )
        .await;
    assert_eq!(code(moved), 422, "a class's provisioner is immutable");

    let claims: Api<PersistentVolumeClaim> = Api::namespaced(c.clone(), "default");
    let claim = |name: &str, class: Option<&str>| -> PersistentVolumeClaim {
        let mut c = json!({"metadata": {"name": name}, "spec": {"accessModes": ["ReadWriteOnce"],
                           "resources": {"requests": {"storage": "1Gi"}}}});
        if let Some(class) = class {
            c["spec"]["storageClassName"] = json!(class);
        }
        serde_json::from_value(c).unwrap()
    };
    let defaulted = claims.create(&pp, &claim("data-0", None)).await.unwrap();
    assert_eq!(
        defaulted.spec.unwrap().storage_class_name.as_deref(),
        Some("standard")
    );
    claims
        .create(&pp, &claim("fixed-0", Some("fixed")))
        .await
        .unwrap();
    let grow =
        |size: &str| Patch::Merge(json!({"spec": {"resources": {"requests": {"storage": size}}}}));
    let params = PatchParams::default();
    assert_eq!(
        code(claims.patch("data-0", &params, &grow("2Gi")).await),
        422,
        "an unbound claim cannot change"
    );
    for name in ["data-0", "fixed-0"] {
        let bound =
            Patch::Merge(json!({"status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}}));
        claims.patch_status(name, &params, &bound).await.unwrap();
    }
    let grown = claims.patch("data-0", &params, &grow("2Gi")).await.unwrap();
    assert_eq!(
        grown.spec.unwrap().resources.unwrap().requests.unwrap()["storage"].0,
        "2Gi"
    );
    let shrink = api_err(claims.patch("data-0", &params, &grow("1Gi")).await);
    assert_eq!(shrink.code, 422);
    assert!(
        shrink.message.contains("spec.resources.requests.storage"),
        "{}",
        shrink.message
    );
    let refused = api_err(claims.patch("fixed-0", &params, &grow("2Gi")).await);
    assert_eq!((refused.code, refused.reason.as_str()), (403, "Forbidden"));
    assert!(
        refused.message.contains("must support resize"),
        "{}",
        refused.message
    );
}

#[tokio::test]
async fn merge_patch_deletes_keys_with_null_and_replaces_lists() {
    let sb = sandbox(&["a"]).await;
    let api: Api<ConfigMap> = Api::namespaced(client(&sb, "a").await, "default");
    let mut start = cm("merged", json!({"keep": "1", "drop": "2"}));
    start.metadata.finalizers = Some(vec!["example.com/a".into(), "example.com/b".into()]);
    api.create(&PostParams::default(), &start).await.unwrap();

    let patched = api
        .patch(
            "merged",
            &PatchParams::default(),
            &Patch::Merge(json!({
                "metadata": {"labels": {"drop": null}, "finalizers": ["example.com/c"]},
                "data": {"k": null, "new": "v"}
            })),
        )
        .await
        .unwrap();
    let labels = patched.metadata.labels.unwrap();
    assert_eq!(labels.get("keep").map(String::as_str), Some("1"));
    assert!(!labels.contains_key("drop"), "null deletes a key");
    assert_eq!(
        patched.metadata.finalizers.unwrap(),
        ["example.com/c"],
        "a list is replaced, not merged"
    );
    let data = patched.data.unwrap();
    assert!(!data.contains_key("k"));
    assert_eq!(data.get("new").map(String::as_str), Some("v"));

    // The same list through a strategic merge patch is merged, as on a real server.
    let strategic = api
        .patch(
            "merged",
            &PatchParams::default(),
            &Patch::Strategic(json!({"metadata": {"finalizers": ["example.com/d"]}})),
        )
        .await
        .unwrap();
    assert_eq!(
        strategic.metadata.finalizers.unwrap(),
        ["example.com/c", "example.com/d"]
    );
}

/// As kube-apiserver answers them (compared by the provider's `tests/differential.rs`): a Service's delete
/// answers with the Service (its storage returns the deleted object), a ConfigMap's with a `Status`; a namespace
/// being deleted gets a deletion timestamp and nothing else of a finalizing object's metadata.
#[tokio::test]
async fn deletes_answer_as_kube_apiserver_does() {
    let sb = sandbox(&["a"]).await;
    let c = client(&sb, "a").await;
    let namespaces: Api<Namespace> = Api::all(c.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "gone"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let services: Api<Service> = Api::namespaced(c.clone(), "gone");
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "s"},
        "spec": {"type": "ExternalName", "externalName": "elsewhere.example"}
    }))
    .unwrap();
    services.create(&PostParams::default(), &svc).await.unwrap();
    let deleted = services
        .delete("s", &DeleteParams::default())
        .await
        .unwrap();
    let service = deleted.left().expect("the Service itself, not a Status");
    assert_eq!(service.metadata.name.as_deref(), Some("s"));
    let maps: Api<ConfigMap> = Api::namespaced(c.clone(), "gone");
    maps.create(&PostParams::default(), &cm("m", json!({})))
        .await
        .unwrap();
    let deleted = maps.delete("m", &DeleteParams::default()).await.unwrap();
    assert!(
        deleted.is_right(),
        "a ConfigMap's delete answers with a Status"
    );
    let terminating = namespaces
        .delete("gone", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .expect("the namespace, terminating");
    let meta = &terminating.metadata;
    assert!(meta.deletion_timestamp.is_some());
    assert_eq!(
        (meta.deletion_grace_period_seconds, meta.finalizers.as_ref()),
        (None, None),
        "{meta:?}"
    );
}
