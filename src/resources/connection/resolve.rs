//! A `kubernetes { }` block resolved into the edge's [`Connection`], once every value is known and
//! valid.
use super::model::{given, model, ConnectionModel, DEFAULT_EXEC_API_VERSION};
use super::validate;
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::{Attr, Value};
use crate::kubernetes::connection::{
    expand_home, Connection, Credentials, DirectConnection, ExecPlugin,
};

/// Adds a diagnostic for every problem of the block at `at`; see [`validate::connection`].
pub fn validate_block(block: &Value, at: &AttributePath, diags: &mut Diagnostics) {
    validate::check_block(block, at, diags);
}

/// Whether every value of the block is known: resources read nothing remote at plan time while
/// it is not, because the cluster it names may not exist yet.
pub fn is_wholly_known(block: &Value) -> bool {
    block.is_wholly_known()
}

/// Reads the block at `at` into a model; a mismatch is a provider bug, since Terraform checked
/// time), errors on the exact attribute when the block is invalid.
pub fn resolve(block: &Value, at: &AttributePath) -> Result<Option<Connection>, Diagnostics> {
    let mut diags = Diagnostics::new();
    validate::check_block(block, at, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    if !is_wholly_known(block) {
        return Ok(None);
    }
    let model = model(block, at)?;
    Ok(Some(from_known_model(&model)))
}

/// A non-empty known string: empty strings count as unset, so that a conditional such as
fn from_known_model(model: &ConnectionModel) -> Connection {
    let owned = |attr: &Attr<String>| given(attr).map(str::to_string);
    if let Some(path) = given(&model.config_path) {
        return Connection::KubeconfigFile {
            path: expand_home(path),
            context: owned(&model.config_context),
        };
    }
    let credentials = if let Some(token) = owned(&model.token) {
        Credentials::Token(token)
    } else if let (Some(certificate_pem), Some(key_pem)) =
        (owned(&model.client_certificate), owned(&model.client_key))
    {
        Credentials::ClientCertificate {
            certificate_pem,
            key_pem,
        }
    } else if let Attr::Known(exec) = &model.exec {
        Credentials::Exec(ExecPlugin {
            api_version: owned(&exec.api_version)
                .unwrap_or_else(|| DEFAULT_EXEC_API_VERSION.to_string()),
            command: owned(&exec.command).unwrap_or_default(),
            args: exec
                .args
                .known()
                .map(|args| args.iter().filter_map(|a| a.known().cloned()).collect())
                .unwrap_or_default(),
            env: exec
                .env
                .known()
                .map(|env| {
                    env.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.known()?.clone())))
                        .collect()
                })
                .unwrap_or_default(),
        })
    } else {
        Credentials::Anonymous
    };
    Connection::Direct(DirectConnection {
        server: given(&model.host)
            .and_then(|host| validate::server_url(host).ok())
            .unwrap_or_default(),
        ca_pem: owned(&model.cluster_ca_certificate),
        tls_server_name: owned(&model.tls_server_name),
        insecure: model.insecure.known().copied().unwrap_or(false),
        credentials,
    })
}

#[cfg(test)]
mod tests {
    use super::super::model::{block, ExecModel, BLOCK_NAME};
    use super::*;
    use crate::framework::model::FromValue;
    use crate::framework::ToValue;
    use crate::framework::Type;
    use crate::logging::REDACTED;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    pub(crate) fn token_connection() -> ConnectionModel {
        ConnectionModel {
            host: Attr::Known("https://10.0.0.1".into()),
            token: Attr::Known("s3cret-token".into()),
            ..Default::default()
        }
    }

    #[test]
    fn the_block_value_type_matches_the_model() {
        let model = ConnectionModel {
            exec: Attr::Known(ExecModel {
                command: Attr::Known("aws".into()),
                args: Attr::Known(vec![Attr::Known("eks".into())]),
                env: Attr::Known(BTreeMap::from([(
                    "AWS_PROFILE".to_string(),
                    Attr::Known("prod".to_string()),
                )])),
                ..Default::default()
            }),
            ..token_connection()
        };
        let value = model.to_value();
        let ty = block().value_type();
        let Type::Object(attrs) = ty else {
            panic!("a block is an object")
        };
        let names: Vec<&String> = attrs.keys().collect();
        let model_names: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(names, model_names);
        assert_eq!(ConnectionModel::from_value(&value).unwrap(), model);
    }

    #[test]
    fn every_attribute_is_described_and_secrets_are_sensitive() {
        let block = block();
        let nested = &block.blocks[0].block;
        for attr in block.attributes.iter().chain(&nested.attributes) {
            assert!(
                !attr.description.is_empty(),
                "{} has no description",
                attr.name
            );
        }
        let sensitive: Vec<&str> = block
            .attributes
            .iter()
            .filter(|a| a.sensitive)
            .map(|a| a.name)
            .collect();
        assert_eq!(sensitive, ["token", "client_key"]);
    }

    #[test]
    fn unknown_values_resolve_to_no_connection_yet() {
        let model = ConnectionModel {
            host: Attr::Unknown,
            cluster_ca_certificate: Attr::Unknown,
            token: Attr::Unknown,
            ..Default::default()
        };
        let at = AttributePath::root(BLOCK_NAME);
        assert!(!is_wholly_known(&model.to_value()));
        assert_eq!(resolve(&model.to_value(), &at).unwrap(), None);
    }

    #[test]
    fn a_known_block_resolves_to_one_credential() {
        let at = AttributePath::root(BLOCK_NAME);
        let model = ConnectionModel {
            host: Attr::Known("34.1.2.3".into()),
            ..token_connection()
        };
        let Some(Connection::Direct(direct)) = resolve(&model.to_value(), &at).unwrap() else {
            panic!("a direct connection")
        };
        assert_eq!(direct.server, "https://34.1.2.3");
        assert_eq!(
            direct.credentials,
            Credentials::Token("s3cret-token".into())
        );

        let exec = ConnectionModel {
            token: Attr::Known(String::new()),
            exec: Attr::Known(ExecModel {
                command: Attr::Known("gke-gcloud-auth-plugin".into()),
                ..Default::default()
            }),
            ..token_connection()
        };
        let Some(Connection::Direct(direct)) = resolve(&exec.to_value(), &at).unwrap() else {
            panic!("a direct connection")
        };
        let Credentials::Exec(plugin) = direct.credentials else {
            panic!("an exec plugin, since an empty token counts as unset")
        };
        assert_eq!(plugin.api_version, DEFAULT_EXEC_API_VERSION);
    }

    #[test]
    fn invalid_blocks_do_not_resolve() {
        let at = AttributePath::root(BLOCK_NAME);
        let plain_http = ConnectionModel {
            host: Attr::Known("http://10.0.0.1".into()),
            ..token_connection()
        };
        let diags = resolve(&plain_http.to_value(), &at).unwrap_err();
        assert_eq!(
            diags.0[0].path.as_ref().unwrap().to_string(),
            "kubernetes.host"
        );
    }

    #[test]
    fn config_paths_expand_the_home_directory() {
        let at = AttributePath::root(BLOCK_NAME);
        let model = ConnectionModel {
            config_path: Attr::Known("~/.kube/config".into()),
            config_context: Attr::Known("gke_prod".into()),
            ..Default::default()
        };
        let Some(Connection::KubeconfigFile { path, context }) =
            resolve(&model.to_value(), &at).unwrap()
        else {
            panic!("a kubeconfig connection")
        };
        if let Some(home) = std::env::var_os("HOME") {
            assert_eq!(path, PathBuf::from(home).join(".kube/config"));
        }
        assert_eq!(context.as_deref(), Some("gke_prod"));
    }

    #[test]
    fn debug_output_hides_tokens_and_keys() {
        let token = Credentials::Token("s3cret-token".into());
        let cert = Credentials::ClientCertificate {
            certificate_pem: "CERT".into(),
            key_pem: "PRIVATE-KEY-BYTES".into(),
        };
        let shown = format!("{token:?} {cert:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("PRIVATE-KEY-BYTES"),
            "{shown}"
        );
        assert!(shown.contains(REDACTED));
    }
}
