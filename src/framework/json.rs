//! Decoding of stored state, which Terraform hands back as JSON written with the schema that
//! was current when it was saved.
use super::msgpack::{err, CodecError};
use super::types::Type;
use super::value::{Number, Value};

pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let json: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| err("", e))?;
    from_json(&json, ty, "")
}

pub fn from_json(json: &serde_json::Value, ty: &Type, path: &str) -> Result<Value, CodecError> {
    use serde_json::Value as J;
    if json.is_null() {
        return Ok(Value::Null);
    }
    match (ty, json) {
        (Type::Dynamic, J::Object(o)) if o.contains_key("type") && o.contains_key("value") => {
            let inner = Type::from_json(&o["type"]).map_err(|e| err(path, e))?;
            from_json(&o["value"], &inner, path)
        }
        (Type::Dynamic, _) => Err(err(path, "dynamic value must be {\"type\":…,\"value\":…}")),
        (Type::Bool, J::Bool(b)) => Ok(Value::Bool(*b)),
        (Type::Number, J::Number(n)) => Ok(Value::Number(match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Number::Int(i),
            (None, Some(f)) => Number::from_f64(f),
            _ => Number::Decimal(n.to_string()),
        })),
        (Type::String, J::String(s)) => Ok(Value::string(s.clone())),
        (Type::List(elem) | Type::Set(elem), J::Array(items)) => {
            let values = items
                .iter()
                .enumerate()
                .map(|(i, item)| from_json(item, elem, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::Set(_)) {
                Value::Set(values)
            } else {
                Value::List(values)
            })
        }
        (Type::Tuple(elems), J::Array(items)) if elems.len() == items.len() => Ok(Value::Tuple(
            items
                .iter()
                .zip(elems)
                .enumerate()
                .map(|(i, (item, ty))| from_json(item, ty, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        )),
        (Type::Map(elem), J::Object(entries)) => Ok(Value::Map(
            entries
                .iter()
                .map(|(k, v)| Ok((k.clone(), from_json(v, elem, &format!("{path}[{k:?}]"))?)))
                .collect::<Result<_, CodecError>>()?,
        )),
        (Type::Object(attrs), J::Object(entries)) => {
            // Keys the current schema no longer has are dropped: they can only come from an
            // older schema whose upgrade already had its chance to move them.
            let out = attrs
                .iter()
                .map(|(name, attr_ty)| {
                    let child = if path.is_empty() {
                        name.clone()
                    } else {
                        format!("{path}.{name}")
                    };
                    let value = match entries.get(name) {
                        Some(v) => from_json(v, attr_ty, &child)?,
                        None => Value::Null,
                    };
                    Ok((name.clone(), value))
                })
                .collect::<Result<_, CodecError>>()?;
            Ok(Value::Object(out))
        }
        (ty, json) => Err(err(
            path,
            format!("JSON {json} does not fit type {}", ty.to_json()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn state_json_decodes_with_missing_and_dropped_keys() {
        let ty = Type::object([
            ("name", Type::String),
            ("replicas", Type::Number),
            ("zones", Type::list(Type::String)),
            ("timeouts", Type::object([("create", Type::String)])),
        ]);
        let raw = json!({"name": "main", "replicas": 3, "zones": ["a", "b"], "retired": true});
        let value = from_json(&raw, &ty, "").unwrap();
        assert_eq!(value.attr("name"), &Value::string("main"));
        assert_eq!(value.attr("replicas"), &Value::int(3));
        assert_eq!(value.attr("timeouts"), &Value::Null);
        assert!(value.as_object().unwrap().get("retired").is_none());
    }

    #[test]
    fn type_mismatch_names_the_path() {
        let ty = Type::object([("zones", Type::list(Type::String))]);
        let e = from_json(&json!({"zones": ["a", 1]}), &ty, "").unwrap_err();
        assert!(e.to_string().starts_with("zones[1]"), "{e}");
    }
}
