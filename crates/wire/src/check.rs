//! Type checks: a decoded request against its shape, before any constraint is looked at, as
//! AWS's JSON services do. The first mismatch is a SerializationException in AWS's words
//! (`STRING_VALUE can not be converted to an Integer`, `Start of list found where not
//! expected`, `Expected null`); everything that passes is normalised in place: base64 text
//! becomes bytes, epoch numbers become timestamps, decimals given for integers are truncated,
//! `null` members and list elements are dropped, unknown members are ignored, and member keys
//! become the members' names.

use std::borrow::Cow;

use crate::doc::Doc;
use crate::model::{Kind, Location, ServiceModel, ShapeId};
use crate::{ServiceError, Timestamp};

/// How scalars arrive: typed (JSON, CBOR), as text to be parsed (query forms), or typed in
/// the body and as text elsewhere (REST: URI labels, query strings, headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalars {
    Typed,
    Text,
    Rest,
}

/// Checks and normalises `doc` against `shape`.
pub fn check(model: &ServiceModel, shape: ShapeId, doc: &mut Doc, scalars: Scalars) -> Result<(), ServiceError> {
    Checker { model, scalars }.value(shape, doc)
}

struct Checker<'a> {
    model: &'a ServiceModel,
    scalars: Scalars,
}

fn fail(message: impl Into<String>) -> ServiceError {
    ServiceError::serialization(Some(message.into()))
}

/// What AWS calls a JSON value it could not convert.
fn value_word(doc: &Doc) -> &'static str {
    match doc {
        Doc::Bool(true) => "TRUE_VALUE",
        Doc::Bool(false) => "FALSE_VALUE",
        Doc::Int(_) | Doc::Float(_) => "NUMBER_VALUE",
        Doc::Str(_) => "STRING_VALUE",
        Doc::Blob(_) => "BLOB_VALUE",
        Doc::Time(_) => "TIMESTAMP_VALUE",
        Doc::Null => "NULL_VALUE",
        Doc::List(_) | Doc::Map(_) => "VALUE",
    }
}

fn not_converted(doc: &Doc, target: &str) -> ServiceError {
    match doc {
        Doc::List(_) => fail("Start of list found where not expected"),
        Doc::Map(_) => fail("Start of structure or map found where not expected."),
        other => fail(format!("{} can not be converted to {target}", value_word(other))),
    }
}

impl Checker<'_> {
    fn value(&self, shape: ShapeId, doc: &mut Doc) -> Result<(), ServiceError> {
        let s = self.model.shape(shape);
        match &s.kind {
            Kind::String => match doc {
                Doc::Str(_) => Ok(()),
                other => Err(not_converted(other, "a String")),
            },
            Kind::Integer | Kind::Long => self.integer(matches!(s.kind, Kind::Integer), doc),
            Kind::Float | Kind::Double => {
                let target = if matches!(s.kind, Kind::Float) { "a Float" } else { "a Double" };
                match doc {
                    Doc::Float(_) => Ok(()),
                    #[allow(clippy::cast_precision_loss)]
                    Doc::Int(i) => {
                        *doc = Doc::Float(*i as f64);
                        Ok(())
                    }
                    Doc::Str(t) if self.scalars == Scalars::Text => match t.trim().parse::<f64>() {
                        Ok(f) => {
                            *doc = Doc::Float(f);
                            Ok(())
                        }
                        Err(_) => Err(not_converted(doc, target)),
                    },
                    other => Err(not_converted(other, target)),
                }
            }
            Kind::Boolean => match doc {
                Doc::Bool(_) => Ok(()),
                Doc::Str(t) if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") => {
                    *doc = Doc::Bool(t.eq_ignore_ascii_case("true"));
                    Ok(())
                }
                other => Err(not_converted(other, "a Boolean")),
            },
            Kind::Blob => match doc {
                Doc::Blob(_) => Ok(()),
                Doc::Str(text) => match base64_simd::STANDARD.decode_to_vec(text.as_bytes()) {
                    Ok(bytes) => {
                        *doc = Doc::Blob(bytes);
                        Ok(())
                    }
                    Err(_) => Err(base64_error(text)),
                },
                other => Err(not_converted(other, "a Blob")),
            },
            Kind::Timestamp => match doc {
                Doc::Time(_) => Ok(()),
                Doc::Int(secs) => {
                    *doc = Doc::Time(Timestamp::from_secs(*secs));
                    Ok(())
                }
                Doc::Float(secs) => {
                    *doc = Doc::Time(Timestamp::from_seconds_f64(*secs));
                    Ok(())
                }
                Doc::Str(text) => match Timestamp::parse(text) {
                    Some(t) => {
                        *doc = Doc::Time(t);
                        Ok(())
                    }
                    None => Err(not_converted(doc, "a Date")),
                },
                other => Err(not_converted(other, "a Date")),
            },
            Kind::Document => Ok(()),
            Kind::Structure { members } => {
                let Doc::Map(entries) = doc else {
                    return Err(match doc {
                        Doc::List(_) => fail("Start of list found where not expected"),
                        _ => fail("Expected null"),
                    });
                };
                let mut i = 0;
                while i < entries.len() {
                    // body members under their wire names; the others (bound to the URI, the
                    // query string or headers) under their names, as the JSON binding of the
                    // same operation carries them too
                    let member = members.iter().find(|m| {
                        let key = if m.location == Location::Body { m.wire_name } else { m.name };
                        key == entries[i].0
                    });
                    match member {
                        Some(m) if !matches!(entries[i].1, Doc::Null) => {
                            if self.scalars == Scalars::Rest && m.location != Location::Body {
                                Checker { model: self.model, scalars: Scalars::Text }
                                    .value(m.shape, &mut entries[i].1)?;
                            } else {
                                self.value(m.shape, &mut entries[i].1)?;
                            }
                            if m.wire_name != m.name {
                                entries[i].0 = Cow::Borrowed(m.name);
                            }
                            i += 1;
                        }
                        // unknown members and nulls: as if absent
                        _ => {
                            entries.swap_remove(i);
                        }
                    }
                }
                Ok(())
            }
            Kind::List { member, .. } => match doc {
                Doc::List(items) => {
                    items.retain(|item| !matches!(item, Doc::Null));
                    items.iter_mut().try_for_each(|item| self.value(*member, item))
                }
                Doc::Map(_) => Err(fail("Start of structure or map found where not expected.")),
                _ => Err(fail("Expected list or null")),
            },
            Kind::Map { value, .. } => match doc {
                Doc::Map(entries) => {
                    entries.retain(|(_, v)| !matches!(v, Doc::Null));
                    entries.iter_mut().try_for_each(|(_, v)| self.value(*value, v))
                }
                Doc::List(_) => Err(fail("Start of list found where not expected")),
                _ => Err(fail("Expected map or null")),
            },
        }
    }

    fn integer(&self, is_i32: bool, doc: &mut Doc) -> Result<(), ServiceError> {
        let target = if is_i32 { "an Integer" } else { "a Long" };
        let value = match doc {
            Doc::Int(i) => *i,
            // a decimal is truncated, as AWS reads it
            #[allow(clippy::cast_possible_truncation)]
            Doc::Float(f) if f.is_finite() && f.abs() < 9.2e18 => f.trunc() as i64,
            Doc::Float(_) => return Err(ServiceError::serialization(None)),
            Doc::Str(t) if self.scalars == Scalars::Text => match t.trim().parse::<i64>() {
                Ok(i) => i,
                Err(_) => return Err(not_converted(doc, target)),
            },
            other => return Err(not_converted(other, target)),
        };
        // beyond 32 bits the value goes on to validation, which reports a bound it breaks
        // without printing it, as AWS does; past validation it saturates (`FromDoc for i32`)
        *doc = Doc::Int(value);
        Ok(())
    }
}

/// AWS's words for text that is not base64.
fn base64_error(text: &str) -> ServiceError {
    let shown: String = text.chars().take(64).collect();
    if !text.len().is_multiple_of(4) {
        return fail(format!(
            "'{shown}' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            text.len()
        ));
    }
    if let Some(c) = text.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))) {
        return fail(format!("'{shown}' can not be converted to a Blob: Invalid Base64 character: '{c}'"));
    }
    fail(format!("'{shown}' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"))
}
