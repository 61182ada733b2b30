//! AWS Security Token Service over the query protocol (API version 2011-06-15): the generated
//! `StsApi` trait. Requests are form fields with `Action=...`, decoded and validated against
//! botocore's `sts` model; answers are the XML documents the model describes.

use bytes::Bytes;
use http::StatusCode;
use tarn_wire::generated::sts::{self as g};
use tarn_wire::{Context, ServiceError};

/// The namespace of every STS response document.
pub const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
pub const CONTENT_TYPE: &str = "text/xml";

/// The STS handler, for one request: who calls, and what the request brings.
pub struct Sts {
    pub iam: tarn_iam::Iam,
    pub caller: tarn_iam::Principal,
    pub context: tarn_iam::policy::Context,
}

fn credentials(issued: tarn_iam::sessions::Issued) -> g::Credentials {
    g::Credentials {
        access_key_id: issued.access_key_id,
        secret_access_key: issued.secret_access_key,
        session_token: issued.session_token,
        expiration: tarn_wire::Timestamp::from_secs(issued.expires),
    }
}

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

    /// A role session: the role's trust policy must let the caller in (naming the caller,
    /// or its account with the caller's own policies allowing `sts:AssumeRole`), the duration
    /// must fit the role's MaxSessionDuration, and a session policy only narrows.
    async fn assume_role(
        &self,
        _cx: &Context,
        input: g::AssumeRoleRequest,
    ) -> Result<g::AssumeRoleResponse, ServiceError> {
        use tarn_iam::policy::{Kind, Policy};
        let denied = |why: &str| {
            ServiceError::common(
                "AccessDenied",
                403,
                format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {}{why}",
                    self.caller.arn, input.role_arn
                ),
            )
        };
        if self.caller.is_root() {
            return Err(ServiceError::common("AccessDenied", 403, "Roles may not be assumed by root accounts."));
        }
        // the role's account: the caller's own, or another account on this server
        let role_account = input
            .role_arn
            .strip_prefix("arn:aws:iam::")
            .and_then(|rest| rest.split_once(':'))
            .map_or("", |(account, _)| account);
        let Some(target) = self.iam.scoped(role_account) else {
            return Err(denied(""));
        };
        let dir = target.snapshot();
        let role_name = input
            .role_arn
            .strip_prefix(&format!("arn:aws:iam::{}:role/", dir.account_id))
            .map(|rest| rest.rsplit('/').next().unwrap_or(rest));
        let Some(role) = role_name.and_then(|n| dir.role(n).ok()) else {
            return Err(denied(""));
        };
        if dir.role_arn(role) != input.role_arn {
            return Err(denied(""));
        }
        // the trust policy itself must let the caller in (naming it, its account or everyone);
        // the caller's own policies alone never open a role
        let caller = tarn_iam::policy::Caller::from_arn(&self.caller.arn);
        let trust_allows = |action: &str| {
            role.trust.parsed.as_deref().is_some_and(|trust| {
                let request = tarn_iam::policy::Request {
                    caller: &caller,
                    action,
                    resource: &input.role_arn,
                    context: (&self.context).into(),
                };
                trust.decide(&request).decision == tarn_iam::policy::Decision::Allow
            })
        };
        if !trust_allows("sts:AssumeRole") {
            return Err(denied(""));
        }
        // and the caller's own policies (in its own account) with the trust policy as the
        // role's resource policy: across accounts both must allow
        let verdict = self.iam.authorize(
            &self.caller,
            "sts:AssumeRole",
            &input.role_arn,
            &self.context,
            role.trust.parsed.as_deref(),
            &dir.account_id,
        );
        if !verdict.allowed() {
            return Err(denied(""));
        }
        // a source identity, once set, follows the session through role chaining and may not
        // be changed; setting or carrying one needs sts:SetSourceIdentity from the role's trust
        // policy (and the caller's own policies, across accounts), as AWS asks
        let inherited = match &self.caller.identity {
            tarn_iam::Identity::Session(s) => s.source_identity.clone(),
            _ => None,
        };
        if let (Some(have), Some(asked)) = (&inherited, &input.source_identity)
            && have != asked
        {
            return Err(ServiceError::common(
                "AccessDenied",
                403,
                format!("The source identity of the session ({have}) cannot be changed to {asked}."),
            ));
        }
        let source_identity = inherited.or_else(|| input.source_identity.clone());
        if source_identity.is_some() {
            let allowed = trust_allows("sts:SetSourceIdentity")
                && self
                    .iam
                    .authorize(
                        &self.caller,
                        "sts:SetSourceIdentity",
                        &input.role_arn,
                        &self.context,
                        role.trust.parsed.as_deref(),
                        &dir.account_id,
                    )
                    .allowed();
            if !allowed {
                return Err(ServiceError::common(
                    "AccessDenied",
                    403,
                    format!(
                        "User: {} is not authorized to perform: sts:SetSourceIdentity on resource: {}",
                        self.caller.arn, input.role_arn
                    ),
                ));
            }
        }
        let duration = input.duration_seconds.map_or(3600, i64::from);
        if duration > role.max_session_secs {
            return Err(ServiceError::common(
                "ValidationError",
                400,
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        let packed = match &input.policy {
            Some(text) => {
                Policy::parse_as(text, Kind::Identity)
                    .map_err(|e| ServiceError::common("MalformedPolicyDocument", 400, e.0))?;
                let size = tarn_iam::directory::policy_size(text);
                Some(i32::try_from(size * 100 / tarn_common::limits::iam::SESSION_POLICY_SIZE_MAX).unwrap_or(i32::MAX))
            }
            None => None,
        };
        if input.policy_arns.as_ref().is_some_and(|a| !a.is_empty()) {
            return Err(ServiceError::common(
                "InvalidParameterValue",
                400,
                "tarn does not take PolicyArns on AssumeRole yet; pass the session policy as Policy",
            ));
        }
        let issued = target.issue(
            tarn_iam::sessions::SessionOf::Role {
                role: role.name.clone(),
                role_id: role.id.clone(),
                session_name: input.role_session_name.clone(),
                source_identity: source_identity.clone(),
                policy: input.policy.clone(),
            },
            duration,
            self.iam.now_secs(),
        );
        Ok(g::AssumeRoleResponse {
            credentials: Some(credentials(issued)),
            assumed_role_user: Some(g::AssumedRoleUser {
                assumed_role_id: format!("{}:{}", role.id, input.role_session_name),
                arn: format!("arn:aws:sts::{}:assumed-role/{}/{}", dir.account_id, role.name, input.role_session_name),
            }),
            packed_policy_size: packed,
            source_identity,
            ..g::AssumeRoleResponse::default()
        })
    }

    /// A session with the caller's own rights (a user's or the root's).
    async fn get_session_token(
        &self,
        _cx: &Context,
        input: g::GetSessionTokenRequest,
    ) -> Result<g::GetSessionTokenResponse, ServiceError> {
        let of = match &self.caller.identity {
            tarn_iam::Identity::Root => tarn_iam::sessions::SessionOf::Root,
            tarn_iam::Identity::User { name } => {
                tarn_iam::sessions::SessionOf::User { name: name.clone(), user_id: self.caller.user_id.clone() }
            }
            _ => {
                return Err(ServiceError::common(
                    "AccessDenied",
                    403,
                    "Cannot call GetSessionToken with session credentials",
                ));
            }
        };
        // the root's sessions last at most an hour
        let default = if self.caller.is_root() { 3600 } else { 43_200 };
        let duration = input.duration_seconds.map_or(default, i64::from);
        let duration = if self.caller.is_root() { duration.min(3600) } else { duration };
        let issued = self.iam.issue(of, duration, self.iam.now_secs());
        Ok(g::GetSessionTokenResponse {
            credentials: Some(credentials(issued)),
            ..g::GetSessionTokenResponse::default()
        })
    }
}

/// Answers a query-protocol request whose form fields are `params`, for the caller `cx`:
/// (HTTP status, content type, body).
pub async fn handle(handler: &Sts, params: &[(String, String)], cx: &Context) -> (StatusCode, &'static str, Bytes) {
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
        g::dispatch(handler, cx, op, doc).await
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
    error_xml_in(XMLNS, code, message, request_id)
}

/// [`error_xml`] in another query service's namespace (IAM's).
pub fn error_xml_in(xmlns: &str, code: &str, message: &str, request_id: &str) -> Bytes {
    let escape = tarn_wire::query::escape;
    Bytes::from(format!(
        "<ErrorResponse xmlns=\"{}\"><Error><Type>Sender</Type><Code>{}</Code>\
         <Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        escape(xmlns),
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

    /// An STS handler over a directory in a fresh data dir, for the root caller.
    async fn sts() -> (Sts, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = tarn_store::Store::open(dir.path()).unwrap();
        let key = tarn_iam::AccessKey { access_key_id: "AKIAROOT".into(), secret_access_key: "secret".into() };
        let (ids, _) = tarn_iam::Identities::load(&dir.path().join("keys"), "000000000000", Some(key)).unwrap();
        let iam = tarn_iam::Iam::open(store, ids).await.unwrap();
        let (_, caller) = iam.key("AKIAROOT").unwrap();
        (Sts { iam, caller, context: tarn_iam::policy::Context::new() }, dir)
    }

    fn text(body: &Bytes) -> &str {
        std::str::from_utf8(body).unwrap()
    }

    #[tokio::test]
    async fn get_caller_identity_answers_with_the_caller() {
        let (h, _dir) = sts().await;
        let (status, content_type, body) =
            handle(&h, &params(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]), &caller("req-1")).await;
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
        let (h, _dir) = sts().await;
        let odd = Context {
            request_id: "r>1".into(),
            account_id: "1<2".to_owned(),
            principal_arn: "arn:aws:sts::1:assumed-role/r&d/\"x\"".to_owned(),
            user_id: "AROA:it's".to_owned(),
            ..Context::default()
        };
        let (status, _, body) = handle(&h, &params(&[("Action", "GetCallerIdentity")]), &odd).await;
        assert_eq!(status, StatusCode::OK);
        let body = text(&body);
        assert!(body.contains("<Arn>arn:aws:sts::1:assumed-role/r&amp;d/&quot;x&quot;</Arn>"));
        assert!(body.contains("<UserId>AROA:it&apos;s</UserId>"));
        assert!(body.contains("<Account>1&lt;2</Account>"));
        assert!(body.contains("<RequestId>r&gt;1</RequestId>"));
    }

    #[tokio::test]
    async fn unknown_action_is_invalid_action() {
        let (h, _dir) = sts().await;
        let (status, content_type, body) =
            handle(&h, &params(&[("Action", "AssumeRole<x>"), ("Version", "2011-06-15")]), &caller("req-2")).await;
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
        let (_, _, body) =
            handle(&h, &params(&[("Action", "Nope"), ("Version", "2099-01-01")]), &caller("req-3")).await;
        assert!(text(&body).contains("Could not find operation Nope for version 2099-01-01"));
        let (_, _, body) = handle(&h, &params(&[("Action", "Nope")]), &caller("req-3")).await;
        assert!(text(&body).contains("Could not find operation Nope for version 2011-06-15"));
        // an operation of the model tarn does not serve says so
        let (status, _, body) = handle(&h, &params(&[("Action", "AssumeRoleWithSAML")]), &caller("req-5")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text(&body).contains("tarn does not serve STS AssumeRoleWithSAML yet"), "{}", text(&body));
    }

    #[tokio::test]
    async fn missing_action() {
        let (h, _dir) = sts().await;
        for request in [params(&[("Version", "2011-06-15")]), params(&[("Action", "")])] {
            let (status, content_type, body) = handle(&h, &request, &caller("req-4")).await;
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
