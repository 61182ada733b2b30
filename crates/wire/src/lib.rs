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
pub use time::Timestamp;
pub use validate::{CompiledPattern, PatternCache, VIOLATIONS_MAX, validate};

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

/// Finds the service and operation an `X-Amz-Target: <prefix>.<Operation>` names.
#[must_use]
pub fn by_target(target: &str) -> Option<(&'static model::ServiceModel, Option<&'static model::OperationModel>)> {
    let (prefix, operation) = target.split_once('.')?;
    let service = generated::SERVICES.iter().copied().find(|s| s.target_prefixes.contains(&prefix))?;
    Some((service, service.operation(operation)))
}

/// The generated model of the service whose SigV4 signing name is `name`.
#[must_use]
pub fn by_signing_name(name: &str) -> Option<&'static model::ServiceModel> {
    generated::SERVICES.iter().copied().find(|s| s.signing_name == name)
}
