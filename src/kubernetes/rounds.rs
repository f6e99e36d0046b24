//! For unit tests: how many sequential rounds of API calls a piece of work makes, counted without a clock.
//! A stand-in API server holds every request until the work can send no more, then answers all it holds at
//! once (as if nothing exists: 404 for an object, an empty list for a list); each such release is one round
//! trip a real cluster far away would cost.
use super::ClusterClient;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

type Held = Vec<(String, oneshot::Sender<http::Response<kube::client::Body>>)>;

/// How often the driver lets the work and the client's buffer run before it takes what is held: the whole
/// exchange is in memory, so far more than any chain of wake-ups a round needs.
const SETTLE_YIELDS: usize = 64;

/// Runs `work` with a client of the stand-in server and returns its result with the requests of each round
/// (`GET /api/v1/namespaces/us-east1-b`). Needs a current-thread runtime, as `#[tokio::test]` gives.
pub(crate) async fn count_rounds<T, F, Fut>(work: F) -> (T, Vec<Vec<String>>)
where
    F: FnOnce(ClusterClient) -> Fut,
    Fut: Future<Output = T>,
{
    let held: Arc<Mutex<Held>> = Arc::default();
    let inbox = held.clone();
    let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
        let inbox = inbox.clone();
        async move {
            let (answer, answered) = oneshot::channel();
            let line = format!("{} {}", request.method(), request.uri());
            inbox.lock().expect("not poisoned").push((line, answer));
            answered.await
        }
    });
    let client = ClusterClient::from_kube(kube::Client::new(service, "default"), "stand-in");
    let mut work = std::pin::pin!(work(client));
    let mut rounds = Vec::new();
    loop {
        let settled = async {
            for _ in 0..SETTLE_YIELDS {
                tokio::task::yield_now().await;
            }
        };
        tokio::select! {
            biased;
            done = &mut work => return (done, rounds),
            () = settled => {}
        }
        let round: Held = std::mem::take(&mut *held.lock().expect("not poisoned"));
        assert!(
            !round.is_empty(),
            "the work waits for something other than the API server"
        );
        let mut lines = Vec::new();
        for (line, answer) in round {
            let _ = answer.send(nothing_there(&line));
            lines.push(line);
        }
        rounds.push(lines);
    }
}

/// What a cluster without the object answers: an empty list to a list, 404 to anything else.
fn nothing_there(line: &str) -> http::Response<kube::client::Body> {
    let (status, body) = if is_list(line) {
        (
            200,
            serde_json::json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": []}),
        )
    } else {
        (
            404,
            serde_json::json!({"apiVersion": "v1", "kind": "Status", "status": "Failure",
                "reason": "NotFound", "code": 404, "message": "not found"}),
        )
    };
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(kube::client::Body::from(body.to_string().into_bytes()))
        .expect("a valid response")
}

/// Whether `GET <path>` lists a collection: after `/api/v1` or `/apis/<group>/<version>` (and a namespace's
/// `namespaces/<ns>`), a collection has one segment and an object two.
fn is_list(line: &str) -> bool {
    let Some(path) = line.strip_prefix("GET ") else {
        return false;
    };
    let path = path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest = match segments.first() {
        Some(&"api") => segments.get(2..),
        Some(&"apis") => segments.get(3..),
        _ => None,
    };
    let mut rest = rest.unwrap_or_default();
    if rest.len() >= 3 && rest[0] == "namespaces" {
        rest = &rest[2..];
    }
    rest.len() == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};

    #[test]
    fn collections_and_objects_are_told_apart() {
        assert!(is_list(
            "GET /api/v1/namespaces/us-east1-b/persistentvolumeclaims?labelSelector=a"
        ));
        assert!(is_list(
            "GET /apis/apps/v1/namespaces/kube-system/deployments?"
        ));
        assert!(is_list("GET /api/v1/namespaces"));
        assert!(!is_list("GET /api/v1/namespaces/us-east1-b"));
        assert!(!is_list(
            "GET /apis/apps/v1/namespaces/us-east1-b/statefulsets/cockroachdb"
        ));
        assert!(!is_list("PATCH /api/v1/namespaces/us-east1-b"));
    }

    #[tokio::test]
    async fn calls_made_one_after_the_other_are_separate_rounds() {
        let (found, rounds) = count_rounds(|client| async move {
            let first = client.get::<Namespace>(None, "a").await.unwrap();
            let (second, third) = futures_util::try_join!(
                client.get::<Namespace>(None, "b"),
                client.list::<ConfigMap>(Some("kube-system"), ""),
            )
            .unwrap();
            (first.is_some(), second.is_some(), third.len())
        })
        .await;
        assert_eq!(found, (false, false, 0));
        assert_eq!(
            rounds.iter().map(Vec::len).collect::<Vec<_>>(),
            [1, 2],
            "{rounds:?}"
        );
    }
}
