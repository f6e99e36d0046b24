//! What the node-side controllers write, sent to the real API server in the order they wrote it: statuses
//! (`PUT .../status`, unconditional as kubelets and cloud controllers write them), bindings, events, and the
//! final deletion of a pod whose containers stopped.

use kube::api::{Api, DynamicObject, PostParams};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::api_resource;
use crate::controllers::{meta, Upstream};
use crate::store::resource_type;

enum Write {
    Status(&'static str, Value),
    Bind(Value, String),
    Event(Value),
    PodStopped(Value),
}

/// One attached cluster's side of the node-side controllers.
pub struct ClusterUpstream {
    writes: mpsc::UnboundedSender<Write>,
}

impl ClusterUpstream {
    pub fn start(cluster: &str, client: kube::Client) -> ClusterUpstream {
        let (writes, queued) = mpsc::unbounded_channel();
        tokio::spawn(send_all(cluster.to_string(), client, queued));
        ClusterUpstream { writes }
    }

    fn queue(&self, write: Write) {
        // The sender ends only with the sandbox.
        let _ = self.writes.send(write);
    }
}

impl Upstream for ClusterUpstream {
    fn status(&self, plural: &'static str, object: &Value) {
        self.queue(Write::Status(plural, object.clone()));
    }

    fn bind(&self, pod: &Value, node: &str) {
        self.queue(Write::Bind(pod.clone(), node.to_string()));
    }

    fn event(&self, event: &Value) {
        self.queue(Write::Event(event.clone()));
    }

    fn pod_stopped(&self, pod: &Value) {
        self.queue(Write::PodStopped(pod.clone()));
    }
}

/// The object as this store wrote it, made fit to send: the resourceVersion is the mirror's own and
/// `managedFields` the server keeps itself.
fn sendable(mut object: Value) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        meta.remove("managedFields");
    }
    object
}

async fn send_all(
    cluster: String,
    client: kube::Client,
    mut queued: mpsc::UnboundedReceiver<Write>,
) {
    while let Some(write) = queued.recv().await {
        let (what, result) = match write {
            Write::Status(plural, object) => (
                format!(
                    "{plural} {}/{} status",
                    meta::namespace(&object),
                    meta::name(&object)
                ),
                put_status(&client, plural, object).await,
            ),
            Write::Bind(pod, node) => (
                format!(
                    "binding of pod {}/{}",
                    meta::namespace(&pod),
                    meta::name(&pod)
                ),
                bind(&client, &pod, &node).await,
            ),
            Write::Event(event) => (
                format!("event {}/{}", meta::namespace(&event), meta::name(&event)),
                create_event(&client, event).await,
            ),
            Write::PodStopped(pod) => (
                format!(
                    "deletion of pod {}/{}",
                    meta::namespace(&pod),
                    meta::name(&pod)
                ),
                delete_stopped(&client, &pod).await,
            ),
        };
        match result {
            Ok(()) => {}
            // Gone meanwhile: nothing left to write to.
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => {
                tracing::warn!(cluster = %cluster, %error, "attached: {what} not written")
            }
        }
    }
}

pub(super) fn api_for(client: &kube::Client, plural: &str, namespace: &str) -> Api<DynamicObject> {
    let rt = resource_type(plural).expect("a kind of the table");
    let resource = api_resource(rt);
    if rt.namespaced {
        Api::namespaced_with(client.clone(), namespace, &resource)
    } else {
        Api::all_with(client.clone(), &resource)
    }
}

async fn put_status(client: &kube::Client, plural: &str, object: Value) -> Result<(), kube::Error> {
    let api = api_for(client, plural, meta::namespace(&object));
    let name = meta::name(&object).to_string();
    let body: DynamicObject =
        serde_json::from_value(sendable(object)).map_err(kube::Error::SerdeError)?;
    api.replace_status(&name, &PostParams::default(), &body)
        .await?;
    Ok(())
}

async fn bind(client: &kube::Client, pod: &Value, node: &str) -> Result<(), kube::Error> {
    let binding = json!({
        "apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": meta::name(pod), "namespace": meta::namespace(pod), "uid": meta::uid(pod)},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    });
    let path = format!(
        "/api/v1/namespaces/{}/pods/{}/binding",
        meta::namespace(pod),
        meta::name(pod)
    );
    let request = http::Request::post(path)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&binding).map_err(kube::Error::SerdeError)?)
        .map_err(kube::Error::HttpError)?;
    match client.request_text(request).await {
        Ok(_) => Ok(()),
        // Bound already (an earlier pass's binding landed): what the scheduler's retry would find too.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(error),
    }
}

async fn create_event(client: &kube::Client, event: Value) -> Result<(), kube::Error> {
    let mut event = sendable(event);
    if let Some(meta) = event.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("uid");
        meta.remove("creationTimestamp");
    }
    if let Some(involved) = event
        .get_mut("involvedObject")
        .and_then(Value::as_object_mut)
    {
        involved.remove("resourceVersion");
    }
    let api = api_for(client, "events", meta::namespace(&event));
    let body: DynamicObject = serde_json::from_value(event).map_err(kube::Error::SerdeError)?;
    api.create(&PostParams::default(), &body).await?;
    Ok(())
}

/// Deletes a terminating pod for good (grace period 0), as its kubelet does once the containers stopped; the uid
/// precondition keeps a new pod of the same name (a StatefulSet's) from being deleted instead.
async fn delete_stopped(client: &kube::Client, pod: &Value) -> Result<(), kube::Error> {
    let api = api_for(client, "pods", meta::namespace(pod));
    let params = kube::api::DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(kube::api::Preconditions {
            uid: Some(meta::uid(pod).to_string()),
            resource_version: None,
        }),
        ..kube::api::DeleteParams::default()
    };
    api.delete(meta::name(pod), &params).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is sent upstream carries neither the mirror's resourceVersion (an unconditional write, as kubelets
    /// make) nor managedFields (the server's own), and keeps the rest.
    #[test]
    fn a_write_sent_upstream_drops_the_mirrors_own_fields() {
        let sent = sendable(
            json!({"metadata": {"name": "p", "uid": "u", "resourceVersion": "5",
                                                "managedFields": []}, "status": {"phase": "Running"}}),
        );
        assert_eq!(
            sent,
            json!({"metadata": {"name": "p", "uid": "u"}, "status": {"phase": "Running"}})
        );
    }
}
