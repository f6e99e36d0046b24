//! What the client (Terraform or OpenTofu) says it can handle, and the rules that follow from it
//! for write-only attributes: an old client must not be given a configuration it would store
//! (it keeps every attribute in plan and state), and a new one must never see one in a plan.
use super::diag::{AttributePath, Diagnostics};
use super::schema::{Block, Nesting};
use super::value::Value;

/// The client capabilities a request carries (protocol 5.6 and later). A client that sends none
/// (Terraform before 1.9, OpenTofu before 1.11) supports none of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientCapabilities {
    /// The client accepts a `deferred` answer instead of a plan or a read (5.6).
    pub deferral_allowed: bool,
    /// The client handles write-only attributes: it neither plans nor stores their values (5.8).
    pub write_only_attributes_allowed: bool,
}

/// Refuses every write-only attribute `config` sets when the client cannot keep it out of plan
/// and state. Each refusal is on the attribute; unknown values are refused too, since they become
/// values at apply time.
pub fn refuse_unsupported_write_only(
    block: &Block,
    config: &Value,
    client: &ClientCapabilities,
    diags: &mut Diagnostics,
) {
    if !client.write_only_attributes_allowed {
        visit_write_only(block, config, &AttributePath::default(), &mut |path| {
            diags.attribute_error(
                path.clone(),
                "Write-only attribute not supported by this client",
                format!(
                    "`{path}` is write-only: its value is used during apply and never stored. This Terraform or \
                     OpenTofu version would store it in plan and state. Use Terraform 1.11 or OpenTofu 1.11 or later, \
                     or leave `{path}` unset."
                ),
            )
        });
    }
}

/// Sets every write-only attribute of a planned or applied value to null: clients that support them
/// refuse a plan or state that carries one.
pub fn null_write_only(block: &Block, value: &mut Value) {
    fill_write_only(block, value, None);
}

/// The planned value an apply works on: the plan, whose write-only attributes are null, with their
/// values from the configuration, the one place the client sends them during apply.
pub fn with_write_only_of(block: &Block, planned: &Value, config: &Value) -> Value {
    let mut applying = planned.clone();
    fill_write_only(block, &mut applying, Some(config));
    applying
}

/// Sets every write-only attribute of `value` to its value in `from` (the same shape), or to null.
fn fill_write_only(block: &Block, value: &mut Value, from: Option<&Value>) {
    let Value::Object(attrs) = value else {
        return;
    };
    for attr in block.attributes.iter().filter(|a| a.write_only) {
        if let Some(slot) = attrs.get_mut(attr.name) {
            *slot = from.map_or(Value::Null, |f| f.attr(attr.name).clone());
        }
    }
    for nested in &block.blocks {
        let from = from.map(|f| f.attr(nested.name));
        match (nested.nesting, attrs.get_mut(nested.name)) {
            (Nesting::Single, Some(inner)) => fill_write_only(&nested.block, inner, from),
            (Nesting::List, Some(Value::List(items))) => {
                for (i, item) in items.iter_mut().enumerate() {
                    let from = from.map(|f| match f {
                        Value::List(configured) => configured.get(i).unwrap_or(&Value::Null),
                        _ => &Value::Null,
                    });
                    fill_write_only(&nested.block, item, from);
                }
            }
            _ => {}
        }
    }
}

/// Calls `found` with the path of each write-only attribute that is not null in `value`.
fn visit_write_only(
    block: &Block,
    value: &Value,
    at: &AttributePath,
    found: &mut dyn FnMut(&AttributePath),
) {
    if !matches!(value, Value::Object(_)) {
        return;
    }
    for attr in block.attributes.iter().filter(|a| a.write_only) {
        if !value.attr(attr.name).is_null() {
            found(&at.clone().attr(attr.name));
        }
    }
    for nested in &block.blocks {
        let inner = value.attr(nested.name);
        let path = at.clone().attr(nested.name);
        match (nested.nesting, inner) {
            (Nesting::Single, _) => visit_write_only(&nested.block, inner, &path, found),
            (Nesting::List, Value::List(items)) => {
                for (i, item) in items.iter().enumerate() {
                    visit_write_only(&nested.block, item, &path.clone().index(i), found);
                }
            }
            (Nesting::List, _) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::schema::Attribute;
    use crate::framework::types::Type;

    fn block() -> Block {
        Block::new("r")
            .attribute(Attribute::required("name", Type::String, "n"))
            .attribute(Attribute::optional("password", Type::String, "p").write_only())
            .list_block(
                "user",
                Block::new("u")
                    .attribute(Attribute::optional("secret", Type::String, "s").write_only()),
            )
    }

    fn config(password: Value, secrets: Vec<Value>) -> Value {
        let users = secrets
            .into_iter()
            .map(|s| Value::Object([("secret".to_string(), s)].into()))
            .collect();
        Value::Object(
            [
                ("name".to_string(), Value::string("a")),
                ("password".to_string(), password),
                ("user".to_string(), Value::List(users)),
            ]
            .into(),
        )
    }

    const OLD: ClientCapabilities = ClientCapabilities {
        deferral_allowed: false,
        write_only_attributes_allowed: false,
    };
    const NEW: ClientCapabilities = ClientCapabilities {
        deferral_allowed: false,
        write_only_attributes_allowed: true,
    };

    #[test]
    fn an_old_client_is_refused_each_write_only_value_on_its_attribute() {
        let cfg = config(
            Value::string("pw"),
            vec![Value::Null, Value::Unknown, Value::string("x")],
        );
        let mut diags = Diagnostics::new();
        refuse_unsupported_write_only(&block(), &cfg, &OLD, &mut diags);
        let paths: Vec<String> = diags
            .0
            .iter()
            .map(|d| d.path.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(paths, ["password", "user[1].secret", "user[2].secret"]);
        assert!(diags.0[0].detail.contains("Terraform 1.11"));
    }

    #[test]
    fn a_new_client_or_an_unset_attribute_is_not_refused() {
        let mut diags = Diagnostics::new();
        refuse_unsupported_write_only(
            &block(),
            &config(Value::string("pw"), vec![]),
            &NEW,
            &mut diags,
        );
        refuse_unsupported_write_only(
            &block(),
            &config(Value::Null, vec![Value::Null]),
            &OLD,
            &mut diags,
        );
        refuse_unsupported_write_only(&block(), &Value::Unknown, &OLD, &mut diags);
        assert!(diags.0.is_empty(), "{diags:?}");
    }

    #[test]
    fn plans_and_states_carry_no_write_only_value() {
        let mut value = config(Value::string("pw"), vec![Value::string("x")]);
        null_write_only(&block(), &mut value);
        assert_eq!(value, config(Value::Null, vec![Value::Null]));
    }

    #[test]
    fn an_apply_gets_the_write_only_values_of_the_configuration() {
        let configured = config(Value::string("pw"), vec![Value::string("x"), Value::Null]);
        let mut planned = configured.clone();
        null_write_only(&block(), &mut planned);
        planned.set_attr("name", Value::string("b"));
        let applying = with_write_only_of(&block(), &planned, &configured);
        let mut expected = configured.clone();
        expected.set_attr("name", Value::string("b"));
        assert_eq!(applying, expected);
        // A delete's configuration is null: nothing to take.
        assert_eq!(
            with_write_only_of(&block(), &planned, &Value::Null),
            planned
        );
    }
}
