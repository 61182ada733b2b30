//! The evaluator against the cases AWS documents: each group names the page its cases come
//! from; the legacy bucket-policy tests follow.

use super::matching::glob;
use super::*;

const ROOT: &str = "arn:aws:iam::000000000000:root";

#[test]
fn deny_wins_and_wildcards_match() {
    let p = Policy::parse(
        r#"{"Version": "2012-10-17", "Statement": [
            {"Sid": "all", "Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::lake/*"},
            {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::lake/secret/*"}
        ]}"#,
    )
    .unwrap();
    assert_eq!(p.evaluate(ROOT, "000000000000", "s3:GetObject", "arn:aws:s3:::lake/secret/a.csv"), Decision::Deny);
    assert_eq!(p.evaluate(ROOT, "000000000000", "s3:GetObject", "arn:aws:s3:::lake/open/a.csv"), Decision::Allow);
    assert_eq!(p.evaluate(ROOT, "000000000000", "s3:PutObject", "arn:aws:s3:::lake/secret/a.csv"), Decision::Allow);
    assert_eq!(p.evaluate(ROOT, "000000000000", "s3:ListBucket", "arn:aws:s3:::lake"), Decision::Silent);
    assert_eq!(p.resources(), ["arn:aws:s3:::lake/*", "arn:aws:s3:::lake/secret/*"]);
}

#[test]
fn principals_not_actions_and_not_resources() {
    let p = Policy::parse(
        r#"{"Statement": {"Effect": "Deny", "Principal": {"AWS": ["111111111111"]}, "NotAction": "s3:Get*", "NotResource": "arn:aws:s3:::lake/public/*"}}"#,
    )
    .unwrap();
    let other = "arn:aws:iam::111111111111:root";
    assert_eq!(p.evaluate(other, "111111111111", "s3:PutObject", "arn:aws:s3:::lake/x"), Decision::Deny);
    assert_eq!(p.evaluate(other, "111111111111", "s3:GetObject", "arn:aws:s3:::lake/x"), Decision::Silent);
    assert_eq!(p.evaluate(other, "111111111111", "s3:PutObject", "arn:aws:s3:::lake/public/x"), Decision::Silent);
    assert_eq!(p.evaluate(ROOT, "000000000000", "s3:PutObject", "arn:aws:s3:::lake/x"), Decision::Silent);
}

#[test]
fn malformed_policies_are_refused() {
    for bad in [
        "not json",
        "[]",
        r#"{"Version": "2020-01-01", "Statement": []}"#,
        r#"{"Statement": []}"#,
        r#"{"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}"#,
        r#"{"Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}"#,
        r#"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "ec2:*", "Resource": "*"}]}"#,
        r#"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*"}]}"#,
        r#"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*", "Condition": {"Sometimes": {"a:b": "c"}}}]}"#,
    ] {
        assert!(Policy::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn globs() {
    assert!(glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y"));
    assert!(!glob("arn:aws:s3:::b/*", "arn:aws:s3:::b"));
    assert!(glob("s3:get*", "s3:getobject"));
    assert!(glob("a?c", "abc"));
    assert!(!glob("a?c", "ac"));
    assert!(glob("*", ""));
    assert!(glob("arn:aws:s3:::lake/secret/*", "arn:aws:s3:::lake/secret/*x"), "a '*' in a key is no escape");
    assert!(glob("a*b", "a*b"));
}

// ---- the table of documented cases ---------------------------------------------------------

const EVAL: &str = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html";
const CROSS: &str =
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html";
const BOUNDARIES: &str = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html";
const SESSION: &str = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session";
const NOTPRINCIPAL: &str =
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html";
const NOTACTION: &str = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html";
const NOTRESOURCE: &str =
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html";
const VARIABLES: &str = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html";
const OPERATORS: &str =
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html";
const MULTI: &str = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html";
const PRINCIPAL: &str = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html";
const S3_POLICIES: &str = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies.html";
const RESOURCE: &str = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html";

const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const BOB: &str = "arn:aws:iam::111122223333:user/bob";
const CAROL_B: &str = "arn:aws:iam::444455556666:user/carol";
const ROOT_A: &str = "arn:aws:iam::111122223333:root";
const ROOT_B: &str = "arn:aws:iam::444455556666:root";
const SESSION_ARN: &str = "arn:aws:sts::111122223333:assumed-role/analyst/s1";
const ACCOUNT_A: &str = "111122223333";
const OBJ: &str = "arn:aws:s3:::lake/data/a.csv";
const BUCKET: &str = "arn:aws:s3:::lake";

/// One documented request: its policies, the request, and AWS's answer.
#[derive(Clone)]
struct Case {
    page: &'static str,
    what: &'static str,
    caller: &'static str,
    identity: Vec<&'static str>,
    resource_policy: Option<&'static str>,
    boundary: Option<&'static str>,
    session: Vec<&'static str>,
    action: &'static str,
    resource: &'static str,
    resource_account: &'static str,
    context: Vec<(&'static str, Vec<&'static str>)>,
    expect: Verdict,
}

fn case(page: &'static str, what: &'static str) -> Case {
    Case {
        page,
        what,
        caller: ALICE,
        identity: Vec::new(),
        resource_policy: None,
        boundary: None,
        session: Vec::new(),
        action: "s3:GetObject",
        resource: OBJ,
        resource_account: ACCOUNT_A,
        context: Vec::new(),
        expect: Verdict::ImplicitDeny,
    }
}

impl Case {
    fn caller(mut self, arn: &'static str) -> Self {
        self.caller = arn;
        self
    }
    fn id(mut self, policy: &'static str) -> Self {
        self.identity.push(policy);
        self
    }
    fn res(mut self, policy: &'static str) -> Self {
        self.resource_policy = Some(policy);
        self
    }
    fn boundary(mut self, policy: &'static str) -> Self {
        self.boundary = Some(policy);
        self
    }
    fn session(mut self, policy: &'static str) -> Self {
        self.session.push(policy);
        self
    }
    fn on(mut self, action: &'static str, resource: &'static str) -> Self {
        self.action = action;
        self.resource = resource;
        self
    }
    fn ctx(mut self, key: &'static str, values: &[&'static str]) -> Self {
        self.context.push((key, values.to_vec()));
        self
    }
    fn allow(mut self) -> Self {
        self.expect = Verdict::Allow;
        self
    }
    fn deny(mut self) -> Self {
        self.expect = Verdict::ExplicitDeny;
        self
    }
    fn implicit(mut self) -> Self {
        self.expect = Verdict::ImplicitDeny;
        self
    }

    fn run(&self) -> Verdict {
        let parse = |text: &str, kind| {
            Policy::parse_as(text, kind).unwrap_or_else(|e| panic!("{} ({}): {e}\n{text}", self.what, self.page))
        };
        let identity: Vec<Policy> = self.identity.iter().map(|t| parse(t, Kind::Identity)).collect();
        let identity: Vec<&Policy> = identity.iter().collect();
        let resource_policy = self.resource_policy.map(|t| parse(t, Kind::Resource));
        let boundary = self.boundary.map(|t| parse(t, Kind::Identity));
        let session: Vec<Policy> = self.session.iter().map(|t| parse(t, Kind::Identity)).collect();
        let session: Vec<&Policy> = session.iter().collect();
        let caller = if self.caller.is_empty() { Caller::anonymous() } else { Caller::from_arn(self.caller) };
        let mut context = Context::new();
        if let Some(user) = self.caller.split(":user/").nth(1) {
            context.set("aws:username", user);
        }
        for (k, v) in &self.context {
            context.set_all(k, v.iter().copied());
        }
        authorize(&Inputs {
            request: Request {
                caller: &caller,
                action: self.action,
                resource: self.resource,
                context: (&context).into(),
            },
            identity: &identity,
            resource_policy: resource_policy.as_ref(),
            resource_account: self.resource_account,
            boundary: boundary.as_ref(),
            session: &session,
            hint: None,
        })
    }
}

const ALLOW_ALL_S3: &str =
    r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}"#;
const ALLOW_GET: &str = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/*"}}"#;
const DENY_GET: &str =
    r#"{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}}"#;
const BUCKET_ALLOWS_ALICE: &str = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:user/alice"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/*"}}"#;
const BUCKET_ALLOWS_ACCOUNT_A: &str = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/*"}}"#;
const BUCKET_ALLOWS_ACCOUNT_B: &str = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/*"}}"#;
const BUCKET_ALLOWS_ACCOUNT_B_BY_ID: &str = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    "Principal": {"AWS": "444455556666"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/*"}}"#;
const BUCKET_ALLOWS_CAROL: &str = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::444455556666:user/carol"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/*"}}"#;
const BUCKET_DENIES_ACCOUNT_B: &str = r#"{"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": "s3:*", "Resource": "arn:aws:s3:::lake/*"},
    {"Effect": "Deny", "Principal": {"AWS": "444455556666"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/*"}]}"#;
const PUBLIC_READ: &str = r#"{"Version": "2012-10-17", "Statement": {"Sid": "PublicRead", "Effect": "Allow",
    "Principal": "*", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": "arn:aws:s3:::lake/*"}}"#;
const PUBLIC_READ_AWS_STAR: &str = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/*"}}"#;
const BUCKET_ALLOWS_ROLE: &str = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:role/analyst"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/*"}}"#;
const BUCKET_ALLOWS_SESSION: &str = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    "Principal": {"AWS": "arn:aws:sts::111122223333:assumed-role/analyst/s1"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/*"}}"#;
const DENY_ALL_BUT_ALICE: &str = r#"{"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/*"},
    {"Effect": "Deny", "NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:root"]},
     "Action": "s3:*", "Resource": "arn:aws:s3:::lake/*"}]}"#;
const ALLOW_NOT_IAM: &str =
    r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}"#;
const DENY_NOT_IAM_WITHOUT_MFA: &str = r#"{"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"},
    {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*", "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}]}"#;
const DENY_OUTSIDE_LAKE: &str = r#"{"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
    {"Effect": "Deny", "Action": "s3:*", "NotResource": ["arn:aws:s3:::lake", "arn:aws:s3:::lake/*"]}]}"#;
const HOME_PREFIX: &str = r#"{"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::lake",
     "Condition": {"StringLike": {"s3:prefix": ["${aws:username}/*", "${aws:username}"]}}},
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::lake/${aws:username}/*"}]}"#;
const HOME_PREFIX_2008: &str = r#"{"Version": "2008-10-17", "Statement":
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/${aws:username}/*"}}"#;
const TEAM_DEFAULT: &str = r#"{"Version": "2012-10-17", "Statement":
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/${aws:PrincipalTag/team, 'company-wide'}/*"}}"#;
const LITERAL_STAR: &str = r#"{"Version": "2012-10-17", "Statement":
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/${*}/*"}}"#;

fn with_condition(effect: &'static str, block: &'static str) -> &'static str {
    Box::leak(
        format!(
            r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}},
            {{"Effect": "{effect}", "Action": "s3:*", "Resource": "*", "Condition": {block}}}]}}"#
        )
        .into_boxed_str(),
    )
}

/// An identity policy that allows s3:GetObject only under `block`.
fn allow_if(block: &'static str) -> &'static str {
    Box::leak(
        format!(
            r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {block}}}}}"#
        )
        .into_boxed_str(),
    )
}

#[allow(clippy::too_many_lines)]
fn cases() -> Vec<Case> {
    vec![
        // ---- the order of evaluation ----
        case(EVAL, "no policy at all: implicit deny").implicit(),
        case(EVAL, "an identity Allow allows").id(ALLOW_GET).allow(),
        case(EVAL, "an identity Allow for another action does not").id(ALLOW_GET).on("s3:PutObject", OBJ).implicit(),
        case(EVAL, "an explicit Deny beats an Allow in another policy").id(ALLOW_ALL_S3).id(DENY_GET).deny(),
        case(EVAL, "an explicit Deny in the resource policy beats an identity Allow")
            .id(ALLOW_ALL_S3)
            .res(r#"{"Statement": {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}}"#)
            .deny(),
        case(EVAL, "a resource policy naming the user allows without an identity policy").res(BUCKET_ALLOWS_ALICE).allow(),
        case(EVAL, "a resource policy naming another user does not").caller(BOB).res(BUCKET_ALLOWS_ALICE).implicit(),
        case(EVAL, "a resource policy naming the account delegates: identity policies must allow")
            .res(BUCKET_ALLOWS_ACCOUNT_A)
            .implicit(),
        case(EVAL, "a resource policy naming the account, and an identity Allow")
            .res(BUCKET_ALLOWS_ACCOUNT_A)
            .id(ALLOW_GET)
            .allow(),
        case(EVAL, "an identity Allow with a silent resource policy, same account")
            .id(ALLOW_GET)
            .res(BUCKET_ALLOWS_CAROL)
            .allow(),
        case(EVAL, "the account's root user may do what nothing denies").caller(ROOT_A).on("s3:DeleteBucket", BUCKET).allow(),
        case(EVAL, "a resource policy's Deny binds the root user too")
            .caller(ROOT_A)
            .res(r#"{"Statement": {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/*"}}"#)
            .deny(),
        case(EVAL, "an action is matched without regard to case")
            .id(r#"{"Statement": {"Effect": "Allow", "Action": "S3:getobject", "Resource": "*"}}"#)
            .allow(),
        case(EVAL, "a resource is matched with regard to case")
            .id(r#"{"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::LAKE/*"}}"#)
            .implicit(),
        case(EVAL, "wildcards in actions").id(r#"{"Statement": {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}}"#).allow(),
        case(EVAL, "wildcards in actions do not reach other services")
            .id(r#"{"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}"#)
            .on("kinesis:PutRecord", "arn:aws:kinesis:us-east-1:111122223333:stream/s")
            .implicit(),
        case(EVAL, "Action * allows every service")
            .id(r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#)
            .on("glue:GetTable", "arn:aws:glue:us-east-1:111122223333:table/db/t")
            .allow(),
        case(EVAL, "a list of statements: any Allow suffices").id(
            r#"{"Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}, {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}"#,
        ).allow(),
        case(EVAL, "a Deny for another resource does not apply")
            .id(ALLOW_ALL_S3)
            .id(r#"{"Statement": {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::other/*"}}"#)
            .allow(),
        // ---- across accounts ----
        case(CROSS, "the bucket allows the other account and its user's identity policy allows")
            .caller(CAROL_B)
            .res(BUCKET_ALLOWS_ACCOUNT_B)
            .id(ALLOW_GET)
            .allow(),
        case(CROSS, "the bucket allows the other account by its id").caller(CAROL_B).res(BUCKET_ALLOWS_ACCOUNT_B_BY_ID).id(ALLOW_GET).allow(),
        case(CROSS, "the bucket allows, the user's identity policy is silent")
            .caller(CAROL_B)
            .res(BUCKET_ALLOWS_ACCOUNT_B)
            .implicit(),
        case(CROSS, "the identity policy allows, the bucket has no policy").caller(CAROL_B).id(ALLOW_GET).implicit(),
        case(CROSS, "the identity policy allows, the bucket allows someone else")
            .caller(CAROL_B)
            .id(ALLOW_GET)
            .res(BUCKET_ALLOWS_ALICE)
            .implicit(),
        case(CROSS, "the bucket names the user herself: her identity policy must still allow")
            .caller(CAROL_B)
            .res(BUCKET_ALLOWS_CAROL)
            .implicit(),
        case(CROSS, "the bucket names the user and her identity policy allows").caller(CAROL_B).res(BUCKET_ALLOWS_CAROL).id(ALLOW_GET).allow(),
        case(CROSS, "an explicit Deny for the other account in the bucket policy")
            .caller(CAROL_B)
            .res(BUCKET_DENIES_ACCOUNT_B)
            .id(ALLOW_ALL_S3)
            .deny(),
        case(CROSS, "the other account's root user, allowed by the bucket").caller(ROOT_B).res(BUCKET_ALLOWS_ACCOUNT_B).allow(),
        case(CROSS, "the other account's root user, bucket silent").caller(ROOT_B).implicit(),
        case(CROSS, "the other account's root user, bucket allows another account").caller(ROOT_B).res(BUCKET_ALLOWS_ACCOUNT_A).implicit(),
        case(CROSS, "an identity Deny in the caller's account refuses even what the bucket allows")
            .caller(CAROL_B)
            .res(BUCKET_ALLOWS_ACCOUNT_B)
            .id(ALLOW_ALL_S3)
            .id(DENY_GET)
            .deny(),
        // ---- anonymous requests ----
        case(S3_POLICIES, "public read: an anonymous GET").caller("").res(PUBLIC_READ).allow(),
        case(S3_POLICIES, "public read with AWS: *").caller("").res(PUBLIC_READ_AWS_STAR).allow(),
        case(S3_POLICIES, "public read does not allow PUT").caller("").res(PUBLIC_READ).on("s3:PutObject", OBJ).implicit(),
        case(S3_POLICIES, "no bucket policy: anonymous is refused").caller("").implicit(),
        case(S3_POLICIES, "a policy naming an account does not let anonymous in").caller("").res(BUCKET_ALLOWS_ACCOUNT_A).implicit(),
        case(S3_POLICIES, "public read lets a user of the account in without an identity policy").res(PUBLIC_READ).allow(),
        case(S3_POLICIES, "public read lets a user of another account in too").caller(CAROL_B).res(PUBLIC_READ).id(ALLOW_GET).allow(),
        // ---- permissions boundaries ----
        case(BOUNDARIES, "a boundary limits what the identity policy allows: inside")
            .id(ALLOW_ALL_S3)
            .boundary(ALLOW_GET)
            .allow(),
        case(BOUNDARIES, "a boundary limits what the identity policy allows: outside")
            .id(ALLOW_ALL_S3)
            .boundary(ALLOW_GET)
            .on("s3:PutObject", OBJ)
            .implicit(),
        case(BOUNDARIES, "a boundary grants nothing by itself").boundary(ALLOW_ALL_S3).implicit(),
        case(BOUNDARIES, "a Deny in the boundary is an explicit deny").id(ALLOW_ALL_S3).boundary(DENY_GET).deny(),
        case(BOUNDARIES, "a resource policy naming the user grants past the boundary")
            .boundary(r#"{"Statement": {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}}"#)
            .res(BUCKET_ALLOWS_ALICE)
            .allow(),
        case(BOUNDARIES, "a resource policy naming the account does not pass the boundary")
            .id(ALLOW_ALL_S3)
            .boundary(r#"{"Statement": {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}}"#)
            .res(BUCKET_ALLOWS_ACCOUNT_A)
            .implicit(),
        case(BOUNDARIES, "a resource policy naming the role: the session stays within its boundary")
            .caller(SESSION_ARN)
            .boundary(r#"{"Statement": {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}}"#)
            .res(BUCKET_ALLOWS_ROLE)
            .implicit(),
        // ---- session policies ----
        case(SESSION, "a session policy narrows the role").caller(SESSION_ARN).id(ALLOW_ALL_S3).session(ALLOW_GET).allow(),
        case(SESSION, "a session policy narrows the role: outside it")
            .caller(SESSION_ARN)
            .id(ALLOW_ALL_S3)
            .session(ALLOW_GET)
            .on("s3:PutObject", OBJ)
            .implicit(),
        case(SESSION, "a session policy cannot widen the role")
            .caller(SESSION_ARN)
            .id(ALLOW_GET)
            .session(ALLOW_ALL_S3)
            .on("s3:PutObject", OBJ)
            .implicit(),
        case(SESSION, "a Deny in the session policy").caller(SESSION_ARN).id(ALLOW_ALL_S3).session(DENY_GET).deny(),
        case(SESSION, "a resource policy naming the session grants past the session policy")
            .caller(SESSION_ARN)
            .session(r#"{"Statement": {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}}"#)
            .res(BUCKET_ALLOWS_SESSION)
            .allow(),
        case(SESSION, "a resource policy naming the role is limited by the session policy")
            .caller(SESSION_ARN)
            .session(r#"{"Statement": {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}}"#)
            .res(BUCKET_ALLOWS_ROLE)
            .implicit(),
        case(SESSION, "a resource policy naming the role, no session policy").caller(SESSION_ARN).res(BUCKET_ALLOWS_ROLE).allow(),
        case(SESSION, "a resource policy naming another role").caller(SESSION_ARN).res(
            r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/other"}, "Action": "s3:*", "Resource": "*"}}"#,
        ).implicit(),
        // ---- NotPrincipal ----
        case(NOTPRINCIPAL, "Deny with NotPrincipal spares the named user").res(DENY_ALL_BUT_ALICE).allow(),
        case(NOTPRINCIPAL, "Deny with NotPrincipal refuses everyone else").caller(BOB).res(DENY_ALL_BUT_ALICE).id(ALLOW_ALL_S3).deny(),
        case(NOTPRINCIPAL, "Deny with NotPrincipal refuses anonymous callers").caller("").res(DENY_ALL_BUT_ALICE).deny(),
        // ---- NotAction, NotResource ----
        case(NOTACTION, "Allow with NotAction iam:* allows S3").id(ALLOW_NOT_IAM).allow(),
        case(NOTACTION, "Allow with NotAction iam:* does not allow IAM")
            .id(ALLOW_NOT_IAM)
            .on("iam:CreateUser", "arn:aws:iam::111122223333:user/x")
            .implicit(),
        case(NOTACTION, "Deny NotAction iam:* without MFA: S3 refused when MFA is absent")
            .id(DENY_NOT_IAM_WITHOUT_MFA)
            .ctx("aws:MultiFactorAuthPresent", &["false"])
            .deny(),
        case(NOTACTION, "Deny NotAction iam:* without MFA: S3 allowed with MFA")
            .id(DENY_NOT_IAM_WITHOUT_MFA)
            .ctx("aws:MultiFactorAuthPresent", &["true"])
            .allow(),
        case(NOTACTION, "Deny NotAction iam:* without MFA: the key absent (long-term keys) refuses")
            .id(DENY_NOT_IAM_WITHOUT_MFA)
            .deny(),
        case(NOTACTION, "Deny NotAction iam:* without MFA: IAM itself is not denied")
            .id(DENY_NOT_IAM_WITHOUT_MFA)
            .on("iam:ListUsers", "*")
            .allow(),
        case(NOTRESOURCE, "Deny NotResource: inside the named bucket allowed").id(DENY_OUTSIDE_LAKE).allow(),
        case(NOTRESOURCE, "Deny NotResource: another bucket refused")
            .id(DENY_OUTSIDE_LAKE)
            .on("s3:GetObject", "arn:aws:s3:::other/a")
            .deny(),
        case(NOTRESOURCE, "Deny NotResource: the bucket itself allowed").id(DENY_OUTSIDE_LAKE).on("s3:ListBucket", BUCKET).allow(),
        // ---- Resource wildcards ----
        case(RESOURCE, "bucket/* matches an object").id(ALLOW_GET).allow(),
        case(RESOURCE, "bucket/* does not match the bucket").id(ALLOW_GET).on("s3:GetObject", BUCKET).implicit(),
        case(RESOURCE, "? matches one character")
            .id(r#"{"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/data/?.csv"}}"#)
            .allow(),
        case(RESOURCE, "? does not match two characters")
            .id(r#"{"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/data/?.csv"}}"#)
            .on("s3:GetObject", "arn:aws:s3:::lake/data/ab.csv")
            .implicit(),
        case(RESOURCE, "a wildcard region and account in a Kinesis ARN")
            .id(r#"{"Statement": {"Effect": "Allow", "Action": "kinesis:PutRecord", "Resource": "arn:aws:kinesis:*:*:stream/clicks"}}"#)
            .on("kinesis:PutRecord", "arn:aws:kinesis:us-east-1:111122223333:stream/clicks")
            .allow(),
        case(RESOURCE, "a wildcard segment does not cross into the next")
            .id(r#"{"Statement": {"Effect": "Allow", "Action": "kinesis:PutRecord", "Resource": "arn:aws:kinesis:*:stream/clicks"}}"#)
            .on("kinesis:PutRecord", "arn:aws:kinesis:us-east-1:111122223333:stream/clicks")
            .implicit(),
        case(RESOURCE, "Glue tables under a database")
            .id(r#"{"Statement": {"Effect": "Allow", "Action": "glue:GetTable", "Resource": "arn:aws:glue:us-east-1:111122223333:table/ml/*"}}"#)
            .on("glue:GetTable", "arn:aws:glue:us-east-1:111122223333:table/ml/labels")
            .allow(),
        // ---- policy variables ----
        case(VARIABLES, "a home prefix: the user's own object").id(HOME_PREFIX).on("s3:GetObject", "arn:aws:s3:::lake/alice/notes.txt").allow(),
        case(VARIABLES, "a home prefix: another user's object")
            .id(HOME_PREFIX)
            .on("s3:GetObject", "arn:aws:s3:::lake/bob/notes.txt")
            .implicit(),
        case(VARIABLES, "a home prefix: listing her prefix")
            .id(HOME_PREFIX)
            .on("s3:ListBucket", BUCKET)
            .ctx("s3:prefix", &["alice/"])
            .allow(),
        case(VARIABLES, "a home prefix: listing another prefix")
            .id(HOME_PREFIX)
            .on("s3:ListBucket", BUCKET)
            .ctx("s3:prefix", &["bob/"])
            .implicit(),
        case(VARIABLES, "a home prefix: listing without a prefix").id(HOME_PREFIX).on("s3:ListBucket", BUCKET).implicit(),
        case(VARIABLES, "bob gets his own prefix").caller(BOB).id(HOME_PREFIX).on("s3:PutObject", "arn:aws:s3:::lake/bob/x").allow(),
        case(VARIABLES, "a variable the request lacks matches nothing")
            .caller(SESSION_ARN)
            .id(HOME_PREFIX)
            .on("s3:GetObject", "arn:aws:s3:::lake//x")
            .implicit(),
        case(VARIABLES, "2008-10-17 policies take ${...} literally")
            .id(HOME_PREFIX_2008)
            .on("s3:GetObject", "arn:aws:s3:::lake/alice/x")
            .implicit(),
        case(VARIABLES, "2008-10-17: the literal text matches")
            .id(HOME_PREFIX_2008)
            .on("s3:GetObject", "arn:aws:s3:::lake/${aws:username}/x")
            .allow(),
        case(VARIABLES, "a variable's default when the tag is absent")
            .id(TEAM_DEFAULT)
            .on("s3:GetObject", "arn:aws:s3:::lake/company-wide/x")
            .allow(),
        case(VARIABLES, "a variable's value when the tag is present")
            .id(TEAM_DEFAULT)
            .ctx("aws:PrincipalTag/team", &["ml"])
            .on("s3:GetObject", "arn:aws:s3:::lake/ml/x")
            .allow(),
        case(VARIABLES, "the default does not apply when the tag is present")
            .id(TEAM_DEFAULT)
            .ctx("aws:PrincipalTag/team", &["ml"])
            .on("s3:GetObject", "arn:aws:s3:::lake/company-wide/x")
            .implicit(),
        case(VARIABLES, "${*} is a literal asterisk").id(LITERAL_STAR).on("s3:GetObject", "arn:aws:s3:::lake/*/x").allow(),
        case(VARIABLES, "${*} is no wildcard").id(LITERAL_STAR).on("s3:GetObject", "arn:aws:s3:::lake/a/x").implicit(),
        // ---- condition operators ----
        case(OPERATORS, "StringEquals on a principal tag: present and equal")
            .id(allow_if(r#"{"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}"#))
            .ctx("aws:PrincipalTag/job-category", &["iamuser-admin"])
            .allow(),
        case(OPERATORS, "StringEquals: a different value")
            .id(allow_if(r#"{"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}"#))
            .ctx("aws:PrincipalTag/job-category", &["IAMUSER-ADMIN"])
            .implicit(),
        case(OPERATORS, "StringEquals: the key absent is false")
            .id(allow_if(r#"{"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}"#))
            .implicit(),
        case(OPERATORS, "StringNotEquals: the key absent is true")
            .id(allow_if(r#"{"StringNotEquals": {"aws:PrincipalTag/job-category": "intern"}}"#))
            .allow(),
        case(OPERATORS, "StringNotEquals: an equal value is false")
            .id(allow_if(r#"{"StringNotEquals": {"aws:PrincipalTag/job-category": "intern"}}"#))
            .ctx("aws:PrincipalTag/job-category", &["intern"])
            .implicit(),
        case(OPERATORS, "StringEqualsIgnoreCase")
            .id(allow_if(r#"{"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "ML"}}"#))
            .ctx("aws:PrincipalTag/team", &["ml"])
            .allow(),
        case(OPERATORS, "StringNotEqualsIgnoreCase")
            .id(allow_if(r#"{"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": "ML"}}"#))
            .ctx("aws:PrincipalTag/team", &["ml"])
            .implicit(),
        case(OPERATORS, "StringLike with a wildcard")
            .id(allow_if(r#"{"StringLike": {"s3:prefix": "home/*"}}"#))
            .ctx("s3:prefix", &["home/alice/"])
            .allow(),
        case(OPERATORS, "StringLike: no match").id(allow_if(r#"{"StringLike": {"s3:prefix": "home/*"}}"#)).ctx("s3:prefix", &["tmp/"]).implicit(),
        case(OPERATORS, "StringNotLike").id(allow_if(r#"{"StringNotLike": {"s3:prefix": "secret/*"}}"#)).ctx("s3:prefix", &["open/"]).allow(),
        case(OPERATORS, "StringNotLike: a match is false")
            .id(allow_if(r#"{"StringNotLike": {"s3:prefix": "secret/*"}}"#))
            .ctx("s3:prefix", &["secret/x"])
            .implicit(),
        case(OPERATORS, "StringEquals is exact: wildcards are characters")
            .id(allow_if(r#"{"StringEquals": {"s3:prefix": "home/*"}}"#))
            .ctx("s3:prefix", &["home/alice"])
            .implicit(),
        case(OPERATORS, "NumericLessThanEquals: equal")
            .id(allow_if(r#"{"NumericLessThanEquals": {"s3:max-keys": "10"}}"#))
            .ctx("s3:max-keys", &["10"])
            .allow(),
        case(OPERATORS, "NumericLessThanEquals: above")
            .id(allow_if(r#"{"NumericLessThanEquals": {"s3:max-keys": "10"}}"#))
            .ctx("s3:max-keys", &["11"])
            .implicit(),
        case(OPERATORS, "NumericLessThan").id(allow_if(r#"{"NumericLessThan": {"s3:max-keys": 10}}"#)).ctx("s3:max-keys", &["9"]).allow(),
        case(OPERATORS, "NumericGreaterThan").id(allow_if(r#"{"NumericGreaterThan": {"s3:max-keys": "10"}}"#)).ctx("s3:max-keys", &["10"]).implicit(),
        case(OPERATORS, "NumericGreaterThanEquals")
            .id(allow_if(r#"{"NumericGreaterThanEquals": {"s3:max-keys": "10"}}"#))
            .ctx("s3:max-keys", &["10"])
            .allow(),
        case(OPERATORS, "NumericEquals with a decimal").id(allow_if(r#"{"NumericEquals": {"x:n": "1.50"}}"#)).ctx("x:n", &["1.5"]).allow(),
        case(OPERATORS, "NumericNotEquals").id(allow_if(r#"{"NumericNotEquals": {"x:n": "1"}}"#)).ctx("x:n", &["2"]).allow(),
        case(OPERATORS, "a number that does not parse never matches")
            .id(allow_if(r#"{"NumericLessThan": {"s3:max-keys": "10"}}"#))
            .ctx("s3:max-keys", &["many"])
            .implicit(),
        case(OPERATORS, "DateGreaterThan: after")
            .id(allow_if(r#"{"DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"}}"#))
            .ctx("aws:CurrentTime", &["2026-12-07T10:00:00Z"])
            .allow(),
        case(OPERATORS, "DateLessThan: after the end")
            .id(allow_if(r#"{"DateLessThan": {"aws:CurrentTime": "2020-06-30T00:00:00Z"}}"#))
            .ctx("aws:CurrentTime", &["2026-12-07T10:00:00Z"])
            .implicit(),
        case(OPERATORS, "a date window")
            .id(allow_if(
                r#"{"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}, "DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}"#,
            ))
            .ctx("aws:CurrentTime", &["2026-12-07T10:00:00Z"])
            .allow(),
        case(OPERATORS, "a date as epoch seconds")
            .id(allow_if(r#"{"DateLessThan": {"aws:EpochTime": "1800000000"}}"#))
            .ctx("aws:EpochTime", &["1796630400"])
            .allow(),
        case(OPERATORS, "dates compare across formats")
            .id(allow_if(r#"{"DateEquals": {"aws:CurrentTime": "2026-12-07"}}"#))
            .ctx("aws:CurrentTime", &["2026-12-07T00:00:00Z"])
            .allow(),
        case(OPERATORS, "a date with an offset")
            .id(allow_if(r#"{"DateLessThan": {"aws:CurrentTime": "2026-12-07T12:00:00+02:00"}}"#))
            .ctx("aws:CurrentTime", &["2026-12-07T10:30:00Z"])
            .implicit(),
        case(OPERATORS, "Bool SecureTransport false: a Deny for plain HTTP")
            .id(with_condition("Deny", r#"{"Bool": {"aws:SecureTransport": "false"}}"#))
            .ctx("aws:SecureTransport", &["false"])
            .deny(),
        case(OPERATORS, "Bool SecureTransport false: HTTPS is allowed")
            .id(with_condition("Deny", r#"{"Bool": {"aws:SecureTransport": "false"}}"#))
            .ctx("aws:SecureTransport", &["true"])
            .allow(),
        case(OPERATORS, "Bool as a JSON boolean").id(allow_if(r#"{"Bool": {"aws:SecureTransport": true}}"#)).ctx("aws:SecureTransport", &["true"]).allow(),
        case(OPERATORS, "BinaryEquals").id(allow_if(r#"{"BinaryEquals": {"x:key": "QmluYXJ5VmFsdWU="}}"#)).ctx("x:key", &["QmluYXJ5VmFsdWU="]).allow(),
        case(OPERATORS, "IpAddress: inside the range")
            .id(allow_if(r#"{"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#))
            .ctx("aws:SourceIp", &["203.0.113.9"])
            .allow(),
        case(OPERATORS, "IpAddress: outside the range")
            .id(allow_if(r#"{"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#))
            .ctx("aws:SourceIp", &["198.51.100.7"])
            .implicit(),
        case(OPERATORS, "IpAddress: a list of ranges is any of them")
            .id(allow_if(r#"{"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}}"#))
            .ctx("aws:SourceIp", &["192.0.2.1"])
            .allow(),
        case(OPERATORS, "NotIpAddress in a Deny")
            .id(with_condition("Deny", r#"{"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}"#))
            .ctx("aws:SourceIp", &["10.0.0.1"])
            .deny(),
        case(OPERATORS, "an IPv6 range")
            .id(allow_if(r#"{"IpAddress": {"aws:SourceIp": "2001:DB8:1234:5678::/64"}}"#))
            .ctx("aws:SourceIp", &["2001:db8:1234:5678::1"])
            .allow(),
        case(OPERATORS, "an IPv4 address against an IPv6 range")
            .id(allow_if(r#"{"IpAddress": {"aws:SourceIp": "2001:DB8:1234:5678::/64"}}"#))
            .ctx("aws:SourceIp", &["203.0.113.1"])
            .implicit(),
        case(OPERATORS, "ArnLike with a wildcard")
            .id(allow_if(r#"{"ArnLike": {"aws:SourceArn": "arn:aws:s3:::lake-*"}}"#))
            .ctx("aws:SourceArn", &["arn:aws:s3:::lake-raw"])
            .allow(),
        case(OPERATORS, "ArnEquals takes wildcards as ArnLike does")
            .id(allow_if(r#"{"ArnEquals": {"aws:SourceArn": "arn:aws:iam::111122223333:role/*"}}"#))
            .ctx("aws:SourceArn", &["arn:aws:iam::111122223333:role/analyst"])
            .allow(),
        case(OPERATORS, "ArnNotLike")
            .id(allow_if(r#"{"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin-*"}}"#))
            .ctx("aws:PrincipalArn", &["arn:aws:iam::111122223333:role/admin-ops"])
            .implicit(),
        case(OPERATORS, "ArnLike compares segment by segment")
            .id(allow_if(r#"{"ArnLike": {"aws:SourceArn": "arn:aws:kinesis:*:111122223333:stream/*"}}"#))
            .ctx("aws:SourceArn", &["arn:aws:kinesis:us-east-1:999999999999:stream/111122223333:stream/x"])
            .implicit(),
        case(OPERATORS, "Null true: the key is absent").id(allow_if(r#"{"Null": {"aws:TokenIssueTime": "true"}}"#)).allow(),
        case(OPERATORS, "Null true: the key is present")
            .id(allow_if(r#"{"Null": {"aws:TokenIssueTime": "true"}}"#))
            .ctx("aws:TokenIssueTime", &["2026-12-07T10:00:00Z"])
            .implicit(),
        case(OPERATORS, "Null false: the key must be present").id(allow_if(r#"{"Null": {"aws:TokenIssueTime": "false"}}"#)).implicit(),
        case(OPERATORS, "IfExists: the key absent passes")
            .id(allow_if(r#"{"StringEqualsIfExists": {"s3:x-amz-server-side-encryption": "AES256"}}"#))
            .allow(),
        case(OPERATORS, "IfExists: the key present is checked")
            .id(allow_if(r#"{"StringEqualsIfExists": {"s3:x-amz-server-side-encryption": "AES256"}}"#))
            .ctx("s3:x-amz-server-side-encryption", &["aws:kms"])
            .implicit(),
        case(OPERATORS, "IfExists in a Deny: the key absent denies")
            .id(with_condition("Deny", r#"{"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "AES256"}}"#))
            .deny(),
        case(OPERATORS, "condition keys ignore case; values do not")
            .id(allow_if(r#"{"StringEquals": {"AWS:PRINCIPALTAG/Team": "ml"}}"#))
            .ctx("aws:principaltag/team", &["ml"])
            .allow(),
        case(OPERATORS, "policy variables in condition values")
            .id(allow_if(r#"{"StringEquals": {"s3:prefix": "${aws:username}/"}}"#))
            .ctx("s3:prefix", &["alice/"])
            .allow(),
        // ---- several keys, values and operators ----
        case(MULTI, "two operators: both must hold (one fails)")
            .id(allow_if(r#"{"Bool": {"aws:SecureTransport": "true"}, "IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}"#))
            .ctx("aws:SecureTransport", &["true"])
            .ctx("aws:SourceIp", &["10.1.1.1"])
            .implicit(),
        case(MULTI, "two operators: both hold")
            .id(allow_if(r#"{"Bool": {"aws:SecureTransport": "true"}, "IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}"#))
            .ctx("aws:SecureTransport", &["true"])
            .ctx("aws:SourceIp", &["192.0.2.10"])
            .allow(),
        case(MULTI, "two keys under one operator: both must hold")
            .id(allow_if(r#"{"StringEquals": {"aws:PrincipalTag/team": "ml", "aws:PrincipalTag/env": "prod"}}"#))
            .ctx("aws:PrincipalTag/team", &["ml"])
            .ctx("aws:PrincipalTag/env", &["dev"])
            .implicit(),
        case(MULTI, "several values for one key: any of them")
            .id(allow_if(r#"{"StringEquals": {"aws:PrincipalTag/team": ["ml", "data"]}}"#))
            .ctx("aws:PrincipalTag/team", &["data"])
            .allow(),
        case(MULTI, "a negated operator with several values: none of them (NOR)")
            .id(allow_if(r#"{"StringNotEquals": {"aws:PrincipalTag/team": ["ml", "data"]}}"#))
            .ctx("aws:PrincipalTag/team", &["data"])
            .implicit(),
        case(MULTI, "a negated operator with several values: another value")
            .id(allow_if(r#"{"StringNotEquals": {"aws:PrincipalTag/team": ["ml", "data"]}}"#))
            .ctx("aws:PrincipalTag/team", &["ops"])
            .allow(),
        case(MULTI, "ForAnyValue: one request value in the set")
            .id(allow_if(r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["project", "cost-center"]}}"#))
            .ctx("aws:TagKeys", &["project", "owner"])
            .allow(),
        case(MULTI, "ForAnyValue: no request value in the set")
            .id(allow_if(r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["project", "cost-center"]}}"#))
            .ctx("aws:TagKeys", &["owner"])
            .implicit(),
        case(MULTI, "ForAnyValue: the key absent is false")
            .id(allow_if(r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["project"]}}"#))
            .implicit(),
        case(MULTI, "ForAllValues: every request value in the set")
            .id(allow_if(r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["project", "cost-center"]}}"#))
            .ctx("aws:TagKeys", &["project"])
            .allow(),
        case(MULTI, "ForAllValues: a request value outside the set")
            .id(allow_if(r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["project", "cost-center"]}}"#))
            .ctx("aws:TagKeys", &["project", "owner"])
            .implicit(),
        case(MULTI, "ForAllValues: the key absent is true")
            .id(allow_if(r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["project"]}}"#))
            .allow(),
        case(MULTI, "ForAllValues: an empty set of values is true")
            .id(allow_if(r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["project"]}}"#))
            .ctx("aws:TagKeys", &[])
            .allow(),
        case(MULTI, "ForAllValues with StringLike")
            .id(allow_if(r#"{"ForAllValues:StringLike": {"aws:TagKeys": ["team-*"]}}"#))
            .ctx("aws:TagKeys", &["team-a", "team-b"])
            .allow(),
        case(MULTI, "ForAnyValue with a negated operator: one value outside")
            .id(allow_if(r#"{"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["project"]}}"#))
            .ctx("aws:TagKeys", &["project", "owner"])
            .allow(),
        case(MULTI, "ForAllValues with a negated operator: every value outside")
            .id(allow_if(r#"{"ForAllValues:StringNotEquals": {"aws:TagKeys": ["project"]}}"#))
            .ctx("aws:TagKeys", &["project", "owner"])
            .implicit(),
        // ---- Principal forms ----
        case(PRINCIPAL, "a principal listed among several").res(
            r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:user/bob", "arn:aws:iam::111122223333:user/alice"]}, "Action": "s3:GetObject", "Resource": "*"}}"#,
        ).allow(),
        case(PRINCIPAL, "a service principal does not name a user").res(
            r#"{"Statement": {"Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "s3:PutObject", "Resource": "*"}}"#,
        ).on("s3:PutObject", OBJ).implicit(),
        case(PRINCIPAL, "the root ARN of the account names its users (with identity policies)")
            .caller(BOB)
            .res(BUCKET_ALLOWS_ACCOUNT_A)
            .id(ALLOW_GET)
            .allow(),
    ]
}

#[test]
fn documented_cases() {
    let cases = cases();
    let mut failed = Vec::new();
    for c in &cases {
        let got = c.run();
        if got != c.expect {
            failed.push(format!("{}: expected {:?}, got {got:?} ({})", c.what, c.expect, c.page));
        }
    }
    assert!(failed.is_empty(), "{} of {} cases differ:\n{}", failed.len(), cases.len(), failed.join("\n"));
    assert!(cases.len() >= 150, "the table holds {} documented cases", cases.len());
}

// ---- properties over random policies --------------------------------------------------------

/// Random policies over a small vocabulary (so that statements often meet the request).
struct Gen(rand::rngs::StdRng);

impl Gen {
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        use rand::Rng as _;
        items[self.0.random_range(0..items.len())]
    }

    fn chance(&mut self, percent: u32) -> bool {
        use rand::Rng as _;
        self.0.random_range(0..100) < percent
    }

    fn statement(&mut self, effect: &str, principal: bool) -> String {
        let action = self.pick(&["s3:GetObject", "s3:PutObject", "s3:Get*", "s3:*", "*", "kinesis:PutRecord"]);
        let resource = self.pick(&["*", "arn:aws:s3:::lake/*", "arn:aws:s3:::lake/data/*", "arn:aws:s3:::other/*"]);
        let action_key = if self.chance(15) { "NotAction" } else { "Action" };
        let resource_key = if self.chance(15) { "NotResource" } else { "Resource" };
        let mut s = format!(r#"{{"Effect": "{effect}", "{action_key}": "{action}", "{resource_key}": "{resource}""#);
        if principal {
            let p = self.pick(&[
                r#""*""#,
                r#"{"AWS": "111122223333"}"#,
                r#"{"AWS": "arn:aws:iam::111122223333:user/alice"}"#,
            ]);
            s.push_str(&format!(r#", "Principal": {p}"#));
        }
        if self.chance(30) {
            let c = self.pick(&[
                r#"{"StringEquals": {"aws:PrincipalTag/team": "ml"}}"#,
                r#"{"Bool": {"aws:SecureTransport": "true"}}"#,
                r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#,
                r#"{"StringNotEqualsIfExists": {"aws:PrincipalTag/team": "ops"}}"#,
                r#"{"ForAnyValue:StringLike": {"aws:TagKeys": "p*"}}"#,
            ]);
            s.push_str(&format!(r#", "Condition": {c}"#));
        }
        s.push('}');
        s
    }

    fn policy(&mut self, principal: bool, only_allow: bool) -> String {
        use rand::Rng as _;
        let n = self.0.random_range(1..4);
        let statements: Vec<String> = (0..n)
            .map(|_| {
                let effect = if only_allow || self.chance(70) { "Allow" } else { "Deny" };
                self.statement(effect, principal)
            })
            .collect();
        format!(r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#, statements.join(", "))
    }
}

struct Setup {
    identity: Vec<Policy>,
    resource: Option<Policy>,
    boundary: Option<Policy>,
    caller: Caller,
    action: &'static str,
    resource_arn: &'static str,
    context: Context,
}

impl Setup {
    fn random(g: &mut Gen) -> Self {
        use rand::Rng as _;
        let identity = (0..g.0.random_range(0..3))
            .map(|_| Policy::parse_as(&g.policy(false, false), Kind::Identity).unwrap())
            .collect();
        let resource = g.chance(50).then(|| Policy::parse_as(&g.policy(true, false), Kind::Resource).unwrap());
        let boundary = g.chance(20).then(|| Policy::parse_as(&g.policy(false, false), Kind::Identity).unwrap());
        let caller = Caller::from_arn(g.pick(&[ALICE, BOB, CAROL_B]));
        let mut context = Context::new();
        if g.chance(50) {
            context.set("aws:PrincipalTag/team", g.pick(&["ml", "ops"]));
        }
        context.set("aws:SecureTransport", g.pick(&["true", "false"]));
        context.set("aws:SourceIp", g.pick(&["10.1.2.3", "192.0.2.1"]));
        if g.chance(50) {
            context.set_all("aws:TagKeys", [g.pick(&["project", "owner"])]);
        }
        Self {
            identity,
            resource,
            boundary,
            caller,
            action: g.pick(&["s3:GetObject", "s3:PutObject", "kinesis:PutRecord"]),
            resource_arn: g.pick(&[OBJ, "arn:aws:s3:::other/x", BUCKET]),
            context,
        }
    }

    fn verdict(&self, extra_identity: Option<&Policy>) -> Verdict {
        let mut identity: Vec<&Policy> = self.identity.iter().collect();
        identity.extend(extra_identity);
        authorize(&Inputs {
            request: self.request(),
            identity: &identity,
            resource_policy: self.resource.as_ref(),
            resource_account: ACCOUNT_A,
            boundary: self.boundary.as_ref(),
            session: &[],
            hint: None,
        })
    }

    fn request(&self) -> Request<'_> {
        Request {
            caller: &self.caller,
            action: self.action,
            resource: self.resource_arn,
            context: (&self.context).into(),
        }
    }
}

#[test]
fn a_deny_anywhere_wins_and_an_added_allow_never_removes_access() {
    use rand::SeedableRng as _;
    let mut g = Gen(rand::rngs::StdRng::seed_from_u64(0x7a12_2026));
    let (mut allowed, mut denied) = (0, 0);
    for _ in 0..5000 {
        let setup = Setup::random(&mut g);
        let verdict = setup.verdict(None);
        // the verdict is an explicit deny exactly when some policy denies
        let req = setup.request();
        let some_deny = setup
            .identity
            .iter()
            .chain(&setup.resource)
            .chain(&setup.boundary)
            .any(|p| p.decide(&req).decision == Decision::Deny);
        assert_eq!(verdict == Verdict::ExplicitDeny, some_deny, "deny wins, and only a deny is explicit");
        // a Deny added to any place refuses
        let deny =
            Policy::parse_as(r#"{"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}}"#, Kind::Identity)
                .unwrap();
        assert_eq!(setup.verdict(Some(&deny)), Verdict::ExplicitDeny);
        // another Allow never takes access away
        let extra = Policy::parse_as(&g.policy(false, true), Kind::Identity).unwrap();
        if verdict == Verdict::Allow {
            assert_eq!(setup.verdict(Some(&extra)), Verdict::Allow, "an added Allow removed access");
            allowed += 1;
        } else {
            denied += 1;
        }
    }
    // the generator reaches both outcomes often
    assert!(allowed > 500 && denied > 500, "allowed {allowed}, denied {denied}");
}
