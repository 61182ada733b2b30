//! Temporary credentials without state (STS AssumeRole and GetSessionToken).
//!
//! A session's access key id is `ASIA` + 16 random characters; its secret is derived from the
//! key id (HMAC-SHA256 under a key derived from the directory's session key), so verifying a
//! signature needs no lookup; its session token is the session itself (key id, expiry, who it
//! acts as, the session policy) sealed with AES-256-GCM under the session key. Nothing is
//! written per session: a restart keeps every session valid until it expires, and a token that
//! was altered, or belongs to another key id, does not open.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand::{Rng, RngCore};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use serde::{Deserialize, Serialize};

use crate::access::{Identity, Principal, Session};
use crate::directory::Iam;
use crate::policy::{Kind, Policy};

/// What a session token carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sealed {
    /// The access key id the token belongs to.
    k: String,
    /// Expiry, Unix seconds.
    x: i64,
    /// A role session: the role's name, the session's name, the source identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r: Option<(String, String, Option<String>)>,
    /// A user's session (GetSessionToken): the user's name; neither: the root's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    u: Option<String>,
    /// The session policy, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<String>,
    /// The unique id of the role or user: a token outlives neither (one deleted and made again
    /// under the same name is another entity).
    #[serde(default)]
    i: String,
    /// The account the session belongs to (the role's or the user's); absent: the home
    /// account's (tokens issued before there were other accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<String>,
}

/// Why a session's credentials do not authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRefusal {
    /// No token, a token that does not open, or one for another key: "invalid".
    Invalid,
    /// The session is over.
    Expired,
}

/// New temporary credentials.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Unix seconds.
    pub expires: i64,
}

/// Who a new session acts as.
pub enum SessionOf {
    Role {
        role: String,
        role_id: String,
        session_name: String,
        source_identity: Option<String>,
        policy: Option<String>,
    },
    User {
        name: String,
        user_id: String,
    },
    Root,
}

fn sealing_key(session_key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, session_key).expect("a 32-byte AES-256 key"))
}

fn derivation_key(session_key: &[u8; 32]) -> hmac::Key {
    let k = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, session_key), b"tarn session secrets v1");
    hmac::Key::new(hmac::HMAC_SHA256, k.as_ref())
}

/// A key id is a session's when it starts `ASIA`, as AWS's temporary keys do.
#[must_use]
pub fn is_session_key(access_key_id: &str) -> bool {
    access_key_id.starts_with("ASIA")
}

impl Iam {
    /// The session an AWS service (`glue.amazonaws.com`, `firehose.amazonaws.com`) runs in when
    /// it acts as `role` (a role's name or ARN), as a crawler's Role or a delivery stream's
    /// RoleARN is used. `Ok(None)` when the directory has no such role: tarn then lets the
    /// service act for the account, as it did before roles existed (placeholder ARNs in
    /// existing setups keep working). `Err` when the role's trust policy does not let the
    /// service assume it, in the words AWS's services use.
    pub fn service_role(&self, role: &str, service: &str) -> Result<Option<Principal>, String> {
        let dir = self.snapshot();
        let name = match role.split_once(":role/") {
            Some((_, path)) => path.rsplit('/').next().unwrap_or(path),
            None => role,
        };
        let Ok(r) = dir.role(name) else { return Ok(None) };
        let caller = crate::policy::Caller {
            arn: String::new(),
            account: String::new(),
            role_arn: None,
            service: Some(service.to_string()),
        };
        let context = crate::policy::Context::new();
        let arn = dir.role_arn(r);
        let request = crate::policy::Request {
            caller: &caller,
            action: "sts:AssumeRole",
            resource: &arn,
            context: (&context).into(),
        };
        let trusted =
            r.trust.parsed.as_deref().is_some_and(|t| t.decide(&request).decision == crate::policy::Decision::Allow);
        if !trusted {
            return Err(format!("Service {service} is not authorized to perform: sts:AssumeRole on resource: {arn}"));
        }
        let session_name = service.split('.').next().unwrap_or(service).to_string();
        Ok(Some(Principal {
            arn: format!("arn:aws:sts::{}:assumed-role/{}/{session_name}", dir.account_id, r.name),
            user_id: format!("{}:{session_name}", r.id),
            account_id: dir.account_id.clone(),
            identity: Identity::Session(Arc::new(Session {
                role: r.name.clone(),
                session_name,
                source_identity: None,
                expires: i64::MAX,
                policy: None,
            })),
        }))
    }

    /// The secret a request signed with `access_key_id` must have used: a long-term key's
    /// (the root's or an active user key's), or a session key's derived one.
    #[must_use]
    pub fn secret(&self, access_key_id: &str) -> Option<String> {
        if is_session_key(access_key_id) {
            return Some(self.session_secret(access_key_id));
        }
        self.key_secret(access_key_id)
    }

    /// Who a request whose signature verified acts as: a long-term key's owner, or a session
    /// whose `token` opens, names this key and has not expired.
    pub fn principal(&self, access_key_id: &str, token: Option<&str>) -> Result<Principal, crate::access::KeyRefusal> {
        if is_session_key(access_key_id) {
            return self.session_principal(access_key_id, token, self.now_secs()).map_err(|r| match r {
                SessionRefusal::Invalid => crate::access::KeyRefusal::InvalidToken,
                SessionRefusal::Expired => crate::access::KeyRefusal::Expired,
            });
        }
        let principal = self.key(access_key_id).map(|(_, p)| p).ok_or(crate::access::KeyRefusal::Unknown)?;
        // a long-term key carries no session token; one that comes with a token is refused, as
        // AWS refuses it
        if token.is_some() {
            return Err(crate::access::KeyRefusal::InvalidToken);
        }
        Ok(principal)
    }

    /// The secret of a session's key id (derived: no lookup).
    #[must_use]
    pub fn session_secret(&self, access_key_id: &str) -> String {
        let tag = hmac::sign(&derivation_key(self.session_key()), access_key_id.as_bytes());
        let mut secret = B64.encode(tag.as_ref());
        secret.truncate(40);
        secret
    }

    /// Issues credentials for `of` (in this handle's account), valid for `duration_secs` from `now` (Unix seconds).
    #[must_use]
    pub fn issue(&self, of: SessionOf, duration_secs: i64, now: i64) -> Issued {
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut rng = rand::rng();
        let tail: String = (0..16).map(|_| UPPER[rng.random_range(0..UPPER.len())] as char).collect();
        let access_key_id = format!("ASIA{tail}");
        let expires = now + duration_secs;
        let account = (self.scope() != self.account_id()).then(|| self.scope().to_string());
        let mut sealed =
            Sealed { k: access_key_id.clone(), x: expires, r: None, u: None, p: None, i: String::new(), a: account };
        match of {
            SessionOf::Role { role, role_id, session_name, source_identity, policy } => {
                sealed.r = Some((role, session_name, source_identity));
                sealed.p = policy;
                sealed.i = role_id;
            }
            SessionOf::User { name, user_id } => {
                sealed.u = Some(name);
                sealed.i = user_id;
            }
            SessionOf::Root => {}
        }
        let mut body = serde_json::to_vec(&sealed).expect("a session serializes");
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        sealing_key(self.session_key())
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(b"tarn-session"), &mut body)
            .expect("sealing a session token cannot fail");
        let mut token = nonce.to_vec();
        token.extend_from_slice(&body);
        Issued {
            secret_access_key: self.session_secret(&access_key_id),
            access_key_id,
            session_token: B64.encode(token),
            expires,
        }
    }

    /// The principal a session's credentials act as, once the request's signature (made with
    /// [`Iam::session_secret`]) has been verified: the token must open, name this key id, and
    /// not have expired at `now` (Unix seconds).
    pub fn session_principal(
        &self,
        access_key_id: &str,
        token: Option<&str>,
        now: i64,
    ) -> Result<Principal, SessionRefusal> {
        let raw = token.and_then(|t| B64.decode(t.trim()).ok()).ok_or(SessionRefusal::Invalid)?;
        if raw.len() <= NONCE_LEN {
            return Err(SessionRefusal::Invalid);
        }
        let nonce: [u8; NONCE_LEN] = raw[..NONCE_LEN].try_into().map_err(|_| SessionRefusal::Invalid)?;
        let mut body = raw[NONCE_LEN..].to_vec();
        let plain = sealing_key(self.session_key())
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(b"tarn-session"), &mut body)
            .map_err(|_| SessionRefusal::Invalid)?;
        let sealed: Sealed = serde_json::from_slice(plain).map_err(|_| SessionRefusal::Invalid)?;
        if sealed.k != access_key_id {
            return Err(SessionRefusal::Invalid);
        }
        if now >= sealed.x {
            return Err(SessionRefusal::Expired);
        }
        let scoped = match &sealed.a {
            Some(account) => self.scoped(account).ok_or(SessionRefusal::Invalid)?,
            None => self.scoped(self.account_id()).ok_or(SessionRefusal::Invalid)?,
        };
        let dir = scoped.snapshot();
        let account = dir.account_id.clone();
        if let Some((role, session_name, source_identity)) = sealed.r {
            let r = dir.role(&role).ok().filter(|r| r.id == sealed.i).ok_or(SessionRefusal::Invalid)?;
            let policy = match sealed.p {
                Some(text) => {
                    Some(Arc::new(Policy::parse_as(&text, Kind::Identity).map_err(|_| SessionRefusal::Invalid)?))
                }
                None => None,
            };
            return Ok(Principal {
                arn: format!("arn:aws:sts::{account}:assumed-role/{}/{session_name}", r.name),
                user_id: format!("{}:{session_name}", r.id),
                account_id: account,
                identity: Identity::Session(Arc::new(Session {
                    role: r.name.clone(),
                    session_name,
                    source_identity,
                    expires: sealed.x,
                    policy,
                })),
            });
        }
        if let Some(name) = sealed.u {
            let u = dir.user(&name).ok().filter(|u| u.id == sealed.i).ok_or(SessionRefusal::Invalid)?;
            return Ok(Principal {
                arn: dir.user_arn(u),
                user_id: u.id.clone(),
                account_id: account,
                identity: Identity::User { name: u.name.clone() },
            });
        }
        Ok(Principal {
            arn: format!("arn:aws:iam::{account}:root"),
            user_id: account.clone(),
            account_id: account,
            identity: Identity::Root,
        })
    }
}
