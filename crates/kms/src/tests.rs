use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use super::*;

const ACCOUNT: &str = "000000000000";

struct Env {
    dir: tempfile::TempDir,
    now: Arc<AtomicI64>,
    kms: Kms,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(1_700_000_000_000));
    let kms = open(&dir, &now).await;
    Env { dir, now, kms }
}

async fn open(dir: &tempfile::TempDir, now: &Arc<AtomicI64>) -> Kms {
    let store = Store::open(dir.path()).unwrap();
    let clock = now.clone();
    Kms::open_with_clock(store, "us-east-1", Arc::new(move || clock.load(Ordering::SeqCst))).await.unwrap()
}

fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
}

impl Env {
    fn advance_days(&self, days: i64) {
        self.now.fetch_add(days * DAY_MS, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn keys_encrypt_and_decrypt_by_id_arn_and_alias_and_survive_a_reopen() {
    let e = env().await;
    let k = e.kms.create_key(ACCOUNT, NewKey { description: "d".into(), ..NewKey::default() }).await.unwrap();
    assert_eq!(k.arn, format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{}", k.id));
    e.kms.create_alias(ACCOUNT, "alias/models", &k.id).await.unwrap();
    let context = ctx(&[("purpose", "test")]);
    for reference in
        [k.id.clone(), k.arn.clone(), "alias/models".into(), format!("arn:aws:kms:us-east-1:{ACCOUNT}:alias/models")]
    {
        let (blob, arn) = e.kms.encrypt(ACCOUNT, &reference, b"plaintext-canary-1", &context).await.unwrap();
        assert_eq!(arn, k.arn);
        let (plain, _) = e.kms.decrypt(ACCOUNT, &blob, None, &context).await.unwrap();
        assert_eq!(plain, b"plaintext-canary-1");
    }
    let (blob, _) = e.kms.encrypt(ACCOUNT, "alias/models", b"x", &context).await.unwrap();
    assert!(matches!(e.kms.decrypt(ACCOUNT, &blob, None, &ctx(&[])).await, Err(KmsError::InvalidCiphertext)));
    let other = e.kms.create_key(ACCOUNT, NewKey::default()).await.unwrap();
    assert!(matches!(e.kms.decrypt(ACCOUNT, &blob, Some(&other.id), &context).await, Err(KmsError::IncorrectKey)));
    assert!(matches!(e.kms.decrypt(ACCOUNT, b"garbage", None, &context).await, Err(KmsError::InvalidCiphertext)));
    assert!(matches!(e.kms.describe(ACCOUNT, "alias/none").await, Err(KmsError::NotFound(_))));
    assert!(matches!(e.kms.create_alias(ACCOUNT, "alias/models", &other.id).await, Err(KmsError::AlreadyExists(_))));
    assert!(matches!(e.kms.create_alias(ACCOUNT, "alias/aws/x", &other.id).await, Err(KmsError::InvalidAliasName(_))));

    // reopened: the same keys, aliases and materials
    drop(e.kms);
    let kms = open(&e.dir, &e.now).await;
    let (plain, _) = kms.decrypt(ACCOUNT, &blob, None, &context).await.unwrap();
    assert_eq!(plain, b"x");
    assert_eq!(kms.describe(ACCOUNT, "alias/models").await.unwrap().id, k.id);
    let (keys, next) = kms.list_keys(ACCOUNT, None, 1);
    assert_eq!(keys.len(), 1);
    let (rest, none) = kms.list_keys(ACCOUNT, next.as_deref(), 10);
    assert_eq!(rest.len(), 1);
    assert!(none.is_none());
}

#[tokio::test]
async fn key_material_is_never_on_disk_in_the_clear() {
    let e = env().await;
    let k = e.kms.create_key(ACCOUNT, NewKey::default()).await.unwrap();
    let (plain, _blob, _) = e.kms.generate_data_key(ACCOUNT, &k.id, 32, &ctx(&[])).await.unwrap();
    let material = {
        let s = e.kms.state();
        let sealed = s.keys[&k.id].materials[0].sealed.clone();
        drop(s);
        e.kms.open_material(&sealed).unwrap()
    };
    drop(e.kms);
    let mut found = Vec::new();
    for entry in walk(e.dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        for (what, needle) in [("material", &material), ("data key", &plain)] {
            if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                found.push(format!("{what} in {}", entry.display()));
            }
        }
    }
    assert!(found.is_empty(), "{found:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

#[tokio::test]
async fn states_gate_cryptography_and_deletion_happens_on_the_clock() {
    let e = env().await;
    let k = e.kms.create_key(ACCOUNT, NewKey::default()).await.unwrap();
    let (blob, _) = e.kms.encrypt(ACCOUNT, &k.id, b"data", &ctx(&[])).await.unwrap();
    e.kms.set_enabled(ACCOUNT, &k.id, false).await.unwrap();
    assert!(matches!(e.kms.decrypt(ACCOUNT, &blob, None, &ctx(&[])).await, Err(KmsError::Disabled(_))));
    e.kms.set_enabled(ACCOUNT, &k.id, true).await.unwrap();
    assert!(e.kms.decrypt(ACCOUNT, &blob, None, &ctx(&[])).await.is_ok());

    assert!(matches!(e.kms.schedule_deletion(ACCOUNT, &k.id, Some(6)).await, Err(KmsError::Validation(_))));
    let m = e.kms.schedule_deletion(ACCOUNT, &k.id, Some(7)).await.unwrap();
    assert_eq!(m.state, KeyState::PendingDeletion);
    assert_eq!(m.deletion, Some(e.now.load(Ordering::SeqCst) + 7 * DAY_MS));
    assert!(matches!(e.kms.decrypt(ACCOUNT, &blob, None, &ctx(&[])).await, Err(KmsError::InvalidState(_))));
    e.kms.cancel_deletion(ACCOUNT, &k.id).await.unwrap();
    assert_eq!(
        e.kms.describe(ACCOUNT, &k.id).await.unwrap().state,
        KeyState::Disabled,
        "a cancelled deletion leaves the key disabled"
    );
    e.kms.set_enabled(ACCOUNT, &k.id, true).await.unwrap();

    e.kms.create_alias(ACCOUNT, "alias/doomed", &k.id).await.unwrap();
    e.kms.schedule_deletion(ACCOUNT, &k.id, Some(7)).await.unwrap();
    e.advance_days(6);
    assert_eq!(e.kms.describe(ACCOUNT, &k.id).await.unwrap().state, KeyState::PendingDeletion);
    e.advance_days(1);
    assert!(matches!(e.kms.describe(ACCOUNT, &k.id).await, Err(KmsError::NotFound(_))));
    assert!(matches!(e.kms.decrypt(ACCOUNT, &blob, None, &ctx(&[])).await, Err(KmsError::InvalidCiphertext)));
    assert!(matches!(e.kms.describe(ACCOUNT, "alias/doomed").await, Err(KmsError::NotFound(_))), "its aliases go too");
}

#[tokio::test]
async fn rotation_keeps_old_ciphertexts_readable() {
    let e = env().await;
    let k = e.kms.create_key(ACCOUNT, NewKey::default()).await.unwrap();
    let (old, _) = e.kms.encrypt(ACCOUNT, &k.id, b"v1", &ctx(&[])).await.unwrap();
    e.kms.rotate_now(ACCOUNT, &k.id).await.unwrap();
    let (new, _) = e.kms.encrypt(ACCOUNT, &k.id, b"v2", &ctx(&[])).await.unwrap();
    assert_eq!(cipher::header(&old).unwrap().version, 1);
    assert_eq!(cipher::header(&new).unwrap().version, 2);
    assert_eq!(e.kms.decrypt(ACCOUNT, &old, None, &ctx(&[])).await.unwrap().0, b"v1");
    assert_eq!(e.kms.decrypt(ACCOUNT, &new, None, &ctx(&[])).await.unwrap().0, b"v2");

    // automatic rotation on its period
    e.kms.set_rotation(ACCOUNT, &k.id, Some(90)).await.unwrap();
    assert!(matches!(e.kms.set_rotation(ACCOUNT, &k.id, Some(89)).await, Err(KmsError::Validation(_))));
    let status = e.kms.rotation_status(ACCOUNT, &k.id).await.unwrap();
    assert!(status.enabled);
    e.advance_days(91);
    let (third, _) = e.kms.encrypt(ACCOUNT, &k.id, b"v3", &ctx(&[])).await.unwrap();
    assert_eq!(cipher::header(&third).unwrap().version, 3);
    let kinds: Vec<String> = e.kms.rotations(ACCOUNT, &k.id).await.unwrap().into_iter().map(|r| r.kind).collect();
    assert_eq!(kinds, ["ON_DEMAND", "AUTOMATIC"]);
    assert_eq!(e.kms.decrypt(ACCOUNT, &old, None, &ctx(&[])).await.unwrap().0, b"v1");
}

#[tokio::test]
async fn grants_allow_their_operations_under_their_constraints_until_retired() {
    let e = env().await;
    let k = e.kms.create_key(ACCOUNT, NewKey::default()).await.unwrap();
    let alice = format!("arn:aws:iam::{ACCOUNT}:user/alice");
    let constraints = GrantConstraints { context_subset: Some(ctx(&[("team", "ml")])), context_equals: None };
    let grant = || {
        e.kms.create_grant(
            ACCOUNT,
            &k.id,
            "root",
            alice.clone(),
            None,
            vec!["Decrypt".into()],
            constraints.clone(),
            Some("g".into()),
        )
    };
    let (id, token) = grant().await.unwrap();
    let again = grant().await.unwrap();
    assert_eq!(again.0, id, "a retried CreateGrant gives the same grant");
    assert!(e.kms.granted(&k.arn, &alice, "Decrypt", &ctx(&[("team", "ml"), ("x", "y")])));
    assert!(!e.kms.granted(&k.arn, &alice, "Decrypt", &ctx(&[("team", "web")])));
    assert!(!e.kms.granted(&k.arn, &alice, "Encrypt", &ctx(&[("team", "ml")])));
    let (grants, _) = e.kms.list_grants(ACCOUNT, &k.id, None, None, None, 10).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert!(matches!(
        e.kms.retire_grant(ACCOUNT, "arn:aws:iam::000000000000:user/bob", Some(&token), None, None).await,
        Err(KmsError::AccessDenied(_))
    ));
    e.kms.retire_grant(ACCOUNT, &alice, Some(&token), None, None).await.unwrap();
    assert!(!e.kms.granted(&k.arn, &alice, "Decrypt", &ctx(&[("team", "ml")])));
    assert!(matches!(e.kms.revoke_grant(ACCOUNT, &k.id, &id).await, Err(KmsError::NotFound(_))));
}

#[tokio::test]
async fn hmac_keys_make_and_verify_macs_and_refuse_encryption() {
    let e = env().await;
    let k = e.kms.create_key(ACCOUNT, NewKey { spec: Some(KeySpec::Hmac256), ..NewKey::default() }).await.unwrap();
    let (mac, _) = e.kms.generate_mac(ACCOUNT, &k.id, b"message").await.unwrap();
    assert_eq!(mac.len(), 32);
    e.kms.verify_mac(ACCOUNT, &k.id, b"message", &mac).await.unwrap();
    assert!(matches!(e.kms.verify_mac(ACCOUNT, &k.id, b"other", &mac).await, Err(KmsError::InvalidMac(_))));
    assert!(matches!(e.kms.encrypt(ACCOUNT, &k.id, b"x", &ctx(&[])).await, Err(KmsError::InvalidKeyUsage(_))));
}

#[tokio::test]
async fn the_aws_managed_key_is_made_once_and_cannot_be_changed() {
    let e = env().await;
    let a = e.kms.managed_key(ACCOUNT, "s3").await.unwrap();
    let b = e.kms.managed_key(ACCOUNT, "s3").await.unwrap();
    assert_eq!(a.id, b.id);
    assert!(a.aws_managed);
    assert_eq!(e.kms.describe(ACCOUNT, "alias/aws/s3").await.unwrap().id, a.id);
    assert!(matches!(e.kms.set_enabled(ACCOUNT, &a.id, false).await, Err(KmsError::Unsupported(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_of_one_key_lose_nothing() {
    let e = env().await;
    let k = e.kms.create_key(ACCOUNT, NewKey::default()).await.unwrap();
    e.kms.set_rotation(ACCOUNT, &k.id, Some(90)).await.unwrap();
    e.advance_days(91);
    // two Encrypts with a rotation due, a tag and an on-demand rotation, all at once
    let tags: BTreeMap<String, String> = [("a".to_string(), "b".to_string())].into();
    let none = ctx(&[]);
    let (one, two, tagged, rotated) = tokio::join!(
        e.kms.encrypt(ACCOUNT, &k.id, b"one", &none),
        e.kms.encrypt(ACCOUNT, &k.id, b"two", &none),
        e.kms.tag(ACCOUNT, &k.id, tags),
        e.kms.rotate_now(ACCOUNT, &k.id),
    );
    tagged.unwrap();
    rotated.unwrap();
    let versions: Vec<u32> = e.kms.state().keys[&k.id].materials.iter().map(|m| m.version).collect();
    assert_eq!(versions, [1, 2, 3], "one automatic and one on-demand rotation, each once");
    assert_eq!(e.kms.tags(ACCOUNT, &k.id).await.unwrap().len(), 1, "the tag stays beside the rotations");
    // reopened: every ciphertext handed out still opens
    drop(e.kms);
    let kms = open(&e.dir, &e.now).await;
    for (blob, plain) in [(one.unwrap().0, &b"one"[..]), (two.unwrap().0, &b"two"[..])] {
        assert_eq!(kms.decrypt(ACCOUNT, &blob, None, &ctx(&[])).await.unwrap().0, plain);
    }
}
