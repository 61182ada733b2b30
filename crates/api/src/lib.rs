//! The AWS wire layer: one HTTP port, every service. A request is routed by what it carries:
//!
//! ```text
//! /_tarn/health, /_tarn/metrics          tarn's own endpoints
//! SigV4 scope "sts" or Action=...        query protocol (STS) -> sts.rs, signed per sigv4.rs
//! anything else                          S3 -> s3s (parsing, SigV4, aws-chunked) -> s3.rs
//! ```
//!
//! Only this crate knows HTTP. Service crates speak domain types; errors become AWS codes in
//! one place per protocol (`s3/errors.rs`, `json.rs`, `sts.rs`).

mod athena;
mod audit;
pub mod authz;
mod cloudtrail;
mod firehose;
mod glue;
mod iam;
mod json;
mod kinesis;
mod kms;
pub mod metrics;
mod redshift_data;
pub mod s3;
mod s3control;
pub mod sigv4;
pub mod sts;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use s3s::auth::{S3Auth, SecretKey};
use s3s::host::{S3Host, VirtualHost};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{S3Result, s3_error};
use tarn_common::limits::s3 as limits;
use tarn_iam::Principal;
use tarn_objects::Objects;
use tokio::net::TcpListener;

/// What the wire layer needs to serve.
#[derive(Clone)]
pub struct ApiConfig {
    pub region: String,
    /// Base domains for virtual-host addressing: `BUCKET.<domain>`.
    pub base_domains: Vec<String>,
    /// Whether every call is recorded in the audit trail (`--audit-trail`).
    pub audit_trail: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            base_domains: vec!["localhost".into(), "s3.localhost".into()],
            audit_trail: true,
        }
    }
}

/// The whole HTTP surface of tarn.
#[derive(Clone)]
pub struct Api {
    inner: Arc<ApiInner>,
}

/// The services the wire layer serves.
pub struct Services {
    pub objects: Objects,
    pub streams: tarn_streams::Streams,
    pub crawlers: tarn_catalog::crawler::Crawlers,
    pub athena: tarn_query::athena::Athena,
    pub delivery: tarn_delivery::Delivery,
    pub redshift_data: tarn_query::redshift_data::RedshiftData,
    pub kms: tarn_kms::Kms,
    pub audit: tarn_audit::Audit,
}

struct ApiInner {
    s3: S3Service,
    store: tarn_store::Store,
    kinesis: kinesis::Kinesis,
    firehose: firehose::Firehose,
    glue: glue::Glue,
    athena: athena::Athena,
    redshift_data: redshift_data::RedshiftData,
    kms: kms::Kms,
    cloudtrail: cloudtrail::CloudTrail,
    /// Every call is recorded here when `record_calls` (`--audit-trail`).
    audit: tarn_audit::Audit,
    record_calls: bool,
    delivery: tarn_delivery::Delivery,
    gate: authz::Gate,
    /// The region tarn serves: resources' ARNs name it, whatever region a client signed for.
    region: String,
    metrics: metrics::Metrics,
    ready: std::sync::atomic::AtomicBool,
}

/// Slot in a request's extensions where the S3 access hook leaves the operation name.
#[derive(Clone, Default)]
struct OperationSlot(Arc<Mutex<Option<String>>>);

/// Slot in a request's extensions where authentication leaves the caller's ARN, for the
/// request's log line.
#[derive(Clone, Default)]
struct CallerSlot(Arc<Mutex<Option<Caller>>>);

/// Who a request acts as, and the access key it was signed with.
type Caller = (Principal, Option<String>);

impl CallerSlot {
    /// Records who the request acts as and the access key it was signed with.
    fn record(extensions: &http::Extensions, who: &Principal, access_key: Option<&str>) {
        if let Some(slot) = extensions.get::<Self>() {
            *slot.0.lock().expect("caller slot") = Some((who.clone(), access_key.map(str::to_string)));
        }
    }
}

/// The peer a request came from, and whether over TLS (its extensions carry it from the
/// listener).
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr, pub bool);

/// Who an S3 request acts as and the context it brings, left in its extensions by the access
/// hook for the handlers that authorize further (a copy's source, DeleteObjects' keys).
#[derive(Clone)]
pub(crate) struct S3Caller {
    pub principal: Principal,
    pub context: tarn_iam::policy::Context,
}

impl Api {
    #[must_use]
    pub fn new(services: Services, identities: tarn_iam::Iam, config: &ApiConfig) -> Self {
        let Services { objects, streams, crawlers, athena, delivery, redshift_data, kms, audit } = services;
        let store = objects.store().clone();
        objects.set_kms(kms.clone(), identities.account_id());
        streams.set_kms(kms.clone());
        let gate = authz::Gate { iam: identities.clone(), objects: objects.clone(), kms: kms.clone() };
        let mut builder = S3ServiceBuilder::new(s3::TarnS3::new(objects.clone(), gate.clone()));
        builder.set_auth(Auth { iam: identities.clone() });
        builder.set_access(Access { gate: gate.clone() });
        builder.set_host(Hosts::new(&config.base_domains));
        let s3 = builder.build();
        Self {
            inner: Arc::new(ApiInner {
                s3,
                store,
                kinesis: kinesis::Kinesis { streams },
                firehose: firehose::Firehose { delivery: delivery.clone() },
                glue: glue::Glue { crawlers },
                athena: athena::Athena { athena, iam: Some(identities.clone()), region: config.region.clone() },
                redshift_data: redshift_data::RedshiftData {
                    statements: redshift_data,
                    iam: Some(identities.clone()),
                    region: config.region.clone(),
                },
                kms: kms::Kms { keys: kms },
                cloudtrail: cloudtrail::CloudTrail { audit: audit.clone(), objects: objects.clone() },
                audit,
                record_calls: config.audit_trail,
                delivery,
                gate,
                region: config.region.clone(),
                metrics: metrics::Metrics::default(),
                ready: std::sync::atomic::AtomicBool::new(true),
            }),
        }
    }

    /// Marks the server as shutting down: health answers 503.
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, std::sync::atomic::Ordering::SeqCst);
    }

    /// Handles one request.
    pub async fn handle(&self, mut req: Request<Incoming>) -> Result<Response<s3s::Body>, Infallible> {
        let started = Instant::now();
        let request_id = new_request_id();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let source = req.extensions().get::<Peer>().map(|p| p.0);
        let caller = CallerSlot::default();
        req.extensions_mut().insert(caller.clone());
        let audit_slot = audit::AuditSlot::default();
        req.extensions_mut().insert(audit_slot.clone());
        let user_agent = req.headers().get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string);
        let tls = req.extensions().get::<Peer>().is_some_and(|p| p.1);
        let origin = req.headers().contains_key(http::header::ORIGIN);
        let has_body = req.headers().contains_key(http::header::TRANSFER_ENCODING)
            || req
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|n| n > 0);
        let (service, operation, mut resp) = match json_preflight(&req) {
            Some(resp) => ("cors", "OPTIONS".to_string(), resp),
            None => self.route(req, &request_id).await,
        };
        let who = caller.0.lock().expect("caller slot").take();
        // every authenticated call (and every anonymous S3 call) is recorded before it is
        // answered; a record that cannot be made fails the call
        if self.inner.record_calls
            && let Some((principal, access_key)) = &who
            && !matches!(service, "tarn" | "cors" | "unknown")
        {
            let mut note = audit_slot.take();
            let status = resp.status().as_u16();
            if status >= 400 && note.error.is_none() && method != http::Method::HEAD {
                let (parts, body) = resp.into_parts();
                let bytes = http_body_util::BodyExt::collect(body).await.map(|b| b.to_bytes()).unwrap_or_default();
                note.error = Some(audit::error_of(status, &bytes));
                resp = Response::from_parts(parts, s3s::Body::from(bytes));
            }
            let call = audit::Call {
                service: if service == "s3control" { "s3" } else { service },
                operation: &operation,
                region: &self.inner.region,
                home_account: self.inner.gate.iam.account_id(),
                who: principal,
                access_key: access_key.as_deref(),
                source: source.map(|s| s.ip()),
                user_agent: user_agent.as_deref(),
                request_id: &request_id,
                status,
                tls,
            };
            let now_ms = tarn_common::now_unix_nanos() / 1_000_000;
            let key_uses = std::mem::take(&mut note.key_uses);
            let error = note.error.clone();
            let event = audit::record(&call, note, now_ms);
            let mut events = vec![event];
            events.extend(
                key_uses.iter().map(|u| audit::key_use_record(&call, "s3.amazonaws.com", u, error.as_ref(), now_ms)),
            );
            if let Err(e) = events.iter().try_for_each(|event| self.inner.audit.record_json(event)) {
                tracing::error!(error = %e, "an API call could not be recorded in the audit trail: answered 500");
                resp = s3_error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                    &request_id,
                );
            }
        }
        let headers = resp.headers_mut();
        // browser SDKs calling the JSON and REST services may read what they need
        if origin && !matches!(service, "s3" | "tarn") {
            headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            headers.insert(
                http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(
                    "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date",
                ),
            );
        }
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            headers.insert("x-amz-request-id", v.clone());
            headers.insert("x-amzn-requestid", v);
        }
        if let Ok(v) = HeaderValue::from_str(&format!("tarn/{request_id}")) {
            headers.insert("x-amz-id-2", v);
        }
        headers.insert(http::header::SERVER, HeaderValue::from_static("tarn"));
        let status = resp.status().as_u16();
        // an error answered before the body was read leaves the body on the connection: close
        // it, so the client's next request starts on a clean one (as S3 does)
        if has_body && status >= 400 {
            resp.headers_mut().insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        let elapsed = started.elapsed();
        if service != "tarn" {
            self.inner.metrics.record(service, &operation, status, elapsed);
        }
        let principal = who
            .map_or_else(|| "-".to_string(), |(p, _)| if p.arn.is_empty() { "anonymous".to_string() } else { p.arn });
        let source = source.map_or_else(|| "-".to_string(), |s| s.to_string());
        tracing::info!(
            service,
            operation = %operation,
            %method,
            path = %path,
            principal = %principal,
            source = %source,
            status,
            latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            request_id = %request_id,
            "request"
        );
        Ok(resp)
    }

    async fn route(&self, mut req: Request<Incoming>, request_id: &str) -> (&'static str, String, Response<s3s::Body>) {
        if let Some(internal) = req.uri().path().strip_prefix("/_tarn/") {
            let internal = internal.to_string();
            return ("tarn", internal.clone(), self.internal(&internal));
        }
        let header_bytes: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
        if header_bytes > limits::HEADER_SECTION_SIZE_MAX {
            return (
                "s3",
                "unknown".into(),
                s3_error_response(
                    StatusCode::BAD_REQUEST,
                    "RequestHeaderSectionTooLarge",
                    "Your request header section exceeds the maximum allowed size.",
                    request_id,
                ),
            );
        }
        if let Some(target) = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).map(str::to_string) {
            let (service, operation, resp) = self.json_protocol(req, &target, request_id).await;
            return (service, operation, resp);
        }
        match signed_service(&req) {
            Signed::Rest(model) => return self.rest_protocol(req, model, request_id).await,
            Signed::Unserved(name) => {
                let e = tarn_wire::ServiceError::common(
                    "UnknownOperationException",
                    400,
                    format!("tarn does not serve the {name} API"),
                );
                return ("unknown", name, json::error(&e, json::Format::Json("application/json")));
            }
            Signed::Other => {}
        }
        if s3control::is_s3control(&req) {
            // boxed: the future of every request is the size of its largest branch
            let (operation, resp) = Box::pin(self.s3control(req, request_id)).await;
            return ("s3control", operation, resp);
        }
        if is_query_protocol(&req) {
            let iam = sigv4::credential_scope(&parts_ref(&req)).is_some_and(|(_, _, _, service)| service == "iam");
            let (operation, resp) = self.query_protocol(req, request_id).await;
            return (if iam { "iam" } else { "sts" }, operation, resp);
        }
        sigv2_query_amz_headers(&mut req);
        let slot = OperationSlot::default();
        req.extensions_mut().insert(slot.clone());
        let req = req.map(s3s::Body::from);
        let resp = match self.inner.s3.call(req).await {
            Ok(resp) => resp,
            Err(err) => {
                tracing::error!(error = ?err, "s3 service failed");
                s3_error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                    request_id,
                )
            }
        };
        let operation = slot.0.lock().expect("slot lock").take().unwrap_or_else(|| "unknown".to_string());
        ("s3", operation, resp)
    }

    fn internal(&self, path: &str) -> Response<s3s::Body> {
        match path {
            "health" => {
                let ready = self.inner.ready.load(std::sync::atomic::Ordering::SeqCst);
                let (status, body) = if ready {
                    (StatusCode::OK, "{\"status\":\"ok\"}")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "{\"status\":\"stopping\"}")
                };
                plain(status, "application/json", Bytes::from_static(body.as_bytes()))
            }
            "metrics" => {
                let mut text = self.inner.metrics.render();
                let (commits, writes) = self.inner.store.commit_stats();
                text.push_str("# HELP tarn_store_commits_total Metadata transactions committed (one fsync each).\n");
                text.push_str("# TYPE tarn_store_commits_total counter\n");
                text.push_str(&format!("tarn_store_commits_total {commits}\n"));
                text.push_str("# HELP tarn_store_writes_total Writes carried by those transactions (group commit).\n");
                text.push_str("# TYPE tarn_store_writes_total counter\n");
                text.push_str(&format!("tarn_store_writes_total {writes}\n"));
                text.push_str(&self.inner.delivery.render_metrics());
                plain(StatusCode::OK, "text/plain; version=0.0.4", Bytes::from(text))
            }
            _ => plain(StatusCode::NOT_FOUND, "text/plain", Bytes::from_static(b"not found\n")),
        }
    }

    /// Answers a JSON-protocol request named by `X-Amz-Target: <prefix>.<Operation>`, in AWS's
    /// order: the operation is looked up first (unknown: `UnknownOperationException`, before
    /// any signature check), then the body must parse, then the signature, then the members'
    /// types and constraints (generated from the model), and only then does a handler run.
    async fn json_protocol(
        &self,
        req: Request<Incoming>,
        target: &str,
        request_id: &str,
    ) -> (&'static str, String, Response<s3s::Body>) {
        /// PutRecords carries up to 5 MiB of data, base64-encoded in JSON.
        const BODY_MAX: usize = 8 * 1024 * 1024;
        let format = json::Format::of(req.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()));
        let named = target.rsplit_once('.').map_or(target, |(_, op)| op).to_string();
        let (model, op) = match tarn_wire::by_target(target) {
            Some((model, Some(op))) => (model, op),
            Some((model, None)) => {
                return (model.name, named, json::error(&tarn_wire::ServiceError::unknown_operation(), format));
            }
            None => return ("unknown", named, json::error(&tarn_wire::ServiceError::unknown_operation(), format)),
        };
        let answer = |resp| (model.name, op.name.to_string(), resp);
        if req.method() != http::Method::POST {
            let e = tarn_wire::ServiceError::common(
                "AccessDeniedException",
                403,
                "Unable to determine service/operation name to be authorized",
            );
            return answer(json::error(&e, format));
        }
        let (parts, body) = req.into_parts();
        let body = match http_body_util::Limited::new(body, BODY_MAX).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                let e =
                    tarn_wire::ServiceError::serialization(Some("the request body is too large or incomplete".into()));
                return answer(json::error(&e, format));
            }
        };
        let (cx, who) = match self.authenticate(&parts, &body, request_id) {
            Ok(pair) => pair,
            Err(e) => {
                // a body that is not a document (empty, truncated, `null`, a bare string) is a
                // SerializationException without a message, as AWS answers it before looking
                // at the signature; this check builds nothing, so an unsigned body costs no
                // memory (a signed one is checked by parsing it, once, below)
                if let json::Format::Json(_) = format
                    && let Err(e) = json::syntax(&body)
                {
                    return answer(json::error(&e, format));
                }
                return answer(json::error(&e, format));
            }
        };
        // PutRecordBatch as the SDKs write it skips the general parser (the same checks run)
        let fast = match format {
            json::Format::Json(_)
                if model.service == tarn_wire::generated::Service::Firehose
                    && tarn_wire::generated::firehose::Operation::from_name(op.name)
                        == Some(tarn_wire::generated::firehose::Operation::PutRecordBatch) =>
            {
                firehose::fast_put_record_batch(&body)
            }
            _ => None,
        };
        let mut doc = match fast.or_else(|| format.parse(&body)) {
            Some(doc @ tarn_wire::Doc::Map(_)) => doc,
            Some(doc @ tarn_wire::Doc::List(_)) if format == json::Format::Cbor => doc,
            Some(tarn_wire::Doc::List(_)) => {
                let e = tarn_wire::ServiceError::serialization(Some("Start of list found where not expected".into()));
                return answer(json::error(&e, format));
            }
            _ => return answer(json::error(&tarn_wire::ServiceError::serialization(None), format)),
        };
        if let Err(e) = tarn_wire::prepare(model, op, &mut doc, tarn_wire::Scalars::Typed) {
            return answer(json::error(&e, format));
        }
        if self.inner.record_calls {
            let resources = self.audit_resources(model, op, &cx, &doc);
            let parameters = audit::redacted(model, op.input, &doc);
            audit::AuditSlot::note(&parts.extensions, |n| {
                n.request_parameters = Some(parameters);
                n.resources = resources;
            });
        }
        if let Err(e) = self.authorize_operation(&parts, model, op, &cx, &who, &doc) {
            return answer(json::error(&e, format));
        }
        let resp = match self.dispatch(model, op, &cx, doc).await {
            Ok(out) => {
                if self.inner.record_calls {
                    let elements = audit::small(audit::redacted(model, op.output, &out));
                    audit::AuditSlot::note(&parts.extensions, |n| n.response_elements = elements);
                }
                json::ok(&out, format)
            }
            Err(e) => json::error(&e, format),
        };
        answer(resp)
    }

    /// The caller of a JSON or REST request, from its SigV4 signature; a failure is the JSON
    /// services' signature error.
    fn authenticate(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        request_id: &str,
    ) -> Result<(tarn_wire::Context, Principal), tarn_wire::ServiceError> {
        let now = time::OffsetDateTime::now_utc();
        let iam = &self.inner.gate.iam;
        let verified = sigv4::verify(parts, body, now, &|key| iam.secret(key))
            .map_err(|e| json::auth_error(&e, request_date(parts).as_deref(), now))?;
        let token = security_token(parts.headers.get("x-amz-security-token"), parts.uri.query());
        let principal = iam.principal(&verified.access_key_id, token.as_deref()).map_err(|refusal| match refusal {
            tarn_iam::KeyRefusal::Unknown => {
                json::auth_error(&sigv4::AuthError::UnknownAccessKey(verified.access_key_id.clone()), None, now)
            }
            tarn_iam::KeyRefusal::InvalidToken => tarn_wire::ServiceError::common(
                "UnrecognizedClientException",
                400,
                "The security token included in the request is invalid.",
            ),
            tarn_iam::KeyRefusal::Expired => tarn_wire::ServiceError::common(
                "ExpiredTokenException",
                400,
                "The security token included in the request is expired",
            ),
        })?;
        CallerSlot::record(&parts.extensions, &principal, Some(&verified.access_key_id));
        let cx = tarn_wire::Context {
            request_id: request_id.to_string(),
            region: verified.region,
            account_id: principal.account_id.clone(),
            access_key_id: verified.access_key_id,
            principal_arn: principal.arn.clone(),
            user_id: principal.user_id.clone(),
            principal: tarn_wire::Opaque(Some(Arc::new(principal.clone()))),
        };
        Ok((cx, principal))
    }

    /// The one authorizer, for a JSON or REST request whose members are checked: the
    /// operation's action on the resources its members name.
    /// The Athena work group a query execution (or, `named`, a named query) belongs to.
    fn workgroup_of(&self, id: &str, named: bool) -> Option<String> {
        let athena = &self.inner.athena.athena;
        if named {
            athena.get_named_query(id).ok().map(|q| q.work_group.unwrap_or_else(|| "primary".into()))
        } else {
            athena.get_execution(id).ok().map(|e| e.workgroup)
        }
    }

    /// The resources a JSON call names, typed, for its audit record: the ARNs the authorizer
    /// asks about (a KMS key's, resolved from KeyId or the ciphertext).
    fn audit_resources(
        &self,
        model: &'static tarn_wire::model::ServiceModel,
        op: &'static tarn_wire::model::OperationModel,
        cx: &tarn_wire::Context,
        doc: &tarn_wire::Doc,
    ) -> Vec<(String, String, Option<String>)> {
        let arns: Vec<String> = if model.service == tarn_wire::generated::Service::Kms {
            kms::checks(&self.inner.kms.keys, &cx.account_id, op.name, doc)
                .into_iter()
                .filter_map(|(_, _, key)| key.map(|k| k.arn))
                .collect()
        } else {
            let scope = authz::Scope { region: &self.inner.region, account: self.inner.gate.iam.account_id() };
            let workgroup_of = |id: &str, named: bool| self.workgroup_of(id, named);
            authz::resources(model.service, op.name, doc, &scope, &workgroup_of)
        };
        arns.into_iter()
            .filter(|a| !a.ends_with('*'))
            .filter_map(|arn| {
                let kind = audit::resource_type(&arn)?;
                let account = arn.split(':').nth(4).map(str::to_string).filter(|a| !a.is_empty());
                Some((kind.to_string(), arn, account))
            })
            .collect()
    }

    fn authorize_operation(
        &self,
        parts: &http::request::Parts,
        model: &'static tarn_wire::model::ServiceModel,
        op: &'static tarn_wire::model::OperationModel,
        cx: &tarn_wire::Context,
        who: &Principal,
        doc: &tarn_wire::Doc,
    ) -> Result<(), tarn_wire::ServiceError> {
        if self.inner.gate.iam.is_home_root(who) {
            return Ok(());
        }
        let action = format!("{}:{}", authz::prefix(model.service), op.name);
        // every service's resources are the home account's
        let scope = authz::Scope { region: &self.inner.region, account: self.inner.gate.iam.account_id() };
        let workgroup_of = |id: &str, named: bool| self.workgroup_of(id, named);
        let resources = authz::resources(model.service, op.name, doc, &scope, &workgroup_of);
        let mut context = authz::base_context(parts.extensions.get::<Peer>());
        authz::request_tags(&mut context, doc);
        // a Kinesis stream's tags, for aws:ResourceTag conditions
        if model.service == tarn_wire::generated::Service::Kinesis
            && let Some(name) =
                doc.get("StreamName").and_then(|d| if let tarn_wire::Doc::Str(s) = d { Some(s) } else { None })
            && let Ok(stream) = self.inner.kinesis.streams.describe(name)
        {
            authz::resource_tags(&mut context, &stream.tags);
        }
        // a key: the caller's policies and the key's policy, or else a grant (never against
        // an explicit Deny)
        if model.service == tarn_wire::generated::Service::Kms {
            let keys = &self.inner.kms.keys;
            let encryption_context = kms::request_context(doc);
            for (action, grant_op, key) in kms::checks(keys, &cx.account_id, op.name, doc) {
                let Some(key) = key else {
                    self.inner
                        .gate
                        .service(who, &action, &resources, &context)
                        .map_err(|d| tarn_wire::ServiceError::common("AccessDeniedException", 400, d.message))?;
                    continue;
                };
                self.inner
                    .gate
                    .key(who, &action, &grant_op, &key, &context, &encryption_context)
                    .map_err(|d| tarn_wire::ServiceError::common("AccessDeniedException", 400, d.message))?;
            }
            return Ok(());
        }
        self.inner
            .gate
            .service(who, &action, &resources, &context)
            .map_err(|d| tarn_wire::ServiceError::common("AccessDeniedException", 400, d.message))?;
        if model.service == tarn_wire::generated::Service::Kinesis {
            self.authorize_stream_key(op.name, doc, who, &context)?;
        }
        // handing a service a role to act as needs iam:PassRole on that role
        for role in authz::passed_roles(model.service, op.name, doc, &cx.account_id) {
            // a role the directory does not hold would let the service act for the account
            // (as placeholder roles of older setups do): only the root may name one
            let name = role.rsplit('/').next().unwrap_or_default();
            if self.inner.gate.iam.snapshot().role(name).is_err() {
                return Err(tarn_wire::ServiceError::common(
                    "AccessDeniedException",
                    400,
                    format!("User: {} may not pass role {role}: the role does not exist", who.arn),
                ));
            }
            self.inner
                .gate
                .service(who, "iam:PassRole", std::slice::from_ref(&role), &context)
                .map_err(|d| tarn_wire::ServiceError::common("AccessDeniedException", 400, d.message))?;
        }
        Ok(())
    }

    /// Producers of a stream sealed under a KMS key need kms:GenerateDataKey on it, and
    /// consumers of one that holds sealed records kms:Decrypt, as Kinesis asks; a key that is
    /// gone is the handler's to answer (KMSNotFoundException).
    fn authorize_stream_key(
        &self,
        operation: &str,
        doc: &tarn_wire::Doc,
        who: &Principal,
        context: &tarn_iam::policy::Context,
    ) -> Result<(), tarn_wire::ServiceError> {
        let text = |member: &str| authz::text(doc, member);
        let streams = &self.inner.kinesis.streams;
        let (stream, action) = match operation {
            "PutRecord" | "PutRecords" => {
                (streams.resolve_name(text("StreamName"), text("StreamARN")).ok(), "GenerateDataKey")
            }
            "GetRecords" => (text("ShardIterator").and_then(tarn_streams::iterator_stream), "Decrypt"),
            _ => return Ok(()),
        };
        let Some(stream) = stream.and_then(|name| streams.describe(&name).ok()) else { return Ok(()) };
        let sealed = if action == "Decrypt" { !stream.sse.keys.is_empty() } else { stream.sse.enabled };
        if !sealed {
            return Ok(());
        }
        let Some(key) = self.inner.gate.key_access(self.inner.gate.iam.account_id(), &stream.sse.key_arn) else {
            return Ok(());
        };
        let encryption_context =
            std::collections::BTreeMap::from([("aws:kinesis:arn".to_string(), streams.arn(&stream.name))]);
        self.inner
            .gate
            .key(who, &format!("kms:{action}"), action, &key, context, &encryption_context)
            .map_err(|d| tarn_wire::ServiceError::common("KMSAccessDeniedException", 400, d.message))
    }

    /// Answers a REST-JSON request (Athena as current SDKs send it): the operation is the
    /// method and path, its members come from the path, the query string, the headers and the
    /// body; then the same signature check, type checks, validation and handler as the JSON
    /// protocols.
    async fn rest_protocol(
        &self,
        req: Request<Incoming>,
        model: &'static tarn_wire::model::ServiceModel,
        request_id: &str,
    ) -> (&'static str, String, Response<s3s::Body>) {
        const BODY_MAX: usize = 8 * 1024 * 1024;
        let format = json::Format::Json("application/json");
        let Some((op, labels)) = tarn_wire::rest::route(model, req.method().as_str(), req.uri().path()) else {
            let e = tarn_wire::ServiceError::common(
                "UnknownOperationException",
                404,
                format!("{} has no operation at {} {}", model.service_id, req.method(), req.uri().path()),
            );
            return (model.name, "unknown".into(), json::error(&e, format));
        };
        let answer = |resp| (model.name, op.name.to_string(), resp);
        let (parts, body) = req.into_parts();
        let body = match http_body_util::Limited::new(body, BODY_MAX).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                let e =
                    tarn_wire::ServiceError::serialization(Some("the request body is too large or incomplete".into()));
                return answer(json::error(&e, format));
            }
        };
        let body_doc = if body.iter().all(u8::is_ascii_whitespace) {
            tarn_wire::Doc::empty()
        } else {
            match format.parse(&body) {
                Some(doc @ tarn_wire::Doc::Map(_)) => doc,
                _ => return answer(json::error(&tarn_wire::ServiceError::serialization(None), format)),
            }
        };
        let (cx, who) = match self.authenticate(&parts, &body, request_id) {
            Ok(pair) => pair,
            Err(e) => return answer(json::error(&e, format)),
        };
        let query = parts.uri.query().map(parse_form).unwrap_or_default();
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_string(), v.to_string())))
            .collect();
        let mut doc = tarn_wire::rest::bind(model, op, body_doc, &labels, &query, &headers);
        if let Err(e) = tarn_wire::prepare(model, op, &mut doc, tarn_wire::Scalars::Rest) {
            return answer(json::error(&e, format));
        }
        if let Err(e) = self.authorize_operation(&parts, model, op, &cx, &who, &doc) {
            return answer(json::error(&e, format));
        }
        let resp = match self.dispatch(model, op, &cx, doc).await {
            Ok(out) => {
                let (headers, body) = tarn_wire::rest::answer(model, op, out);
                let mut resp = json::ok(&body, format);
                *resp.status_mut() = StatusCode::from_u16(op.status).unwrap_or(StatusCode::OK);
                for (k, v) in headers {
                    if let (Ok(k), Ok(v)) = (http::HeaderName::try_from(k), HeaderValue::from_str(&v)) {
                        resp.headers_mut().insert(k, v);
                    }
                }
                resp
            }
            Err(e) => json::error(&e, format),
        };
        answer(resp)
    }

    /// Runs a checked, validated request on its service's handler.
    async fn dispatch(
        &self,
        model: &'static tarn_wire::model::ServiceModel,
        op: &'static tarn_wire::model::OperationModel,
        cx: &tarn_wire::Context,
        doc: tarn_wire::Doc,
    ) -> Result<tarn_wire::Doc, tarn_wire::ServiceError> {
        use tarn_wire::generated::{self, Service};
        if !op.served {
            return Err(tarn_wire::ServiceError::not_served(model.service_id, op.name));
        }
        let unknown = || tarn_wire::ServiceError::not_served(model.service_id, op.name);
        match model.service {
            Service::Kinesis => {
                let op = generated::kinesis::Operation::from_name(op.name).ok_or_else(unknown)?;
                generated::kinesis::dispatch(&self.inner.kinesis, cx, op, doc).await
            }
            Service::Firehose => {
                let op = generated::firehose::Operation::from_name(op.name).ok_or_else(unknown)?;
                generated::firehose::dispatch(&self.inner.firehose, cx, op, doc).await
            }
            Service::Glue => {
                let op = generated::glue::Operation::from_name(op.name).ok_or_else(unknown)?;
                generated::glue::dispatch(&self.inner.glue, cx, op, doc).await
            }
            Service::Athena => {
                let op = generated::athena::Operation::from_name(op.name).ok_or_else(unknown)?;
                generated::athena::dispatch(&self.inner.athena, cx, op, doc).await
            }
            Service::RedshiftData => {
                let op = generated::redshift_data::Operation::from_name(op.name).ok_or_else(unknown)?;
                generated::redshift_data::dispatch(&self.inner.redshift_data, cx, op, doc).await
            }
            Service::Kms => {
                // DryRun: authorized (above), nothing done, as KMS answers it
                if matches!(doc.get("DryRun"), Some(tarn_wire::Doc::Bool(true))) {
                    // 412, as KMS's API reference gives it (botocore's model names no status)
                    return Err(tarn_wire::ServiceError::common(
                        "DryRunOperationException",
                        412,
                        "The request would have succeeded, but the DryRun option is set.",
                    ));
                }
                let op = generated::kms::Operation::from_name(op.name).ok_or_else(unknown)?;
                generated::kms::dispatch(&self.inner.kms, cx, op, doc).await
            }
            Service::Cloudtrail => {
                let op = generated::cloudtrail::Operation::from_name(op.name).ok_or_else(unknown)?;
                generated::cloudtrail::dispatch(&self.inner.cloudtrail, cx, op, doc).await
            }
            // the query protocol has its own front door (query_protocol)
            Service::Sts | Service::Iam => Err(unknown()),
        }
    }

    /// Answers a query-protocol request; returns the operation (the `Action`) for logs and metrics.
    async fn query_protocol(&self, req: Request<Incoming>, request_id: &str) -> (String, Response<s3s::Body>) {
        let mut action = "unknown".to_string();
        let resp = self.query_protocol_inner(req, request_id, &mut action).await;
        (action, resp)
    }

    async fn query_protocol_inner(
        &self,
        req: Request<Incoming>,
        request_id: &str,
        action: &mut String,
    ) -> Response<s3s::Body> {
        const BODY_MAX: usize = 64 * 1024;
        let (parts, body) = req.into_parts();
        let body = match http_body_util::Limited::new(body, BODY_MAX).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return sts_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    "the request body is too large or incomplete",
                    request_id,
                );
            }
        };
        let now = time::OffsetDateTime::now_utc();
        let iam = &self.inner.gate.iam;
        let is_iam = sigv4::credential_scope(&parts).is_some_and(|(_, _, _, service)| service == "iam");
        let xmlns = if is_iam { iam::XMLNS } else { sts::XMLNS };
        let verified = match sigv4::verify(&parts, &body, now, &|key| iam.secret(key)) {
            Ok(v) => v,
            Err(e) => {
                let (status, code, message) = json::query_auth_error(&e, request_date(&parts).as_deref(), now);
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
                return query_error(xmlns, status, code, &message, request_id);
            }
        };
        let mut params: Vec<(String, String)> = parts.uri.query().map(parse_form).unwrap_or_default();
        params.extend(parse_form(&String::from_utf8_lossy(&body)));
        if let Some((_, a)) = params.iter().find(|(k, _)| k == "Action") {
            a.clone_into(action);
        }
        let token = security_token(parts.headers.get("x-amz-security-token"), parts.uri.query())
            .or_else(|| params.iter().find(|(k, _)| k == "X-Amz-Security-Token").map(|(_, v)| v.clone()));
        let principal = match iam.principal(&verified.access_key_id, token.as_deref()) {
            Ok(p) => p,
            Err(tarn_iam::KeyRefusal::Expired) => {
                return query_error(
                    xmlns,
                    StatusCode::FORBIDDEN,
                    "ExpiredToken",
                    "The security token included in the request is expired",
                    request_id,
                );
            }
            Err(_) => {
                return query_error(
                    xmlns,
                    StatusCode::FORBIDDEN,
                    "InvalidClientTokenId",
                    "The security token included in the request is invalid.",
                    request_id,
                );
            }
        };
        CallerSlot::record(&parts.extensions, &principal, Some(&verified.access_key_id));
        let cx = tarn_wire::Context {
            request_id: request_id.to_string(),
            region: verified.region,
            account_id: principal.account_id.clone(),
            access_key_id: verified.access_key_id,
            principal_arn: principal.arn.clone(),
            user_id: principal.user_id.clone(),
            principal: tarn_wire::Opaque(Some(Arc::new(principal.clone()))),
        };
        let context = authz::base_context(parts.extensions.get::<Peer>());
        // IAM and STS act on the caller's own account
        let own = iam.scoped(&principal.account_id).unwrap_or_else(|| iam.clone());
        let (status, content_type, body) = if is_iam {
            let handler = iam::Iam { iam: own };
            iam::handle(&handler, &self.inner.gate, &params, &cx, &principal, &context).await
        } else {
            let handler = sts::Sts { iam: own, caller: principal, context };
            sts::handle(&handler, &params, &cx).await
        };
        plain(status, content_type, body)
    }
}

/// The time a request says it was signed at (`X-Amz-Date` header or query parameter).
fn request_date(parts: &http::request::Parts) -> Option<String> {
    if let Some(d) = parts.headers.get("x-amz-date").and_then(|v| v.to_str().ok()) {
        return Some(d.to_string());
    }
    parts.uri.query().map(parse_form).unwrap_or_default().into_iter().find(|(k, _)| k == "X-Amz-Date").map(|(_, v)| v)
}

fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode =
                |x: &str| percent_encoding::percent_decode_str(&x.replace('+', " ")).decode_utf8_lossy().into_owned();
            (decode(k), decode(v))
        })
        .collect()
}

/// The session token a request carries: `X-Amz-Security-Token` as a header or, presigned, as
/// a query parameter.
fn security_token(header: Option<&HeaderValue>, query: Option<&str>) -> Option<String> {
    if let Some(v) = header.and_then(|v| v.to_str().ok()) {
        return Some(v.to_string());
    }
    query
        .map(parse_form)
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("X-Amz-Security-Token"))
        .map(|(_, v)| v)
}

/// A SigV2 presigned URL (`AWSAccessKeyId`, `Signature` in the query) signs the `x-amz-*`
/// values it carries in its query string as headers (botocore moves them there after signing,
/// the session token among them): they become headers again for the signature check, unless
/// the request sends them as headers itself.
fn sigv2_query_amz_headers<B>(req: &mut Request<B>) {
    let Some(query) = req.uri().query() else { return };
    let sigv2 = query.contains("AWSAccessKeyId=") && query.contains("Signature=");
    // a SigV4 presigned URL carries an SSE-C key in its query when the SDK hoisted it there
    // (botocore does); S3 reads it as the header
    let sigv4 = query.contains("X-Amz-Signature=");
    if !sigv2 && !sigv4 {
        return;
    }
    let hoisted = |k: &str| {
        let k = k.to_ascii_lowercase();
        if sigv2 {
            k.starts_with("x-amz-")
        } else {
            k.starts_with("x-amz-server-side-encryption-customer-")
                || k.starts_with("x-amz-copy-source-server-side-encryption-customer-")
        }
    };
    let pairs: Vec<(String, String)> = parse_form(query).into_iter().filter(|(k, _)| hoisted(k)).collect();
    for (k, v) in pairs {
        let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()), HeaderValue::from_str(&v))
        else {
            continue;
        };
        if !req.headers().contains_key(&name) {
            req.headers_mut().insert(name, value);
        }
    }
}

/// A browser's CORS preflight for a JSON-protocol call (it names `x-amz-target` among the
/// headers it will send): allowed from any origin, as AWS's JSON endpoints allow it; the
/// signature on the call itself is what guards it.
fn json_preflight(req: &Request<Incoming>) -> Option<Response<s3s::Body>> {
    if req.method() != http::Method::OPTIONS || !req.headers().contains_key(http::header::ORIGIN) {
        return None;
    }
    let asked = req.headers().get(http::header::ACCESS_CONTROL_REQUEST_HEADERS)?;
    let named_target = asked.to_str().ok()?.split(',').any(|h| h.trim().eq_ignore_ascii_case("x-amz-target"));
    if !named_target {
        return None;
    }
    let mut resp = plain(StatusCode::OK, "text/plain", Bytes::new());
    let headers = resp.headers_mut();
    headers.insert(http::header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    if let Some(method) = req.headers().get(http::header::ACCESS_CONTROL_REQUEST_METHOD) {
        headers.insert(http::header::ACCESS_CONTROL_ALLOW_METHODS, method.clone());
    }
    headers.insert(http::header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("172800"));
    Some(resp)
}

enum Signed {
    /// A REST-JSON service tarn serves (Athena as current SDKs send it).
    Rest(&'static tarn_wire::model::ServiceModel),
    /// An AWS service tarn does not serve at all.
    Unserved(String),
    /// S3, a JSON or query service, or no signature: routed by what else the request carries.
    Other,
}

/// What a request's SigV4 credential scope says about its service.
fn signed_service(req: &Request<Incoming>) -> Signed {
    let Some((_, _, _, service)) = sigv4::credential_scope(&parts_ref(req)) else { return Signed::Other };
    match tarn_wire::by_signing_name(&service) {
        Some(model) if model.protocol == tarn_wire::model::Protocol::RestJson => Signed::Rest(model),
        Some(_) => Signed::Other,
        // S3 and the query services tarn answers (IAM's actions get InvalidAction from there)
        None if matches!(service.as_str(), "s3" | "s3express" | "sts" | "iam") => Signed::Other,
        // a JSON service is named by its X-Amz-Target, whatever its scope says
        None if req.headers().contains_key("x-amz-target") => Signed::Other,
        None => Signed::Unserved(service),
    }
}

/// Query-protocol requests (STS): a SigV4 scope naming sts/iam, or a form POST to `/` with an
/// `Action`, or `?Action=` on `/`.
fn is_query_protocol(req: &Request<Incoming>) -> bool {
    if let Some((_, _, _, service)) = sigv4::credential_scope(&parts_ref(req)) {
        return service == "sts" || service == "iam";
    }
    if req.uri().path() != "/" {
        return false;
    }
    let form = req.method() == http::Method::POST
        && req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    form || req.uri().query().is_some_and(|q| q.starts_with("Action=") || q.contains("&Action="))
}

/// A header-only copy of the request parts, for routing decisions.
fn parts_ref(req: &Request<Incoming>) -> http::request::Parts {
    let mut builder = Request::builder().method(req.method()).uri(req.uri()).version(req.version());
    for (k, v) in req.headers() {
        builder = builder.header(k, v);
    }
    builder.body(()).expect("copy of a valid request").into_parts().0
}

fn plain(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<s3s::Body> {
    let mut resp = Response::new(s3s::Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

fn sts_error(status: StatusCode, code: &str, message: &str, request_id: &str) -> Response<s3s::Body> {
    query_error(sts::XMLNS, status, code, message, request_id)
}

fn query_error(xmlns: &str, status: StatusCode, code: &str, message: &str, request_id: &str) -> Response<s3s::Body> {
    plain(status, "text/xml", sts::error_xml_in(xmlns, code, message, request_id))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// An S3-shaped error written by tarn itself (for failures before s3s sees the request).
fn s3_error_response(status: StatusCode, code: &str, message: &str, request_id: &str) -> Response<s3s::Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
        xml_escape(code),
        xml_escape(message),
        xml_escape(request_id)
    );
    plain(status, "application/xml", Bytes::from(body))
}

fn new_request_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode_upper(bytes)
}

/// Access keys -> secrets for s3s's SigV4/SigV2 verification.
struct Auth {
    iam: tarn_iam::Iam,
}

#[async_trait::async_trait]
impl S3Auth for Auth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.iam.secret(access_key) {
            Some(secret) => Ok(SecretKey::from(secret)),
            None => {
                Err(s3_error!(InvalidAccessKeyId, "The AWS Access Key Id you provided does not exist in our records."))
            }
        }
    }
}

/// Runs before every S3 operation: records its name, refuses anonymous requests, and asks the
/// one authorizer whether the caller may (its policies and the bucket's).
struct Access {
    gate: authz::Gate,
}

#[async_trait::async_trait]
impl s3s::access::S3Access for Access {
    async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> S3Result<()> {
        let name = cx.s3_op().name().to_string();
        if let Some(slot) = cx.extensions_mut().get::<OperationSlot>() {
            *slot.0.lock().expect("slot lock") = Some(name.clone());
        }
        let access_key = cx.credentials().map(|c| c.access_key.clone());
        let token = security_token(cx.headers().get("x-amz-security-token"), cx.uri().query());
        let principal = match access_key.map(|key| self.gate.iam.principal(&key, token.as_deref())) {
            // an unsigned request: what a public bucket policy allows, and nothing else
            None => Principal::anonymous(),
            Some(Ok(p)) => p,
            Some(Err(tarn_iam::KeyRefusal::Unknown)) => {
                return Err(s3_error!(
                    InvalidAccessKeyId,
                    "The AWS Access Key Id you provided does not exist in our records."
                ));
            }
            Some(Err(tarn_iam::KeyRefusal::InvalidToken)) => {
                return Err(s3_error!(InvalidToken, "The provided token is malformed or otherwise invalid."));
            }
            Some(Err(tarn_iam::KeyRefusal::Expired)) => {
                return Err(s3_error!(ExpiredToken, "The provided token has expired."));
            }
        };
        let access_key = cx.credentials().map(|c| c.access_key.clone());
        CallerSlot::record(cx.extensions_mut(), &principal, access_key.as_deref());
        {
            let (bucket, key) = match cx.s3_path() {
                s3s::path::S3Path::Root => (None, None),
                s3s::path::S3Path::Bucket { bucket } => (Some(bucket.to_string()), None),
                s3s::path::S3Path::Object { bucket, key } => (Some(bucket.to_string()), Some(key.to_string())),
            };
            let host = cx.headers().get(http::header::HOST).and_then(|v| v.to_str().ok()).map(str::to_string);
            let parameters = audit::s3_parameters(bucket.as_deref(), key.as_deref(), host.as_deref(), cx.uri().query());
            let owner = bucket
                .as_deref()
                .map(|b| self.gate.objects.bucket_owner(b).unwrap_or_else(|| self.gate.iam.account_id().to_string()));
            let mut resources = Vec::new();
            if let (Some(b), Some(k)) = (&bucket, &key) {
                resources.push(("AWS::S3::Object".to_string(), format!("arn:aws:s3:::{b}/{k}"), None));
            }
            if let Some(b) = &bucket {
                resources.push(("AWS::S3::Bucket".to_string(), format!("arn:aws:s3:::{b}"), owner.clone()));
            }
            audit::AuditSlot::note(cx.extensions_mut(), |n| {
                n.request_parameters = Some(parameters);
                n.resources = resources;
                n.recipient = owner;
            });
        }
        // S3 takes a customer's key only over TLS
        if carries_sse_customer_key(cx.headers(), cx.uri().query())
            && !cx.extensions_mut().get::<Peer>().is_some_and(|p| p.1)
        {
            return Err(sse_c_refused());
        }
        // an unsigned request may reach objects and listings through a public policy, never a
        // bucket's configuration (its policy, Block Public Access, versioning, the bucket itself)
        if principal.identity == tarn_iam::Identity::Anonymous && !anonymous_may(&name) {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        let mut context = authz::base_context(cx.extensions_mut().get::<Peer>());
        authz::s3_context(&mut context, cx.uri().query(), cx.headers());
        let caller = Arc::new(S3Caller { principal, context });
        cx.extensions_mut().insert(caller.clone());
        // the bucket owner's root may always manage the bucket's policy, as in S3;
        // DeleteObjects is checked key by key by its handler
        let root = caller.principal.is_root();
        let policy_op = matches!(name.as_str(), "PutBucketPolicy" | "GetBucketPolicy" | "DeleteBucketPolicy");
        if name == "DeleteObjects"
            || (policy_op
                && matches!(cx.s3_path(), s3s::path::S3Path::Bucket { bucket } if self.gate.owns(&caller.principal, bucket)))
        {
            return Ok(());
        }
        // addressing a version needs the *Version action
        let versioned = cx.uri().query().is_some_and(|q| q.split('&').any(|p| p.starts_with("versionId=")));
        let action = authz::s3_action(&name, versioned);
        let (bucket, key) = match cx.s3_path() {
            s3s::path::S3Path::Root => {
                return if root {
                    Ok(())
                } else {
                    self.gate
                        .service(&caller.principal, &action, &["*".to_string()], &caller.context)
                        .map_err(|_| s3_error!(AccessDenied, "Access Denied"))
                };
            }
            s3s::path::S3Path::Bucket { bucket } => (bucket.to_string(), None),
            s3s::path::S3Path::Object { bucket, key } => (bucket.to_string(), Some(key.to_string())),
        };
        self.gate
            .s3(&caller.principal, &action, &bucket, key.as_deref(), &caller.context)
            .map_err(|_| s3_error!(AccessDenied, "Access Denied"))
    }
}

/// The S3 operations a policy may grant to anonymous callers: on objects and listings.
fn anonymous_may(op: &str) -> bool {
    matches!(
        op,
        "GetObject"
            | "HeadObject"
            | "GetObjectAttributes"
            | "PutObject"
            | "CopyObject"
            | "DeleteObject"
            | "DeleteObjects"
            | "ListObjects"
            | "ListObjectsV2"
            | "ListObjectVersions"
            | "HeadBucket"
            | "GetBucketLocation"
            | "CreateMultipartUpload"
            | "UploadPart"
            | "UploadPartCopy"
            | "CompleteMultipartUpload"
            | "AbortMultipartUpload"
            | "ListParts"
            | "ListMultipartUploads"
    )
}

/// SSE-C names its key in `x-amz-server-side-encryption-customer-*` (and, for a copy's source,
/// `x-amz-copy-source-server-side-encryption-customer-*`), as headers or, in a presigned URL,
/// as query parameters.
fn carries_sse_customer_key(headers: &http::HeaderMap, query: Option<&str>) -> bool {
    const MARKERS: [&str; 2] =
        ["x-amz-server-side-encryption-customer-", "x-amz-copy-source-server-side-encryption-customer-"];
    let named = |name: &str| MARKERS.iter().any(|m| name.len() >= m.len() && name[..m.len()].eq_ignore_ascii_case(m));
    headers.keys().any(|k| named(k.as_str()))
        || query.is_some_and(|q| {
            q.split('&').any(|pair| {
                let name = pair.split_once('=').map_or(pair, |(k, _)| k);
                named(&percent_encoding::percent_decode_str(name).decode_utf8_lossy())
            })
        })
}

/// SSE-C needs the customer's key on every request, and S3 takes such a key only over TLS: over
/// plain HTTP tarn answers what S3 answers there (and the key, sent in the clear, is not used).
fn sse_c_refused() -> s3s::S3Error {
    s3_error!(
        InvalidRequest,
        "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection."
    )
}

/// Virtual-host addressing: `BUCKET.<base domain>[:port]`; any other host is path-style.
struct Hosts {
    /// Longest first, so `s3.localhost` wins over `localhost`.
    domains: Vec<String>,
}

impl Hosts {
    fn new(domains: &[String]) -> Self {
        let mut domains: Vec<String> = domains.iter().map(|d| d.to_ascii_lowercase()).collect();
        domains.sort_by_key(|d| std::cmp::Reverse(d.len()));
        Self { domains }
    }
}

impl S3Host for Hosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = match host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        };
        for domain in &self.domains {
            if name.eq_ignore_ascii_case(domain) {
                return Ok(VirtualHost::new(domain.as_str()));
            }
            if name.len() > domain.len() + 1
                && name[name.len() - domain.len()..].eq_ignore_ascii_case(domain)
                && name.as_bytes()[name.len() - domain.len() - 1] == b'.'
            {
                let bucket = &name[..name.len() - domain.len() - 1];
                return Ok(VirtualHost::new(domain.as_str()).with_bucket(bucket.to_ascii_lowercase()));
            }
        }
        Ok(VirtualHost::new(name))
    }
}

/// How the HTTP listener stops.
#[derive(Debug, Clone, Copy)]
pub struct Shutdown {
    /// How long requests are still taken, with the health check answering 503.
    pub grace: std::time::Duration,
    /// How long in-flight requests may then run.
    pub drain: std::time::Duration,
}

/// Serves `api` on `listener` (over TLS with `tls`) until `shutdown` resolves. Then the
/// health check answers 503 while requests are still taken for `limits.grace`, the listener
/// closes, and in-flight requests run to their end for at most `limits.drain`.
pub async fn serve(
    listener: TcpListener,
    api: Api,
    shutdown: impl std::future::Future<Output = ()> + Send,
    limits: Shutdown,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    http.http1()
        .max_buf_size(64 * 1024)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(std::time::Duration::from_secs(60));
    tokio::pin!(shutdown);
    // armed when the shutdown starts: the end of the grace period
    let grace_over = tokio::time::sleep(std::time::Duration::from_secs(86_400 * 365));
    tokio::pin!(grace_over);
    let mut stopping = false;
    loop {
        let (stream, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            () = &mut shutdown, if !stopping => {
                // the health check turns 503 first; requests are still taken for the grace
                // period, so a load balancer sees it and stops sending them
                stopping = true;
                api.set_ready(false);
                if limits.grace.is_zero() {
                    break;
                }
                grace_over.as_mut().reset(tokio::time::Instant::now() + limits.grace);
                continue;
            }
            () = &mut grace_over, if stopping => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let api = api.clone();
        let secure = tls.is_some();
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            let api = api.clone();
            req.extensions_mut().insert(Peer(peer, secure));
            async move { api.handle(req).await }
        });
        match &tls {
            None => {
                let conn = http.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(err) = conn.await {
                        tracing::debug!(error = %err, "connection ended with an error");
                    }
                });
            }
            Some(acceptor) => {
                // the handshake runs in the connection's task, so a slow client holds no one up
                let (acceptor, http, watcher) = (acceptor.clone(), http.clone(), graceful.watcher());
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(std::time::Duration::from_secs(30), acceptor.accept(stream));
                    let stream = match handshake.await {
                        Ok(Ok(s)) => s,
                        Ok(Err(err)) => return tracing::debug!(error = %err, "TLS handshake failed"),
                        Err(_) => return tracing::debug!("TLS handshake timed out"),
                    };
                    let conn = http.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                    if let Err(err) = watcher.watch(conn).await {
                        tracing::debug!(error = %err, "connection ended with an error");
                    }
                });
            }
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.drain) => tracing::warn!(drain = ?limits.drain, "in-flight requests did not finish within the drain limit"),
    }
    Ok(())
}
