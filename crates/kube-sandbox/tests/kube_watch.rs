//! Watches as kube-rs uses them: raw watch semantics, the runtime watcher and await_condition.

mod common;

use std::time::Duration;

use common::{client, sandbox};
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{wait::await_condition, watcher, WatchStreamExt};
use serde_json::json;

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}),
    )
    .unwrap()
}

type Events = futures_util::stream::BoxStream<'static, kube::Result<WatchEvent<ConfigMap>>>;

async fn next_any(s: &mut Events) -> WatchEvent<ConfigMap> {
    tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("event in time")
        .expect("stream open")
        .expect("event")
}

/// The next event that is not a bookmark (kube-rs asks for bookmarks by default).
async fn next_event(s: &mut Events) -> WatchEvent<ConfigMap> {
    loop {
        match next_any(s).await {
            WatchEvent::Bookmark(_) => continue,
            e => return e,
        }
    }
}

#[tokio::test]
async fn watch_resource_version_semantics() {
    let sb = sandbox(&["a"]).await;
    let c = client(&sb, "a").await;
    let api: Api<ConfigMap> = Api::namespaced(c, "default");
    let first = api
        .create(&PostParams::default(), &cm("first", json!({"app": "w"})))
        .await
        .unwrap();
    let rv = first.metadata.resource_version.clone().unwrap();

    // resourceVersion "0": current state as ADDED, then changes.
    let mut s = api
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    assert!(
        matches!(next_event(&mut s).await, WatchEvent::Added(o) if o.metadata.name.as_deref() == Some("first"))
    );
    api.create(&PostParams::default(), &cm("second", json!({"app": "w"})))
        .await
        .unwrap();
    assert!(
        matches!(next_event(&mut s).await, WatchEvent::Added(o) if o.metadata.name.as_deref() == Some("second"))
    );

    // From a given resourceVersion: only what came after it.
    let mut s = api
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    assert!(
        matches!(next_event(&mut s).await, WatchEvent::Added(o) if o.metadata.name.as_deref() == Some("second"))
    );
    api.patch(
        "first",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "w"}})),
    )
    .await
    .unwrap();
    assert!(
        matches!(next_event(&mut s).await, WatchEvent::Modified(o) if o.metadata.name.as_deref() == Some("first"))
    );

    // A label-selected watch sees an object that stops matching as DELETED.
    let mut s = api
        .watch(&WatchParams::default().labels("app=w"), "0")
        .await
        .unwrap()
        .boxed();
    next_event(&mut s).await;
    next_event(&mut s).await;
    api.patch(
        "first",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "other"}}})),
    )
    .await
    .unwrap();
    assert!(
        matches!(next_event(&mut s).await, WatchEvent::Deleted(o) if o.metadata.name.as_deref() == Some("first"))
    );

    // Bookmarks when asked.
    let mut s = api
        .watch(
            &WatchParams::default(),
            &api.list(&Default::default())
                .await
                .unwrap()
                .metadata
                .resource_version
                .unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    assert!(matches!(next_any(&mut s).await, WatchEvent::Bookmark(_)));

    // Too old after compaction: 410 Gone as an ERROR event.
    sb.cluster("a").unwrap().store().compact();
    let mut s = api
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    match next_event(&mut s).await {
        WatchEvent::Error(e) => assert_eq!(e.code, 410),
        other => panic!("expected 410, got {other:?}"),
    }

    // timeoutSeconds ends the stream.
    let mut s = api
        .watch(&WatchParams::default().timeout(1), "0")
        .await
        .unwrap()
        .boxed();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while s.next().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok());
}

#[tokio::test]
async fn runtime_watcher_and_await_condition() {
    let sb = sandbox(&["a"]).await;
    let c = client(&sb, "a").await;
    let api: Api<ConfigMap> = Api::namespaced(c, "default");
    let stream = watcher(api.clone(), watcher::Config::default()).applied_objects();
    let mut stream = stream.boxed();
    let writer = api.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        writer
            .create(&PostParams::default(), &cm("seen", json!({})))
            .await
            .unwrap();
    });
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(o) = stream.try_next().await.unwrap() {
            if o.metadata.name.as_deref() == Some("seen") {
                return o;
            }
        }
        panic!("watcher ended")
    })
    .await
    .expect("watcher saw the object");
    assert_eq!(seen.data.unwrap()["k"], "v");

    // await_condition: a value set later, then deletion.
    let writer = api.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        writer
            .patch(
                "seen",
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"ready": "yes"}})),
            )
            .await
            .unwrap();
    });
    let ready = |o: Option<&ConfigMap>| {
        o.and_then(|c| c.data.as_ref())
            .is_some_and(|d| d.get("ready").is_some_and(|v| v == "yes"))
    };
    tokio::time::timeout(
        Duration::from_secs(10),
        await_condition(api.clone(), "seen", ready),
    )
    .await
    .unwrap()
    .unwrap();
    let uid = api.get("seen").await.unwrap().metadata.uid.unwrap();
    api.delete("seen", &DeleteParams::default()).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        await_condition(
            api.clone(),
            "seen",
            kube::runtime::conditions::is_deleted(&uid),
        ),
    )
    .await
    .unwrap()
    .unwrap();
}

#[tokio::test]
async fn streaming_list_watcher() {
    // sendInitialEvents=true&resourceVersionMatch=NotOlderThan, ending with the initial-events-end bookmark.
    let sb = sandbox(&["a"]).await;
    let c = client(&sb, "a").await;
    let api: Api<ConfigMap> = Api::namespaced(c, "default");
    api.create(&PostParams::default(), &cm("before", json!({})))
        .await
        .unwrap();
    let mut stream = watcher(api.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut saw_init_done = false;
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(e) = stream.try_next().await.unwrap() {
            match e {
                watcher::Event::InitApply(o) => {
                    assert_eq!(o.metadata.name.as_deref(), Some("before"))
                }
                watcher::Event::InitDone => {
                    saw_init_done = true;
                    api.create(&PostParams::default(), &cm("after", json!({})))
                        .await
                        .unwrap();
                }
                watcher::Event::Apply(o) if o.metadata.name.as_deref() == Some("after") => return,
                _ => {}
            }
        }
    })
    .await
    .expect("streaming watcher in time");
    assert!(saw_init_done);
}

#[tokio::test]
async fn watcher_recovers_after_the_api_comes_back() {
    let sb = sandbox(&["a"]).await;
    let c = client(&sb, "a").await;
    let api: Api<ConfigMap> = Api::namespaced(c, "default");
    let mut stream = watcher(api.clone(), watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .boxed();
    api.create(&PostParams::default(), &cm("first", json!({})))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(o) = stream.try_next().await.unwrap() {
            if o.metadata.name.as_deref() == Some("first") {
                return;
            }
        }
    })
    .await
    .unwrap();
    sb.set_api_down("a", true).await.unwrap();
    // Written while the API is unreachable (by a controller, say): seen once it is back.
    let cms = kube_sandbox::store::resource_type("configmaps").unwrap();
    sb.cluster("a")
        .unwrap()
        .store()
        .create(
            cms,
            json!({"metadata": {"name": "during", "namespace": "default"}}),
        )
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    sb.set_api_down("a", false).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(o) = stream.next().await {
            if let Ok(o) = o {
                if o.metadata.name.as_deref() == Some("during") {
                    return;
                }
            }
        }
        panic!("watcher ended");
    })
    .await
    .expect("the watcher saw the object written while the API was down");
}
