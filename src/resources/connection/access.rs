//! Reaching the Kubernetes cluster named by a resource's `kubernetes {}` block, the same way for
//! every resource: known for apply, optional for read.
use super::model::BLOCK_NAME;
use super::resolve::{is_wholly_known, resolve};
use super::validate::unreachable_grace;
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::{Attr, OperationContext, Value};
use crate::kubernetes::connection::{Connection, Credentials, DirectConnection};
use crate::kubernetes::{check_kubeconfig, ClusterClient, Deadline};
use std::path::Path;

fn block_path() -> AttributePath {
    AttributePath::root(BLOCK_NAME)
}

/// Checks a configured `kubernetes {}` block on its attributes, a missing one included; an unknown block
/// waits for apply.
pub fn validate(block: &Attr<Value>, diags: &mut Diagnostics) {
    let block = match block {
        Attr::Known(block) => block,
        Attr::Null => &Value::Null,
        Attr::Unknown => return,
    };
    match resolve(block, &block_path()) {
        Ok(Some(connection)) => check_local(&connection, diags),
        Ok(None) => {}
        Err(d) => diags.extend(d),
    }
}

/// What the plan can check on this machine of a wholly known connection: the kubeconfig file and its context,
/// and that an exec plugin's command can be run. The apply would fail on each before touching anything.
fn check_local(connection: &Connection, diags: &mut Diagnostics) {
    match connection {
        Connection::KubeconfigFile { path, context } => {
            if let Err(e) = check_kubeconfig(path, context.as_deref()) {
                diags.extend(e.to_diagnostics(&block_path()));
            }
        }
        Connection::Direct(DirectConnection {
            credentials: Credentials::Exec(plugin),
            ..
        }) if !is_runnable(&plugin.command) => diags.attribute_error(
            block_path().attr("exec").attr("command"),
            "Credential plugin not found",
            format!(
                "{:?} is neither an executable file nor a command on PATH on this machine: install it, or \
                 give its full path.",
                plugin.command
            ),
        ),
        Connection::Direct(_) => {}
    }
}

/// Whether `command` names an executable file: a path as given, or a bare name found on PATH.
fn is_runnable(command: &str) -> bool {
    let executable = |path: &Path| {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if command.contains('/') {
        return executable(Path::new(command));
    }
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| executable(&dir.join(command)))
    })
}

/// The client an apply or destroy works with; every value of the block is known by then.
/// Terraform's Stop abandons the client's calls in flight, and no call outlasts `deadline`.
pub async fn connect_for_apply(
    ctx: &OperationContext,
    block: &Attr<Value>,
    resource: &str,
    deadline: &Deadline,
) -> Result<ClusterClient, Diagnostics> {
    let at = block_path();
    let value = block.known().cloned().unwrap_or(Value::Null);
    let Some(connection) = resolve(&value, &at)? else {
        return Err(Diagnostics::with_attribute_error(
            at,
            "Connection not known",
            format!("The kubernetes block must be known when the {resource} is applied."),
        ));
    };
    let client = ClusterClient::connect(&connection)
        .await
        .map_err(|e| e.to_diagnostics(&at))?;
    Ok(configured(client, &value, ctx).with_deadline(deadline))
}

/// The client with the block's own grace for an unreachable cluster, abandoning its calls on Terraform's Stop.
fn configured(client: ClusterClient, block: &Value, ctx: &OperationContext) -> ClusterClient {
    let grace = block
        .attr("unreachable_timeout")
        .as_str()
        .and_then(|text| unreachable_grace(text).ok());
    let client = match grace {
        Some(grace) => client.with_unreachable_grace(grace),
        None => client,
    };
    client.with_stop(&ctx.stop)
}

/// The client a read works with, or `None` when there is nothing to read with yet: a state
/// just imported has no connection, and a connection built from unknown values waits for apply.
pub async fn connect_for_read(
    ctx: &OperationContext,
    block: &Attr<Value>,
) -> Result<Option<ClusterClient>, Diagnostics> {
    let Some(value) = block.known().filter(|b| is_wholly_known(b)) else {
        return Ok(None);
    };
    let Ok(Some(connection)) = resolve(value, &block_path()) else {
        return Ok(None);
    };
    let client = ClusterClient::connect(&connection)
        .await
        .map_err(|e| e.to_diagnostics(&block_path()))?;
    Ok(Some(configured(client, value, ctx)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn block(attrs: &[(&str, Value)]) -> Attr<Value> {
        let mut all: BTreeMap<String, Value> = super::super::model::block()
            .attributes
            .iter()
            .map(|a| (a.name.to_string(), Value::Null))
            .collect();
        all.insert("exec".into(), Value::Null);
        for (name, value) in attrs {
            all.insert(name.to_string(), value.clone());
        }
        Attr::Known(Value::Object(all))
    }

    fn paths(block: &Attr<Value>) -> Vec<String> {
        let mut diags = Diagnostics::new();
        validate(block, &mut diags);
        diags.attribute_paths()
    }

    #[test]
    fn a_missing_kubeconfig_or_context_is_refused_at_plan_on_its_attribute() {
        let missing = block(&[("config_path", Value::string("/nonexistent/kubeconfig"))]);
        assert_eq!(paths(&missing), ["kubernetes.config_path"]);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config");
        std::fs::write(
            &file,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n\
             contexts:\n- name: here\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    token: t\n",
        )
        .unwrap();
        let path = Value::string(file.to_str().unwrap());
        let here = block(&[
            ("config_path", path.clone()),
            ("config_context", Value::string("here")),
        ]);
        assert_eq!(paths(&here), Vec::<String>::new());
        let elsewhere = block(&[
            ("config_path", path),
            ("config_context", Value::string("elsewhere")),
        ]);
        assert_eq!(paths(&elsewhere), ["kubernetes.config_context"]);
    }

    #[test]
    fn an_exec_plugin_must_be_runnable_here() {
        assert!(is_runnable("sh"));
        assert!(!is_runnable("no-such-credential-plugin"));
        assert!(!is_runnable("/nonexistent/plugin"));
    }
}
