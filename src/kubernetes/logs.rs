//! Reading what a StatefulSet's unready pods last logged, to explain a wait that gave up. Best effort and bounded
//! in time: explaining never fails an operation nor stretches it much beyond its limit.
use super::client::ClusterClient;
use super::readiness;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};

/// The last lines of one pod's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodLog {
    pub pod: String,
    pub text: String,
}

impl ClusterClient {
    /// The last `lines` lines of `container`'s log in each pod of the StatefulSet `set` that is not ready, read
    /// concurrently. Pods whose log cannot be read are left out; an empty list when nothing could be read in time.
    pub async fn unready_pod_logs(
        &self,
        namespace: &str,
        set: &str,
        container: &str,
        lines: i64,
    ) -> Vec<PodLog> {
        self.explain(|client| async move {
            let Ok(Some(statefulset)) = client.get::<StatefulSet>(Some(namespace), set).await
            else {
                return Vec::new();
            };
            let Ok(pods) = client.list::<Pod>(Some(namespace), "").await else {
                return Vec::new();
            };
            let expected = readiness::statefulset_pod_names(&statefulset);
            let unready: Vec<&Pod> = pods
                .iter()
                .filter(|p| {
                    p.metadata
                        .name
                        .as_ref()
                        .is_some_and(|n| expected.contains(n))
                })
                .filter(|p| readiness::pod_problem(p).is_some())
                .collect();
            let api: Api<Pod> = Api::namespaced(client.kube().clone(), namespace);
            let params = LogParams {
                container: Some(container.to_owned()),
                tail_lines: Some(lines),
                ..LogParams::default()
            };
            let reads = unready
                .iter()
                .filter_map(|p| p.metadata.name.clone())
                .map(|pod| {
                    let (api, params, client) = (&api, &params, &client);
                    async move {
                        let text = client.call("log", || api.logs(&pod, params)).await.ok()?;
                        Some(PodLog { pod, text })
                    }
                });
            futures_util::future::join_all(reads)
                .await
                .into_iter()
                .flatten()
                .collect()
        })
        .await
        .unwrap_or_default()
    }
}
