//! Typed resource models: Rust structs whose fields mirror a schema's attributes, converted from
//! and to `Value` by the `tf_model!` macro. `Attr<T>` keeps null and unknown apart from a value.
use super::value::{Number, Value};
use std::collections::BTreeMap;

/// A configuration, plan or state attribute: absent, known only after apply, or a value.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Attr<T> {
    #[default]
    Null,
    Unknown,
    Known(T),
}

impl<T> Attr<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Attr::Known(v) => Some(v),
            _ => None,
        }
    }

    pub fn into_known(self) -> Option<T> {
        match self {
            Attr::Known(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Attr::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Attr::Unknown)
    }
}

impl<T: Clone> Attr<Vec<Attr<T>>> {
    /// The items, when the list and each of its items are known (a list built from references to other
    /// resources has unknown items until they are planned).
    pub fn known_items(&self) -> Option<Vec<T>> {
        self.known()?
            .iter()
            .map(|item| item.known().cloned())
            .collect()
    }

    /// A known list of known items.
    pub fn from_items(items: impl IntoIterator<Item = T>) -> Self {
        Attr::Known(items.into_iter().map(Attr::Known).collect())
    }
}

impl<T> From<Option<T>> for Attr<T> {
    fn from(option: Option<T>) -> Self {
        option.map_or(Attr::Null, Attr::Known)
    }
}

/// A value that does not fit the model: a provider bug when its type is wrong, since Terraform
/// checked the value against the same schema; the user's when a number of the right type is not
/// one the model can hold (`2.5` or `1e30` where a whole number belongs).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {message}", .path.join("."))]
pub struct ModelError {
    pub path: Vec<String>,
    pub message: String,
    /// The value has the schema's type but not a value the model can hold: the user's to fix.
    pub user_input: bool,
}

impl ModelError {
    pub fn new(message: impl Into<String>) -> Self {
        ModelError {
            path: Vec::new(),
            message: message.into(),
            user_input: false,
        }
    }

    /// A value of the right type the model cannot hold.
    pub fn unfit(message: impl Into<String>) -> Self {
        ModelError {
            user_input: true,
            ..ModelError::new(message)
        }
    }

    pub fn within(mut self, field: &str) -> Self {
        self.path.insert(0, field.to_string());
        self
    }
}

pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Result<Self, ModelError>;
}

pub trait ToValue {
    fn to_value(&self) -> Value;
}

/// The attribute names a model declares, in declaration order: what ties a model to its schema
/// (see [`fields_match_block`]).
pub trait Fields {
    const FIELDS: &'static [&'static str];
}

/// Where a model and what its schema declares (a block's attribute and nested block names, or an
/// object type's attribute names) disagree: names the model has no field for (they would always be
/// encoded as null), and fields the schema does not declare. Empty when they match.
pub fn fields_mismatch<S: AsRef<str>>(
    fields: &[&str],
    declared: impl IntoIterator<Item = S>,
) -> Vec<String> {
    use std::collections::BTreeSet;
    let declared: BTreeSet<String> = declared
        .into_iter()
        .map(|n| n.as_ref().to_string())
        .collect();
    let modelled: BTreeSet<String> = fields.iter().map(|f| f.to_string()).collect();
    let missing = declared
        .difference(&modelled)
        .map(|name| format!("schema attribute {name:?} has no model field"));
    let extra = modelled
        .difference(&declared)
        .map(|name| format!("model field {name:?} has no schema attribute"));
    missing.chain(extra).collect()
}

impl<T: FromValue> FromValue for Attr<T> {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        Ok(match value {
            Value::Null => Attr::Null,
            Value::Unknown => Attr::Unknown,
            other => Attr::Known(T::from_value(other)?),
        })
    }
}

impl<T: ToValue> ToValue for Attr<T> {
    fn to_value(&self) -> Value {
        match self {
            Attr::Null => Value::Null,
            Attr::Unknown => Value::Unknown,
            Attr::Known(v) => v.to_value(),
        }
    }
}

/// Raw values, for parts of a model that are passed through whole (such as a `timeouts` block).
impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        Ok(value.clone())
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

/// A null where the model holds a plain value can only be an element of a list or map (attributes are
/// `Attr`s): the user's to fix, since the schema's collection types allow null elements.
fn null_element() -> ModelError {
    ModelError::unfit("an element must not be null")
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Null => Err(null_element()),
            _ => Err(ModelError::new("expected a string")),
        }
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::String(self.clone())
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        match value {
            Value::Bool(b) => Ok(*b),
            Value::Null => Err(null_element()),
            _ => Err(ModelError::new("expected a bool")),
        }
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        match value {
            Value::Number(n) => n.as_i64().ok_or_else(|| {
                ModelError::unfit(format!(
                    "expected a whole number from {} to {}, got {n}",
                    i64::MIN,
                    i64::MAX
                ))
            }),
            Value::Null => Err(null_element()),
            _ => Err(ModelError::new("expected a number")),
        }
    }
}

impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Number(Number::Int(*self))
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        match value {
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| T::from_value(item).map_err(|e| e.within(&i.to_string())))
                .collect(),
            _ => Err(ModelError::new("expected a list")),
        }
    }
}

impl<T: ToValue> ToValue for Vec<T> {
    fn to_value(&self) -> Value {
        Value::List(self.iter().map(ToValue::to_value).collect())
    }
}

impl<T: FromValue> FromValue for BTreeMap<String, T> {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        match value {
            Value::Map(entries) | Value::Object(entries) => entries
                .iter()
                .map(|(k, v)| {
                    let value = T::from_value(v).map_err(|e| e.within(&map_key_step(k)))?;
                    Ok((k.clone(), value))
                })
                .collect(),
            _ => Err(ModelError::new("expected a map")),
        }
    }
}

/// How a map key appears in a [`ModelError`]'s path: quoted in brackets, apart from attribute names.
pub fn map_key_step(key: &str) -> String {
    format!("[{key:?}]")
}

impl<T: ToValue> ToValue for BTreeMap<String, T> {
    fn to_value(&self) -> Value {
        Value::Map(
            self.iter()
                .map(|(k, v)| (k.clone(), v.to_value()))
                .collect(),
        )
    }
}

/// Declares a model struct whose field names are its attribute names, with conversions from
/// and to `Value`.
#[macro_export]
macro_rules! tf_model {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$field_meta:meta])* $field_vis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[$field_meta])* $field_vis $field: $ty ),*
        }

        impl $crate::framework::model::FromValue for $name {
            fn from_value(
                value: &$crate::framework::value::Value,
            ) -> Result<Self, $crate::framework::model::ModelError> {
                let attrs = value.as_object().ok_or_else(|| {
                    $crate::framework::model::ModelError::new("expected an object")
                })?;
                Ok(Self {
                    $( $field: {
                        let v = attrs
                            .get(stringify!($field))
                            .unwrap_or(&$crate::framework::value::Value::Null);
                        $crate::framework::model::FromValue::from_value(v)
                            .map_err(|e| e.within(stringify!($field)))?
                    } ),*
                })
            }
        }

        impl $crate::framework::model::Fields for $name {
            const FIELDS: &'static [&'static str] = &[$( stringify!($field) ),*];
        }

        impl $crate::framework::model::ToValue for $name {
            fn to_value(&self) -> $crate::framework::value::Value {
                $crate::framework::value::Value::Object(::std::collections::BTreeMap::from([
                    $( (
                        stringify!($field).to_string(),
                        $crate::framework::model::ToValue::to_value(&self.$field),
                    ) ),*
                ]))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::tf_model! {
        #[derive(Debug, PartialEq)]
        struct Example {
            name: Attr<String>,
            replicas: Attr<i64>,
            zones: Attr<Vec<Attr<String>>>,
            labels: Attr<BTreeMap<String, String>>,
        }
    }

    #[test]
    fn models_round_trip_nulls_unknowns_and_values() {
        let model = Example {
            name: Attr::Known("main".into()),
            replicas: Attr::Unknown,
            zones: Attr::Known(vec![Attr::Known("a".into()), Attr::Unknown]),
            labels: Attr::Null,
        };
        let value = model.to_value();
        assert_eq!(value.attr("replicas"), &Value::Unknown);
        assert_eq!(Example::from_value(&value).unwrap(), model);
    }

    #[test]
    fn fields_are_compared_with_what_the_schema_declares() {
        assert_eq!(Example::FIELDS, ["name", "replicas", "zones", "labels"]);
        assert!(
            fields_mismatch(Example::FIELDS, ["labels", "zones", "replicas", "name"]).is_empty()
        );
        assert_eq!(
            fields_mismatch(Example::FIELDS, ["name", "replicas", "zones", "region"]),
            [
                "schema attribute \"region\" has no model field",
                "model field \"labels\" has no schema attribute"
            ]
        );
    }

    #[test]
    fn numbers_the_model_cannot_hold_are_the_users_to_fix() {
        for number in [
            Number::Float(2.5),
            Number::Decimal("1e30".into()),
            Number::Decimal("18446744073709551616".into()),
        ] {
            let value = Value::Object(BTreeMap::from([(
                "replicas".to_string(),
                Value::Number(number),
            )]));
            let err = Example::from_value(&value).unwrap_err();
            assert!(err.user_input, "{err}");
            assert_eq!(err.path, vec!["replicas".to_string()]);
        }
        let wrong_type = Value::Object(BTreeMap::from([(
            "replicas".to_string(),
            Value::string("3"),
        )]));
        assert!(!Example::from_value(&wrong_type).unwrap_err().user_input);
    }

    #[test]
    fn mismatches_name_the_field() {
        let value = Value::Object(BTreeMap::from([(
            "replicas".to_string(),
            Value::string("x"),
        )]));
        let err = Example::from_value(&value).unwrap_err();
        assert_eq!(err.path, vec!["replicas".to_string()]);
    }
}
