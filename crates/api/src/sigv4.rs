//! AWS Signature Version 4 verification for the non-S3 protocols: the query
//! protocol (STS, IAM) and the JSON 1.0/1.1 protocols (Kinesis, Glue, ...).
//!
//! The rules follow AWS's "Create a signed AWS API request" guide and its
//! SigV4 test suite:
//!
//! * canonical URI: the path as sent on the wire, with `.`/`..` segments and
//!   repeated slashes removed, each segment URI-encoded once more (so for the
//!   non-S3 services the original path is encoded twice);
//! * canonical query string: every name and value URI-encoded (RFC 3986
//!   unreserved characters left alone, space as `%20`), sorted by name and
//!   then value;
//! * canonical headers: the signed headers, lowercase, values trimmed with
//!   runs of spaces collapsed, repeated headers joined by commas;
//! * the hex SHA-256 of the payload (or the `x-amz-content-sha256` value);
//! * the string to sign and the `kDate`/`kRegion`/`kService`/`kSigning` key
//!   chain, with a constant-time comparison of the final HMAC.
//!
//! The body has already been read into memory by the caller.

use hmac::{Hmac, KeyInit, Mac};
use http::header::{AUTHORIZATION, DATE, HOST};
use http::request::Parts;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, percent_encode};
use sha2::{Digest, Sha256};
use tarn_common::limits::sigv4 as limits;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

type HmacSha256 = Hmac<Sha256>;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const TERMINATOR: &str = "aws4_request";
const CONTENT_SHA256: &str = "x-amz-content-sha256";
const AMZ_DATE: &str = "x-amz-date";
/// The largest difference between the request's time and the server's.
const MAX_SKEW: Duration = Duration::seconds(limits::CLOCK_SKEW_MAX_SECONDS);
/// The longest a presigned URL may live: seven days.
const MAX_PRESIGN_EXPIRES: i64 = limits::PRESIGNED_EXPIRES_MAX_SECONDS;

/// Everything but the RFC 3986 unreserved characters is percent-encoded.
const SIGV4_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Why a request failed authentication; the caller maps these to AWS error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No Authorization header and no X-Amz-Signature query parameter (-> 403 MissingAuthenticationToken / AccessDenied)
    #[error("the request carries no AWS Signature Version 4 authentication")]
    Missing,
    /// Malformed Authorization header / credential scope / x-amz-date (-> 400 IncompleteSignature)
    #[error("{0}")]
    Malformed(String),
    /// access key not known (-> 403 InvalidClientTokenId for query/json services)
    #[error("the access key id {0} is not known")]
    UnknownAccessKey(String),
    /// signature mismatch (-> 403 SignatureDoesNotMatch)
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method."
    )]
    SignatureMismatch,
    /// request time more than 15 minutes from server time (-> 403 RequestTimeTooSkewed / SignatureExpired)
    #[error("The difference between the request time and the current time is too large.")]
    TimeTooSkewed,
    /// presigned URL past X-Amz-Expires (-> 403 AccessDenied "Request has expired")
    #[error("Request has expired")]
    Expired,
}

/// What the verified request says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub access_key_id: String,
    pub region: String,
    pub service: String,
    pub date: OffsetDateTime,
}

/// Parsed credential scope from the Authorization header or X-Amz-Credential
/// query param, WITHOUT verifying; used for routing a request to a service.
/// Returns None when the request carries no SigV4 auth.
///
/// The tuple is (access key id, date `yyyymmdd`, region, service).
pub fn credential_scope(parts: &Parts) -> Option<(String, String, String, String)> {
    let credential = match parts.headers.get(AUTHORIZATION) {
        Some(value) => {
            let value = value.to_str().ok()?;
            let rest = value.strip_prefix(ALGORITHM)?;
            if !rest.starts_with([' ', '\t']) {
                return None;
            }
            rest.split(',')
                .filter_map(|part| part.trim().split_once('='))
                .find(|(name, _)| name.trim() == "Credential")
                .map(|(_, value)| value.trim().to_owned())?
        }
        None => {
            let query = decoded_query(parts.uri.query().unwrap_or(""));
            param(&query, "X-Amz-Credential")?.to_owned()
        }
    };
    let scope = parse_credential(&credential).ok()?;
    Some((scope.access_key_id, scope.date, scope.region, scope.service))
}

/// Verifies a SigV4 request (Authorization header form, and presigned query
/// form with X-Amz-Algorithm/X-Amz-Credential/X-Amz-Date/X-Amz-Expires/
/// X-Amz-SignedHeaders/X-Amz-Signature).
///
/// `secret_for` looks up the secret for an access key id. `now` is the server
/// time.
///
/// Payload hash: if header x-amz-content-sha256 is present its value is the
/// payload hash in the canonical request (it may be UNSIGNED-PAYLOAD),
/// otherwise hex(sha256(body)). When x-amz-content-sha256 is a hex digest it
/// must equal sha256(body) (a mismatch is a [`AuthError::SignatureMismatch`]).
pub fn verify(
    parts: &Parts,
    body: &[u8],
    now: OffsetDateTime,
    secret_for: &dyn Fn(&str) -> Option<String>,
) -> Result<Verified, AuthError> {
    let raw_query = parts.uri.query().unwrap_or("");
    let query = decoded_query(raw_query);
    let presigned =
        ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"].iter().any(|name| param(&query, name).is_some());
    let claim = match (parts.headers.get(AUTHORIZATION), presigned) {
        (None, false) => return Err(AuthError::Missing),
        (Some(_), true) => {
            return Err(AuthError::Malformed(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter \
                 or the Authorization header should be specified"
                    .to_owned(),
            ));
        }
        (Some(value), false) => header_claim(parts, value)?,
        (None, true) => presigned_claim(&query)?,
    };

    let Some(secret) = secret_for(&claim.scope.access_key_id) else {
        return Err(AuthError::UnknownAccessKey(claim.scope.access_key_id));
    };

    match claim.expires {
        None => {
            if (now - claim.when).abs() > MAX_SKEW {
                return Err(AuthError::TimeTooSkewed);
            }
        }
        Some(expires) => {
            if claim.when - now > MAX_SKEW {
                return Err(AuthError::TimeTooSkewed);
            }
            if now > claim.when + Duration::seconds(expires) {
                return Err(AuthError::Expired);
            }
        }
    }

    // "Date in Credential scope does not match YYYYMMDD from ISO-8601 version
    // of date from HTTP": AWS answers that with SignatureDoesNotMatch.
    if claim.amz_date.get(..8) != Some(claim.scope.date.as_str()) {
        return Err(AuthError::SignatureMismatch);
    }

    let payload_hash = payload_hash(parts, body)?;
    let headers = claim
        .signed_headers
        .split(';')
        .map(|name| {
            let name = name.trim().to_ascii_lowercase();
            let value = request_header_value(parts, &name);
            (name, value)
        })
        .collect::<Vec<_>>();
    let canonical = canonical_request(
        parts.method.as_str(),
        parts.uri.path(),
        raw_query,
        claim.expires.is_some(),
        &headers,
        &claim.signed_headers,
        &payload_hash,
    );
    let to_sign = string_to_sign(&claim.amz_date, &claim.scope.to_string(), &canonical);
    let key = signing_key(&secret, &claim.scope.date, &claim.scope.region, &claim.scope.service);
    let provided = hex::decode(&claim.signature).map_err(|_| AuthError::SignatureMismatch)?;
    let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC accepts keys of any length");
    mac.update(to_sign.as_bytes());
    mac.verify_slice(&provided).map_err(|_| AuthError::SignatureMismatch)?;

    Ok(Verified {
        access_key_id: claim.scope.access_key_id,
        region: claim.scope.region,
        service: claim.scope.service,
        date: claim.when,
    })
}

/// Signs a request the way an AWS SDK would (used by tests of other
/// modules): returns the Authorization header value for the given
/// method/uri/headers/body with the given key, region, service and
/// x-amz-date.
///
/// `uri` is the request target as sent on the wire (`/path?query`; a leading
/// `scheme://authority` is ignored). The headers to sign are all the given
/// headers (lowercased, sorted; repeated names joined in the given order),
/// which must include host and x-amz-date. The payload hash is the given
/// x-amz-content-sha256 header when there is one, else hex(sha256(body)).
#[allow(clippy::too_many_arguments)]
pub fn sign_for_test(
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    access_key_id: &str,
    secret: &str,
    region: &str,
    service: &str,
    amz_date: &str,
) -> String {
    let (path, query) = split_target(uri);
    let mut names = headers.iter().map(|(name, _)| name.to_ascii_lowercase()).collect::<Vec<_>>();
    names.sort();
    names.dedup();
    let canonical_headers = names
        .iter()
        .map(|name| {
            let values = headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_bytes());
            (name.clone(), join_header_values(values))
        })
        .collect::<Vec<_>>();
    let signed_headers = names.join(";");
    let payload_hash = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(CONTENT_SHA256))
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_else(|| hex_sha256(body));
    let canonical = canonical_request(method, path, query, false, &canonical_headers, &signed_headers, &payload_hash);
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let scope = format!("{date}/{region}/{service}/{TERMINATOR}");
    let to_sign = string_to_sign(amz_date, &scope, &canonical);
    let signature = hex::encode(hmac(&signing_key(secret, date, region, service), to_sign.as_bytes()));
    format!(
        "{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={signed_headers}, \
         Signature={signature}"
    )
}

/// `AccessKeyId/yyyymmdd/region/service/aws4_request`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scope {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
}

impl std::fmt::Display for Scope {
    /// The credential scope as it appears in the string to sign (no key id).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}/{TERMINATOR}", self.date, self.region, self.service)
    }
}

/// What a request claims about its signature, before checking it.
struct Claim {
    scope: Scope,
    /// `SignedHeaders` exactly as sent (it goes into the canonical request).
    signed_headers: String,
    signature: String,
    /// The request time as ISO 8601 basic (`20150830T123600Z`).
    amz_date: String,
    when: OffsetDateTime,
    /// `X-Amz-Expires` for a presigned URL; `None` for header auth.
    expires: Option<i64>,
}

fn header_claim(parts: &Parts, value: &http::HeaderValue) -> Result<Claim, AuthError> {
    let value = value.to_str().map_err(|_| malformed("Authorization header is not valid ASCII"))?;
    let Some(rest) = value.strip_prefix(ALGORITHM) else {
        let algorithm = value.split_whitespace().next().unwrap_or("");
        return Err(AuthError::Malformed(format!("Unsupported AWS 'algorithm': '{algorithm}'")));
    };
    if !rest.starts_with([' ', '\t']) {
        return Err(malformed(format!("Authorization header requires '{ALGORITHM}' followed by a space")));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((name, value)) = part.split_once('=') else {
            return Err(AuthError::Malformed(format!(
                "Authorization header requires each component to be of the form \
                 name=value: '{part}'"
            )));
        };
        let value = value.trim();
        match name.trim() {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed_headers = Some(value),
            "Signature" => signature = Some(value),
            _ => {}
        }
    }
    let mut missing = String::new();
    for (name, seen) in [
        ("Credential", credential.is_some()),
        ("Signature", signature.is_some()),
        ("SignedHeaders", signed_headers.is_some()),
    ] {
        if !seen {
            missing.push_str(&format!("Authorization header requires '{name}' parameter. "));
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) = (credential, signed_headers, signature) else {
        return Err(AuthError::Malformed(format!("{missing}Authorization={value}")));
    };
    let scope = parse_credential(credential)?;
    check_signed_headers(signed_headers)?;

    let (amz_date, when) = if let Some(date) = parts.headers.get(AMZ_DATE) {
        let date = date.to_str().unwrap_or("").trim();
        let when = parse_amz_date(date).ok_or_else(|| bad_date(date))?;
        (date.to_owned(), when)
    } else if let Some(date) = parts.headers.get(DATE) {
        let date = date.to_str().unwrap_or("").trim();
        let when = parse_amz_date(date).or_else(|| parse_http_date(date)).ok_or_else(|| bad_date(date))?;
        (format_amz_date(when), when)
    } else {
        return Err(malformed(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' \
             header.",
        ));
    };

    Ok(Claim {
        scope,
        signed_headers: signed_headers.to_owned(),
        signature: signature.to_owned(),
        amz_date,
        when,
        expires: None,
    })
}

fn presigned_claim(query: &[(String, String)]) -> Result<Claim, AuthError> {
    let get = |name| param(query, name);
    let (Some(algorithm), Some(credential), Some(date), Some(expires), Some(signed_headers), Some(signature)) = (
        get("X-Amz-Algorithm"),
        get("X-Amz-Credential"),
        get("X-Amz-Date"),
        get("X-Amz-Expires"),
        get("X-Amz-SignedHeaders"),
        get("X-Amz-Signature"),
    ) else {
        return Err(malformed(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, \
             X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
             X-Amz-Expires parameters.",
        ));
    };
    if algorithm != ALGORITHM {
        return Err(AuthError::Malformed(format!("X-Amz-Algorithm only supports \"{ALGORITHM}\", not '{algorithm}'")));
    }
    let scope = parse_credential(credential)?;
    check_signed_headers(signed_headers)?;
    let when = parse_amz_date(date).ok_or_else(|| bad_date(date))?;
    let expires = match expires.parse::<i64>() {
        Ok(seconds) if (1..=MAX_PRESIGN_EXPIRES).contains(&seconds) => seconds,
        Ok(seconds) if seconds > MAX_PRESIGN_EXPIRES => {
            return Err(malformed("X-Amz-Expires must be less than a week (in seconds) that is 604800"));
        }
        _ => {
            return Err(AuthError::Malformed(format!(
                "X-Amz-Expires should be a number of seconds between 1 and 604800, not \
                 '{expires}'"
            )));
        }
    };
    Ok(Claim {
        scope,
        signed_headers: signed_headers.to_owned(),
        signature: signature.to_owned(),
        amz_date: date.to_owned(),
        when,
        expires: Some(expires),
    })
}

fn parse_credential(credential: &str) -> Result<Scope, AuthError> {
    // From the right: the access key id is whatever precedes the four scope
    // components.
    let mut components = credential.rsplitn(5, '/');
    let (Some(terminator), Some(service), Some(region), Some(date), Some(access_key_id)) =
        (components.next(), components.next(), components.next(), components.next(), components.next())
    else {
        return Err(AuthError::Malformed(format!(
            "Credential should be of the form \
             AccessKeyId/yyyyMMdd/region/service/{TERMINATOR}, not '{credential}'"
        )));
    };
    if terminator != TERMINATOR {
        return Err(AuthError::Malformed(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not \
             '{terminator}'."
        )));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AuthError::Malformed(format!(
            "Invalid credential date. Date is not the required format: yyyyMMdd. \
             date={date}"
        )));
    }
    if access_key_id.is_empty() || region.is_empty() || service.is_empty() {
        return Err(AuthError::Malformed(format!(
            "Credential should be scoped to a valid access key, region and service: \
             '{credential}'"
        )));
    }
    Ok(Scope {
        access_key_id: access_key_id.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
    })
}

fn check_signed_headers(signed_headers: &str) -> Result<(), AuthError> {
    if signed_headers.split(';').any(|name| name.trim().eq_ignore_ascii_case("host")) {
        Ok(())
    } else {
        Err(malformed("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."))
    }
}

fn malformed(message: impl Into<String>) -> AuthError {
    AuthError::Malformed(message.into())
}

fn bad_date(date: &str) -> AuthError {
    AuthError::Malformed(format!(
        "Date must be in ISO-8601 'basic format'. Got '{date}'. See \
         http://en.wikipedia.org/wiki/ISO_8601"
    ))
}

/// `20150830T123600Z`.
fn parse_amz_date(value: &str) -> Option<OffsetDateTime> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    PrimitiveDateTime::parse(value, format).ok().map(PrimitiveDateTime::assume_utc)
}

/// RFC 1123: `Sun, 30 Aug 2015 12:36:00 GMT`.
fn parse_http_date(value: &str) -> Option<OffsetDateTime> {
    let format =
        format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
    PrimitiveDateTime::parse(value, format).ok().map(PrimitiveDateTime::assume_utc)
}

fn format_amz_date(when: OffsetDateTime) -> String {
    let when = when.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        when.year(),
        u8::from(when.month()),
        when.day(),
        when.hour(),
        when.minute(),
        when.second()
    )
}

/// The payload hash for the canonical request, checking a hex
/// `x-amz-content-sha256` against the body.
fn payload_hash(parts: &Parts, body: &[u8]) -> Result<String, AuthError> {
    let Some(declared) = parts.headers.get(CONTENT_SHA256) else {
        return Ok(hex_sha256(body));
    };
    let declared = declared.to_str().map_err(|_| AuthError::SignatureMismatch)?.trim();
    if declared.len() == 64
        && declared.bytes().all(|b| b.is_ascii_hexdigit())
        && !declared.eq_ignore_ascii_case(&hex_sha256(body))
    {
        return Err(AuthError::SignatureMismatch);
    }
    Ok(declared.to_owned())
}

/// The canonical value of one signed header of the request: its values
/// trimmed and joined by commas. `host` falls back to the URI's authority
/// (HTTP/2 carries it as `:authority`, not as a header).
fn request_header_value(parts: &Parts, name: &str) -> Vec<u8> {
    let values = parts.headers.get_all(name);
    if values.iter().next().is_none() && name == HOST.as_str() {
        return parts.uri.authority().map(|authority| authority.as_str().as_bytes().to_vec()).unwrap_or_default();
    }
    join_header_values(values.iter().map(http::HeaderValue::as_bytes))
}

/// Trims each value, collapses runs of spaces inside it, and joins the values
/// with commas.
fn join_header_values<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut first = true;
        for word in value.split(|b| *b == b' ' || *b == b'\t').filter(|word| !word.is_empty()) {
            if !first {
                out.push(b' ');
            }
            out.extend_from_slice(word);
            first = false;
        }
    }
    out
}

/// The canonical request. `headers` are (lowercase name, canonical value) in
/// the order of `signed_headers`.
fn canonical_request(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    skip_signature: bool,
    headers: &[(String, Vec<u8>)],
    signed_headers: &str,
    payload_hash: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(raw_path).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(raw_query, skip_signature).as_bytes());
    out.push(b'\n');
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    out
}

/// The path as sent, normalized (no empty, `.` or `..` segments; a trailing
/// slash kept) and each segment URI-encoded again.
fn canonical_uri(raw_path: &str) -> String {
    let mut segments = Vec::new();
    for segment in raw_path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            segment => segments.push(segment),
        }
    }
    let mut out = String::with_capacity(raw_path.len() + 16);
    for segment in &segments {
        out.push('/');
        out.extend(percent_encode(segment.as_bytes(), SIGV4_ENCODE));
    }
    if out.is_empty() || raw_path.ends_with('/') {
        out.push('/');
    }
    out
}

/// The query string with each name and value decoded and re-encoded, sorted
/// by name then value; `X-Amz-Signature` is left out of presigned URLs.
fn canonical_query(raw_query: &str, skip_signature: bool) -> String {
    let mut pairs = raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode_component(name);
            if skip_signature && name == b"X-Amz-Signature" {
                return None;
            }
            let value = decode_component(value);
            Some((percent_encode(&name, SIGV4_ENCODE).to_string(), percent_encode(&value, SIGV4_ENCODE).to_string()))
        })
        .collect::<Vec<_>>();
    pairs.sort_unstable();
    let mut out = String::with_capacity(raw_query.len() + 16);
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Decodes one query-string component: `%XX` escapes, and `+` as a space (as
/// form encoding and Go's and curl's signers have it).
fn decode_component(raw: &str) -> Vec<u8> {
    let bytes = raw.bytes().map(|b| if b == b'+' { b' ' } else { b }).collect::<Vec<_>>();
    percent_decode(&bytes).collect()
}

/// The query string's parameters, decoded (lossily to UTF-8).
fn decoded_query(raw_query: &str) -> Vec<(String, String)> {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                String::from_utf8_lossy(&decode_component(name)).into_owned(),
                String::from_utf8_lossy(&decode_component(value)).into_owned(),
            )
        })
        .collect()
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query.iter().find(|(n, _)| n == name).map(|(_, value)| value.as_str())
}

/// Splits a request target into (path, query), dropping any
/// `scheme://authority` prefix and `#fragment`.
fn split_target(uri: &str) -> (&str, &str) {
    let mut rest = uri.split('#').next().unwrap_or("");
    if let Some(scheme_end) = rest.find("://")
        && rest[..scheme_end].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
    {
        let after = &rest[scheme_end + 3..];
        rest = after.find(['/', '?']).map_or("", |i| &after[i..]);
    }
    match rest.split_once('?') {
        Some((path, query)) => (path, query),
        None => (rest, ""),
    }
}

fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", hex_sha256(canonical_request))
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, TERMINATOR.as_bytes())
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex_sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const SUITE_DATE: &str = "20150830T123600Z";
    const HOST_HEADER: (&str, &str) = ("Host", "example.amazonaws.com");
    const DATE_HEADER: (&str, &str) = ("X-Amz-Date", SUITE_DATE);

    fn suite_now() -> OffsetDateTime {
        parse_amz_date(SUITE_DATE).unwrap()
    }

    fn secrets(key: &str) -> Option<String> {
        (key == AKID).then(|| SECRET.to_owned())
    }

    fn suite_authz(signed_headers: &str, signature: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders={signed_headers}, Signature={signature}"
        )
    }

    fn sign_suite(method: &str, uri: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
        sign_for_test(method, uri, headers, body, AKID, SECRET, "us-east-1", "service", SUITE_DATE)
    }

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn with_authz<'a>(headers: &[(&'a str, &'a str)], authz: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut all = headers.to_vec();
        all.push(("Authorization", authz));
        all
    }

    /// Signs a suite request, checks the Authorization header against the
    /// suite's, and then has `verify` accept it.
    fn check_vector(method: &str, uri: &str, headers: &[(&str, &str)], body: &[u8], expected: &str) {
        let authz = sign_suite(method, uri, headers, body);
        assert_eq!(authz, expected, "{method} {uri}");
        let request = parts(method, uri, &with_authz(headers, &authz));
        let verified = verify(&request, body, suite_now(), &secrets).unwrap();
        assert_eq!(
            verified,
            Verified {
                access_key_id: AKID.to_owned(),
                region: "us-east-1".to_owned(),
                service: "service".to_owned(),
                date: suite_now(),
            }
        );
    }

    const GET_VANILLA: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    #[test]
    fn suite_get_vanilla() {
        check_vector("GET", "/", &[HOST_HEADER, DATE_HEADER], b"", &suite_authz("host;x-amz-date", GET_VANILLA));
    }

    #[test]
    fn suite_get_vanilla_query_order() {
        check_vector(
            "GET",
            "/?Param2=value2&Param1=value1",
            &[HOST_HEADER, DATE_HEADER],
            b"",
            &suite_authz("host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        );
        // get-vanilla-query-order-key: same name, values sorted byte-wise.
        check_vector(
            "GET",
            "/?Param1=value2&Param1=Value1",
            &[HOST_HEADER, DATE_HEADER],
            b"",
            &suite_authz("host;x-amz-date", "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"),
        );
        // get-vanilla-query-order-value.
        check_vector(
            "GET",
            "/?Param1=value2&Param1=value1",
            &[HOST_HEADER, DATE_HEADER],
            b"",
            &suite_authz("host;x-amz-date", "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"),
        );
    }

    #[test]
    fn suite_get_vanilla_query_unreserved() {
        let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        check_vector(
            "GET",
            &format!("/?{unreserved}={unreserved}"),
            &[HOST_HEADER, DATE_HEADER],
            b"",
            &suite_authz("host;x-amz-date", "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
        );
    }

    #[test]
    fn suite_get_vanilla_utf8_query() {
        // The suite's request line carries the raw UTF-8, which `http::Uri`
        // refuses; the signer alone takes it.
        assert_eq!(
            sign_suite("GET", "/?ሴ=bar", &[HOST_HEADER, DATE_HEADER], b""),
            suite_authz("host;x-amz-date", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",)
        );
        assert_eq!(canonical_query("ሴ=bar", false), "%E1%88%B4=bar");
    }

    #[test]
    fn suite_get_unreserved() {
        check_vector(
            "GET",
            "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            &[HOST_HEADER, DATE_HEADER],
            b"",
            &suite_authz("host;x-amz-date", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
        );
    }

    #[test]
    fn suite_get_header_value_trim() {
        check_vector(
            "GET",
            "/",
            &[HOST_HEADER, ("My-Header1", " value1"), ("My-Header2", " \"a   b   c\""), DATE_HEADER],
            b"",
            &suite_authz(
                "host;my-header1;my-header2;x-amz-date",
                "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
            ),
        );
    }

    #[test]
    fn suite_get_header_key_duplicate_and_value_order() {
        check_vector(
            "GET",
            "/",
            &[HOST_HEADER, ("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1"), DATE_HEADER],
            b"",
            &suite_authz(
                "host;my-header1;x-amz-date",
                "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
            ),
        );
        check_vector(
            "GET",
            "/",
            &[
                HOST_HEADER,
                ("My-Header1", "value4"),
                ("My-Header1", "value1"),
                ("My-Header1", "value3"),
                ("My-Header1", "value2"),
                DATE_HEADER,
            ],
            b"",
            &suite_authz(
                "host;my-header1;x-amz-date",
                "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
            ),
        );
    }

    #[test]
    fn suite_post_vanilla() {
        let post_vanilla = "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b";
        check_vector("POST", "/", &[HOST_HEADER, DATE_HEADER], b"", &suite_authz("host;x-amz-date", post_vanilla));
        // post-vanilla-query.
        check_vector(
            "POST",
            "/?Param1=value1",
            &[HOST_HEADER, DATE_HEADER],
            b"",
            &suite_authz("host;x-amz-date", "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"),
        );
        // post-header-key-sort and post-header-value-case.
        check_vector(
            "POST",
            "/",
            &[HOST_HEADER, ("My-Header1", "value1"), DATE_HEADER],
            b"",
            &suite_authz(
                "host;my-header1;x-amz-date",
                "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
            ),
        );
        check_vector(
            "POST",
            "/",
            &[HOST_HEADER, ("My-Header1", "VALUE1"), DATE_HEADER],
            b"",
            &suite_authz(
                "host;my-header1;x-amz-date",
                "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
            ),
        );
    }

    #[test]
    fn suite_post_sts_header_before() {
        let token = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
        check_vector(
            "POST",
            "/",
            &[HOST_HEADER, DATE_HEADER, ("X-Amz-Security-Token", token)],
            b"",
            &suite_authz(
                "host;x-amz-date;x-amz-security-token",
                "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
            ),
        );
    }

    #[test]
    fn suite_post_x_www_form_urlencoded() {
        // The suite's .authz signs content-type, host and x-amz-date (its
        // .creq also lists content-length, which the .authz does not sign).
        check_vector(
            "POST",
            "/",
            &[("Content-Type", "application/x-www-form-urlencoded"), HOST_HEADER, DATE_HEADER],
            b"Param1=value1",
            &suite_authz(
                "content-type;host;x-amz-date",
                "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
            ),
        );
    }

    #[test]
    fn suite_post_x_www_form_urlencoded_parameters() {
        // The signature in the suite's .authz is over `charset=utf8` (no
        // dash) and content-type;host;x-amz-date, whatever its .req shows.
        check_vector(
            "POST",
            "/",
            &[("Content-Type", "application/x-www-form-urlencoded; charset=utf8"), HOST_HEADER, DATE_HEADER],
            b"Param1=value1",
            &suite_authz(
                "content-type;host;x-amz-date",
                "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
            ),
        );
    }

    #[test]
    fn suite_path_normalization() {
        for path in ["/example/..", "/example1/example2/../..", "/./"] {
            check_vector("GET", path, &[HOST_HEADER, DATE_HEADER], b"", &suite_authz("host;x-amz-date", GET_VANILLA));
        }
        // get-slash-pointless-dot.
        check_vector(
            "GET",
            "/./example",
            &[HOST_HEADER, DATE_HEADER],
            b"",
            &suite_authz("host;x-amz-date", "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"),
        );
        // get-slash and get-slashes: `http::Uri` does not take a target
        // starting with `//`, so the signer alone.
        assert_eq!(
            sign_suite("GET", "//", &[HOST_HEADER, DATE_HEADER], b""),
            suite_authz("host;x-amz-date", GET_VANILLA)
        );
        assert_eq!(
            sign_suite("GET", "//example//", &[HOST_HEADER, DATE_HEADER], b""),
            suite_authz("host;x-amz-date", "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84")
        );
        // get-space: the suite's request line has a raw space.
        assert_eq!(
            sign_suite("GET", "/example space/", &[HOST_HEADER, DATE_HEADER], b""),
            suite_authz("host;x-amz-date", "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741")
        );
    }

    #[test]
    fn canonical_uri_encodes_wire_path_again() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/a%20b/c"), "/a%2520b/c");
        assert_eq!(canonical_uri("/example space/"), "/example%20space/");
        assert_eq!(canonical_uri("//example//"), "/example/");
        assert_eq!(canonical_uri("/a/b/../c/./d"), "/a/c/d");
    }

    #[test]
    fn canonical_query_encoding() {
        assert_eq!(canonical_query("", false), "");
        assert_eq!(canonical_query("b=2&a=1&a", false), "a=&a=1&b=2");
        assert_eq!(canonical_query("k=a+b%20c%2Fd", false), "k=a%20b%20c%2Fd");
        assert_eq!(canonical_query("k=a=b", false), "k=a%3Db");
        assert_eq!(canonical_query("X-Amz-Signature=abc&a=1", true), "a=1".to_owned());
        assert_eq!(canonical_query("X-Amz-Signature=abc&a=1", false), "X-Amz-Signature=abc&a=1");
    }

    /// The worked example of AWS's "Create a signed AWS API request" guide
    /// (IAM ListUsers).
    #[test]
    fn iam_list_users_example() {
        let headers = [
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("Host", "iam.amazonaws.com"),
            ("X-Amz-Date", SUITE_DATE),
        ];
        let uri = "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08";
        let authz = sign_for_test("GET", uri, &headers, b"", AKID, SECRET, "us-east-1", "iam", SUITE_DATE);
        assert_eq!(
            authz,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
        // The guide's intermediate values.
        let canonical = canonical_request(
            "GET",
            "/",
            "Action=ListUsers&Version=2010-05-08",
            false,
            &[
                ("content-type".to_owned(), b"application/x-www-form-urlencoded; charset=utf-8".to_vec()),
                ("host".to_owned(), b"iam.amazonaws.com".to_vec()),
                ("x-amz-date".to_owned(), SUITE_DATE.as_bytes().to_vec()),
            ],
            "content-type;host;x-amz-date",
            &hex_sha256(b""),
        );
        assert_eq!(hex_sha256(&canonical), "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
        assert_eq!(
            hex::encode(signing_key(SECRET, "20150830", "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );

        let request = parts("GET", uri, &with_authz(&headers, &authz));
        let verified = verify(&request, b"", suite_now(), &secrets).unwrap();
        assert_eq!(verified.service, "iam");
        assert_eq!(
            credential_scope(&request),
            Some((AKID.to_owned(), "20150830".to_owned(), "us-east-1".to_owned(), "iam".to_owned()))
        );
    }

    /// The presigned form of the same example in AWS's guide ("add the
    /// signing information to the query string", X-Amz-Expires=60).
    #[test]
    fn iam_list_users_presigned_example() {
        let uri = "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08\
                   &X-Amz-Algorithm=AWS4-HMAC-SHA256\
                   &X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fiam%2Faws4_request\
                   &X-Amz-Date=20150830T123600Z&X-Amz-Expires=60\
                   &X-Amz-SignedHeaders=content-type%3Bhost\
                   &X-Amz-Signature=37ac2f4fde00b0ac9bd9eadeb459b1bbee224158d66e7ae5fcadb70b2d181d02";
        let headers =
            [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"), ("Host", "iam.amazonaws.com")];
        let request = parts("GET", uri, &headers);
        let verified = verify(&request, b"", suite_now(), &secrets).unwrap();
        assert_eq!(verified.service, "iam");
        assert_eq!(verified.date, suite_now());
        assert_eq!(verify(&request, b"", suite_now() + Duration::seconds(61), &secrets), Err(AuthError::Expired));
    }

    fn sts_headers(body: &[u8]) -> Vec<(&'static str, String)> {
        vec![
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8".to_owned()),
            ("Host", "localhost:4566".to_owned()),
            ("X-Amz-Date", "20240102T030405Z".to_owned()),
            ("X-Amz-Content-Sha256", hex_sha256(body)),
        ]
    }

    fn sts_now() -> OffsetDateTime {
        parse_amz_date("20240102T030405Z").unwrap()
    }

    fn sign_sts(headers: &[(&str, &str)], body: &[u8], key: &str) -> String {
        sign_for_test("POST", "/", headers, body, key, SECRET, "us-east-1", "sts", "20240102T030405Z")
    }

    fn as_refs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        headers.iter().map(|(n, v)| (*n, v.as_str())).collect()
    }

    #[test]
    fn round_trip_and_tampering() {
        let body = b"Action=GetCallerIdentity&Version=2011-06-15";
        let owned = sts_headers(body);
        let headers = as_refs(&owned);
        let authz = sign_sts(&headers, body, AKID);
        let request = parts("POST", "/", &with_authz(&headers, &authz));

        let verified = verify(&request, body, sts_now(), &secrets).unwrap();
        assert_eq!(verified.access_key_id, AKID);
        assert_eq!(verified.region, "us-east-1");
        assert_eq!(verified.service, "sts");
        assert_eq!(verified.date, sts_now());

        // A different body: the declared hash no longer matches.
        let tampered = b"Action=GetCallerIdentity&Version=2011-06-16";
        assert_eq!(verify(&request, tampered, sts_now(), &secrets), Err(AuthError::SignatureMismatch));

        // Without x-amz-content-sha256 the body is hashed into the signature.
        let plain = &headers[..3];
        let authz = sign_sts(plain, body, AKID);
        let request = parts("POST", "/", &with_authz(plain, &authz));
        assert!(verify(&request, body, sts_now(), &secrets).is_ok());
        assert_eq!(verify(&request, tampered, sts_now(), &secrets), Err(AuthError::SignatureMismatch));

        // Wrong secret.
        let wrong = |_: &str| Some("not-the-secret".to_owned());
        assert_eq!(verify(&request, body, sts_now(), &wrong), Err(AuthError::SignatureMismatch));

        // A signed header changed after signing.
        let mut changed = plain.to_vec();
        changed[0] = ("Content-Type", "application/json");
        let request = parts("POST", "/", &with_authz(&changed, &authz));
        assert_eq!(verify(&request, body, sts_now(), &secrets), Err(AuthError::SignatureMismatch));
    }

    #[test]
    fn unsigned_payload_is_taken_as_declared() {
        let body = b"{}";
        let headers =
            [("Host", "localhost"), ("X-Amz-Date", "20240102T030405Z"), ("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")];
        let authz = sign_sts(&headers, b"ignored", AKID);
        let request = parts("POST", "/", &with_authz(&headers, &authz));
        assert!(verify(&request, body, sts_now(), &secrets).is_ok());
    }

    #[test]
    fn skewed_time_fails() {
        let body = b"Action=GetCallerIdentity&Version=2011-06-15";
        let owned = sts_headers(body);
        let headers = as_refs(&owned);
        let authz = sign_sts(&headers, body, AKID);
        let request = parts("POST", "/", &with_authz(&headers, &authz));
        let at = |minutes| sts_now() + Duration::minutes(minutes);
        assert!(verify(&request, body, at(15), &secrets).is_ok());
        assert!(verify(&request, body, at(-15), &secrets).is_ok());
        assert_eq!(verify(&request, body, at(16), &secrets), Err(AuthError::TimeTooSkewed));
        assert_eq!(verify(&request, body, at(-16), &secrets), Err(AuthError::TimeTooSkewed));
    }

    #[test]
    fn unknown_key_fails() {
        let body = b"";
        let owned = sts_headers(body);
        let headers = as_refs(&owned);
        let authz = sign_sts(&headers, body, "AKIDUNKNOWN");
        let request = parts("POST", "/", &with_authz(&headers, &authz));
        assert_eq!(
            verify(&request, body, sts_now(), &secrets),
            Err(AuthError::UnknownAccessKey("AKIDUNKNOWN".to_owned()))
        );
    }

    #[test]
    fn missing_and_malformed() {
        let request = parts("POST", "/", &[("Host", "localhost")]);
        assert_eq!(verify(&request, b"", sts_now(), &secrets), Err(AuthError::Missing));
        assert_eq!(credential_scope(&request), None);

        let malformed = |authz: &str, extra: &[(&str, &str)]| {
            let mut headers = vec![("Host", "localhost"), ("Authorization", authz)];
            headers.extend_from_slice(extra);
            let request = parts("POST", "/", &headers);
            matches!(verify(&request, b"", sts_now(), &secrets), Err(AuthError::Malformed(_)))
        };
        let date = [("X-Amz-Date", "20240102T030405Z")];
        assert!(malformed("AWS AKID:c2ln", &date));
        assert!(malformed("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/sts/aws4_request", &date));
        assert!(malformed(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/sts/aws5_request, \
             SignedHeaders=host;x-amz-date, Signature=00",
            &date
        ));
        assert!(malformed(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/us-east-1/sts/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=00",
            &date
        ));
        assert!(malformed(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/sts/aws4_request, \
             SignedHeaders=x-amz-date, Signature=00",
            &date
        ));
        // No date at all, and a date in the wrong format.
        let authz = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/sts/aws4_request, \
                     SignedHeaders=host;x-amz-date, Signature=00";
        assert!(malformed(authz, &[]));
        assert!(malformed(authz, &[("X-Amz-Date", "2024-01-02T03:04:05Z")]));

        // A scope date that is not the request's date.
        let request = parts(
            "POST",
            "/",
            &[
                ("Host", "localhost"),
                ("X-Amz-Date", "20240102T030405Z"),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/sts/aws4_request, \
                     SignedHeaders=host;x-amz-date, Signature=00",
                ),
            ],
        );
        assert_eq!(verify(&request, b"", sts_now(), &secrets), Err(AuthError::SignatureMismatch));
        assert_eq!(
            credential_scope(&request),
            Some((AKID.to_owned(), "20240101".to_owned(), "us-east-1".to_owned(), "sts".to_owned()))
        );
    }

    #[test]
    fn date_header_forms() {
        // An ISO 8601 basic `Date` header, and an RFC 1123 one; the string to
        // sign always carries the ISO basic form.
        for date in ["20240102T030405Z", "Tue, 02 Jan 2024 03:04:05 GMT"] {
            let headers = [("Date", date), ("Host", "localhost")];
            let authz = sign_sts(&headers, b"", AKID);
            let request = parts("POST", "/", &with_authz(&headers, &authz));
            let verified = verify(&request, b"", sts_now(), &secrets).unwrap();
            assert_eq!(verified.date, sts_now());
        }
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"), Some(suite_now()));
        assert_eq!(format_amz_date(suite_now()), SUITE_DATE);
    }

    /// Builds a presigned URL (path and query) the way an SDK's presigner
    /// does for a non-S3 service: the auth parameters in the query, the
    /// payload hash of the (empty) body.
    fn presign(path_and_query: &str, host: &str, amz_date: &str, expires: i64, region: &str, service: &str) -> String {
        let date = &amz_date[..8];
        let scope = format!("{date}/{region}/{service}/{TERMINATOR}");
        let credential = format!("{AKID}/{scope}");
        let credential = percent_encode(credential.as_bytes(), SIGV4_ENCODE);
        let separator = if path_and_query.contains('?') { '&' } else { '?' };
        let unsigned = format!(
            "{path_and_query}{separator}X-Amz-Algorithm={ALGORITHM}&X-Amz-Credential={credential}\
             &X-Amz-Date={amz_date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host"
        );
        let (path, query) = split_target(&unsigned);
        let canonical = canonical_request(
            "GET",
            path,
            query,
            false,
            &[("host".to_owned(), host.as_bytes().to_vec())],
            "host",
            &hex_sha256(b""),
        );
        let to_sign = string_to_sign(amz_date, &scope, &canonical);
        let signature = hex::encode(hmac(&signing_key(SECRET, date, region, service), to_sign.as_bytes()));
        format!("{unsigned}&X-Amz-Signature={signature}")
    }

    #[test]
    fn presigned_round_trip_and_expiry() {
        let uri = presign(
            "/?Action=GetCallerIdentity&Version=2011-06-15",
            "localhost:4566",
            "20240102T030405Z",
            60,
            "us-east-1",
            "sts",
        );
        let request = parts("GET", &uri, &[("Host", "localhost:4566")]);
        assert_eq!(
            credential_scope(&request),
            Some((AKID.to_owned(), "20240102".to_owned(), "us-east-1".to_owned(), "sts".to_owned()))
        );
        let verified = verify(&request, b"", sts_now(), &secrets).unwrap();
        assert_eq!(verified.service, "sts");
        assert_eq!(verified.date, sts_now());
        // Still good at the last second, expired after.
        let at = |seconds| sts_now() + Duration::seconds(seconds);
        assert!(verify(&request, b"", at(60), &secrets).is_ok());
        assert_eq!(verify(&request, b"", at(61), &secrets), Err(AuthError::Expired));
        // Not valid long before its date.
        assert_eq!(verify(&request, b"", at(-16 * 60), &secrets), Err(AuthError::TimeTooSkewed));
        // A parameter changed after signing.
        let tampered = uri.replace("GetCallerIdentity", "GetSessionToken");
        let request = parts("GET", &tampered, &[("Host", "localhost:4566")]);
        assert_eq!(verify(&request, b"", sts_now(), &secrets), Err(AuthError::SignatureMismatch));
        // Another host.
        let request = parts("GET", &uri, &[("Host", "localhost:4567")]);
        assert_eq!(verify(&request, b"", sts_now(), &secrets), Err(AuthError::SignatureMismatch));
        // Both mechanisms at once.
        let request = parts("GET", &uri, &[("Host", "localhost:4566"), ("Authorization", "AWS4-HMAC-SHA256 x")]);
        assert!(matches!(verify(&request, b"", sts_now(), &secrets), Err(AuthError::Malformed(_))));
    }

    #[test]
    fn presigned_expires_bounds() {
        for (expires, ok) in [(0, false), (1, true), (604_800, true), (604_801, false)] {
            let uri = presign("/", "h", "20240102T030405Z", expires, "us-east-1", "sts");
            let request = parts("GET", &uri, &[("Host", "h")]);
            let result = verify(&request, b"", sts_now(), &secrets);
            if ok {
                assert!(result.is_ok(), "{expires}: {result:?}");
            } else {
                assert!(matches!(result, Err(AuthError::Malformed(_))), "{expires}: {result:?}");
            }
        }
        // Missing X-Amz-Expires.
        let uri = presign("/", "h", "20240102T030405Z", 60, "us-east-1", "sts").replace("&X-Amz-Expires=60", "");
        let request = parts("GET", &uri, &[("Host", "h")]);
        assert!(matches!(verify(&request, b"", sts_now(), &secrets), Err(AuthError::Malformed(_))));
    }

    #[test]
    fn host_from_authority_under_http2() {
        // HTTP/2 carries the host as :authority, which `http` puts in the URI.
        let headers = [("Host", "example.amazonaws.com"), DATE_HEADER];
        let authz = sign_suite("GET", "/", &headers, b"");
        let request = parts("GET", "https://example.amazonaws.com/", &[DATE_HEADER, ("Authorization", &authz)]);
        assert!(verify(&request, b"", suite_now(), &secrets).is_ok());
    }
}
