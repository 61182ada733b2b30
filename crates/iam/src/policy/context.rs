//! The request context a policy's conditions and variables read: condition keys and their
//! values, as AWS describes them ("The request context", "AWS global condition context keys").
//! Key names are case-insensitive; values keep their case. A key may hold several values
//! (`aws:TagKeys`), or none at all (present but empty).

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    keys: BTreeMap<String, Vec<String>>,
}

impl Context {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a single-valued key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.keys.insert(key.to_ascii_lowercase(), vec![value.into()]);
        self
    }

    /// Sets a multivalued key (possibly to no value at all).
    pub fn set_all<I, S>(&mut self, key: &str, values: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.keys.insert(key.to_ascii_lowercase(), values.into_iter().map(Into::into).collect());
        self
    }

    /// Builder form of [`Context::set`].
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.set(key, value);
        self
    }

    /// The key's values; `None` when the request does not carry the key.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.keys.get(&key.to_ascii_lowercase()).map(Vec::as_slice)
    }

    /// [`Context::get`] for a key already in lower case (no allocation).
    #[must_use]
    pub fn get_folded(&self, folded: &str) -> Option<&[String]> {
        self.keys.get(folded).map(Vec::as_slice)
    }

    /// The key's value when it holds exactly one (what a policy variable reads).
    #[must_use]
    pub fn single(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some([one]) => Some(one),
            _ => None,
        }
    }
}
