//! S3 Control's account-wide Block Public Access (`/v20180820/configuration/publicAccessBlock`,
//! REST-XML, signed for `s3`): Get/Put/DeletePublicAccessBlock of the caller's own account.
//! The settings add to every bucket's own (`Objects::effective_public_access_block`).
//!
//! SDKs put the account id in front of the endpoint's host (`000000000000.localhost:4566`), so
//! the endpoint must be a name whose subdomains reach tarn (see the README). tarn serves no
//! other S3 Control operation yet: those are answered NotImplemented.

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use tarn_objects::PublicAccessBlock;

use crate::{Api, Peer, authz, s3_error_response, security_token, sigv4};

/// The path of the account's public access block.
pub const PATH: &str = "/v20180820/configuration/publicAccessBlock";
const XMLNS: &str = "http://awss3control.amazonaws.com/doc/2018-08-20/";

/// Whether a request is S3 Control's (its API version leads the path).
#[must_use]
pub fn is_s3control(req: &Request<Incoming>) -> bool {
    req.uri().path().starts_with("/v20180820/") && req.headers().contains_key("x-amz-account-id")
}

fn block_xml(b: &PublicAccessBlock) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PublicAccessBlockConfiguration xmlns=\"{XMLNS}\">\
         <BlockPublicAcls>{}</BlockPublicAcls><IgnorePublicAcls>{}</IgnorePublicAcls>\
         <BlockPublicPolicy>{}</BlockPublicPolicy><RestrictPublicBuckets>{}</RestrictPublicBuckets>\
         </PublicAccessBlockConfiguration>",
        b.block_public_acls, b.ignore_public_acls, b.block_public_policy, b.restrict_public_buckets
    )
}

/// The four switches of a PublicAccessBlockConfiguration document (an absent one is off);
/// `None` when the document is not one.
fn parse_block(text: &str) -> Option<PublicAccessBlock> {
    let text = text.trim();
    if !text.contains("<PublicAccessBlockConfiguration") || !text.contains("</PublicAccessBlockConfiguration>") {
        return None;
    }
    let switch = |name: &str| -> Option<bool> {
        let open = format!("<{name}>");
        let Some(start) = text.find(&open) else { return Some(false) };
        let rest = &text[start + open.len()..];
        let end = rest.find(&format!("</{name}>"))?;
        match rest[..end].trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    };
    Some(PublicAccessBlock {
        block_public_acls: switch("BlockPublicAcls")?,
        ignore_public_acls: switch("IgnorePublicAcls")?,
        block_public_policy: switch("BlockPublicPolicy")?,
        restrict_public_buckets: switch("RestrictPublicBuckets")?,
    })
}

impl Api {
    /// Answers an S3 Control request: (operation, response).
    pub(crate) async fn s3control(
        &self,
        req: Request<Incoming>,
        request_id: &str,
    ) -> (String, http::Response<s3s::Body>) {
        const BODY_MAX: usize = 64 * 1024;
        let fail = |status: StatusCode, code: &str, message: &str| s3_error_response(status, code, message, request_id);
        let (parts, body) = req.into_parts();
        let operation = match (parts.method.as_str(), parts.uri.path()) {
            ("GET", PATH) => "GetPublicAccessBlock",
            ("PUT", PATH) => "PutPublicAccessBlock",
            ("DELETE", PATH) => "DeletePublicAccessBlock",
            _ => {
                return (
                    "unknown".into(),
                    fail(
                        StatusCode::NOT_IMPLEMENTED,
                        "NotImplemented",
                        "tarn serves only the account's public access block of S3 Control",
                    ),
                );
            }
        };
        let answer = |resp| (operation.to_string(), resp);
        let body = match http_body_util::Limited::new(body, BODY_MAX).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return answer(fail(
                    StatusCode::BAD_REQUEST,
                    "MalformedXML",
                    "The XML you provided was not well-formed.",
                ));
            }
        };
        let iam = &self.inner.gate.iam;
        let now = time::OffsetDateTime::now_utc();
        let verified = match sigv4::verify(&parts, &body, now, &|key| iam.secret(key)) {
            Ok(v) => v,
            Err(sigv4::AuthError::UnknownAccessKey(_)) => {
                return answer(fail(
                    StatusCode::FORBIDDEN,
                    "InvalidAccessKeyId",
                    "The AWS Access Key Id you provided does not exist in our records.",
                ));
            }
            Err(_) => {
                return answer(fail(
                    StatusCode::FORBIDDEN,
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
                ));
            }
        };
        let token = security_token(parts.headers.get("x-amz-security-token"), parts.uri.query());
        let who = match iam.principal(&verified.access_key_id, token.as_deref()) {
            Ok(p) => p,
            Err(tarn_iam::KeyRefusal::Expired) => {
                return answer(fail(StatusCode::BAD_REQUEST, "ExpiredToken", "The provided token has expired."));
            }
            Err(_) => {
                return answer(fail(
                    StatusCode::BAD_REQUEST,
                    "InvalidToken",
                    "The provided token is malformed or otherwise invalid.",
                ));
            }
        };
        crate::CallerSlot::record(&parts.extensions, &who, None);
        // an account configures only itself
        let account = parts.headers.get("x-amz-account-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let action = if operation == "GetPublicAccessBlock" {
            "s3:GetAccountPublicAccessBlock"
        } else {
            "s3:PutAccountPublicAccessBlock"
        };
        let context = authz::base_context(parts.extensions.get::<Peer>());
        if account != who.account_id
            || self.inner.gate.service_in(&who, action, &["*".to_string()], &context, account).is_err()
        {
            return answer(fail(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied"));
        }
        let objects = self.inner.gate.objects.clone();
        let resp = match operation {
            "GetPublicAccessBlock" => match objects.account_public_access_block(account) {
                Some(b) => crate::plain(StatusCode::OK, "application/xml", Bytes::from(block_xml(&b))),
                None => fail(
                    StatusCode::NOT_FOUND,
                    "NoSuchPublicAccessBlockConfiguration",
                    "The public access block configuration was not found",
                ),
            },
            "PutPublicAccessBlock" => match parse_block(&String::from_utf8_lossy(&body)) {
                None => fail(
                    StatusCode::BAD_REQUEST,
                    "MalformedXML",
                    "The XML you provided was not well-formed or did not validate against our published schema",
                ),
                Some(b) => match objects.put_account_public_access_block(account, b).await {
                    Ok(()) => crate::plain(StatusCode::OK, "application/xml", Bytes::new()),
                    Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", &e.to_string()),
                },
            },
            _ => match objects.delete_account_public_access_block(account).await {
                Ok(()) => crate::plain(StatusCode::NO_CONTENT, "application/xml", Bytes::new()),
                Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", &e.to_string()),
            },
        };
        answer(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_documents_parse_and_print() {
        let b = parse_block(
            "<PublicAccessBlockConfiguration xmlns=\"x\"><BlockPublicPolicy>true</BlockPublicPolicy>\
             <RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>",
        )
        .unwrap();
        assert!(b.block_public_policy && !b.restrict_public_buckets && !b.block_public_acls);
        assert_eq!(parse_block(&block_xml(&PublicAccessBlock::ALL)), Some(PublicAccessBlock::ALL));
        assert_eq!(parse_block("<Other/>"), None);
        assert_eq!(
            parse_block(
                "<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls></PublicAccessBlockConfiguration>"
            ),
            None
        );
    }
}
