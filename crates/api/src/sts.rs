//! AWS Security Token Service over the query protocol (API version
//! 2011-06-15): the request is a set of form parameters with `Action=...`,
//! the answer an XML document.

use bytes::Bytes;
use http::StatusCode;

/// The namespace of every STS response document.
const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The one API version STS has.
const VERSION: &str = "2011-06-15";
const CONTENT_TYPE: &str = "text/xml";

/// Who made the request, as the authentication layer resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account_id: String,
    pub arn: String,
    pub user_id: String,
}

/// Handles an STS query-protocol request whose form body
/// (application/x-www-form-urlencoded) or query string has `Action=...`;
/// `caller` describes the authenticated principal. Returns (HTTP status,
/// content-type, body bytes).
pub fn handle(params: &[(String, String)], caller: &Caller, request_id: &str) -> (StatusCode, &'static str, Bytes) {
    let param = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, value)| value.as_str());
    match param("Action") {
        None | Some("") => {
            (StatusCode::BAD_REQUEST, CONTENT_TYPE, error_xml("MissingAction", "Missing Action", request_id))
        }
        Some("GetCallerIdentity") => (StatusCode::OK, CONTENT_TYPE, get_caller_identity(caller, request_id)),
        Some(action) => {
            let version = param("Version").filter(|v| !v.is_empty()).unwrap_or(VERSION);
            (
                StatusCode::BAD_REQUEST,
                CONTENT_TYPE,
                error_xml(
                    "InvalidAction",
                    &format!("Could not find operation {action} for version {version}"),
                    request_id,
                ),
            )
        }
    }
}

/// An error document in the query-protocol shape:
/// `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>..</Code><Message>..</Message></Error><RequestId>..</RequestId></ErrorResponse>`
pub fn error_xml(code: &str, message: &str, request_id: &str) -> Bytes {
    Bytes::from(format!(
        "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type><Code>{}</Code>\
         <Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        escape(code),
        escape(message),
        escape(request_id),
    ))
}

fn get_caller_identity(caller: &Caller, request_id: &str) -> Bytes {
    Bytes::from(format!(
        "<GetCallerIdentityResponse xmlns=\"{XMLNS}\"><GetCallerIdentityResult>\
         <Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account></GetCallerIdentityResult>\
         <ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata>\
         </GetCallerIdentityResponse>",
        escape(&caller.arn),
        escape(&caller.user_id),
        escape(&caller.account_id),
        escape(request_id),
    ))
}

/// Escapes text for an XML element's content or an attribute value.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
    }

    fn caller() -> Caller {
        Caller {
            account_id: "000000000000".to_owned(),
            arn: "arn:aws:iam::000000000000:user/alice".to_owned(),
            user_id: "AIDAEXAMPLE".to_owned(),
        }
    }

    fn text(body: &Bytes) -> &str {
        std::str::from_utf8(body).unwrap()
    }

    #[test]
    fn get_caller_identity_answers_with_the_caller() {
        let (status, content_type, body) =
            handle(&params(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]), &caller(), "req-1");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "text/xml");
        assert_eq!(
            text(&body),
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <GetCallerIdentityResult><Arn>arn:aws:iam::000000000000:user/alice</Arn>\
             <UserId>AIDAEXAMPLE</UserId><Account>000000000000</Account>\
             </GetCallerIdentityResult><ResponseMetadata><RequestId>req-1</RequestId>\
             </ResponseMetadata></GetCallerIdentityResponse>"
        );
    }

    #[test]
    fn get_caller_identity_escapes_values() {
        let odd = Caller {
            account_id: "1<2".to_owned(),
            arn: "arn:aws:sts::1:assumed-role/r&d/\"x\"".to_owned(),
            user_id: "AROA:it's".to_owned(),
        };
        let (status, _, body) = handle(&params(&[("Action", "GetCallerIdentity")]), &odd, "r>1");
        assert_eq!(status, StatusCode::OK);
        let body = text(&body);
        assert!(body.contains("<Arn>arn:aws:sts::1:assumed-role/r&amp;d/&quot;x&quot;</Arn>"));
        assert!(body.contains("<UserId>AROA:it&apos;s</UserId>"));
        assert!(body.contains("<Account>1&lt;2</Account>"));
        assert!(body.contains("<RequestId>r&gt;1</RequestId>"));
    }

    #[test]
    fn unknown_action_is_invalid_action() {
        let (status, content_type, body) =
            handle(&params(&[("Action", "AssumeRole<x>"), ("Version", "2011-06-15")]), &caller(), "req-2");
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
        let (_, _, body) = handle(&params(&[("Action", "Nope"), ("Version", "2099-01-01")]), &caller(), "req-3");
        assert!(text(&body).contains("Could not find operation Nope for version 2099-01-01"));
        let (_, _, body) = handle(&params(&[("Action", "Nope")]), &caller(), "req-3");
        assert!(text(&body).contains("Could not find operation Nope for version 2011-06-15"));
    }

    #[test]
    fn missing_action() {
        for request in [params(&[("Version", "2011-06-15")]), params(&[("Action", "")])] {
            let (status, content_type, body) = handle(&request, &caller(), "req-4");
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
