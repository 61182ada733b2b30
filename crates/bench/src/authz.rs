//! `tarn-bench authz`: what one S3 request's identity and authorization work costs, without
//! the network: the hook's steps (the key's secret, the principal, the request context, the
//! decision with the bucket's policy) for the account root and for a user whose access comes
//! from 10 attached managed policies with conditions (the setup of `bench/iam.sh`), timed in
//! one run. The figure to read is the difference per request beside a full request's cost.

use std::time::Instant;

use tarn_iam::policy::{Context, Policy};

const ROOT_KEY: &str = "AKIAROOTBENCH0000000";
const USER_KEY: &str = "AKIAUSERBENCH0000000";

fn iam_file() -> String {
    let mut policies = Vec::new();
    for i in 0..10 {
        let grants = i == 9;
        let cond = serde_json::json!({
            "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "127.0.0.0/8"]},
            "Bool": {"aws:SecureTransport": "false"},
            "StringLike": {"aws:username": if grants { "bench*".to_string() } else { format!("nobody{i}") }}
        });
        policies.push(serde_json::json!({"name": format!("p{i}"), "document": {"Version": "2012-10-17", "Statement": [
            {"Sid": format!("Read{i}"), "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": [format!("arn:aws:s3:::other{i}/*"), "arn:aws:s3:::bench/*"], "Condition": cond},
            {"Sid": format!("Fence{i}"), "Effect": "Deny", "Action": "s3:*",
             "Resource": format!("arn:aws:s3:::bench/secret{i}/*")}]}}));
    }
    let names: Vec<String> = (0..10).map(|i| format!("p{i}")).collect();
    serde_json::json!({
        "policies": policies,
        "users": [{"name": "bencher", "policies": names,
                   "keys": [{"access_key_id": USER_KEY, "secret_access_key": "usersecret0123456789usersecret0123456789"}]}]
    })
    .to_string()
}

fn bucket_policy() -> Policy {
    Policy::parse(
        r#"{"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::bench/keep/*"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/bencher"},
         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bench/public/*"}]}"#,
    )
    .expect("the bench's bucket policy parses")
}

/// One request's work as the S3 hook does it; returns whether it was allowed.
fn one(iam: &tarn_iam::Iam, policy: &Policy, key: &str, object: usize) -> bool {
    let Some(_secret) = iam.secret(key) else { return false };
    let Ok(who) = iam.principal(key, None) else { return false };
    let mut cx = Context::new();
    cx.set("aws:SecureTransport", "false").set("aws:SourceIp", "127.0.0.1");
    let resource = format!("arn:aws:s3:::bench/obj-{object:06}");
    iam.authorize(&who, "s3:GetObject", &resource, &cx, Some(policy), iam.account_id()).allowed()
}

pub fn run(iterations: usize) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = tarn_store::Store::open(dir.path()).map_err(|e| e.to_string())?;
    let root = tarn_iam::AccessKey {
        access_key_id: ROOT_KEY.into(),
        secret_access_key: "rootsecret0123456789rootsecret0123456789".into(),
    };
    let (ids, _) =
        tarn_iam::Identities::load(&dir.path().join("keys"), "000000000000", Some(root)).map_err(|e| e.to_string())?;
    let iam = rt.block_on(tarn_iam::Iam::open(store, ids)).map_err(|e| e.to_string())?;
    let file = tarn_iam::provision::parse(&iam_file()).map_err(|e| e.to_string())?;
    rt.block_on(iam.provision(file)).map_err(|e| e.to_string())?;
    let policy = bucket_policy();
    for key in [ROOT_KEY, USER_KEY] {
        if !one(&iam, &policy, key, 0) {
            return Err(format!("{key} is refused: the setup is wrong"));
        }
    }
    let mut rounds: Vec<(f64, f64)> = Vec::new();
    for _ in 0..5 {
        let mut per = [0.0f64; 2];
        for (slot, key) in [ROOT_KEY, USER_KEY].iter().enumerate() {
            let start = Instant::now();
            let mut allowed = 0usize;
            for i in 0..iterations {
                allowed += usize::from(one(&iam, &policy, key, i % 1000));
            }
            assert_eq!(allowed, iterations);
            per[slot] = start.elapsed().as_secs_f64() * 1e9 / iterations as f64;
        }
        rounds.push((per[0], per[1]));
    }
    rounds.sort_by(|a, b| (a.1 - a.0).total_cmp(&(b.1 - b.0)));
    let (r, u) = rounds[rounds.len() / 2];
    println!("authz root={r:.0}ns user={u:.0}ns user-root={:.0}ns (median of 5 rounds of {iterations})", u - r);
    Ok(())
}
