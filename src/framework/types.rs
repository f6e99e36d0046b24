//! Terraform's (cty's) type system, as far as a provider needs it: the types that schemas
//! declare, that decode wire values, and that appear as JSON in `GetSchema`.
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    Bool,
    Number,
    String,
    /// Any type; on the wire a value of this type carries its own type as JSON.
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    Tuple(Vec<Type>),
}

/// A type in JSON notation that names no Terraform type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MalformedType(String);

impl From<String> for MalformedType {
    fn from(why: String) -> Self {
        MalformedType(why)
    }
}

impl From<&str> for MalformedType {
    fn from(why: &str) -> Self {
        MalformedType(why.to_string())
    }
}

impl Type {
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }

    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }

    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }

    pub fn object<'a>(attributes: impl IntoIterator<Item = (&'a str, Type)>) -> Type {
        Type::Object(
            attributes
                .into_iter()
                .map(|(name, ty)| (name.to_string(), ty))
                .collect(),
        )
    }

    /// The JSON form Terraform expects in `Schema.Attribute.type`, e.g. `["list","string"]`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Type::Bool => json!("bool"),
            Type::Number => json!("number"),
            Type::String => json!("string"),
            Type::Dynamic => json!("dynamic"),
            Type::List(e) => json!(["list", e.to_json()]),
            Type::Set(e) => json!(["set", e.to_json()]),
            Type::Map(e) => json!(["map", e.to_json()]),
            Type::Object(attrs) => {
                let attrs: serde_json::Map<String, serde_json::Value> = attrs
                    .iter()
                    .map(|(name, ty)| (name.clone(), ty.to_json()))
                    .collect();
                json!(["object", attrs])
            }
            Type::Tuple(elems) => {
                json!(["tuple", elems.iter().map(Type::to_json).collect::<Vec<_>>()])
            }
        }
    }

    /// Parses the JSON type notation, as found in the first element of a dynamic value.
    pub fn from_json(json: &serde_json::Value) -> Result<Type, MalformedType> {
        use serde_json::Value as J;
        match json {
            J::String(s) => match s.as_str() {
                "bool" => Ok(Type::Bool),
                "number" => Ok(Type::Number),
                "string" => Ok(Type::String),
                "dynamic" => Ok(Type::Dynamic),
                other => Err(format!("unknown primitive type {other:?}").into()),
            },
            J::Array(parts) if parts.len() == 2 => {
                let kind = parts[0].as_str().ok_or("type kind must be a string")?;
                match kind {
                    "list" => Ok(Type::list(Type::from_json(&parts[1])?)),
                    "set" => Ok(Type::set(Type::from_json(&parts[1])?)),
                    "map" => Ok(Type::map(Type::from_json(&parts[1])?)),
                    "object" => {
                        let attrs = parts[1]
                            .as_object()
                            .ok_or("object attributes must be a map")?;
                        let attrs = attrs
                            .iter()
                            .map(|(k, v)| Ok((k.clone(), Type::from_json(v)?)))
                            .collect::<Result<_, MalformedType>>()?;
                        Ok(Type::Object(attrs))
                    }
                    "tuple" => {
                        let elems = parts[1].as_array().ok_or("tuple elements must be a list")?;
                        Ok(Type::Tuple(
                            elems
                                .iter()
                                .map(Type::from_json)
                                .collect::<Result<_, _>>()?,
                        ))
                    }
                    other => Err(format!("unknown type kind {other:?}").into()),
                }
            }
            // An object type may carry a third element listing optional attributes.
            J::Array(parts) if parts.len() == 3 && parts[0] == "object" => {
                Type::from_json(&J::Array(parts[..2].to_vec()))
            }
            other => Err(format!("malformed type {other}").into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_notation_round_trips() {
        let ty = Type::object([
            ("zones", Type::list(Type::String)),
            ("labels", Type::map(Type::String)),
            ("pair", Type::Tuple(vec![Type::Bool, Type::Number])),
            ("tags", Type::set(Type::Dynamic)),
        ]);
        let json = ty.to_json();
        assert_eq!(
            json,
            serde_json::json!(["object", {
                "zones": ["list", "string"],
                "labels": ["map", "string"],
                "pair": ["tuple", ["bool", "number"]],
                "tags": ["set", "dynamic"],
            }])
        );
        assert_eq!(Type::from_json(&json).unwrap(), ty);
    }

    #[test]
    fn rejects_unknown_types() {
        assert!(Type::from_json(&serde_json::json!("float")).is_err());
        assert!(Type::from_json(&serde_json::json!(["vector", "string"])).is_err());
    }
}
