//! AWS Security Token Service over the query protocol (API version 2011-06-15): the generated
//! `StsApi` trait. Requests are form fields with `Action=...`, decoded and validated against
//! botocore's `sts` model; answers are the XML documents the model describes.

use bytes::Bytes;
use http::StatusCode;
use tarn_wire::generated::sts::{self as g};
use tarn_wire::{Context, ServiceError};

/// The namespace of every STS response document.
const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
pub const CONTENT_TYPE: &str = "text/xml";

/// The STS handler.
pub struct Sts;

impl g::StsApi for Sts {
    async fn get_caller_identity(
        &self,
        cx: &Context,
        _input: g::GetCallerIdentityRequest,
    ) -> Result<g::GetCallerIdentityResponse, ServiceError> {
        Ok(g::GetCallerIdentityResponse {
            arn: Some(cx.principal_arn.clone()),
            user_id: Some(cx.user_id.clone()),
            account: Some(cx.account_id.clone()),
        })
    }
}

/// Answers a query-protocol request whose form fields are `params`, for the caller `cx`:
/// (HTTP status, content type, body).
pub async fn handle(params: &[(String, String)], cx: &Context) -> (StatusCode, &'static str, Bytes) {
    let model = &g::MODEL;
    let param = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, value)| value.as_str());
    let action = match param("Action") {
        None | Some("") => {
            return (
                StatusCode::BAD_REQUEST,
                CONTENT_TYPE,
                error_xml("MissingAction", "Missing Action", &cx.request_id),
            );
        }
        Some(action) => action,
    };
    let Some(op) = g::Operation::from_name(action) else {
        let version = param("Version").filter(|v| !v.is_empty()).unwrap_or(model.api_version);
        let message = format!("Could not find operation {action} for version {version}");
        return (StatusCode::BAD_REQUEST, CONTENT_TYPE, error_xml("InvalidAction", &message, &cx.request_id));
    };
    let op_model = op.model();
    let answer = async {
        if !op_model.served {
            return Err(ServiceError::common("InvalidAction", 400, format!("tarn does not serve STS {action} yet")));
        }
        let mut doc = match op_model.input {
            Some(shape) => tarn_wire::query::decode(model, shape, params),
            None => tarn_wire::Doc::empty(),
        };
        tarn_wire::prepare(model, op_model, &mut doc, tarn_wire::Scalars::Text)?;
        g::dispatch(&Sts, cx, op, doc).await
    };
    match answer.await {
        Ok(out) => {
            (StatusCode::OK, CONTENT_TYPE, Bytes::from(tarn_wire::query::encode(model, op_model, &out, &cx.request_id)))
        }
        Err(e) => (
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            CONTENT_TYPE,
            Bytes::from(tarn_wire::query::error(model, &e, &cx.request_id)),
        ),
    }
}

/// An error document in the query-protocol shape, for failures before an operation is known:
/// `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>..</Code><Message>..</Message></Error><RequestId>..</RequestId></ErrorResponse>`
pub fn error_xml(code: &str, message: &str, request_id: &str) -> Bytes {
    let escape = tarn_wire::query::escape;
    Bytes::from(format!(
        "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type><Code>{}</Code>\
         <Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        escape(code),
        escape(message),
        escape(request_id),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
    }

    fn caller(request_id: &str) -> Context {
        Context {
            request_id: request_id.into(),
            account_id: "000000000000".to_owned(),
            principal_arn: "arn:aws:iam::000000000000:user/alice".to_owned(),
            user_id: "AIDAEXAMPLE".to_owned(),
            ..Context::default()
        }
    }

    fn text(body: &Bytes) -> &str {
        std::str::from_utf8(body).unwrap()
    }

    #[tokio::test]
    async fn get_caller_identity_answers_with_the_caller() {
        let (status, content_type, body) =
            handle(&params(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]), &caller("req-1")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "text/xml");
        assert_eq!(
            text(&body),
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>\
             <Account>000000000000</Account><Arn>arn:aws:iam::000000000000:user/alice</Arn>\
             <UserId>AIDAEXAMPLE</UserId></GetCallerIdentityResult><ResponseMetadata><RequestId>req-1</RequestId>\
             </ResponseMetadata></GetCallerIdentityResponse>"
        );
    }

    #[tokio::test]
    async fn get_caller_identity_escapes_values() {
        let odd = Context {
            request_id: "r>1".into(),
            account_id: "1<2".to_owned(),
            principal_arn: "arn:aws:sts::1:assumed-role/r&d/\"x\"".to_owned(),
            user_id: "AROA:it's".to_owned(),
            ..Context::default()
        };
        let (status, _, body) = handle(&params(&[("Action", "GetCallerIdentity")]), &odd).await;
        assert_eq!(status, StatusCode::OK);
        let body = text(&body);
        assert!(body.contains("<Arn>arn:aws:sts::1:assumed-role/r&amp;d/&quot;x&quot;</Arn>"));
        assert!(body.contains("<UserId>AROA:it&apos;s</UserId>"));
        assert!(body.contains("<Account>1&lt;2</Account>"));
        assert!(body.contains("<RequestId>r&gt;1</RequestId>"));
    }

    #[tokio::test]
    async fn unknown_action_is_invalid_action() {
        let (status, content_type, body) =
            handle(&params(&[("Action", "AssumeRole<x>"), ("Version", "2011-06-15")]), &caller("req-2")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(content_type, "text/xml");
        assert_eq!(
            text(&body),
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
             <Type>Sender</Type><Code>InvalidAction</Code><Message>Could not find operation \
             AssumeRole&lt;x&gt; for version 2011-06-15</Message></Error>\
             <RequestId>req-2</RequestId></ErrorResponse>"
        );
        // The version named in the request is the one in the message.
        let (_, _, body) = handle(&params(&[("Action", "Nope"), ("Version", "2099-01-01")]), &caller("req-3")).await;
        assert!(text(&body).contains("Could not find operation Nope for version 2099-01-01"));
        let (_, _, body) = handle(&params(&[("Action", "Nope")]), &caller("req-3")).await;
        assert!(text(&body).contains("Could not find operation Nope for version 2011-06-15"));
        // an operation of the model tarn does not serve says so
        let (status, _, body) = handle(&params(&[("Action", "AssumeRole")]), &caller("req-5")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text(&body).contains("tarn does not serve STS AssumeRole yet"), "{}", text(&body));
    }

    #[tokio::test]
    async fn missing_action() {
        for request in [params(&[("Version", "2011-06-15")]), params(&[("Action", "")])] {
            let (status, content_type, body) = handle(&request, &caller("req-4")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert_eq!(content_type, "text/xml");
            assert!(text(&body).contains("<Code>MissingAction</Code>"));
            assert!(text(&body).contains("<RequestId>req-4</RequestId>"));
        }
    }

    #[test]
    fn error_document_shape() {
        assert_eq!(
            text(&error_xml("AccessDenied", "a < b & \"c\"", "id")),
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
             <Type>Sender</Type><Code>AccessDenied</Code><Message>a &lt; b &amp; \
             &quot;c&quot;</Message></Error><RequestId>id</RequestId></ErrorResponse>"
        );
    }
}
