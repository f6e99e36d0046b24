//! Everyday kubectl commands (Debian's kubectl 1.20) against the sandbox.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::kubectl::debian_kubectl;
use kube_sandbox::{Sandbox, SandboxOptions};
use serde_json::{json, Value};

struct Kubectl {
    kubeconfig: PathBuf,
    home: tempfile::TempDir,
}

impl Kubectl {
    async fn run(&self, context: &str, args: &[&str]) -> (bool, String, String) {
        let mut cmd = Command::new(debian_kubectl());
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--context", context])
            .args(args);
        cmd.env("HOME", self.home.path()).env_remove("KUBECONFIG");
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run("a", args).await;
        assert!(ok, "kubectl {args:?} failed:\n{out}\n{err}");
        out
    }

    async fn fails(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run("a", args).await;
        assert!(!ok, "kubectl {args:?} should fail:\n{out}");
        err
    }

    /// `kubectl apply -f` of `v`, written to `name` in the home directory.
    async fn apply(&self, name: &str, v: &Value) -> String {
        let f = write(self.home.path(), name, v);
        self.ok(&["apply", "-f", &f]).await
    }

    async fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a).await).unwrap()
    }
}

async fn setup() -> (Sandbox, Kubectl) {
    setup_with(SandboxOptions::new(&["a", "b"])).await
}

async fn setup_with(opts: SandboxOptions) -> (Sandbox, Kubectl) {
    let kubectl = debian_kubectl();
    assert!(kubectl.exists());
    let sb = Sandbox::start(opts).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("kubeconfig");
    sb.write_kubeconfig(&kubeconfig).unwrap();
    (sb, Kubectl { kubeconfig, home })
}

/// One cluster `a` whose controllers run at `speed`.
async fn with_controllers(speed: f64) -> (Sandbox, Kubectl) {
    let mut opts = SandboxOptions::new(&["a"]);
    opts.controllers = true;
    opts.speed = speed;
    setup_with(opts).await
}

fn write(dir: &Path, name: &str, v: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p.to_string_lossy().into_owned()
}

fn statefulset(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default", "labels": {"app": "db"}},
        "spec": {
            "serviceName": "db", "replicas": replicas, "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [
                {"name": "db", "image": image, "ports": [{"containerPort": 26257, "name": "grpc"}]}
            ]}}
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn version_get_and_contexts() {
    let (_sb, k) = setup().await;
    let v = k.ok(&["version", "-o", "json"]).await;
    let v: Value = serde_json::from_str(&v).unwrap();
    assert_eq!(v["clientVersion"]["minor"], "20");
    assert_eq!(v["serverVersion"]["minor"], "33");
    let ns = k.ok(&["get", "namespaces"]).await;
    assert!(
        ns.contains("default") && ns.contains("kube-system") && ns.contains("Active"),
        "{ns}"
    );
    let resources = k.ok(&["api-resources"]).await;
    let sts = resources
        .lines()
        .find(|l| l.starts_with("statefulsets"))
        .expect("statefulsets listed");
    assert_eq!(
        sts.split_whitespace().collect::<Vec<_>>(),
        ["statefulsets", "sts", "apps/v1", "true", "StatefulSet"]
    );
    let all = k.ok(&["get", "all", "-A"]).await;
    assert!(
        all.contains("No resources found") || all.is_empty() || all.contains("NAME"),
        "{all}"
    );
    // The AGE column is relative, as from a real server's Table.
    let default_line = ns.lines().find(|l| l.starts_with("default ")).unwrap();
    let age = default_line.split_whitespace().last().unwrap();
    assert!(
        age.ends_with('s') && age.trim_end_matches('s').parse::<u64>().is_ok(),
        "{ns}"
    );
    let (ok, out, _) = k.run("b", &["get", "ns", "default", "-o", "name"]).await;
    assert!(ok && out.trim() == "namespace/default", "{out}");
    let empty = k.run("a", &["get", "pods"]).await;
    assert!(
        empty.0 && empty.2.contains("No resources found"),
        "{empty:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_scale_patch_describe_delete() {
    let (_sb, k) = setup().await;
    let dir = k.home.path().to_path_buf();

    // Client-side apply: create, then a three-way strategic merge patch.
    let out = k
        .apply("sts.json", &statefulset(3, "cockroachdb/cockroach:v25.1.0"))
        .await;
    assert!(out.contains("statefulset.apps/db created"), "{out}");
    let out = k
        .apply("sts.json", &statefulset(3, "cockroachdb/cockroach:v25.1.1"))
        .await;
    assert!(out.contains("configured"), "{out}");
    let s = k.json(&["get", "sts", "db"]).await;
    assert_eq!(
        s["spec"]["template"]["spec"]["containers"][0]["image"],
        "cockroachdb/cockroach:v25.1.1"
    );
    assert_eq!(s["metadata"]["generation"], 2);

    // A misspelt field is dropped with a warning, as a real server does.
    let mut typo = statefulset(3, "cockroachdb/cockroach:v25.1.1");
    typo["spec"]["replica"] = json!(9);
    let f = write(&dir, "typo.json", &typo);
    let (ok, _, err) = k.run("a", &["apply", "-f", &f]).await;
    assert!(
        ok && err.contains("unknown field \"spec.replica\""),
        "{err}"
    );

    let out = k.ok(&["scale", "statefulset", "db", "--replicas=5"]).await;
    assert!(out.contains("scaled"), "{out}");
    assert_eq!(k.json(&["get", "sts", "db"]).await["spec"]["replicas"], 5);

    k.ok(&["patch", "sts", "db", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"db","env":[{"name":"X","value":"1"}]}]}}}}"#]).await;
    let s = k.json(&["get", "sts", "db"]).await;
    let c = &s["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        (c["image"].as_str(), c["env"][0]["name"].as_str()),
        (Some("cockroachdb/cockroach:v25.1.1"), Some("X"))
    );
    k.ok(&[
        "patch",
        "sts",
        "db",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"labels":{"tier":"data"}}}"#,
    ])
    .await;
    k.ok(&[
        "patch",
        "sts",
        "db",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":4}]"#,
    ])
    .await;
    let s = k.json(&["get", "sts", "db"]).await;
    assert_eq!(
        (
            s["metadata"]["labels"]["tier"].as_str(),
            s["spec"]["replicas"].as_i64()
        ),
        (Some("data"), Some(4))
    );

    // Immutable field: kubectl shows the server's Invalid error.
    let err = k
        .fails(&[
            "patch",
            "sts",
            "db",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"serviceName":"other"}}"#,
        ])
        .await;
    assert!(
        err.contains("Forbidden") || err.contains("invalid"),
        "{err}"
    );

    let d = k.ok(&["describe", "statefulset", "db"]).await;
    assert!(
        d.contains("Name:") && d.contains("db") && d.contains("cockroachdb/cockroach:v25.1.1"),
        "{d}"
    );

    let out = k.ok(&["get", "sts", "-l", "app=db"]).await;
    assert!(out.contains("db"), "{out}");

    let out = k.ok(&["delete", "statefulset", "db"]).await;
    assert!(out.contains("deleted"), "{out}");
    let err = k.fails(&["get", "sts", "db"]).await;
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn server_side_apply_and_conflicts() {
    let (_sb, k) = setup().await;
    let dir = k.home.path().to_path_buf();
    let f = write(&dir, "sts.json", &statefulset(3, "img:1"));
    let out = k.ok(&["apply", "--server-side", "-f", &f]).await;
    assert!(
        out.contains("serverside-applied")
            || out.contains("server-side applied")
            || out.contains("created"),
        "{out}"
    );
    let s = k.json(&["get", "sts", "db"]).await;
    assert!(
        s["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["operation"] == "Apply"),
        "{s}"
    );
    k.ok(&["scale", "sts", "db", "--replicas=6"]).await;
    let f = write(&dir, "sts.json", &statefulset(3, "img:2"));
    let err = k.fails(&["apply", "--server-side", "-f", &f]).await;
    assert!(
        err.contains("conflict") && err.contains(".spec.replicas"),
        "{err}"
    );
    k.ok(&["apply", "--server-side", "--force-conflicts", "-f", &f])
        .await;
    let s = k.json(&["get", "sts", "db"]).await;
    assert_eq!(
        (
            s["spec"]["replicas"].as_i64(),
            s["spec"]["template"]["spec"]["containers"][0]["image"].as_str()
        ),
        (Some(3), Some("img:2"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_for_condition_and_delete() {
    let (sb, k) = setup().await;
    let dir = k.home.path().to_path_buf();
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "init", "namespace": "default"},
        "spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "init", "image": "x:1"}]}}}});
    let f = write(&dir, "job.json", &job);
    k.ok(&["create", "-f", &f]).await;
    let store = sb.cluster("a").unwrap().store().clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let jobs = kube_sandbox::store::resource_type("jobs").unwrap();
        let mut j = store.get(jobs, Some("default"), "init").unwrap();
        j["status"] =
            json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]});
        store.update_status(jobs, j).unwrap();
    });
    let out = k
        .ok(&[
            "wait",
            "--for=condition=complete",
            "job/init",
            "--timeout=20s",
        ])
        .await;
    assert!(out.contains("condition met"), "{out}");

    let f = write(
        &dir,
        "cm.json",
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gone", "namespace": "default"}}),
    );
    k.ok(&["create", "-f", &f]).await;
    let store = sb.cluster("a").unwrap().store().clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let cms = kube_sandbox::store::resource_type("configmaps").unwrap();
        store
            .delete(cms, Some("default"), "gone", Default::default())
            .unwrap();
    });
    let (ok, out, err) = k
        .run(
            "a",
            &["wait", "--for=delete", "configmap/gone", "--timeout=20s"],
        )
        .await;
    assert!(ok, "{out}{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_and_namespace_deletion_with_controllers() {
    let (sb, k) = with_controllers(50.0).await;
    k.apply(
        "ns.json",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "us-east1"}}),
    )
    .await;
    k.apply(
        "pod.json",
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "us-east1"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}),
    )
    .await;
    let world = sb.world().expect("controllers run");
    world.append_log("a", "us-east1", "p", "started p");
    world.append_log("a", "us-east1", "p", "ready");
    let logs = k.ok(&["logs", "-n", "us-east1", "p"]).await;
    assert!(logs.contains("started p\nready\n"), "{logs}");
    let logs = k.ok(&["logs", "-n", "us-east1", "p", "--tail=1"]).await;
    assert_eq!(logs, "ready\n");
    // kubectl waits for the namespace to go: the namespace controller empties and finalizes it.
    let out = k
        .ok(&["delete", "namespace", "us-east1", "--timeout=60s"])
        .await;
    assert!(out.contains("deleted"), "{out}");
    let err = k.fails(&["get", "namespace", "us-east1"]).await;
    assert!(err.contains("not found"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rollout_status_with_controllers() {
    let (_sb, k) = with_controllers(20.0).await;
    k.apply("sts.json", &statefulset(3, "cockroachdb/cockroach:v25.1.0"))
        .await;
    let out = k
        .ok(&["rollout", "status", "statefulset/db", "--timeout=60s"])
        .await;
    // No partition in the update strategy, as the real API server leaves it: kubectl's unpartitioned message.
    assert!(
        out.contains("statefulset rolling update complete 3 pods at revision db-"),
        "{out}"
    );
    k.ok(&[
        "set",
        "image",
        "statefulset/db",
        "db=cockroachdb/cockroach:v25.1.1",
    ])
    .await;
    let out = k
        .ok(&["rollout", "status", "statefulset/db", "--timeout=60s"])
        .await;
    // No partition in the update strategy, as the real API server leaves it: kubectl's unpartitioned message.
    assert!(
        out.contains("statefulset rolling update complete 3 pods at revision db-"),
        "{out}"
    );
    let pods = k.ok(&["get", "pods", "-l", "app=db"]).await;
    assert_eq!(
        pods.lines().filter(|l| l.contains("Running")).count(),
        3,
        "{pods}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreleased_cockroach_tag_shows_as_a_failed_pull() {
    let (_sb, k) = with_controllers(50.0).await;
    k.apply(
        "pod.json",
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db", "namespace": "default"},
        "spec": {"containers": [{"name": "cockroachdb", "image": "cockroachdb/cockroach:v25.2.99"}]}}),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..100 {
        let out = k.ok(&["get", "pod", "db", "--no-headers"]).await;
        let status = out.split_whitespace().nth(2).unwrap_or("").to_string();
        if statuses.last() != Some(&status) {
            statuses.push(status.clone());
        }
        if status == "ImagePullBackOff" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        statuses.last().map(String::as_str),
        Some("ImagePullBackOff"),
        "{statuses:?}"
    );
    let described = k.ok(&["describe", "pod", "db"]).await;
    for line in [
        "Pulling image \"cockroachdb/cockroach:v25.2.99\"",
        "Failed to pull image \"cockroachdb/cockroach:v25.2.99\": rpc error: code = NotFound desc = failed to pull \
         and unpack image \"docker.io/cockroachdb/cockroach:v25.2.99\"",
        "Error: ErrImagePull",
        "Back-off pulling image \"cockroachdb/cockroach:v25.2.99\"",
        "Error: ImagePullBackOff",
    ] {
        assert!(described.contains(line), "{line:?} missing from:\n{described}");
    }
    assert!(!described.contains("Started container"), "{described}");
    let phase = k
        .ok(&["get", "pod", "db", "-o", "jsonpath={.status.phase}"])
        .await;
    assert_eq!(phase, "Pending");
}
