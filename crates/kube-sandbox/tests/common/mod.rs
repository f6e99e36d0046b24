//! Shared helpers: a sandbox per test and kube-rs clients built from its kubeconfig.
#![allow(dead_code)]

pub mod kubectl;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use kube_sandbox::{Sandbox, SandboxOptions};

pub async fn sandbox(names: &[&str]) -> Sandbox {
    Sandbox::start(SandboxOptions::new(names))
        .await
        .expect("sandbox starts")
}

pub async fn config(sb: &Sandbox, name: &str) -> Config {
    let text = serde_json::to_string(&sb.kubeconfig()).unwrap();
    let kc = Kubeconfig::from_yaml(&text).expect("kubeconfig parses");
    let opts = KubeConfigOptions {
        context: Some(name.to_string()),
        ..Default::default()
    };
    Config::from_custom_kubeconfig(kc, &opts)
        .await
        .expect("kube config")
}

pub async fn client(sb: &Sandbox, name: &str) -> Client {
    Client::try_from(config(sb, name).await).expect("kube client")
}

/// The HTTP status of a kube-rs API error.
pub fn code<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> u16 {
    match r {
        Err(kube::Error::Api(s)) => s.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

pub fn api_err<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> Box<kube::core::Status> {
    match r {
        Err(kube::Error::Api(s)) => s,
        other => panic!("expected an API error, got {other:?}"),
    }
}
