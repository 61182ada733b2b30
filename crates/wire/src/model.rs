//! The tables the generator writes for each service: shapes with their constraints and wire
//! names, operations with their bindings, error shapes with their codes. Every interpreter in
//! this crate (type checks, validation, the query protocol, REST bindings) reads these.

use std::sync::OnceLock;

/// A pattern compiled on first use.
#[derive(Debug, Default)]
pub struct CompiledPattern {
    pub(crate) full: Option<regex::Regex>,
    pub(crate) not_prefix: Option<regex::Regex>,
}

/// Per-service cache of compiled patterns, one slot per pattern of the model.
pub struct PatternCache<const N: usize>(pub [OnceLock<CompiledPattern>; N]);

impl<const N: usize> PatternCache<N> {
    #[must_use]
    pub const fn new() -> Self {
        Self([const { OnceLock::new() }; N])
    }
}

impl<const N: usize> Default for PatternCache<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Index of a shape in its service's table.
pub type ShapeId = u16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `X-Amz-Target: <prefix>.<Operation>`, body JSON (or CBOR).
    Json,
    /// Method + path per operation; members bound to the URI, query string, headers or body.
    RestJson,
    /// `Action=<Operation>` form fields; XML answers.
    Query,
}

#[derive(Debug)]
pub struct ServiceModel {
    /// The generated module's name (`kinesis`).
    pub name: &'static str,
    /// Which service, for routing by type.
    pub service: crate::generated::service::Service,
    /// The model's service id (`Kinesis`).
    pub service_id: &'static str,
    /// The name IAM actions use (`kinesis:PutRecord`), also the SigV4 signing name.
    pub signing_name: &'static str,
    pub api_version: &'static str,
    pub protocol: Protocol,
    /// `X-Amz-Target` prefixes this service answers to: the model's, and for a service that
    /// moved to REST, the one older SDKs still send.
    pub target_prefixes: &'static [&'static str],
    /// `1.0` or `1.1` for the JSON protocols.
    pub json_version: &'static str,
    /// The XML namespace of query-protocol answers.
    pub xml_namespace: &'static str,
    pub shapes: &'static [Shape],
    /// Patterns by index: the model's text (quoted in messages) and the Rust translation.
    pub patterns: &'static [Pattern],
    /// Compiled forms of `patterns`, filled on first use.
    pub compiled: &'static [OnceLock<CompiledPattern>],
    pub operations: &'static [OperationModel],
    pub errors: &'static [&'static ErrorModel],
    /// Whether any member's wire name differs from its name (then answers are renamed).
    pub renames: bool,
    /// How this service reports a constraint violation.
    pub validation: ValidationStyle,
}

impl ServiceModel {
    #[must_use]
    pub fn shape(&self, id: ShapeId) -> &'static Shape {
        &self.shapes[usize::from(id)]
    }

    #[must_use]
    pub fn operation(&self, name: &str) -> Option<&'static OperationModel> {
        self.operations.iter().find(|o| o.name == name)
    }

    #[must_use]
    pub fn error(&self, name: &str) -> Option<&'static ErrorModel> {
        self.errors.iter().copied().find(|e| e.name == name)
    }
}

/// The error a service answers a constraint violation with.
#[derive(Debug)]
pub struct ValidationStyle {
    pub code: &'static str,
    pub status: u16,
    /// The key the message goes under (`message` or `Message`).
    pub message_key: &'static str,
    /// Further members the error carries (Athena: `AthenaErrorCode: INVALID_INPUT`).
    pub fields: &'static [(&'static str, &'static str)],
}

#[derive(Debug)]
pub struct Shape {
    pub name: &'static str,
    pub kind: Kind,
    /// Length (strings, blobs, lists, maps) or value (numbers) bounds.
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub pattern: Option<u16>,
    pub enum_values: &'static [&'static str],
    /// Messages leave the value out (`Value at 'x' ...`), as AWS does for sensitive members.
    pub sensitive: bool,
}

#[derive(Debug)]
pub enum Kind {
    String,
    Integer,
    Long,
    Float,
    Double,
    Boolean,
    Blob,
    Timestamp,
    /// Any JSON document.
    Document,
    Structure {
        /// Sorted by name: the order AWS reports violations in.
        members: &'static [Member],
    },
    List {
        member: ShapeId,
        /// The element's name in query forms and XML (`member` unless the model says).
        member_name: &'static str,
        flattened: bool,
    },
    Map {
        key: ShapeId,
        value: ShapeId,
        key_name: &'static str,
        value_name: &'static str,
        flattened: bool,
    },
}

#[derive(Debug)]
pub struct Member {
    pub name: &'static str,
    /// The name on the wire (JSON key, form field, XML element, header, query parameter, URI
    /// label); the member's name unless the model says otherwise.
    pub wire_name: &'static str,
    pub shape: ShapeId,
    pub required: bool,
    pub location: Location,
    pub flattened: bool,
    pub idempotency_token: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Body,
    Uri,
    Query,
    Header,
    /// Every header starting with the wire name, as a map.
    Headers,
    StatusCode,
}

#[derive(Debug)]
pub struct Pattern {
    /// As the model writes it (and AWS quotes it).
    pub source: &'static str,
    /// The translation for Rust's regex crate, anchored; `None` when it cannot be expressed
    /// (the value is then not checked against it).
    pub rust: Option<&'static str>,
    /// A leading negative lookahead, split off: the value must not match this at its start.
    pub not_prefix: Option<&'static str>,
}

#[derive(Debug)]
pub struct OperationModel {
    pub name: &'static str,
    pub method: &'static str,
    /// The REST path template (`/query-executions/{QueryExecutionId}`); `/` for the others.
    pub uri: &'static str,
    pub input: Option<ShapeId>,
    pub output: Option<ShapeId>,
    /// Query protocol: the element answers are wrapped in (`GetCallerIdentityResult`).
    pub result_wrapper: &'static str,
    /// The success status of a REST operation.
    pub status: u16,
    /// Whether tarn serves it (the generated trait has a method for it).
    pub served: bool,
}

#[derive(Debug)]
pub struct ErrorModel {
    /// The shape's name (the JSON protocols' `__type`).
    pub name: &'static str,
    /// The query protocol's code (`error.code` in the model, else the name).
    pub code: &'static str,
    pub status: u16,
    /// Sender (client) or receiver (server) fault.
    pub sender: bool,
    /// The key the message goes under in this shape (`message` or `Message`).
    pub message_key: &'static str,
}
