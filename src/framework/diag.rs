//! Diagnostics as Terraform shows them: a severity, a summary, a detail, and the attribute the
//! user should look at.
//!
//! # The error rule
//!
//! One rule, followed by every layer:
//!
//! - **Validation and plan accumulate.** `validate` and `modify_plan` (and the pure checks they call)
//!   take `&mut Diagnostics` and add every problem they find, each on its attribute, so the user
//!   sees all of them at once. They never stop at the first.
//! - **Apply steps return `Result<T, Diagnostics>`.** A step of create, read, update, delete or import
//!   either did its job or says why it stopped; the caller stops too (`?`) or records what exists.
//! - **Lower layers return typed errors.** The Kubernetes edge, the PKI, the DNS renderers, the
//!   input checks and the codecs return their own error types, derived with `thiserror` (never
//!   `String`): `RemoteError`, `WaitError`, `JobError`, `EditError`, `ConnectError`, `PkiError`,
//!   `CaError`, `DnsError`, `SpecError`, `cockroach::validate::Invalid`... Those an apply step passes
//!   on unchanged implement `From<E> for Diagnostics`, so that `?` is all it takes; the others carry
//!   what the resource needs to word its own diagnostic (an attribute to blame, what cockroach said).
//! - **A value that does not fit its model is a provider bug**, reported once, at the border
//!   (`framework::resource`).
use super::model::Attr;
use crate::proto::tfplugin5 as pb;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Attribute(String),
    Key(String),
    Index(i64),
}

/// A path to an attribute, e.g. `zones[2]` or `kubernetes.exec.command`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttributePath(pub Vec<Step>);

impl AttributePath {
    pub fn root(name: &str) -> Self {
        AttributePath(vec![Step::Attribute(name.to_string())])
    }

    pub fn attr(mut self, name: &str) -> Self {
        self.0.push(Step::Attribute(name.to_string()));
        self
    }

    pub fn index(mut self, index: usize) -> Self {
        self.0.push(Step::Index(index as i64));
        self
    }

    pub fn key(mut self, key: &str) -> Self {
        self.0.push(Step::Key(key.to_string()));
        self
    }

    pub fn to_proto(&self) -> pb::AttributePath {
        use pb::attribute_path::step::Selector;
        pb::AttributePath {
            steps: self
                .0
                .iter()
                .map(|step| pb::attribute_path::Step {
                    selector: Some(match step {
                        Step::Attribute(name) => Selector::AttributeName(name.clone()),
                        Step::Key(key) => Selector::ElementKeyString(key.clone()),
                        Step::Index(i) => Selector::ElementKeyInt(*i),
                    }),
                })
                .collect(),
        }
    }
}

impl std::fmt::Display for AttributePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Attribute(name) if i == 0 => f.write_str(name)?,
                Step::Attribute(name) => write!(f, ".{name}")?,
                Step::Key(key) => write!(f, "[{key:?}]")?,
                Step::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub path: Option<AttributePath>,
}

/// Diagnostics collected over one RPC and returned together, so the user sees every problem at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    /// One error, on the whole resource.
    pub fn with_error(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        let mut diags = Diagnostics::new();
        diags.error(summary, detail);
        diags
    }

    /// One error, on the attribute at `path`.
    pub fn with_attribute_error(
        path: AttributePath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        let mut diags = Diagnostics::new();
        diags.attribute_error(path, summary, detail);
        diags
    }

    /// What a check that accumulates into diagnostics reports.
    pub fn of_check(check: impl FnOnce(&mut Diagnostics)) -> Self {
        let mut diags = Diagnostics::new();
        check(&mut diags);
        diags
    }

    pub fn error(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Severity::Error, summary, detail, None);
    }

    pub fn attribute_error(
        &mut self,
        path: AttributePath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Severity::Error, summary, detail, Some(path));
    }

    pub fn warning(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Severity::Warning, summary, detail, None);
    }

    pub fn attribute_warning(
        &mut self,
        path: AttributePath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Severity::Warning, summary, detail, Some(path));
    }

    fn push(
        &mut self,
        severity: Severity,
        summary: impl Into<String>,
        detail: impl Into<String>,
        path: Option<AttributePath>,
    ) {
        self.0.push(Diagnostic {
            severity,
            summary: summary.into(),
            detail: detail.into(),
            path,
        });
    }

    /// Judges a known value with `check` and reports its refusal on the top-level attribute
    /// `name` under `summary`; null and unknown values are not judged.
    pub fn check_known<T, E: Into<String>>(
        &mut self,
        attr: &Attr<T>,
        name: &str,
        summary: &str,
        check: impl FnOnce(&T) -> Result<(), E>,
    ) {
        if let Attr::Known(value) = attr {
            if let Err(why) = check(value) {
                self.attribute_error(AttributePath::root(name), summary, why);
            }
        }
    }

    /// The attribute path of each diagnostic, empty for those on the whole resource.
    pub fn attribute_paths(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|d| d.path.as_ref().map(ToString::to_string).unwrap_or_default())
            .collect()
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_proto(&self) -> Vec<pb::Diagnostic> {
        self.0
            .iter()
            .map(|d| pb::Diagnostic {
                severity: match d.severity {
                    Severity::Error => pb::diagnostic::Severity::Error,
                    Severity::Warning => pb::diagnostic::Severity::Warning,
                } as i32,
                summary: d.summary.clone(),
                detail: d.detail.clone(),
                attribute: d.path.as_ref().map(AttributePath::to_proto),
            })
            .collect()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_terraform_addresses() {
        let path = AttributePath::root("kubernetes")
            .attr("exec")
            .attr("env")
            .key("TOKEN");
        assert_eq!(path.to_string(), "kubernetes.exec.env[\"TOKEN\"]");
        assert_eq!(
            AttributePath::root("zones").index(2).to_string(),
            "zones[2]"
        );
    }

    #[test]
    fn errors_are_counted_and_encoded_with_their_path() {
        let mut diags = Diagnostics::new();
        diags.warning("heads up", "");
        assert!(!diags.has_errors());
        diags.attribute_error(AttributePath::root("zones").index(1), "Duplicate zone", "b");
        assert!(diags.has_errors());
        let proto = diags.to_proto();
        assert_eq!(proto[1].severity, pb::diagnostic::Severity::Error as i32);
        assert_eq!(proto[1].attribute.as_ref().unwrap().steps.len(), 2);
    }
}
