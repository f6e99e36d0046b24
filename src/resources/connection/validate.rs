//! Checks of a `kubernetes { }` block before anything is contacted. Each problem is reported on
//! the attribute the user must change; unknown values (plan time) are never judged.
use super::model::{given, model, ConnectionModel};
use crate::cockroach::validate::Invalid;
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::{timeouts, Attr, Value};
use base64::Engine;
use std::time::Duration;
use x509_parser::pem::Pem;

/// The shortest `unreachable_timeout`: below it, a single slow answer would count as an outage.
const MIN_UNREACHABLE_TIMEOUT: Duration = Duration::from_secs(5);

/// The `unreachable_timeout` a block sets, between [`MIN_UNREACHABLE_TIMEOUT`] and a week.
pub(super) fn unreachable_grace(text: &str) -> Result<Duration, timeouts::InvalidDuration> {
    timeouts::parse_duration_between(text, MIN_UNREACHABLE_TIMEOUT, timeouts::MAX_DURATION)
}

/// The exec credential API versions kube-rs can read a credential from.
const EXEC_API_VERSIONS: [&str; 2] = [
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
];

/// Adds a diagnostic for every problem of the block at `at` (e.g. `kubernetes`).
pub fn check_block(block: &Value, at: &AttributePath, diags: &mut Diagnostics) {
    match block {
        Value::Unknown => return,
        Value::Null => {
            diags.attribute_error(
                at.clone(),
                "Missing Kubernetes connection",
                "Add a kubernetes { } block with `host`, `cluster_ca_certificate` and credentials, or with \
                 `config_path` to use a kubeconfig file.",
            );
            return;
        }
        _ => {}
    }
    let model = match model(block, at) {
        Ok(model) => model,
        Err(bug) => return diags.extend(bug),
    };
    Checks {
        model: &model,
        at,
        diags,
    }
    .run();
}

struct Checks<'a> {
    model: &'a ConnectionModel,
    at: &'a AttributePath,
    diags: &'a mut Diagnostics,
}

/// Whether an option is set, unset, or not known until apply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Presence {
    Set,
    Unset,
    Unknown,
}

fn string_presence(attr: &Attr<String>) -> Presence {
    match attr {
        Attr::Unknown => Presence::Unknown,
        _ if given(attr).is_some() => Presence::Set,
        _ => Presence::Unset,
    }
}

impl Checks<'_> {
    fn run(mut self) {
        self.conflicts();
        self.host();
        self.tls_server_name();
        self.token();
        self.certificates();
        self.exec();
        self.unreachable_timeout();
    }

    fn tls_server_name(&mut self) {
        if let Some(name) = given(&self.model.tls_server_name) {
            if let Err(why) = server_name(name) {
                let path = self.path("tls_server_name");
                self.diags
                    .attribute_error(path, "Invalid TLS server name", why);
            }
        }
    }

    /// A token travels in an HTTP header, where a line break or other control character cannot go (the usual
    /// cause is a token read with `file()`, which keeps the file's last newline).
    fn token(&mut self) {
        if let Some(token) = given(&self.model.token) {
            if token.chars().any(char::is_control) {
                let path = self.path("token");
                self.diags.attribute_error(
                    path,
                    "Invalid token",
                    "The token contains a line break or another control character, which an HTTP header cannot \
                     carry. If it is read from a file, wrap it in trimspace().",
                );
            }
        }
    }

    fn unreachable_timeout(&mut self) {
        // An empty string is not "unset": it is checked, and refused, like any other text.
        if let Attr::Known(text) = &self.model.unreachable_timeout {
            if let Err(why) = unreachable_grace(text) {
                let path = self.path("unreachable_timeout");
                self.diags.attribute_error(
                    path,
                    "Invalid duration",
                    format!("{text:?} is not a duration: {why}. Use forms like \"30s\" or \"2m\"."),
                );
            }
        }
    }

    fn path(&self, attribute: &str) -> AttributePath {
        self.at.clone().attr(attribute)
    }

    fn conflict(&mut self, attribute: &str, other: &str, why: &str) {
        let path = self.path(attribute);
        self.diags.attribute_error(
            path,
            "Conflicting Kubernetes connection options",
            format!("`{attribute}` cannot be combined with `{other}`: {why}"),
        );
    }

    fn presence(&self, attribute: &str) -> Presence {
        let m = self.model;
        match attribute {
            "host" => string_presence(&m.host),
            "cluster_ca_certificate" => string_presence(&m.cluster_ca_certificate),
            "tls_server_name" => string_presence(&m.tls_server_name),
            "token" => string_presence(&m.token),
            "client_certificate" => string_presence(&m.client_certificate),
            "client_key" => string_presence(&m.client_key),
            "config_path" => string_presence(&m.config_path),
            "config_context" => string_presence(&m.config_context),
            "insecure" => match m.insecure {
                Attr::Unknown => Presence::Unknown,
                Attr::Known(true) => Presence::Set,
                _ => Presence::Unset,
            },
            "exec" => match m.exec {
                Attr::Unknown => Presence::Unknown,
                Attr::Known(_) => Presence::Set,
                Attr::Null => Presence::Unset,
            },
            other => unreachable!("no connection attribute {other}"),
        }
    }

    /// The first of `attributes` written as an empty string (which counts as unset), so that a refusal the
    /// empty value causes shows on its line. Without one, the caller blames an attribute left out of the block:
    /// every client resolves a path into a block to that block's own line when the attribute is absent.
    fn written_empty<'n>(&self, attributes: &[&'n str]) -> Option<&'n str> {
        let m = self.model;
        attributes.iter().copied().find(|attribute| {
            let value = match *attribute {
                "host" => &m.host,
                "config_path" => &m.config_path,
                "token" => &m.token,
                "client_certificate" => &m.client_certificate,
                "client_key" => &m.client_key,
                other => unreachable!("no string connection attribute {other}"),
            };
            value.known().is_some_and(String::is_empty)
        })
    }

    fn is_set(&self, attribute: &str) -> bool {
        self.presence(attribute) == Presence::Set
    }

    fn is_unset(&self, attribute: &str) -> bool {
        self.presence(attribute) == Presence::Unset
    }

    fn conflicts(&mut self) {
        if self.is_set("config_path") {
            for attribute in [
                "host",
                "cluster_ca_certificate",
                "tls_server_name",
                "insecure",
                "token",
                "client_certificate",
                "client_key",
                "exec",
            ] {
                if self.is_set(attribute) {
                    self.conflict(
                        attribute,
                        "config_path",
                        "the kubeconfig file already says where the cluster is and how to authenticate. \
                         Remove one of them.",
                    );
                }
            }
        } else if self.is_set("config_context") && self.is_unset("config_path") {
            let path = self.path("config_context");
            self.diags.attribute_error(
                path,
                "Kubernetes context without a kubeconfig file",
                "`config_context` names a context of the file in `config_path`, which is not set.",
            );
        }
        if self.is_unset("host") && self.is_unset("config_path") {
            let blamed = self.written_empty(&["host", "config_path"]);
            self.diags.attribute_error(
                self.path(blamed.unwrap_or("host")),
                "Nothing to connect to",
                format!(
                    "{}The kubernetes block needs `host` (with `cluster_ca_certificate` and credentials) or \
                     `config_path`.",
                    blamed.map_or(String::new(), |b| format!("`{b}` is empty. "))
                ),
            );
        }
        let credentials = ["token", "client_certificate", "client_key"];
        let no_credential = credentials
            .iter()
            .chain(&["exec"])
            .all(|attribute| self.is_unset(attribute));
        if self.is_set("host") && self.is_unset("config_path") && no_credential {
            let blamed = self.written_empty(&credentials);
            self.diags.attribute_error(
                self.path(blamed.unwrap_or("host")),
                "No Kubernetes credential",
                format!(
                    "{}The kubernetes block names a `host` but no way to authenticate, so every call would be \
                     anonymous and refused. Add `token`, `client_certificate` with `client_key`, or an `exec` \
                     block.",
                    blamed.map_or(String::new(), |b| format!("`{b}` is empty. "))
                ),
            );
        }
        let one_credential = "a connection authenticates one way only. Remove one of them.";
        if self.is_set("token") && self.is_set("client_certificate") {
            self.conflict("token", "client_certificate", one_credential);
        }
        if self.is_set("token") && self.is_set("exec") {
            self.conflict("token", "exec", one_credential);
        }
        if self.is_set("client_certificate") && self.is_set("exec") {
            self.conflict("client_certificate", "exec", one_credential);
        }
        for (present, missing) in [
            ("client_certificate", "client_key"),
            ("client_key", "client_certificate"),
        ] {
            if self.is_set(present) && self.is_unset(missing) {
                let path = self.path(present);
                self.diags.attribute_error(
                    path,
                    "Incomplete client certificate",
                    format!(
                        "`{present}` is set but `{missing}` is not: TLS client authentication needs both."
                    ),
                );
            }
        }
        if self.is_set("insecure") && self.is_set("cluster_ca_certificate") {
            self.conflict(
                "insecure",
                "cluster_ca_certificate",
                "`insecure = true` skips the verification the CA certificate is for. Keep the CA and remove \
                 `insecure`.",
            );
        }
    }

    fn host(&mut self) {
        if let Some(host) = given(&self.model.host) {
            if let Err(why) = server_url(host) {
                let path = self.path("host");
                self.diags
                    .attribute_error(path, "Invalid Kubernetes API server address", why);
            }
        }
    }

    fn certificates(&mut self) {
        if let Some(pem) = given(&self.model.cluster_ca_certificate) {
            let path = self.path("cluster_ca_certificate");
            if let Err(why) = certificates(pem) {
                self.diags
                    .attribute_error(path, "Invalid cluster CA certificate", why);
            } else if let Some(expired) = all_expired(pem, time::OffsetDateTime::now_utc()) {
                self.diags.attribute_error(
                    path,
                    "Expired cluster CA certificate",
                    format!(
                        "Every certificate in `cluster_ca_certificate` expired, the last on {}: no API \
                         server certificate can be verified with it. Give the cluster's current CA certificate.",
                        expired.date()
                    ),
                );
            }
        }
        if let Some(pem) = given(&self.model.client_certificate) {
            if let Err(why) = certificates(pem) {
                let path = self.path("client_certificate");
                self.diags
                    .attribute_error(path, "Invalid client certificate", why);
            }
        }
        if let Some(pem) = given(&self.model.client_key) {
            let path = self.path("client_key");
            if let Err(why) = private_key(pem) {
                self.diags.attribute_error(path, "Invalid client key", why);
            } else if given(&self.model.client_certificate)
                .and_then(|cert| crate::cockroach::pki::key_matches_certificate(cert, pem))
                == Some(false)
            {
                self.diags.attribute_error(
                    path,
                    "Client key does not match the certificate",
                    "`client_key` is not the private key of `client_certificate` (their public keys differ): \
                     give the key the certificate was issued for.",
                );
            }
        }
    }

    fn exec(&mut self) {
        let Attr::Known(exec) = &self.model.exec else {
            return;
        };
        let exec_path = self.path("exec");
        if let Attr::Known(command) = &exec.command {
            if command.trim().is_empty() {
                self.diags.attribute_error(
                    exec_path.clone().attr("command"),
                    "Empty credential plugin command",
                    "`exec.command` must name the plugin to run, e.g. `gke-gcloud-auth-plugin` or `aws`.",
                );
            }
        }
        if let Attr::Known(env) = &exec.env {
            for (name, value) in env {
                let path = exec_path.clone().attr("env").key(name);
                if name.is_empty() || name.contains(['=', '\0']) {
                    self.diags.attribute_error(
                        path,
                        "Invalid environment variable name",
                        format!("{name:?} cannot name an environment variable: names are not empty and hold no '=' or NUL."),
                    );
                } else if value.known().is_some_and(|v| v.contains('\0')) {
                    self.diags.attribute_error(
                        path,
                        "Invalid environment variable value",
                        format!("The value of {name:?} contains a NUL character, which no environment can hold."),
                    );
                }
            }
        }
        if let Some(version) = given(&exec.api_version) {
            if !EXEC_API_VERSIONS.contains(&version) {
                self.diags.attribute_error(
                    exec_path.attr("api_version"),
                    "Unsupported credential plugin API version",
                    format!(
                        "{version:?} is not one of {}. (`v1alpha1` was removed from Kubernetes; plugins \
                         speak `v1beta1`.)",
                        EXEC_API_VERSIONS.join(", ")
                    ),
                );
            }
        }
    }
}

/// The API server URL for a `host` value: `https://` is added to a bare host (as kubectl does,
/// and as GKE's `endpoint` needs); `http://` is refused except on loopback, where `kubectl
/// proxy` listens, because credentials would cross the network in clear text.
pub fn server_url(host: &str) -> Result<String, Invalid> {
    let host = host.trim();
    let (scheme, rest) = match host.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => ("https".to_string(), host),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(Invalid::from(format!("{host:?} names no host.")));
    }
    if authority.contains('@') || authority.chars().any(char::is_whitespace) {
        return Err(Invalid::from(format!(
            "{host:?} is not a valid address: write it as https://HOST[:PORT]."
        )));
    }
    let (name, port) = split_port(authority);
    if let Some(port) = port {
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(Invalid::from(format!(
                "{host:?} has an invalid port {port:?}."
            )));
        }
    }
    match scheme.as_str() {
        "https" => Ok(format!("https://{rest}")),
        "http" if is_loopback(name) => Ok(format!("http://{rest}")),
        "http" => Err(Invalid::from(format!(
            "{host:?} uses plain http, which would send credentials in clear text. Use https; http is \
             accepted only for a loopback address such as a local `kubectl proxy`."
        ))),
        other => Err(Invalid::from(format!(
            "{host:?} has scheme {other:?}; the Kubernetes API is reached over https."
        ))),
    }
}

fn split_port(authority: &str) -> (&str, Option<&str>) {
    if let Some(bracketed) = authority.strip_prefix('[') {
        // An IPv6 literal: [::1]:6443
        return match bracketed.split_once(']') {
            Some((address, rest)) => (address, rest.strip_prefix(':')),
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (authority, None),
    }
}

fn is_loopback(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks that `pem` holds one or more X.509 certificates and nothing else. Never quotes the
/// text: a user who pasted a key in the wrong attribute must not see it in a diagnostic.
pub fn certificates(pem: &str) -> Result<usize, Invalid> {
    let mut count = 0;
    for (index, block) in Pem::iter_from_buffer(pem.as_bytes()).enumerate() {
        let block = block
            .map_err(|e| Invalid::from(format!("PEM block {} cannot be read: {e}.", index + 1)))?;
        if block.label != "CERTIFICATE" {
            return Err(Invalid::from(format!(
                "PEM block {} is a {} where certificates belong.",
                index + 1,
                block.label
            )));
        }
        block.parse_x509().map_err(|e| {
            format!(
                "PEM block {} is not a valid X.509 certificate: {e}.",
                index + 1
            )
        })?;
        count += 1;
    }
    if count == 0 {
        return Err(Invalid(no_pem_block(pem, "-----BEGIN CERTIFICATE-----")));
    }
    Ok(count)
}

/// A TLS server name: a DNS name (any case) or an IP address.
fn server_name(name: &str) -> Result<(), Invalid> {
    if name.parse::<std::net::IpAddr>().is_ok()
        || crate::cockroach::validate::dns1123_subdomain(&name.to_ascii_lowercase()).is_ok()
    {
        Ok(())
    } else {
        Err(Invalid::from(format!(
            "{name:?} is neither a DNS name nor an IP address: `tls_server_name` is the name the API server's \
             certificate must hold."
        )))
    }
}

/// When every certificate of `pem` (already checked to be certificates) has expired at `now`: the last expiry.
fn all_expired(pem: &str, now: time::OffsetDateTime) -> Option<time::OffsetDateTime> {
    let expiries: Vec<time::OffsetDateTime> = Pem::iter_from_buffer(pem.as_bytes())
        .filter_map(Result::ok)
        .filter_map(|block| Some(block.parse_x509().ok()?.validity().not_after.to_datetime()))
        .collect();
    let last = expiries.into_iter().max()?;
    (last < now).then_some(last)
}

/// Checks that `pem` holds a private key block (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(pem: &str) -> Result<(), Invalid> {
    let mut keys = 0;
    for block in Pem::iter_from_buffer(pem.as_bytes()) {
        let block =
            block.map_err(|e| Invalid::from(format!("the PEM text cannot be read: {e}.")))?;
        match block.label.as_str() {
            "EC PARAMETERS" => {}
            "ENCRYPTED PRIVATE KEY" => {
                return Err(Invalid(
                    "the key is encrypted; give the unencrypted PEM key.".into(),
                ))
            }
            label if label.ends_with("PRIVATE KEY") && !block.contents.is_empty() => keys += 1,
            label => {
                return Err(Invalid::from(format!(
                    "found a {label} PEM block where a private key belongs."
                )))
            }
        }
    }
    match keys {
        0 => Err(Invalid(no_pem_block(pem, "-----BEGIN PRIVATE KEY-----"))),
        1 => Ok(()),
        n => Err(Invalid::from(format!(
            "found {n} private keys where one belongs."
        ))),
    }
}

/// Why text holds no PEM block, recognising the commonest slip: the base64 form GKE and EKS
/// export, given without `base64decode()`.
fn no_pem_block(text: &str, expected: &str) -> String {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let decoded = base64::engine::general_purpose::STANDARD.decode(compact.as_bytes());
    if decoded.is_ok_and(|bytes| bytes.windows(11).any(|w| w == b"-----BEGIN ")) {
        "the value is base64-encoded PEM (as in GKE's `master_auth` or EKS's `certificate_authority`); wrap \
         it in base64decode()."
            .to_string()
    } else {
        format!("no PEM block found; expected text starting with {expected}.")
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::{ConnectionModel, ExecModel, BLOCK_NAME};
    use super::*;
    use crate::framework::ToValue;

    fn check(model: &ConnectionModel) -> Vec<(String, String)> {
        let mut diags = Diagnostics::new();
        check_block(
            &model.to_value(),
            &AttributePath::root(BLOCK_NAME),
            &mut diags,
        );
        diags
            .0
            .iter()
            .map(|d| {
                (
                    d.path.as_ref().map(ToString::to_string).unwrap_or_default(),
                    format!("{}: {}", d.summary, d.detail),
                )
            })
            .collect()
    }

    fn paths(model: &ConnectionModel) -> Vec<String> {
        check(model).into_iter().map(|(path, _)| path).collect()
    }

    fn known(s: &str) -> Attr<String> {
        Attr::Known(s.to_string())
    }

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).unwrap().pem()
    }

    fn key_pem() -> String {
        rcgen::KeyPair::generate().unwrap().serialize_pem()
    }

    /// A client certificate and the key it was issued for.
    fn client_pair() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["admin".to_string()]).unwrap();
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    fn token_over_https() -> ConnectionModel {
        ConnectionModel {
            host: known("https://34.1.2.3"),
            cluster_ca_certificate: known(&ca_pem()),
            token: known("ya29.token"),
            ..Default::default()
        }
    }

    #[test]
    fn complete_connections_pass() {
        assert!(check(&token_over_https()).is_empty());
        let (cert, key) = client_pair();
        let client_cert = ConnectionModel {
            token: Attr::Null,
            client_certificate: known(&cert),
            client_key: known(&key),
            ..token_over_https()
        };
        assert!(check(&client_cert).is_empty(), "{:?}", check(&client_cert));
        let exec = ConnectionModel {
            token: Attr::Null,
            exec: Attr::Known(ExecModel {
                api_version: known("client.authentication.k8s.io/v1beta1"),
                command: known("aws"),
                args: Attr::Known(vec![known("eks"), known("get-token")]),
                env: Attr::Null,
            }),
            ..token_over_https()
        };
        assert!(check(&exec).is_empty());
        let kubeconfig = ConnectionModel {
            config_path: known("~/.kube/config"),
            config_context: known("kind-kind"),
            ..Default::default()
        };
        assert!(check(&kubeconfig).is_empty());
    }

    #[test]
    fn unknown_values_are_never_judged() {
        // A cluster created in the same apply: everything is known only after apply.
        let all_unknown = ConnectionModel {
            host: Attr::Unknown,
            cluster_ca_certificate: Attr::Unknown,
            token: Attr::Unknown,
            client_certificate: Attr::Unknown,
            client_key: Attr::Unknown,
            insecure: Attr::Unknown,
            config_path: Attr::Unknown,
            config_context: Attr::Unknown,
            tls_server_name: Attr::Unknown,
            unreachable_timeout: Attr::Unknown,
            exec: Attr::Unknown,
        };
        assert!(check(&all_unknown).is_empty());
        // A key whose certificate is not known yet is not "missing its certificate".
        let half = ConnectionModel {
            token: Attr::Null,
            client_certificate: Attr::Unknown,
            client_key: known(&key_pem()),
            ..token_over_https()
        };
        assert!(check(&half).is_empty());
        let exec_unknown = ConnectionModel {
            exec: Attr::Known(ExecModel {
                api_version: Attr::Unknown,
                command: Attr::Unknown,
                args: Attr::Unknown,
                env: Attr::Unknown,
            }),
            token: Attr::Null,
            ..token_over_https()
        };
        assert!(check(&exec_unknown).is_empty());
        let mut diags = Diagnostics::new();
        check_block(
            &Value::Unknown,
            &AttributePath::root(BLOCK_NAME),
            &mut diags,
        );
        assert!(diags.is_empty());
    }

    #[test]
    fn config_path_conflicts_with_each_inline_option() {
        let both = ConnectionModel {
            config_path: known("/etc/kube.yaml"),
            ..token_over_https()
        };
        assert_eq!(
            paths(&both),
            [
                "kubernetes.host",
                "kubernetes.cluster_ca_certificate",
                "kubernetes.token"
            ]
        );
        let exec = ConnectionModel {
            config_path: known("/etc/kube.yaml"),
            exec: Attr::Known(ExecModel {
                command: known("aws"),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(paths(&exec), ["kubernetes.exec"]);
    }

    #[test]
    fn credentials_conflict_on_their_own_path() {
        let (cert, key) = client_pair();
        let token_and_cert = ConnectionModel {
            client_certificate: known(&cert),
            client_key: known(&key),
            ..token_over_https()
        };
        let found = check(&token_and_cert);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "kubernetes.token");
        assert!(found[0].1.contains("client_certificate"), "{}", found[0].1);

        let token_and_exec = ConnectionModel {
            exec: Attr::Known(ExecModel {
                command: known("gke-gcloud-auth-plugin"),
                ..Default::default()
            }),
            ..token_over_https()
        };
        assert_eq!(paths(&token_and_exec), ["kubernetes.token"]);
        assert!(check(&token_and_exec)[0].1.contains("`exec`"));
    }

    #[test]
    fn a_client_certificate_needs_its_key_and_vice_versa() {
        let cert_only = ConnectionModel {
            token: Attr::Null,
            client_certificate: known(&ca_pem()),
            ..token_over_https()
        };
        assert_eq!(paths(&cert_only), ["kubernetes.client_certificate"]);
        let key_only = ConnectionModel {
            token: Attr::Null,
            client_key: known(&key_pem()),
            ..token_over_https()
        };
        assert_eq!(paths(&key_only), ["kubernetes.client_key"]);
    }

    #[test]
    fn a_client_key_must_be_the_certificates_own() {
        let (cert, _) = client_pair();
        let (_, other_key) = client_pair();
        let mismatched = ConnectionModel {
            token: Attr::Null,
            client_certificate: known(&cert),
            client_key: known(&other_key),
            ..token_over_https()
        };
        let found = check(&mismatched);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "kubernetes.client_key");
        assert!(found[0]
            .1
            .starts_with("Client key does not match the certificate"));
        assert!(!found[0].1.contains("PRIVATE KEY"), "never quotes the key");
    }

    #[test]
    fn the_unreachable_timeout_is_a_duration_within_the_limit() {
        let patient = ConnectionModel {
            unreachable_timeout: known("2m"),
            ..token_over_https()
        };
        assert!(check(&patient).is_empty());
        let forever = ConnectionModel {
            unreachable_timeout: known("18446744073709551616s"),
            ..token_over_https()
        };
        assert_eq!(paths(&forever), ["kubernetes.unreachable_timeout"]);
        for too_short in ["0s", "1ms", "4s", ""] {
            let hasty = ConnectionModel {
                unreachable_timeout: known(too_short),
                ..token_over_https()
            };
            assert_eq!(
                paths(&hasty),
                ["kubernetes.unreachable_timeout"],
                "{too_short:?}"
            );
        }
    }

    #[test]
    fn a_host_without_any_credential_is_refused_on_the_host_or_the_empty_credential() {
        let anonymous = ConnectionModel {
            token: Attr::Null,
            ..token_over_https()
        };
        let found = check(&anonymous);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "kubernetes.host");
        assert!(found[0].1.starts_with("No Kubernetes credential"));
        let empty_token = ConnectionModel {
            token: known(""),
            ..token_over_https()
        };
        let found = check(&empty_token);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "kubernetes.token");
        assert!(found[0].1.contains("`token` is empty"), "{found:?}");
        let later = ConnectionModel {
            token: Attr::Unknown,
            ..token_over_https()
        };
        assert!(check(&later).is_empty(), "an unknown token may be one");
    }

    #[test]
    fn insecure_conflicts_with_a_ca_but_false_does_not() {
        let insecure = ConnectionModel {
            insecure: Attr::Known(true),
            ..token_over_https()
        };
        assert_eq!(paths(&insecure), ["kubernetes.insecure"]);
        let verified = ConnectionModel {
            insecure: Attr::Known(false),
            ..token_over_https()
        };
        assert!(check(&verified).is_empty());
    }

    /// An empty block is blamed on its `host`, absent from it: clients show that on the block's own line (a path
    /// ending at the block would show on the resource's). An empty `host` or `config_path` is blamed itself.
    #[test]
    fn an_empty_block_or_none_at_all_is_an_error_on_the_block() {
        assert_eq!(paths(&ConnectionModel::default()), ["kubernetes.host"]);
        for (attribute, empty) in [
            (
                "config_path",
                ConnectionModel {
                    config_path: known(""),
                    ..Default::default()
                },
            ),
            (
                "host",
                ConnectionModel {
                    host: known(""),
                    config_path: known(""),
                    ..Default::default()
                },
            ),
        ] {
            let found = check(&empty);
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].0, format!("kubernetes.{attribute}"));
            assert!(found[0].1.contains(&format!("`{attribute}` is empty")));
        }
        let mut diags = Diagnostics::new();
        check_block(&Value::Null, &AttributePath::root(BLOCK_NAME), &mut diags);
        assert_eq!(diags.0[0].path, Some(AttributePath::root(BLOCK_NAME)));
        let context_only = ConnectionModel {
            config_context: known("prod"),
            ..Default::default()
        };
        assert_eq!(
            paths(&context_only),
            ["kubernetes.config_context", "kubernetes.host"]
        );
    }

    #[test]
    fn hosts_must_be_https_except_on_loopback() {
        assert_eq!(server_url("34.1.2.3").unwrap(), "https://34.1.2.3");
        assert_eq!(
            server_url("https://k8s.example.com:6443/prefix").unwrap(),
            "https://k8s.example.com:6443/prefix"
        );
        assert_eq!(
            server_url("http://127.0.0.1:8001").unwrap(),
            "http://127.0.0.1:8001"
        );
        assert!(server_url("http://[::1]:8001").is_ok());
        assert!(server_url("http://localhost:8001").is_ok());
        for bad in [
            "http://34.1.2.3",
            "ftp://x",
            "https://",
            "https://user@host",
            "https://host:99999",
            "https://host name",
        ] {
            assert!(server_url(bad).is_err(), "{bad:?} should be rejected");
        }
        let plain = ConnectionModel {
            host: known("http://10.0.0.1"),
            ..token_over_https()
        };
        let found = check(&plain);
        assert_eq!(found[0].0, "kubernetes.host");
        assert!(found[0].1.contains("clear text"), "{}", found[0].1);
    }

    #[test]
    fn unparsable_pem_is_reported_without_quoting_it() {
        let not_pem = ConnectionModel {
            cluster_ca_certificate: known("not a certificate"),
            ..token_over_https()
        };
        assert_eq!(paths(&not_pem), ["kubernetes.cluster_ca_certificate"]);

        let ca = ca_pem();
        let base64 = base64::engine::general_purpose::STANDARD.encode(&ca);
        let forgot_decode = ConnectionModel {
            cluster_ca_certificate: known(&base64),
            ..token_over_https()
        };
        assert!(check(&forgot_decode)[0].1.contains("base64decode()"));

        let key = key_pem();
        let swapped = ConnectionModel {
            token: Attr::Null,
            client_certificate: known(&key),
            client_key: known(&ca),
            ..token_over_https()
        };
        let found = check(&swapped);
        assert_eq!(
            found.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
            ["kubernetes.client_certificate", "kubernetes.client_key"]
        );
        let key_body = key.lines().nth(1).unwrap();
        assert!(found.iter().all(|f| !f.1.contains(key_body)));

        let broken = ca.replace("-----END CERTIFICATE-----", "");
        assert!(certificates(&broken).is_err());
        let garbage = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
        assert!(certificates(garbage)
            .unwrap_err()
            .contains("not a valid X.509"));
        assert_eq!(certificates(&format!("{ca}{ca}")).unwrap(), 2);
    }

    #[test]
    fn exec_needs_a_command_and_a_supported_api_version() {
        let exec = ConnectionModel {
            token: Attr::Null,
            exec: Attr::Known(ExecModel {
                api_version: known("client.authentication.k8s.io/v1alpha1"),
                command: known(" "),
                ..Default::default()
            }),
            ..token_over_https()
        };
        assert_eq!(
            paths(&exec),
            ["kubernetes.exec.command", "kubernetes.exec.api_version"]
        );
    }

    #[test]
    fn a_token_with_a_line_break_and_a_server_name_that_is_no_name_are_refused() {
        let from_file = ConnectionModel {
            token: known("ya29.token\n"),
            ..token_over_https()
        };
        let found = check(&from_file);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "kubernetes.token");
        assert!(found[0].1.contains("trimspace"));
        assert!(!found[0].1.contains("ya29"), "the token is never quoted");
        for bad in ["bad name!", "a..b", "-x.example.com"] {
            let named = ConnectionModel {
                tls_server_name: known(bad),
                ..token_over_https()
            };
            assert_eq!(paths(&named), ["kubernetes.tls_server_name"], "{bad}");
        }
        for good in [
            "kubernetes.default.svc",
            "API.Example.com",
            "10.0.0.1",
            "::1",
        ] {
            let named = ConnectionModel {
                tls_server_name: known(good),
                ..token_over_https()
            };
            assert!(check(&named).is_empty(), "{good}");
        }
    }

    #[test]
    fn exec_environment_names_and_values_an_environment_cannot_hold_are_refused() {
        let with_env = |name: &str, value: &str| ConnectionModel {
            token: Attr::Null,
            exec: Attr::Known(ExecModel {
                api_version: Attr::Null,
                command: known("aws"),
                args: Attr::Null,
                env: Attr::Known([(name.to_string(), known(value))].into()),
            }),
            ..token_over_https()
        };
        assert!(check(&with_env("AWS_PROFILE", "prod")).is_empty());
        for (name, value) in [("A=B", "x"), ("", "x"), ("A\0", "x"), ("A", "x\0y")] {
            let found = paths(&with_env(name, value));
            assert_eq!(found.len(), 1, "{name:?}={value:?}: {found:?}");
            assert!(found[0].starts_with("kubernetes.exec.env["), "{found:?}");
        }
    }

    #[test]
    fn a_cluster_ca_whose_every_certificate_expired_is_refused() {
        let expired = {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
            params.self_signed(&key).unwrap().pem()
        };
        let old = ConnectionModel {
            cluster_ca_certificate: known(&expired),
            ..token_over_https()
        };
        let found = check(&old);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "kubernetes.cluster_ca_certificate");
        assert!(found[0].1.contains("2021-01-01"), "{found:?}");
        let bundle = ConnectionModel {
            cluster_ca_certificate: known(&format!("{expired}{}", ca_pem())),
            ..token_over_https()
        };
        assert!(
            check(&bundle).is_empty(),
            "one valid CA in the bundle is enough"
        );
    }
}
