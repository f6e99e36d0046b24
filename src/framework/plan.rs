//! The planning rules every resource shares: defaults, computed values that become "known after
//! apply" only when they really will change, and replacement when an attribute cannot change in
//! place. Pure: the resource's own `modify_plan` runs after these.
use super::diag::AttributePath;
use super::schema::{Block, Nesting, PlanModifier};
use super::value::Value;

/// Applies defaults and computed-value rules to `proposed` (Terraform's merge of config and
/// prior state), giving the planned state.
pub fn plan_state(block: &Block, prior: &Value, proposed: &Value, config: &Value) -> Value {
    let mut planned = proposed.clone();
    apply_defaults_and_unknowns(block, prior, config, &mut planned);
    if !prior.is_null() && planned != *prior {
        mark_changing_computed_unknown(block, config, &mut planned);
    }
    planned
}

fn apply_defaults_and_unknowns(block: &Block, prior: &Value, config: &Value, planned: &mut Value) {
    if !matches!(planned, Value::Object(_)) {
        return;
    }
    for attr in &block.attributes {
        let configured = config.attr(attr.name);
        if !configured.is_null() {
            continue;
        }
        if let Some(default) = &attr.default {
            planned.set_attr(attr.name, default.clone());
        } else if attr.is_computed() && prior.is_null() {
            planned.set_attr(attr.name, Value::Unknown);
        }
    }
    for nested in &block.blocks {
        if nested.nesting == Nesting::Single {
            let mut inner = planned.attr(nested.name).clone();
            apply_defaults_and_unknowns(
                &nested.block,
                prior.attr(nested.name),
                config.attr(nested.name),
                &mut inner,
            );
            planned.set_attr(nested.name, inner);
        }
    }
}

/// On update, a computed attribute the configuration leaves unset may change with the rest of
/// the resource, so it is unknown unless the schema says its prior value stands. A prior value
/// that was never computed (state adopted by import) is always computed anew.
fn mark_changing_computed_unknown(block: &Block, config: &Value, planned: &mut Value) {
    for attr in &block.attributes {
        let keeps_prior =
            attr.has(PlanModifier::KeepPriorValueWhenUnset) && !planned.attr(attr.name).is_null();
        if attr.is_computed()
            && attr.default.is_none()
            && config.attr(attr.name).is_null()
            && !keeps_prior
        {
            planned.set_attr(attr.name, Value::Unknown);
        }
    }
}

/// The attributes whose planned change forces replacement.
pub fn replacement_paths(block: &Block, prior: &Value, planned: &Value) -> Vec<AttributePath> {
    if prior.is_null() {
        return Vec::new();
    }
    block
        .attributes
        .iter()
        .filter(|attr| attr.has(PlanModifier::RequiresReplace))
        .filter(|attr| planned.attr(attr.name) != prior.attr(attr.name))
        .map(|attr| AttributePath::root(attr.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::schema::Attribute;
    use crate::framework::types::Type;
    use std::collections::BTreeMap;

    fn block() -> Block {
        Block::new("test")
            .attribute(Attribute::required("name", Type::String, "").requires_replace())
            .attribute(Attribute::required("image", Type::String, ""))
            .attribute(Attribute::optional("protect", Type::Bool, "").default(Value::Bool(true)))
            .attribute(Attribute::computed("id", Type::String, "").keep_prior_value_when_unset())
            .attribute(Attribute::computed("revision", Type::String, ""))
    }

    fn obj(entries: &[(&str, Value)]) -> Value {
        Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    fn config(name: &str, image: &str) -> Value {
        obj(&[
            ("name", Value::string(name)),
            ("image", Value::string(image)),
            ("protect", Value::Null),
            ("id", Value::Null),
            ("revision", Value::Null),
        ])
    }

    fn state(name: &str, image: &str) -> Value {
        obj(&[
            ("name", Value::string(name)),
            ("image", Value::string(image)),
            ("protect", Value::Bool(true)),
            ("id", Value::string("id-1")),
            ("revision", Value::string("r1")),
        ])
    }

    #[test]
    fn create_plans_defaults_and_unknown_computed_values() {
        let cfg = config("a", "v1");
        let planned = plan_state(&block(), &Value::Null, &cfg, &cfg);
        assert_eq!(planned.attr("protect"), &Value::Bool(true));
        assert_eq!(planned.attr("id"), &Value::Unknown);
        assert_eq!(planned.attr("revision"), &Value::Unknown);
    }

    #[test]
    fn unchanged_resource_plans_its_prior_state() {
        let prior = state("a", "v1");
        // Terraform's proposed new state carries prior values for unset computed attributes.
        let planned = plan_state(&block(), &prior, &prior, &config("a", "v1"));
        assert_eq!(planned, prior);
        assert!(replacement_paths(&block(), &prior, &planned).is_empty());
    }

    #[test]
    fn update_keeps_only_the_values_marked_to_keep() {
        let prior = state("a", "v1");
        let mut proposed = prior.clone();
        proposed.set_attr("image", Value::string("v2"));
        let planned = plan_state(&block(), &prior, &proposed, &config("a", "v2"));
        assert_eq!(planned.attr("id"), &Value::string("id-1"));
        assert_eq!(planned.attr("revision"), &Value::Unknown);
        assert!(replacement_paths(&block(), &prior, &planned).is_empty());
    }

    #[test]
    fn imported_state_computes_what_it_never_had() {
        let mut prior = state("a", "v0");
        prior.set_attr("id", Value::Null);
        let mut proposed = prior.clone();
        proposed.set_attr("image", Value::string("v1"));
        let planned = plan_state(&block(), &prior, &proposed, &config("a", "v1"));
        assert_eq!(planned.attr("id"), &Value::Unknown);
    }

    #[test]
    fn changing_a_replace_attribute_asks_for_replacement() {
        let prior = state("a", "v1");
        let mut proposed = prior.clone();
        proposed.set_attr("name", Value::string("b"));
        let planned = plan_state(&block(), &prior, &proposed, &config("b", "v1"));
        let paths = replacement_paths(&block(), &prior, &planned);
        assert_eq!(paths, vec![AttributePath::root("name")]);
    }
}
