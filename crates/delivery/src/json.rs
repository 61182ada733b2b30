//! A JSON value that borrows its strings and keys from the record it was parsed from.
//!
//! Format conversion parses every record; `serde_json::Value` would allocate each key and each
//! string and keep objects in a sorted map, only for the converter to copy the strings again.
//! This tree borrows what it can (strings without escapes), keeps object members as written,
//! and is otherwise shaped like `serde_json::Value`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    /// Members in document order; a repeated key appears more than once.
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

impl<'a> Value<'a> {
    /// Parses one JSON document (serde_json's parser, with its nesting limit).
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The same value as a `serde_json::Value` (for messages; a repeated key keeps its last).
    pub(crate) fn to_serde(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Array(items) => serde_json::Value::Array(items.iter().map(Value::to_serde).collect()),
            Value::Object(members) => {
                serde_json::Value::Object(members.iter().map(|(k, v)| (k.to_string(), v.to_serde())).collect())
            }
        }
    }
}

/// Compact JSON text, as `serde_json::Value` prints it.
impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{}", serde_json::Value::String(s.to_string())),
            other => write!(f, "{}", other.to_serde()),
        }
    }
}

/// A string borrowed from the input when it holds no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Value<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Value::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
                Ok(Value::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Self::Value, E> {
                Ok(Value::Number(i.into()))
            }
            fn visit_u64<E>(self, u: u64) -> Result<Self::Value, E> {
                Ok(Value::Number(u.into()))
            }
            fn visit_f64<E>(self, f: f64) -> Result<Self::Value, E> {
                Ok(Number::from_f64(f).map_or(Value::Null, Value::Number))
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Value::String(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Value::String(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
                Ok(Value::String(Cow::Owned(s)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Value::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).clamp(8, 64));
                while let Some((Text(key), value)) = map.next_entry::<Text<'de>, Value<'de>>()? {
                    members.push((key, value));
                }
                Ok(Value::Object(members))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_borrow_unless_escaped() {
        let v = Value::parse(br#"{"a":"plain","b\u0041":"esc\"aped","n":[1,-2,2.5,null,true]}"#).unwrap();
        let Value::Object(members) = &v else { panic!("{v:?}") };
        assert!(matches!(&members[0].0, Cow::Borrowed("a")));
        assert!(matches!(&members[0].1, Value::String(Cow::Borrowed("plain"))));
        assert_eq!(members[1].0, "bA");
        assert_eq!(members[1].1, Value::String(Cow::Owned("esc\"aped".into())));
        assert_eq!(
            members[2].1,
            Value::Array(vec![
                Value::Number(1.into()),
                Value::Number((-2).into()),
                Value::Number(Number::from_f64(2.5).unwrap()),
                Value::Null,
                Value::Bool(true)
            ])
        );
        assert_eq!(v.to_string(), r#"{"a":"plain","bA":"esc\"aped","n":[1,-2,2.5,null,true]}"#);
    }

    #[test]
    fn repeated_keys_are_kept_in_order_and_bad_json_fails() {
        let v = Value::parse(br#"{"k":1,"k":2}"#).unwrap();
        assert_eq!(
            v,
            Value::Object(vec![("k".into(), Value::Number(1.into())), ("k".into(), Value::Number(2.into()))])
        );
        assert!(Value::parse(b"{\"a\":").is_err());
        assert!(Value::parse(b"[1] 2").is_err());
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(Value::parse(deep.as_bytes()).is_err());
    }
}
