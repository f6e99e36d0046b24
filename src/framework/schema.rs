//! Declarative schemas: every attribute carries its description (which feeds the docs), its
//! mode, and the plan behaviour it needs.
use super::types::Type;
use super::value::Value;
use crate::proto::tfplugin5 as pb;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Required,
    Optional,
    Computed,
    OptionalComputed,
}

/// What the planner does with an attribute beyond copying the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanModifier {
    /// A change of this attribute destroys and re-creates the resource.
    RequiresReplace,
    /// A computed value the configuration leaves unset keeps its prior value instead of
    /// becoming "known after apply" whenever something else changes.
    KeepPriorValueWhenUnset,
}

#[derive(Clone, Debug)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: Type,
    pub description: &'static str,
    pub mode: Mode,
    pub sensitive: bool,
    pub modifiers: Vec<PlanModifier>,
    /// Planned when the configuration leaves the attribute unset (the attribute is then
    /// optional and computed).
    pub default: Option<Value>,
    /// Used while applying and never kept: always null in plan and state. Only clients of protocol
    /// 5.8 and later (Terraform 1.11, OpenTofu 1.11) may set one (`capabilities`).
    pub write_only: bool,
}

impl Attribute {
    fn new(name: &'static str, ty: Type, mode: Mode, description: &'static str) -> Self {
        Attribute {
            name,
            ty,
            description,
            mode,
            sensitive: false,
            modifiers: Vec::new(),
            default: None,
            write_only: false,
        }
    }

    pub fn required(name: &'static str, ty: Type, description: &'static str) -> Self {
        Self::new(name, ty, Mode::Required, description)
    }

    pub fn optional(name: &'static str, ty: Type, description: &'static str) -> Self {
        Self::new(name, ty, Mode::Optional, description)
    }

    pub fn computed(name: &'static str, ty: Type, description: &'static str) -> Self {
        Self::new(name, ty, Mode::Computed, description)
    }

    pub fn optional_computed(name: &'static str, ty: Type, description: &'static str) -> Self {
        Self::new(name, ty, Mode::OptionalComputed, description)
    }

    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// A value the configuration passes to apply without it ever being stored (a password, say).
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }

    pub fn requires_replace(mut self) -> Self {
        self.modifiers.push(PlanModifier::RequiresReplace);
        self
    }

    pub fn keep_prior_value_when_unset(mut self) -> Self {
        self.modifiers.push(PlanModifier::KeepPriorValueWhenUnset);
        self
    }

    /// An optional attribute with a default is optional+computed on the wire, so that Terraform
    /// accepts the provider planning the default.
    pub fn default(mut self, value: Value) -> Self {
        self.mode = Mode::OptionalComputed;
        self.default = Some(value);
        self
    }

    pub fn has(&self, modifier: PlanModifier) -> bool {
        self.modifiers.contains(&modifier)
    }

    pub fn is_computed(&self) -> bool {
        matches!(self.mode, Mode::Computed | Mode::OptionalComputed)
    }

    fn to_proto(&self) -> pb::schema::Attribute {
        pb::schema::Attribute {
            name: self.name.to_string(),
            r#type: serde_json::to_vec(&self.ty.to_json()).expect("type JSON serialises"),
            description: self.description.to_string(),
            required: self.mode == Mode::Required,
            optional: matches!(self.mode, Mode::Optional | Mode::OptionalComputed),
            computed: self.is_computed(),
            sensitive: self.sensitive,
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: false,
            write_only: self.write_only,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    /// At most one block; null when absent.
    Single,
    /// Any number of blocks, in order; an empty list when absent.
    List,
}

#[derive(Clone, Debug)]
pub struct NestedBlock {
    pub name: &'static str,
    pub nesting: Nesting,
    pub block: Block,
    pub max_items: i64,
}

#[derive(Clone, Debug, Default)]
pub struct Block {
    pub description: &'static str,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
}

impl Block {
    pub fn new(description: &'static str) -> Self {
        Block {
            description,
            ..Default::default()
        }
    }

    pub fn attribute(mut self, attribute: Attribute) -> Self {
        self.attributes.push(attribute);
        self
    }

    pub fn single_block(mut self, name: &'static str, block: Block) -> Self {
        self.blocks.push(NestedBlock {
            name,
            nesting: Nesting::Single,
            block,
            // Terraform >= 1.1 refuses a provider whose NestingSingle block has min_items != max_items.
            max_items: 0,
        });
        self
    }

    pub fn list_block(mut self, name: &'static str, block: Block) -> Self {
        self.blocks.push(NestedBlock {
            name,
            nesting: Nesting::List,
            block,
            max_items: 0,
        });
        self
    }

    /// The names of its attributes and nested blocks: the fields of its value.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.attributes
            .iter()
            .map(|a| a.name)
            .chain(self.blocks.iter().map(|b| b.name))
    }

    pub fn find_attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The object type of a value conforming to this block.
    pub fn value_type(&self) -> Type {
        let attrs = self.attributes.iter().map(|a| (a.name, a.ty.clone()));
        let blocks = self.blocks.iter().map(|b| {
            let inner = b.block.value_type();
            let ty = match b.nesting {
                Nesting::Single => inner,
                Nesting::List => Type::list(inner),
            };
            (b.name, ty)
        });
        Type::object(attrs.chain(blocks))
    }

    fn to_proto(&self, version: i64) -> pb::schema::Block {
        pb::schema::Block {
            version,
            attributes: self.attributes.iter().map(Attribute::to_proto).collect(),
            block_types: self
                .blocks
                .iter()
                .map(|b| pb::schema::NestedBlock {
                    type_name: b.name.to_string(),
                    block: Some(b.block.to_proto(version)),
                    nesting: match b.nesting {
                        Nesting::Single => pb::schema::nested_block::NestingMode::Single,
                        Nesting::List => pb::schema::nested_block::NestingMode::List,
                    } as i32,
                    min_items: 0,
                    max_items: b.max_items,
                })
                .collect(),
            description: self.description.to_string(),
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Schema {
    /// Bumped whenever stored state needs an upgrade to be read with this schema.
    pub version: i64,
    pub block: Block,
}

impl Schema {
    pub fn to_proto(&self) -> pb::Schema {
        pb::Schema {
            version: self.version,
            block: Some(self.block.to_proto(self.version)),
        }
    }

    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_type_includes_nested_blocks() {
        let block = Block::new("r")
            .attribute(Attribute::required("name", Type::String, "n"))
            .single_block(
                "timeouts",
                Block::new("t").attribute(Attribute::optional("create", Type::String, "c")),
            )
            .list_block(
                "rule",
                Block::new("r").attribute(Attribute::optional("x", Type::Bool, "x")),
            );
        assert_eq!(
            block.value_type().to_json(),
            serde_json::json!(["object", {
                "name": "string",
                "timeouts": ["object", {"create": "string"}],
                "rule": ["list", ["object", {"x": "bool"}]],
            }])
        );
    }

    #[test]
    fn defaults_make_an_attribute_optional_and_computed_on_the_wire() {
        let attr =
            Attribute::optional("deletion_protection", Type::Bool, "d").default(Value::Bool(true));
        let proto = attr.to_proto();
        assert!(proto.optional && proto.computed && !proto.required);
        assert_eq!(proto.r#type, b"\"bool\"");
    }
}
