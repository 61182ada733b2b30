//! The AWS wire shapes of every service tarn serves, generated from botocore's models
//! (`crates/wire/models/`, by `cargo run -p tarn-codegen`), and the interpreters over them:
//!
//! ```text
//! bytes --(doc: JSON | CBOR; api: query forms, REST bindings)--> Doc
//!       --check-->    types as the shape says (SerializationException in AWS's words)
//!       --validate--> required, lengths, ranges, patterns, enums (ValidationException ...)
//!       --from_doc--> <Operation>Input --(generated trait, implemented in tarn-api)-->
//!       <Operation>Output --to_doc--> Doc --> JSON | CBOR | XML
//! ```
//!
//! No HTTP here: `tarn-api` owns routing, signatures and headers. See docs/architecture.md,
//! "The wire layer from AWS's models".

mod check;
mod convert;
pub mod doc;
mod error;
pub mod model;
pub mod query;
pub mod rest;
mod time;
mod validate;

#[cfg(test)]
mod tests;

#[rustfmt::skip]
pub mod generated;

pub use check::{Scalars, check};
pub use convert::{Fields, FromDoc, ToDoc};
pub use doc::Doc;
pub use error::ServiceError;
pub use model::{CompiledPattern, PatternCache};
pub use time::Timestamp;
pub use validate::{VIOLATIONS_MAX, validate};

/// Who is calling, as the wire layer established it (signature, access key).
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub request_id: String,
    pub region: String,
    pub account_id: String,
    pub access_key_id: String,
    /// `arn:aws:iam::000000000000:root`, or the user's or role session's ARN.
    pub principal_arn: String,
    /// The principal's unique id (the account id for the root).
    pub user_id: String,
    /// The principal itself, as the layer above the wire typed it (opaque here).
    pub principal: Opaque,
}

/// A value the wire layer carries without knowing its type.
#[derive(Clone, Default)]
pub struct Opaque(pub Option<std::sync::Arc<dyn std::any::Any + Send + Sync>>);

impl Opaque {
    /// The value, if it is a `T`.
    #[must_use]
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.0.as_deref().and_then(|v| v.downcast_ref::<T>())
    }
}

impl std::fmt::Debug for Opaque {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Opaque(..)" } else { "Opaque(None)" })
    }
}

/// Type-checks and validates a decoded request for `op`, in place: after this, the generated
/// `from_doc` of the operation's input cannot fail.
pub fn prepare(
    model: &model::ServiceModel,
    op: &model::OperationModel,
    doc: &mut Doc,
    scalars: Scalars,
) -> Result<(), ServiceError> {
    let Some(input) = op.input else { return Ok(()) };
    check(model, input, doc, scalars)?;
    validate(model, input, doc)
}

/// A generated type that knows its shape in its service's table.
pub trait Shaped {
    const MODEL: &'static model::ServiceModel;
    const SHAPE: model::ShapeId;
}

/// Reads a stored JSON document (a Glue table, a Firehose destination as tarn keeps them) as
/// the generated type of its shape: type-checked and normalised like a request, but not
/// validated (what was stored is what tarn accepted).
pub fn from_json_value<T: Shaped + FromDoc>(value: &serde_json::Value) -> Result<T, ServiceError> {
    let bytes = serde_json::to_vec(value).map_err(|_| ServiceError::internal())?;
    let mut doc = doc::from_json(&bytes).ok_or_else(ServiceError::internal)?;
    check(T::MODEL, T::SHAPE, &mut doc, Scalars::Typed)?;
    T::from_doc(doc)
}

/// A generated value as the JSON document its shape describes (blobs base64, timestamps
/// epoch seconds).
pub fn to_json_value<T: ToDoc>(value: T) -> serde_json::Value {
    serde_json::from_slice(&doc::to_json(&value.to_doc())).unwrap_or(serde_json::Value::Null)
}

/// Finds the service and operation an `X-Amz-Target: <prefix>.<Operation>` names.
#[must_use]
pub fn by_target(target: &str) -> Option<(&'static model::ServiceModel, Option<&'static model::OperationModel>)> {
    let (prefix, operation) = target.rsplit_once('.')?;
    let service = generated::SERVICES.iter().copied().find(|s| s.target_prefixes.contains(&prefix))?;
    Some((service, service.operation(operation)))
}

/// The generated model of the service whose SigV4 signing name is `name`.
#[must_use]
pub fn by_signing_name(name: &str) -> Option<&'static model::ServiceModel> {
    generated::SERVICES.iter().copied().find(|s| s.signing_name == name)
}
