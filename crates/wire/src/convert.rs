//! Typed values <-> `Doc`. Generated structs implement these with plain field moves; a
//! request reaches `from_doc` only after [`crate::check`] and [`crate::validate`], so a
//! mismatch here is our bug, answered as an internal error.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::doc::{Doc, Key};
use crate::{ServiceError, Timestamp};

/// Built from a checked, validated `Doc`.
pub trait FromDoc: Sized {
    fn from_doc(doc: Doc) -> Result<Self, ServiceError>;
}

/// Turned into the `Doc` a protocol writes.
pub trait ToDoc {
    fn to_doc(self) -> Doc;
}

fn mismatch(expected: &'static str, found: &Doc) -> ServiceError {
    debug_assert!(false, "a checked request held a {} where a {expected} was expected", found.kind_name());
    ServiceError::internal()
}

impl FromDoc for String {
    fn from_doc(doc: Doc) -> Result<Self, ServiceError> {
        match doc {
            Doc::Str(s) => Ok(s),
            other => Err(mismatch("string", &other)),
        }
    }
}

impl FromDoc for i32 {
    fn from_doc(doc: Doc) -> Result<Self, ServiceError> {
        match doc {
            // a value beyond 32 bits that passed validation (no bound catches it) saturates,
            // as an absurd count must still reach the quota check that refuses it
            Doc::Int(i) => Ok(i32::try_from(i).unwrap_or(if i < 0 { i32::MIN } else { i32::MAX })),
            other => Err(mismatch("integer", &other)),
        }
    }
}

impl FromDoc for i64 {
    fn from_doc(doc: Doc) -> Result<Self, ServiceError> {
        match doc {
            Doc::Int(i) => Ok(i),
            other => Err(mismatch("integer", &other)),
        }
    }
}

impl FromDoc for f64 {
    fn from_doc(doc: Doc) -> Result<Self, ServiceError> {
        match doc {
            Doc::Float(f) => Ok(f),
            #[allow(clippy::cast_precision_loss)]
            Doc::Int(i) => Ok(i as f64),
            other => Err(mismatch("number", &other)),
        }
    }
}

impl FromDoc for bool {
    fn from_doc(doc: Doc) -> Result<Self, ServiceError> {
        match doc {
            Doc::Bool(b) => Ok(b),
            other => Err(mismatch("boolean", &other)),
        }
    }
}

impl FromDoc for Vec<u8> {
    fn from_doc(doc: Doc) -> Result<Self, ServiceError> {
        match doc {
            Doc::Blob(b) => Ok(b),
            other => Err(mismatch("blob", &other)),
        }
    }
}

impl FromDoc for Timestamp {
    fn from_doc(doc: Doc) -> Result<Self, ServiceError> {
        match doc {
            Doc::Time(t) => Ok(t),
            other => Err(mismatch("timestamp", &other)),
        }
    }
}

impl FromDoc for Doc {
    fn from_doc(doc: Doc) -> Result<Self, ServiceError> {
        Ok(doc)
    }
}

impl<T: FromDoc> FromDoc for Box<T> {
    fn from_doc(doc: Doc) -> Result<Self, ServiceError> {
        T::from_doc(doc).map(Box::new)
    }
}

impl<T: FromDoc> FromDoc for Vec<T> {
    fn from_doc(doc: Doc) -> Result<Self, ServiceError> {
        match doc {
            Doc::List(items) => items.into_iter().map(T::from_doc).collect(),
            other => Err(mismatch("list", &other)),
        }
    }
}

impl<T: FromDoc> FromDoc for BTreeMap<String, T> {
    fn from_doc(doc: Doc) -> Result<Self, ServiceError> {
        match doc {
            Doc::Map(entries) => entries.into_iter().map(|(k, v)| Ok((k.into_owned(), T::from_doc(v)?))).collect(),
            other => Err(mismatch("map", &other)),
        }
    }
}

impl ToDoc for String {
    fn to_doc(self) -> Doc {
        Doc::Str(self)
    }
}

impl ToDoc for &str {
    fn to_doc(self) -> Doc {
        Doc::Str(self.to_owned())
    }
}

impl ToDoc for i32 {
    fn to_doc(self) -> Doc {
        Doc::Int(i64::from(self))
    }
}

impl ToDoc for i64 {
    fn to_doc(self) -> Doc {
        Doc::Int(self)
    }
}

impl ToDoc for f64 {
    fn to_doc(self) -> Doc {
        Doc::Float(self)
    }
}

impl ToDoc for bool {
    fn to_doc(self) -> Doc {
        Doc::Bool(self)
    }
}

impl ToDoc for Vec<u8> {
    fn to_doc(self) -> Doc {
        Doc::Blob(self)
    }
}

impl ToDoc for Timestamp {
    fn to_doc(self) -> Doc {
        Doc::Time(self)
    }
}

impl ToDoc for Doc {
    fn to_doc(self) -> Doc {
        self
    }
}

impl<T: ToDoc> ToDoc for Box<T> {
    fn to_doc(self) -> Doc {
        (*self).to_doc()
    }
}

impl<T: ToDoc> ToDoc for Vec<T> {
    fn to_doc(self) -> Doc {
        Doc::List(self.into_iter().map(ToDoc::to_doc).collect())
    }
}

impl<T: ToDoc> ToDoc for BTreeMap<String, T> {
    fn to_doc(self) -> Doc {
        Doc::Map(self.into_iter().map(|(k, v)| (Cow::Owned(k), v.to_doc())).collect())
    }
}

/// The members of a structure being taken apart (generated `from_doc`) or put together
/// (generated `to_doc`).
pub struct Fields(Vec<(Key, Doc)>);

impl Fields {
    /// The members of `doc`, which must be a structure.
    pub fn of(doc: Doc) -> Result<Self, ServiceError> {
        match doc {
            Doc::Map(entries) => Ok(Self(entries)),
            other => Err(mismatch("structure", &other)),
        }
    }

    /// The member `name` (the last of repeated keys).
    fn take(&mut self, name: &str) -> Option<Doc> {
        let i = self.0.iter().rposition(|(k, _)| k == name)?;
        Some(self.0.swap_remove(i).1)
    }

    /// An optional member.
    pub fn opt<T: FromDoc>(&mut self, name: &str) -> Result<Option<T>, ServiceError> {
        self.take(name).map(T::from_doc).transpose()
    }

    /// A required member (validation has made sure it is there).
    pub fn req<T: FromDoc>(&mut self, name: &str) -> Result<T, ServiceError> {
        match self.take(name) {
            Some(doc) => T::from_doc(doc),
            None => {
                debug_assert!(false, "a validated request lacks its required member {name}");
                Err(ServiceError::internal())
            }
        }
    }

    #[must_use]
    pub fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    pub fn put<T: ToDoc>(&mut self, name: &'static str, value: T) {
        self.0.push((Cow::Borrowed(name), value.to_doc()));
    }

    pub fn put_opt<T: ToDoc>(&mut self, name: &'static str, value: Option<T>) {
        if let Some(v) = value {
            self.put(name, v);
        }
    }

    #[must_use]
    pub fn into_doc(self) -> Doc {
        Doc::Map(self.0)
    }
}
