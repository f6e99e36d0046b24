//! The msgpack encoding of `DynamicValue`, driven by the schema's type: Terraform requires every
//! attribute of an object on the wire (nulls included), unknowns as msgpack extensions, and
//! dynamic values as `[type JSON, value]` pairs.
use super::types::Type;
use super::value::{Number, Value};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

pub(super) fn err(path: &str, what: impl std::fmt::Display) -> CodecError {
    let at = if path.is_empty() {
        "value".to_string()
    } else {
        path.to_string()
    };
    CodecError(format!("{at}: {what}"))
}

pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    if bytes.is_empty() {
        // An absent DynamicValue is null, which is what Terraform means by sending nothing.
        return Ok(Value::Null);
    }
    let mut reader = bytes;
    let raw = rmpv::decode::read_value(&mut reader).map_err(|e| err("", e))?;
    from_msgpack(&raw, ty, "")
}

fn from_msgpack(raw: &rmpv::Value, ty: &Type, path: &str) -> Result<Value, CodecError> {
    use rmpv::Value as M;
    match raw {
        M::Nil => return Ok(Value::Null),
        // Type 0 is a plain unknown; later Terraform versions send refined unknowns under other
        // extension types. Any extension means "unknown".
        M::Ext(_, _) => return Ok(Value::Unknown),
        _ => {}
    }
    match ty {
        Type::Dynamic => {
            let pair = raw
                .as_array()
                .filter(|a| a.len() == 2)
                .ok_or_else(|| err(path, "dynamic value must be a [type, value] pair"))?;
            let type_json = match &pair[0] {
                M::Binary(b) => b.clone(),
                M::String(s) => s.as_bytes().to_vec(),
                _ => return Err(err(path, "dynamic value type must be JSON bytes")),
            };
            let json: serde_json::Value =
                serde_json::from_slice(&type_json).map_err(|e| err(path, e))?;
            let inner = Type::from_json(&json).map_err(|e| err(path, e))?;
            from_msgpack(&pair[1], &inner, path)
        }
        Type::Bool => raw
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| err(path, "expected a bool")),
        Type::Number => match raw {
            M::Integer(i) => Ok(Value::Number(match i.as_i64() {
                Some(i) => Number::Int(i),
                None => Number::Decimal(i.to_string()),
            })),
            M::F32(f) => Ok(Value::Number(Number::from_f64(f64::from(*f)))),
            M::F64(f) => Ok(Value::Number(Number::from_f64(*f))),
            M::String(s) => {
                let s = s
                    .as_str()
                    .ok_or_else(|| err(path, "number string is not UTF-8"))?;
                Ok(Value::Number(match s.parse::<i64>() {
                    Ok(i) => Number::Int(i),
                    Err(_) => Number::Decimal(s.to_string()),
                }))
            }
            _ => Err(err(path, "expected a number")),
        },
        Type::String => match raw {
            M::String(s) => s
                .as_str()
                .map(Value::string)
                .ok_or_else(|| err(path, "string is not UTF-8")),
            M::Binary(b) => String::from_utf8(b.clone())
                .map(Value::String)
                .map_err(|_| err(path, "string is not UTF-8")),
            _ => Err(err(path, "expected a string")),
        },
        Type::List(elem) | Type::Set(elem) => {
            let items = raw
                .as_array()
                .ok_or_else(|| err(path, "expected an array"))?;
            let values = items
                .iter()
                .enumerate()
                .map(|(i, item)| from_msgpack(item, elem, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::Set(_)) {
                Value::Set(values)
            } else {
                Value::List(values)
            })
        }
        Type::Tuple(elems) => {
            let items = raw
                .as_array()
                .ok_or_else(|| err(path, "expected an array"))?;
            if items.len() != elems.len() {
                return Err(err(
                    path,
                    format!("expected {} tuple elements", elems.len()),
                ));
            }
            let values = items
                .iter()
                .zip(elems)
                .enumerate()
                .map(|(i, (item, ty))| from_msgpack(item, ty, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::Tuple(values))
        }
        Type::Map(elem) => {
            let mut out = BTreeMap::new();
            for (k, v) in string_keyed(raw, path)? {
                let value = from_msgpack(v, elem, &format!("{path}[{k:?}]"))?;
                out.insert(k, value);
            }
            Ok(Value::Map(out))
        }
        Type::Object(attrs) => {
            let mut out = BTreeMap::new();
            for (k, v) in string_keyed(raw, path)? {
                let attr_ty = attrs
                    .get(&k)
                    .ok_or_else(|| err(path, format!("unexpected attribute {k:?}")))?;
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                out.insert(k, from_msgpack(v, attr_ty, &child)?);
            }
            for name in attrs.keys() {
                out.entry(name.clone()).or_insert(Value::Null);
            }
            Ok(Value::Object(out))
        }
    }
}

fn string_keyed<'a>(
    raw: &'a rmpv::Value,
    path: &str,
) -> Result<Vec<(String, &'a rmpv::Value)>, CodecError> {
    let entries = raw.as_map().ok_or_else(|| err(path, "expected a map"))?;
    entries
        .iter()
        .map(|(k, v)| {
            let key = k
                .as_str()
                .ok_or_else(|| err(path, "map keys must be strings"))?;
            Ok((key.to_string(), v))
        })
        .collect()
}

fn at<E: std::fmt::Display>(path: &str) -> impl Fn(E) -> CodecError + '_ {
    move |e| err(path, e)
}

pub fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(256);
    write(&mut out, value, ty, "")?;
    Ok(out)
}

/// cty's encoding of an unknown value: fixext1, extension type 0, one zero byte.
const UNKNOWN: [u8; 3] = [0xd4, 0x00, 0x00];

fn write(out: &mut Vec<u8>, value: &Value, ty: &Type, path: &str) -> Result<(), CodecError> {
    use rmp::encode as w;
    match (value, ty) {
        (Value::Null, _) => w::write_nil(out).map_err(at(path))?,
        (Value::Unknown, _) => out.extend_from_slice(&UNKNOWN),
        (value, Type::Dynamic) => {
            let inner = infer_type(value);
            w::write_array_len(out, 2).map_err(at(path))?;
            let json = serde_json::to_vec(&inner.to_json()).map_err(at(path))?;
            w::write_bin(out, &json).map_err(at(path))?;
            write(out, value, &inner, path)?;
        }
        (Value::Bool(b), Type::Bool) => w::write_bool(out, *b).map_err(at(path))?,
        (Value::Number(n), Type::Number) => match n {
            Number::Int(i) => {
                w::write_sint(out, *i).map_err(at(path))?;
            }
            Number::Float(f) => w::write_f64(out, *f).map_err(at(path))?,
            Number::Decimal(s) => w::write_str(out, s).map_err(at(path))?,
        },
        (Value::String(s), Type::String) => w::write_str(out, s).map_err(at(path))?,
        (Value::List(items), Type::List(elem)) | (Value::Set(items), Type::Set(elem)) => {
            w::write_array_len(out, items.len() as u32).map_err(at(path))?;
            for (i, item) in items.iter().enumerate() {
                write(out, item, elem, &format!("{path}[{i}]"))?;
            }
        }
        (Value::Tuple(items), Type::Tuple(elems)) if items.len() == elems.len() => {
            w::write_array_len(out, items.len() as u32).map_err(at(path))?;
            for (i, (item, ty)) in items.iter().zip(elems).enumerate() {
                write(out, item, ty, &format!("{path}[{i}]"))?;
            }
        }
        (Value::Map(entries), Type::Map(elem)) => {
            w::write_map_len(out, entries.len() as u32).map_err(at(path))?;
            for (k, v) in entries {
                w::write_str(out, k).map_err(at(path))?;
                write(out, v, elem, &format!("{path}[{k:?}]"))?;
            }
        }
        (Value::Object(entries), Type::Object(attrs)) => {
            if let Some(extra) = entries.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(err(
                    path,
                    format!("attribute {extra:?} is not in the schema"),
                ));
            }
            w::write_map_len(out, attrs.len() as u32).map_err(at(path))?;
            for (name, attr_ty) in attrs {
                w::write_str(out, name).map_err(at(path))?;
                let child = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                write(
                    out,
                    entries.get(name).unwrap_or(&Value::Null),
                    attr_ty,
                    &child,
                )?;
            }
        }
        (value, ty) => {
            return Err(err(
                path,
                format!(
                    "value {} does not fit type {}",
                    kind_of(value),
                    ty.to_json()
                ),
            ))
        }
    }
    Ok(())
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Unknown => "unknown",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::List(_) => "list",
        Value::Set(_) => "set",
        Value::Map(_) => "map",
        Value::Object(_) => "object",
        Value::Tuple(_) => "tuple",
    }
}

/// The concrete type a value of a `dynamic` attribute is sent with.
fn infer_type(value: &Value) -> Type {
    let element = |items: &[Value]| items.first().map(infer_type).unwrap_or(Type::Dynamic);
    match value {
        Value::Null | Value::Unknown => Type::Dynamic,
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::List(items) => Type::list(element(items)),
        Value::Set(items) => Type::set(element(items)),
        Value::Tuple(items) => Type::Tuple(items.iter().map(infer_type).collect()),
        Value::Map(entries) => Type::map(
            entries
                .values()
                .next()
                .map(infer_type)
                .unwrap_or(Type::Dynamic),
        ),
        Value::Object(entries) => Type::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), infer_type(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_type() -> Type {
        Type::object([
            ("name", Type::String),
            ("replicas", Type::Number),
            ("ratio", Type::Number),
            ("enabled", Type::Bool),
            ("zones", Type::list(Type::String)),
            ("tags", Type::set(Type::String)),
            ("labels", Type::map(Type::String)),
            ("pair", Type::Tuple(vec![Type::String, Type::Number])),
            ("extra", Type::Dynamic),
            (
                "nested",
                Type::object([("host", Type::String), ("port", Type::Number)]),
            ),
        ])
    }

    fn obj(entries: Vec<(&str, Value)>) -> Value {
        Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    #[test]
    fn every_type_round_trips_with_nulls_and_unknowns() {
        let value = obj(vec![
            ("name", Value::string("main")),
            ("replicas", Value::int(-3)),
            ("ratio", Value::Number(Number::Float(0.25))),
            ("enabled", Value::Bool(true)),
            (
                "zones",
                Value::List(vec![Value::string("a"), Value::Unknown]),
            ),
            ("tags", Value::Set(vec![Value::string("x")])),
            (
                "labels",
                Value::Map(BTreeMap::from([("k".to_string(), Value::string("v"))])),
            ),
            (
                "pair",
                Value::Tuple(vec![Value::string("p"), Value::int(2)]),
            ),
            ("extra", Value::List(vec![Value::Bool(false)])),
            ("nested", Value::Unknown),
        ]);
        let bytes = encode(&value, &sample_type()).unwrap();
        assert_eq!(decode(&bytes, &sample_type()).unwrap(), value);
    }

    #[test]
    fn objects_are_encoded_with_every_attribute() {
        let bytes = encode(&obj(vec![("name", Value::string("x"))]), &sample_type()).unwrap();
        let raw = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
        let keys: Vec<_> = raw
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str().unwrap().to_string())
            .collect();
        assert_eq!(keys.len(), 10);
        assert!(keys.contains(&"nested".to_string()));
    }

    #[test]
    fn unknown_is_extension_zero_and_any_extension_decodes_as_unknown() {
        assert_eq!(encode(&Value::Unknown, &Type::String).unwrap(), UNKNOWN);
        // A refined unknown (extension type 12) as newer Terraform versions send it.
        let refined = [0xc7, 0x02, 0x0c, 0x81, 0x01];
        assert_eq!(decode(&refined, &Type::String).unwrap(), Value::Unknown);
    }

    #[test]
    fn numbers_accept_every_wire_form() {
        let mut buf = Vec::new();
        rmp::encode::write_f64(&mut buf, 3.0).unwrap();
        assert_eq!(decode(&buf, &Type::Number).unwrap(), Value::int(3));
        let mut buf = Vec::new();
        rmp::encode::write_str(&mut buf, "123456789012345678901234567890").unwrap();
        assert_eq!(
            decode(&buf, &Type::Number).unwrap(),
            Value::Number(Number::Decimal("123456789012345678901234567890".into()))
        );
        let mut buf = Vec::new();
        rmp::encode::write_u64(&mut buf, u64::MAX).unwrap();
        assert!(matches!(
            decode(&buf, &Type::Number).unwrap(),
            Value::Number(Number::Decimal(_))
        ));
    }

    #[test]
    fn dynamic_values_carry_their_type() {
        let mut buf = Vec::new();
        rmp::encode::write_array_len(&mut buf, 2).unwrap();
        rmp::encode::write_bin(&mut buf, br#"["list","string"]"#).unwrap();
        rmp::encode::write_array_len(&mut buf, 1).unwrap();
        rmp::encode::write_str(&mut buf, "a").unwrap();
        assert_eq!(
            decode(&buf, &Type::Dynamic).unwrap(),
            Value::List(vec![Value::string("a")])
        );
    }

    #[test]
    fn empty_bytes_are_null_and_garbage_is_an_error() {
        assert_eq!(decode(&[], &sample_type()).unwrap(), Value::Null);
        let err = decode(&[0x81, 0xa3, b'b', b'a', b'd', 0x01], &sample_type()).unwrap_err();
        assert!(
            err.to_string().contains("unexpected attribute \"bad\""),
            "{err}"
        );
        let err = encode(&Value::Bool(true), &Type::String).unwrap_err();
        assert!(err.to_string().contains("does not fit"), "{err}");
    }
}
