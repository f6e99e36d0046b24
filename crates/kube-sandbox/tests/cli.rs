//! The `kube-sandbox` binary: ready lines, kubeconfig contexts, auth, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

#[tokio::test(flavor = "multi_thread")]
async fn serves_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kube-sandbox"))
        .args(["--clusters", "us,eu,ap", "--kubeconfig"])
        .arg(&kubeconfig)
        .args(["--dns", "eu=coredns", "--seed", "3", "--latency-ms", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("all 3 clusters ready");
        seen.push(line);
        if done {
            break;
        }
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(
        seen[1].starts_with("cluster eu ready at https://127.0.0.1:")
            && seen[1].contains("dns coredns"),
        "{seen:?}"
    );

    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    let kc = Kubeconfig::from_yaml(&text).unwrap();
    let contexts: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(contexts, ["us", "eu", "ap"]);
    for name in ["us", "eu", "ap"] {
        let opts = KubeConfigOptions {
            context: Some(name.into()),
            ..Default::default()
        };
        let cfg = kube::Config::from_custom_kubeconfig(kc.clone(), &opts)
            .await
            .unwrap();
        let ns = Api::<Namespace>::all(kube::Client::try_from(cfg.clone()).unwrap())
            .list(&ListParams::default())
            .await
            .unwrap();
        assert!(ns
            .items
            .iter()
            .any(|n| n.metadata.name.as_deref() == Some("default")));
        // Another cluster's token is not this cluster's.
        let mut wrong = cfg;
        let other = kc.auth_infos.iter().find(|a| a.name != name).unwrap();
        wrong.auth_info = other.auth_info.clone().unwrap();
        let r = Api::<Namespace>::all(kube::Client::try_from(wrong).unwrap())
            .list(&ListParams::default())
            .await;
        assert!(matches!(r, Err(kube::Error::Api(s)) if s.code == 401));
    }

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await
    .expect("exits after SIGTERM")
    .unwrap()
    .unwrap();
    assert!(exit.success(), "{exit:?}");
}
