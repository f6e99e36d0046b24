//! The rules Terraform (since 1.1) and every OpenTofu check on each schema a provider sends when
//! they load it (`configschema.Block.InternalValidate`, after `convert.ProtoToConfigSchema`). One
//! violation and the CLI refuses the whole provider, so tests run this over the wire schemas
//! (`pb::Schema`, as `GetSchema` sends them) and fail with the words the CLI would print.
//!
//! tfplugin5 as this provider speaks it has no nested attribute types, deprecation messages,
//! write-only attributes or computed blocks, so the rules about those cannot be broken here.
use super::diag::AttributePath;
use super::types::{MalformedType, Type};
use crate::proto::tfplugin5 as pb;
use pb::schema::nested_block::NestingMode;
use std::collections::HashSet;

/// One broken rule, worded as Terraform words it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rule {
    #[error("top-level block schema is nil")]
    MissingTopLevelBlock,
    #[error("invalid negative schema version")]
    NegativeVersion,
    #[error("block schema is nil")]
    MissingBlock,
    #[error("name may contain only lowercase letters, digits and underscores")]
    InvalidName,
    #[error("name defined as both attribute and child block type")]
    AttributeAndBlock,
    /// Not one of Terraform's rules: its conversion keeps the last of two equal names and drops
    /// the other without a word, so the mistake would show only as a missing attribute.
    #[error("name defined more than once")]
    DuplicateName,
    #[error("must set Optional, Required or Computed")]
    NoMode,
    #[error("cannot set both Optional and Required")]
    OptionalAndRequired,
    #[error("cannot set both Computed and Required")]
    ComputedAndRequired,
    #[error("either Type or NestedType must be defined")]
    NoType,
    /// Terraform panics on a type it cannot parse rather than reporting it.
    #[error("type is not a valid cty type: {0}")]
    MalformedType(MalformedType),
    #[error("MinItems and MaxItems must both be greater than zero")]
    NegativeItems,
    #[error("MinItems and MaxItems must match in NestingSingle mode")]
    SingleItemsDiffer,
    #[error("MinItems and MaxItems must be set to either 0 or 1 in NestingSingle mode")]
    SingleItemsNotZeroOrOne,
    #[error("MinItems and MaxItems cannot be used in NestingGroup mode")]
    GroupItems,
    #[error("MinItems must be less than or equal to MaxItems in {0} mode")]
    MinAboveMax(&'static str),
    #[error("NestingSet blocks may not contain attributes of cty.DynamicPseudoType")]
    DynamicInSet,
    #[error("MinItems and MaxItems must both be 0 in NestingMap mode")]
    MapItems,
    /// Terraform turns any nesting it does not know into its invalid zero value first.
    #[error("invalid nesting mode nestingModeInvalid")]
    InvalidNesting,
}

/// A broken rule and where: the path of block names down to the attribute or block, as in
/// Terraform's `kubernetes.exec.command: must set Optional, Required or Computed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub path: AttributePath,
    pub rule: Rule,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.0.is_empty() {
            write!(f, "{}", self.rule)
        } else {
            write!(f, "{}: {}", self.path, self.rule)
        }
    }
}

/// Every rule the schema breaks; empty when Terraform and OpenTofu accept it.
pub fn violations(schema: &pb::Schema) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut report = |path: &AttributePath, rule| {
        found.push(Violation {
            path: path.clone(),
            rule,
        })
    };
    let root = AttributePath::default();
    if schema.version < 0 {
        report(&root, Rule::NegativeVersion);
    }
    match &schema.block {
        Some(block) => check_block(block, &root, &mut report),
        None => report(&root, Rule::MissingTopLevelBlock),
    }
    found
}

fn check_block(
    block: &pb::schema::Block,
    path: &AttributePath,
    report: &mut impl FnMut(&AttributePath, Rule),
) {
    let mut names = HashSet::new();
    for attribute in &block.attributes {
        let attribute_path = path.clone().attr(&attribute.name);
        if !names.insert(attribute.name.as_str()) {
            report(&attribute_path, Rule::DuplicateName);
        }
        // Terraform has switched this check off for attributes (existing providers break it) but
        // keeps it for blocks; we hold attributes to it too.
        if !is_valid_name(&attribute.name) {
            report(&attribute_path, Rule::InvalidName);
        }
        for rule in attribute_rules(attribute) {
            report(&attribute_path, rule);
        }
    }
    let attribute_names = names.clone();
    for nested in &block.block_types {
        let block_path = path.clone().attr(&nested.type_name);
        if attribute_names.contains(nested.type_name.as_str()) {
            report(&block_path, Rule::AttributeAndBlock);
        } else if !names.insert(nested.type_name.as_str()) {
            report(&block_path, Rule::DuplicateName);
        } else if !is_valid_name(&nested.type_name) {
            report(&block_path, Rule::InvalidName);
        }
        for rule in nesting_rules(nested) {
            report(&block_path, rule);
        }
        match &nested.block {
            Some(inner) => check_block(inner, &block_path, report),
            None => report(&block_path, Rule::MissingBlock),
        }
    }
}

/// Terraform's `validName`: `^[a-z0-9_]+$`.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn attribute_rules(attribute: &pb::schema::Attribute) -> Vec<Rule> {
    let mut rules = Vec::new();
    let (required, optional, computed) =
        (attribute.required, attribute.optional, attribute.computed);
    if !required && !optional && !computed {
        rules.push(Rule::NoMode);
    }
    if optional && required {
        rules.push(Rule::OptionalAndRequired);
    }
    if computed && required {
        rules.push(Rule::ComputedAndRequired);
    }
    if attribute.r#type.is_empty() {
        rules.push(Rule::NoType);
    } else if let Err(why) = parse_type(&attribute.r#type) {
        rules.push(Rule::MalformedType(why));
    }
    rules
}

fn nesting_rules(nested: &pb::schema::NestedBlock) -> Vec<Rule> {
    let (min, max) = (nested.min_items, nested.max_items);
    let mut rules = Vec::new();
    if min < 0 || max < 0 {
        rules.push(Rule::NegativeItems);
    }
    match NestingMode::try_from(nested.nesting).unwrap_or(NestingMode::Invalid) {
        NestingMode::Single if min != max => rules.push(Rule::SingleItemsDiffer),
        NestingMode::Single if !(0..=1).contains(&min) => rules.push(Rule::SingleItemsNotZeroOrOne),
        NestingMode::Single => {}
        NestingMode::Group if min != 0 || max != 0 => rules.push(Rule::GroupItems),
        NestingMode::Group => {}
        mode @ (NestingMode::List | NestingMode::Set) => {
            if min > max && max != 0 {
                let name = if mode == NestingMode::List {
                    "NestingList"
                } else {
                    "NestingSet"
                };
                rules.push(Rule::MinAboveMax(name));
            }
            // cty hashes set elements by their exact type, which a dynamic attribute leaves open.
            if mode == NestingMode::Set && nested.block.as_ref().is_some_and(contains_dynamic) {
                rules.push(Rule::DynamicInSet);
            }
        }
        NestingMode::Map if min != 0 || max != 0 => rules.push(Rule::MapItems),
        NestingMode::Map => {}
        NestingMode::Invalid => rules.push(Rule::InvalidNesting),
    }
    rules
}

/// The attribute's type as cty reads it from JSON; Terraform needs it to parse.
fn parse_type(json: &[u8]) -> Result<Type, MalformedType> {
    let json: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| MalformedType::from(e.to_string()))?;
    Type::from_json(&json)
}

/// Whether any attribute of the block, or of a block inside it, is or holds a `dynamic`.
fn contains_dynamic(block: &pb::schema::Block) -> bool {
    let attribute_is_dynamic = |a: &pb::schema::Attribute| {
        parse_type(&a.r#type).is_ok_and(|ty| type_contains_dynamic(&ty))
    };
    block.attributes.iter().any(attribute_is_dynamic)
        || block
            .block_types
            .iter()
            .filter_map(|nested| nested.block.as_ref())
            .any(contains_dynamic)
}

fn type_contains_dynamic(ty: &Type) -> bool {
    match ty {
        Type::Dynamic => true,
        Type::Bool | Type::Number | Type::String => false,
        Type::List(element) | Type::Set(element) | Type::Map(element) => {
            type_contains_dynamic(element)
        }
        Type::Object(attributes) => attributes.values().any(type_contains_dynamic),
        Type::Tuple(elements) => elements.iter().any(type_contains_dynamic),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(name: &str, ty: &str) -> pb::schema::Attribute {
        pb::schema::Attribute {
            name: name.to_string(),
            r#type: ty.as_bytes().to_vec(),
            optional: true,
            ..Default::default()
        }
    }

    fn nested(name: &str, mode: NestingMode, min: i64, max: i64) -> pb::schema::NestedBlock {
        pb::schema::NestedBlock {
            type_name: name.to_string(),
            block: Some(pb::schema::Block {
                attributes: vec![attribute("create", "\"string\"")],
                ..Default::default()
            }),
            nesting: mode as i32,
            min_items: min,
            max_items: max,
        }
    }

    fn schema(
        attributes: Vec<pb::schema::Attribute>,
        blocks: Vec<pb::schema::NestedBlock>,
    ) -> pb::Schema {
        pb::Schema {
            version: 0,
            block: Some(pb::schema::Block {
                attributes,
                block_types: blocks,
                ..Default::default()
            }),
        }
    }

    fn messages(schema: &pb::Schema) -> Vec<String> {
        violations(schema)
            .iter()
            .map(Violation::to_string)
            .collect()
    }

    fn block_messages(block: pb::schema::NestedBlock) -> Vec<String> {
        messages(&schema(vec![], vec![block]))
    }

    #[test]
    fn a_well_formed_schema_has_no_violations() {
        let good = schema(
            vec![
                attribute("name", "\"string\""),
                attribute("zones", "[\"list\",[\"object\",{\"name\":\"string\"}]]"),
                attribute("anything", "\"dynamic\""),
            ],
            vec![
                nested("timeouts", NestingMode::Single, 0, 0),
                nested("kubernetes", NestingMode::Single, 1, 1),
                nested("rule", NestingMode::List, 1, 3),
                nested("tag", NestingMode::Set, 2, 0),
                nested("group", NestingMode::Group, 0, 0),
                nested("by_name", NestingMode::Map, 0, 0),
            ],
        );
        assert_eq!(messages(&good), Vec::<String>::new());
    }

    /// Each block, and the one message Terraform refuses it with.
    fn assert_each_refused(cases: &[(pb::schema::NestedBlock, &str)]) {
        for (block, expected) in cases {
            assert_eq!(block_messages(block.clone()), [*expected]);
        }
    }

    #[test]
    fn a_single_block_with_max_items_one_is_refused_as_terraform_refuses_it() {
        use NestingMode::Single;
        assert_each_refused(&[
            // What the provider sent before Terraform 1.1 could load it: min 0, max 1.
            (
                nested("timeouts", Single, 0, 1),
                "timeouts: MinItems and MaxItems must match in NestingSingle mode",
            ),
            (
                nested("timeouts", Single, 2, 2),
                "timeouts: MinItems and MaxItems must be set to either 0 or 1 in NestingSingle mode",
            ),
        ]);
    }

    #[test]
    fn item_counts_follow_each_nesting_mode() {
        use NestingMode::{Group, List, Map, Set};
        assert_each_refused(&[
            (
                nested("rule", List, -1, 0),
                "rule: MinItems and MaxItems must both be greater than zero",
            ),
            (
                nested("rule", List, 3, 2),
                "rule: MinItems must be less than or equal to MaxItems in NestingList mode",
            ),
            (
                nested("tag", Set, 3, 2),
                "tag: MinItems must be less than or equal to MaxItems in NestingSet mode",
            ),
            (
                nested("group", Group, 0, 1),
                "group: MinItems and MaxItems cannot be used in NestingGroup mode",
            ),
            (
                nested("by_name", Map, 1, 0),
                "by_name: MinItems and MaxItems must both be 0 in NestingMap mode",
            ),
        ]);
    }

    #[test]
    fn a_nesting_mode_terraform_does_not_know_is_refused() {
        let mut unknown = nested("rule", NestingMode::List, 0, 0);
        unknown.nesting = 42;
        assert_eq!(
            block_messages(unknown),
            ["rule: invalid nesting mode nestingModeInvalid"]
        );
        assert_eq!(
            block_messages(nested("rule", NestingMode::Invalid, 0, 0)),
            ["rule: invalid nesting mode nestingModeInvalid"]
        );
    }

    #[test]
    fn a_set_block_may_not_hold_a_dynamic_attribute_however_deep() {
        let mut set = nested("tag", NestingMode::Set, 0, 0);
        let mut inner = nested("deeper", NestingMode::List, 0, 0);
        inner.block.as_mut().unwrap().attributes[0].r#type = b"[\"map\",\"dynamic\"]".to_vec();
        set.block.as_mut().unwrap().block_types.push(inner);
        assert_eq!(
            block_messages(set),
            ["tag: NestingSet blocks may not contain attributes of cty.DynamicPseudoType"]
        );
    }

    #[test]
    fn each_attribute_is_exactly_one_of_required_optional_or_computed() {
        let modes = |required, optional, computed| pb::schema::Attribute {
            required,
            optional,
            computed,
            ..attribute("a", "\"string\"")
        };
        assert_eq!(
            messages(&schema(vec![modes(false, false, false)], vec![])),
            ["a: must set Optional, Required or Computed"]
        );
        assert_eq!(
            messages(&schema(vec![modes(true, true, false)], vec![])),
            ["a: cannot set both Optional and Required"]
        );
        assert_eq!(
            messages(&schema(vec![modes(true, false, true)], vec![])),
            ["a: cannot set both Computed and Required"]
        );
        assert_eq!(
            messages(&schema(vec![modes(false, true, true)], vec![])),
            Vec::<String>::new()
        );
    }

    #[test]
    fn every_attribute_has_a_type_cty_can_read() {
        let broken = schema(
            vec![
                attribute("untyped", ""),
                attribute("float", "\"float\""),
                attribute("truncated", "[\"list\""),
            ],
            vec![],
        );
        let found = violations(&broken);
        assert_eq!(
            found[0].to_string(),
            "untyped: either Type or NestedType must be defined"
        );
        assert!(
            matches!(&found[1].rule, Rule::MalformedType(why) if why.to_string().contains("float")),
            "{found:?}"
        );
        assert_eq!(found[2].path.to_string(), "truncated");
        assert!(matches!(found[2].rule, Rule::MalformedType(_)));
        assert_eq!(found.len(), 3);
    }

    #[test]
    fn names_are_lowercase_identifiers_used_once() {
        assert_eq!(
            messages(&schema(
                vec![attribute("Zone", "\"string\""), attribute("", "\"string\"")],
                vec![nested("time-outs", NestingMode::Single, 0, 0)]
            )),
            [
                "Zone: name may contain only lowercase letters, digits and underscores",
                ": name may contain only lowercase letters, digits and underscores",
                "time-outs: name may contain only lowercase letters, digits and underscores",
            ]
        );
        assert_eq!(
            messages(&schema(
                vec![
                    attribute("timeouts", "\"string\""),
                    attribute("timeouts", "\"string\"")
                ],
                vec![nested("timeouts", NestingMode::Single, 0, 0)]
            )),
            [
                "timeouts: name defined more than once",
                "timeouts: name defined as both attribute and child block type",
            ]
        );
    }

    #[test]
    fn violations_inside_nested_blocks_carry_the_path_of_block_names() {
        let mut exec = nested("exec", NestingMode::Single, 0, 1);
        exec.block.as_mut().unwrap().attributes[0].optional = false;
        let mut kubernetes = nested("kubernetes", NestingMode::Single, 0, 0);
        kubernetes.block.as_mut().unwrap().block_types.push(exec);
        assert_eq!(
            block_messages(kubernetes),
            [
                "kubernetes.exec: MinItems and MaxItems must match in NestingSingle mode",
                "kubernetes.exec.create: must set Optional, Required or Computed",
            ]
        );
    }

    #[test]
    fn a_schema_without_a_block_or_with_a_negative_version_is_refused() {
        let empty = pb::Schema {
            version: -1,
            block: None,
        };
        assert_eq!(
            messages(&empty),
            [
                "invalid negative schema version",
                "top-level block schema is nil"
            ]
        );
        let mut hollow = nested("timeouts", NestingMode::Single, 0, 0);
        hollow.block = None;
        assert_eq!(block_messages(hollow), ["timeouts: block schema is nil"]);
    }
}
