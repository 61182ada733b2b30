//! The request context a policy's conditions and variables read: condition keys and their
//! values, as AWS describes them ("The request context", "AWS global condition context keys").
//! Key names are case-insensitive; values keep their case. A key may hold several values
//! (`aws:TagKeys`), or none at all (present but empty).

use std::collections::BTreeMap;
use std::net::IpAddr;

/// The keys nearly every request carries or nearly every policy reads, each kept in a slot of
/// its own: a policy's condition finds its key's slot when the policy is parsed, so deciding a
/// request looks these up without comparing names.
const KNOWN: [&str; 13] = [
    "aws:securetransport",
    "aws:sourceip",
    "aws:username",
    "aws:userid",
    "aws:principalarn",
    "aws:principalaccount",
    "aws:principaltype",
    "aws:epochtime",
    "aws:currenttime",
    "aws:sourceidentity",
    "s3:prefix",
    "s3:delimiter",
    "s3:max-keys",
];
const SOURCE_IP: usize = 1;

/// A context key as a policy names it: its lower-case name and, for a well-known key, its slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName {
    folded: String,
    slot: Option<usize>,
}

impl KeyName {
    #[must_use]
    pub fn new(name: &str) -> Self {
        let folded = name.to_ascii_lowercase();
        let slot = KNOWN.iter().position(|k| *k == folded);
        Self { folded, slot }
    }

    /// The name in lower case.
    #[must_use]
    pub fn folded(&self) -> &str {
        &self.folded
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    known: [Option<Vec<String>>; KNOWN.len()],
    other: BTreeMap<String, Vec<String>>,
    /// `aws:SourceIp` parsed, when it is set and is an address.
    source_ip: Option<IpAddr>,
}

impl Context {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn put(&mut self, key: &str, values: Vec<String>) {
        let key = KeyName::new(key);
        match key.slot {
            Some(slot) => {
                if slot == SOURCE_IP {
                    self.source_ip = match values.as_slice() {
                        [one] => one.parse().ok(),
                        _ => None,
                    };
                }
                self.known[slot] = Some(values);
            }
            None => {
                self.other.insert(key.folded, values);
            }
        }
    }

    /// Sets a single-valued key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.put(key, vec![value.into()]);
        self
    }

    /// Sets a multivalued key (possibly to no value at all).
    pub fn set_all<I, S>(&mut self, key: &str, values: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.put(key, values.into_iter().map(Into::into).collect());
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
        self.lookup(&KeyName::new(key))
    }

    /// The values of a key named as a policy names it (no allocation).
    #[must_use]
    pub fn lookup(&self, key: &KeyName) -> Option<&[String]> {
        match key.slot {
            Some(slot) => self.known[slot].as_deref(),
            None => self.other.get(&key.folded).map(Vec::as_slice),
        }
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

/// What a policy reads during one decision: up to four contexts searched in order, the first
/// that holds a key answering for it. The authorizer puts a session's own keys, then the
/// principal's (kept with the directory snapshot), then the request's, then the clock's (one
/// per second), so a request is decided without copying any of them.
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a> {
    layers: [Option<&'a Context>; 4],
}

impl<'a> Keys<'a> {
    #[must_use]
    pub fn of(context: &'a Context) -> Self {
        Self { layers: [Some(context), None, None, None] }
    }

    #[must_use]
    pub fn layered(layers: [&'a Context; 4]) -> Self {
        Self { layers: layers.map(Some) }
    }

    /// [`Context::lookup`] across the layers.
    #[must_use]
    pub fn lookup(&self, key: &KeyName) -> Option<&'a [String]> {
        self.layers.iter().flatten().find_map(|c| c.lookup(key))
    }

    /// `aws:SourceIp` parsed, from the layer that holds the key.
    #[must_use]
    pub fn source_ip(&self) -> Option<IpAddr> {
        self.layers.iter().flatten().find(|c| c.known[SOURCE_IP].is_some()).and_then(|c| c.source_ip)
    }

    /// [`Context::get`] across the layers.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&'a [String]> {
        self.lookup(&KeyName::new(key))
    }

    /// [`Context::single`] across the layers.
    #[must_use]
    pub fn single(&self, key: &str) -> Option<&'a str> {
        match self.get(key) {
            Some([one]) => Some(one),
            _ => None,
        }
    }
}

impl<'a> From<&'a Context> for Keys<'a> {
    fn from(context: &'a Context) -> Self {
        Self::of(context)
    }
}
