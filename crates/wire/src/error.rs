//! The error every protocol renders: a code, an HTTP status, a message and the error shape's
//! other members. Handlers build them from the generated error tables, so codes and statuses
//! come from AWS's models, never from string literals in a handler.

use std::borrow::Cow;

use crate::doc::{Doc, Key};
use crate::model::{ErrorModel, ValidationStyle};

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceError {
    pub code: Cow<'static, str>,
    pub status: u16,
    /// `None`: the answer carries no message at all (as AWS's SerializationException for a
    /// body that is not JSON).
    pub message: Option<String>,
    /// `message` or `Message`, as the error shape spells it.
    pub message_key: &'static str,
    /// A client's mistake (Sender) or the service's (Receiver), for the query protocol.
    pub sender: bool,
    /// The error shape's other members.
    pub fields: Vec<(Key, Doc)>,
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.message {
            Some(m) => write!(f, "{}: {m}", self.code),
            None => f.write_str(&self.code),
        }
    }
}

impl std::error::Error for ServiceError {}

impl ServiceError {
    /// An error of one of the service's error shapes.
    #[must_use]
    pub fn new(shape: &'static ErrorModel, message: impl Into<String>) -> Self {
        Self {
            code: Cow::Borrowed(shape.name),
            status: shape.status,
            message: Some(message.into()),
            message_key: shape.message_key,
            sender: shape.sender,
            fields: Vec::new(),
        }
    }

    /// Adds a member of the error shape (`AthenaErrorCode`, ...).
    #[must_use]
    pub fn with_field(mut self, name: &'static str, value: Doc) -> Self {
        self.fields.push((Cow::Borrowed(name), value));
        self
    }

    /// A request member of the wrong type, in the words of AWS's JSON services
    /// (`STRING_VALUE can not be converted to an Integer`); `None` for a body that does not
    /// parse at all, which AWS answers without a message.
    #[must_use]
    pub fn serialization(message: Option<String>) -> Self {
        Self {
            code: Cow::Borrowed("SerializationException"),
            status: 400,
            message,
            message_key: "Message",
            sender: true,
            fields: Vec::new(),
        }
    }

    /// An `X-Amz-Target` naming no operation of the service: AWS answers with the bare code.
    #[must_use]
    pub fn unknown_operation() -> Self {
        Self {
            code: Cow::Borrowed("UnknownOperationException"),
            status: 400,
            message: None,
            message_key: "message",
            sender: true,
            fields: Vec::new(),
        }
    }

    /// Constraint violations, in the service's own style.
    #[must_use]
    pub fn validation(style: &ValidationStyle, message: String) -> Self {
        Self {
            code: Cow::Borrowed(style.code),
            status: style.status,
            message: Some(message),
            message_key: style.message_key,
            sender: true,
            fields: style.fields.iter().map(|(k, v)| (Cow::Borrowed(*k), Doc::Str((*v).to_string()))).collect(),
        }
    }

    /// An error with a code no model lists (the common errors every AWS service may answer:
    /// `AccessDeniedException`, `ThrottlingException`, ...).
    #[must_use]
    pub fn common(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        Self {
            code: Cow::Borrowed(code),
            status,
            message: Some(message.into()),
            message_key: "message",
            sender: status < 500,
            fields: Vec::new(),
        }
    }

    /// An operation of the service's model that tarn does not serve (yet).
    #[must_use]
    pub fn not_served(service: &str, operation: &str) -> Self {
        Self {
            code: Cow::Borrowed("UnknownOperationException"),
            status: 400,
            message: Some(format!("tarn does not serve {service} {operation} yet")),
            message_key: "message",
            sender: true,
            fields: Vec::new(),
        }
    }

    /// Our own failure; the message says nothing about the cause (it is logged instead).
    #[must_use]
    pub fn internal() -> Self {
        Self {
            code: Cow::Borrowed("InternalFailure"),
            status: 500,
            message: Some("We encountered an internal error. Please try again.".into()),
            message_key: "message",
            sender: false,
            fields: Vec::new(),
        }
    }

    /// The JSON protocols' error document: `{"__type": ..., "message": ..., fields...}`.
    #[must_use]
    pub fn to_doc(&self) -> Doc {
        let mut entries: Vec<(Key, Doc)> = Vec::with_capacity(2 + self.fields.len());
        entries.push((Cow::Borrowed("__type"), Doc::Str(self.code.to_string())));
        if let Some(m) = &self.message {
            entries.push((Cow::Borrowed(self.message_key), Doc::Str(m.clone())));
        }
        entries.extend(self.fields.iter().cloned());
        Doc::Map(entries)
    }
}
