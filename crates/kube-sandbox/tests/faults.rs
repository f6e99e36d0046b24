//! Injected faults: latency, error answers, and an API taken down and brought back.

mod common;

use std::time::{Duration, Instant};

use common::client;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use kube_sandbox::{Sandbox, SandboxOptions};

#[tokio::test]
async fn latency_is_added_per_request() {
    let mut opts = SandboxOptions::new(&["near", "far"]);
    opts.latency = Duration::from_millis(0);
    let sb = Sandbox::start(opts).await.unwrap();
    sb.set_latency("far", Duration::from_millis(150)).unwrap();
    let far: Api<Namespace> = Api::all(client(&sb, "far").await);
    let near: Api<Namespace> = Api::all(client(&sb, "near").await);
    near.list(&ListParams::default()).await.unwrap();
    far.list(&ListParams::default()).await.unwrap();
    let t = Instant::now();
    near.list(&ListParams::default()).await.unwrap();
    let near_time = t.elapsed();
    let t = Instant::now();
    far.list(&ListParams::default()).await.unwrap();
    let far_time = t.elapsed();
    assert!(far_time >= Duration::from_millis(150), "{far_time:?}");
    assert!(near_time < Duration::from_millis(100), "{near_time:?}");
}

#[tokio::test]
async fn fault_rate_answers_errors_reproducibly() {
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let mut opts = SandboxOptions::new(&["a"]);
        opts.fault_rate = 0.5;
        opts.seed = 42;
        let sb = Sandbox::start(opts).await.unwrap();
        // kube-rs retries 429/503 by itself; turn that off to see every answer.
        let mut cfg = common::config(&sb, "a").await;
        cfg.default_retry = false;
        let api: Api<Namespace> = Api::all(kube::Client::try_from(cfg).unwrap());
        let mut run = Vec::new();
        for _ in 0..40 {
            let r = api.list(&ListParams::default()).await;
            run.push(match r {
                Ok(_) => 200,
                Err(kube::Error::Api(s)) => {
                    if s.code == 429 {
                        assert_eq!(s.details.as_ref().map(|d| d.retry_after_seconds), Some(1));
                    }
                    s.code
                }
                Err(_) => 0, // connection reset
            });
        }
        outcomes.push(run);
    }
    assert_eq!(outcomes[0], outcomes[1], "same seed, same faults");
    let run = &outcomes[0];
    for code in [200, 500, 503, 429, 0] {
        assert!(run.contains(&code), "{code} in {run:?}");
    }
}

#[tokio::test]
async fn api_down_refuses_connections_and_comes_back() {
    let sb = Sandbox::start(SandboxOptions::new(&["a", "b"]))
        .await
        .unwrap();
    let api: Api<Namespace> = Api::all(client(&sb, "a").await);
    api.list(&ListParams::default()).await.unwrap();
    sb.set_api_down("a", true).await.unwrap();
    let addr = sb.cluster("a").unwrap().addr();
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert_eq!(
        refused.unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    assert!(api.list(&ListParams::default()).await.is_err());
    // The other cluster is untouched.
    Api::<Namespace>::all(client(&sb, "b").await)
        .list(&ListParams::default())
        .await
        .unwrap();
    sb.set_api_down("a", false).await.unwrap();
    let back = Api::<Namespace>::all(client(&sb, "a").await);
    back.list(&ListParams::default()).await.unwrap();
}

#[tokio::test]
async fn dropping_the_sandbox_stops_its_servers() {
    let sb = Sandbox::start(SandboxOptions::new(&["a"])).await.unwrap();
    let addr = sb.cluster("a").unwrap().addr();
    drop(sb);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = tokio::net::TcpStream::connect(addr).await;
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::ConnectionRefused);
}
