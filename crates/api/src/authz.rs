//! The one place a request is authorized. Each request names its IAM action (`<service
//! prefix>:<operation>`, from the generated operation; s3s's operation for S3) and the
//! resource ARNs it touches (from its validated members), and [`Gate::check`] asks
//! `tarn-iam` about each. The answer is AWS's: allowed, or an access-denied error saying who
//! may not do what on which resource, and why (no identity policy allows it, or a policy
//! denies it).

use tarn_iam::Principal;
use tarn_iam::policy::{Context, Policy, Verdict};
use tarn_wire::Doc;
use tarn_wire::generated::Service;

/// Decides requests for every service.
#[derive(Clone)]
pub struct Gate {
    pub iam: tarn_iam::Iam,
    pub objects: tarn_objects::Objects,
    pub kms: tarn_kms::Kms,
}

/// A KMS key a request uses: its ARN, account and parsed key policy.
pub struct KeyAccess {
    pub arn: String,
    pub account: String,
    pub policy: Option<Policy>,
}

/// A refusal, in words AWS uses: `User: <arn> is not authorized to perform: <action> on
/// resource: <arn> because no identity-based policy allows the <action> action`.
#[derive(Debug, Clone)]
pub struct Denied {
    pub message: String,
}

impl Gate {
    /// Whether `who` may do `action` on every one of `resources`.
    pub fn check(
        &self,
        who: &Principal,
        action: &str,
        resources: &[String],
        context: &Context,
        resource_policy: Option<&Policy>,
        resource_account: &str,
    ) -> Result<(), Denied> {
        for resource in resources {
            let verdict = self.iam.authorize(who, action, resource, context, resource_policy, resource_account);
            if !verdict.allowed() {
                return Err(denied(who, action, resource, verdict, resource_policy.is_some()));
            }
        }
        Ok(())
    }

    /// An S3 request: the caller's policies and the bucket's. The account's root with no
    /// bucket policy in the way is allowed at once (nothing could deny it).
    pub fn s3(
        &self,
        who: &Principal,
        action: &str,
        bucket: &str,
        key: Option<&str>,
        context: &Context,
    ) -> Result<(), Denied> {
        // a bucket being made is the caller's account's (a name another account holds is
        // answered BucketAlreadyExists by the handler, as S3 answers it), under no bucket policy
        let creating = action == "s3:CreateBucket";
        let policy = if creating { None } else { self.objects.bucket_policy(bucket) };
        let owner = if creating { None } else { self.objects.bucket_owner(bucket) };
        let account = match &owner {
            Some(owner) => owner.as_str(),
            None if creating => who.account_id.as_str(),
            None => self.iam.account_id(),
        };
        // the owning account's root with no bucket policy in the way: nothing could deny it
        if who.is_root() && who.account_id == account && policy.is_none() {
            return Ok(());
        }
        // RestrictPublicBuckets: a public policy lets in only the bucket's own account
        if (who.identity == tarn_iam::Identity::Anonymous || who.account_id != account)
            && self.objects.public_access_restricted(bucket, account)
        {
            return Err(denied(who, action, &s3_arn(bucket, key), Verdict::ImplicitDeny, true));
        }
        self.check(who, action, &[s3_arn(bucket, key)], context, policy.as_deref(), account)
    }

    /// Whether `who` may do `action` (`kms:<Operation>`) with a key: the caller's policies and
    /// the key's policy, or else a grant to the caller for `grant_operation` whose constraints
    /// `encryption_context` meets (never against an explicit Deny).
    pub fn key(
        &self,
        who: &Principal,
        action: &str,
        grant_operation: &str,
        key: &KeyAccess,
        context: &Context,
        encryption_context: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), Denied> {
        self.objects
            .authorize_key(
                &self.iam,
                who,
                action,
                grant_operation,
                &key.arn,
                &key.account,
                key.policy.as_ref(),
                context,
                encryption_context,
            )
            .map_err(|verdict| denied(who, action, &key.arn, verdict, key.policy.is_some()))
    }

    /// The key `reference` (an id, ARN or alias) names in `account`, for [`Gate::key`].
    #[must_use]
    pub fn key_access(&self, account: &str, reference: &str) -> Option<KeyAccess> {
        let (arn, policy) = self.kms.access_of(account, reference)?;
        let owner = arn.split(':').nth(4).unwrap_or(account).to_string();
        Some(KeyAccess {
            arn,
            account: owner,
            policy: Policy::parse_as(&policy, tarn_iam::policy::Kind::Resource).ok(),
        })
    }

    /// Whether `who` is the root user of the account that owns `bucket`.
    #[must_use]
    pub fn owns(&self, who: &Principal, bucket: &str) -> bool {
        who.is_root() && who.account_id == self.objects.bucket_owner(bucket).as_deref().unwrap_or(self.iam.account_id())
    }

    /// A JSON, REST or query request (no resource policies on these yet): the root is allowed
    /// at once.
    pub fn service(
        &self,
        who: &Principal,
        action: &str,
        resources: &[String],
        context: &Context,
    ) -> Result<(), Denied> {
        self.service_in(who, action, resources, context, self.iam.account_id())
    }

    /// [`Gate::service`] on resources of `account` (IAM's entities are their account's).
    pub fn service_in(
        &self,
        who: &Principal,
        action: &str,
        resources: &[String],
        context: &Context,
        account: &str,
    ) -> Result<(), Denied> {
        if who.is_root() && who.account_id == account {
            return Ok(());
        }
        self.check(who, action, resources, context, None, account)
    }
}

fn denied(who: &Principal, action: &str, resource: &str, verdict: Verdict, resource_policy: bool) -> Denied {
    let who = if who.arn.is_empty() { "anonymous" } else { who.arn.as_str() };
    let why = match (verdict, resource_policy) {
        (Verdict::ExplicitDeny, true) => "with an explicit deny in a resource-based policy".to_string(),
        (Verdict::ExplicitDeny, false) => "with an explicit deny in an identity-based policy".to_string(),
        _ => format!("because no identity-based policy allows the {action} action"),
    };
    Denied { message: format!("User: {who} is not authorized to perform: {action} on resource: {resource} {why}") }
}

/// The request context every request brings: whether it came over TLS and the caller's
/// address.
pub fn base_context(peer: Option<&crate::Peer>) -> Context {
    let mut cx = Context::new();
    cx.set("aws:SecureTransport", if peer.is_some_and(|p| p.1) { "true" } else { "false" });
    if let Some(p) = peer {
        cx.set("aws:SourceIp", p.0.ip().to_string());
    }
    cx
}

pub(crate) fn text<'a>(doc: &'a Doc, name: &str) -> Option<&'a str> {
    match doc.get(name) {
        Some(Doc::Str(s)) if !s.is_empty() => Some(s.as_str()),
        _ => None,
    }
}

fn texts(doc: &Doc, name: &str) -> Vec<String> {
    match doc.get(name) {
        Some(Doc::List(items)) => {
            items.iter().filter_map(|d| if let Doc::Str(s) = d { Some(s.clone()) } else { None }).collect()
        }
        _ => Vec::new(),
    }
}

/// `aws:RequestTag/<key>` and `aws:TagKeys` from the tags a request carries: `Tags` or
/// `TagsToAdd` (a map, or a list of `Key`/`Value` pairs, as each service shapes them) and
/// `TagKeys` or `TagsToRemove` (lists of keys).
pub fn request_tags(cx: &mut Context, doc: &Doc) {
    let mut keys: Vec<String> = Vec::new();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for member in ["Tags", "TagsToAdd", "TagList"] {
        match doc.get(member) {
            Some(Doc::Map(entries)) => {
                for (k, v) in entries {
                    if let Doc::Str(v) = v {
                        pairs.push((k.to_string(), v.clone()));
                    }
                }
            }
            Some(Doc::List(items)) => {
                for item in items {
                    if let (Some(k), Some(v)) = (text(item, "Key"), item.get("Value")) {
                        let v = if let Doc::Str(v) = v { v.clone() } else { String::new() };
                        pairs.push((k.to_string(), v));
                    }
                }
            }
            _ => {}
        }
    }
    for member in ["TagKeys", "TagsToRemove"] {
        keys.extend(texts(doc, member));
    }
    if pairs.is_empty() && keys.is_empty() {
        return;
    }
    for (k, v) in &pairs {
        cx.set(&format!("aws:RequestTag/{k}"), v.clone());
    }
    keys.extend(pairs.into_iter().map(|(k, _)| k));
    cx.set_all("aws:TagKeys", keys);
}

/// `aws:ResourceTag/<key>` for each of the resource's tags.
pub fn resource_tags(cx: &mut Context, tags: &[(String, String)]) {
    for (k, v) in tags {
        cx.set(&format!("aws:ResourceTag/{k}"), v.clone());
    }
}

/// Where a JSON-protocol resource lives.
pub struct Scope<'a> {
    pub region: &'a str,
    pub account: &'a str,
}

/// The resource ARNs a request of `service`'s operation `op` touches, from its members.
/// `workgroup_of` names the work group an Athena query execution (`false`) or named query
/// (`true`) belongs to.
pub fn resources(
    service: Service,
    op: &str,
    doc: &Doc,
    scope: &Scope<'_>,
    workgroup_of: &dyn Fn(&str, bool) -> Option<String>,
) -> Vec<String> {
    let (region, account) = (scope.region, scope.account);
    match service {
        Service::Kinesis => {
            if let Some(arn) = text(doc, "ConsumerARN") {
                return vec![arn.to_string()];
            }
            // the stream the handler acts on: StreamName wins over StreamARN, as it does there
            if let Some(name) = text(doc, "StreamName") {
                return vec![format!("arn:aws:kinesis:{region}:{account}:stream/{name}")];
            }
            match text(doc, "StreamARN") {
                Some(arn) => vec![arn.to_string()],
                // GetRecords names its stream inside the iterator; ListStreams names none
                None => vec![format!("arn:aws:kinesis:{region}:{account}:stream/*")],
            }
        }
        Service::Firehose => match text(doc, "DeliveryStreamName") {
            Some(name) => vec![format!("arn:aws:firehose:{region}:{account}:deliverystream/{name}")],
            None => vec![format!("arn:aws:firehose:{region}:{account}:deliverystream/*")],
        },
        Service::Glue => glue_resources(op, doc, region, account),
        Service::Athena => {
            let arn = |wg: &str| format!("arn:aws:athena:{region}:{account}:workgroup/{wg}");
            // an operation on executions or named queries is on the work groups they belong
            // to, each of a batch's (an unknown id is the handler's to refuse)
            let mut ids: Vec<(String, bool)> = Vec::new();
            ids.extend(text(doc, "QueryExecutionId").map(|id| (id.to_string(), false)));
            ids.extend(text(doc, "NamedQueryId").map(|id| (id.to_string(), true)));
            ids.extend(texts(doc, "QueryExecutionIds").into_iter().map(|id| (id, false)));
            ids.extend(texts(doc, "NamedQueryIds").into_iter().map(|id| (id, true)));
            if !ids.is_empty() {
                let mut groups: Vec<String> = ids
                    .iter()
                    .map(|(id, named)| workgroup_of(id, *named).unwrap_or_else(|| "primary".into()))
                    .collect();
                groups.sort();
                groups.dedup();
                return groups.iter().map(|g| arn(g)).collect();
            }
            let workgroup = text(doc, "WorkGroup")
                .or_else(|| text(doc, "Name").filter(|_| op.ends_with("WorkGroup")))
                .unwrap_or("primary");
            vec![arn(workgroup)]
        }
        // the cluster or serverless workgroup a statement runs on (a statement's own id names
        // neither: its owner alone reads it, which the handler checks)
        Service::RedshiftData => match (text(doc, "ClusterIdentifier"), text(doc, "WorkgroupName")) {
            (Some(c), _) => vec![format!("arn:aws:redshift:{region}:{account}:cluster:{c}")],
            (None, Some(w)) => vec![format!("arn:aws:redshift-serverless:{region}:{account}:workgroup/{w}")],
            (None, None) => vec!["*".to_string()],
        },
        // a key's ARN is found by the KMS branch of the authorizer (aliases resolved)
        Service::Iam | Service::Sts | Service::Kms => vec!["*".to_string()],
        // a trail, by name or ARN (LookupEvents, ListTrails and DescribeTrails name none)
        Service::Cloudtrail => {
            match text(doc, "Name").or_else(|| text(doc, "TrailName")).or_else(|| text(doc, "ResourceId")) {
                Some(arn) if arn.starts_with("arn:") => vec![arn.to_string()],
                Some(name) => vec![format!("arn:aws:cloudtrail:{region}:{account}:trail/{name}")],
                None => vec!["*".to_string()],
            }
        }
    }
}

/// The roles a request hands to a service (a crawler's Role, a delivery stream's RoleARNs):
/// the caller needs iam:PassRole on each.
pub fn passed_roles(service: Service, op: &str, doc: &Doc, account: &str) -> Vec<String> {
    let as_arn = |r: &str| {
        if r.starts_with("arn:") { r.to_string() } else { format!("arn:aws:iam::{account}:role/{r}") }
    };
    match (service, op) {
        (Service::Glue, "CreateCrawler" | "UpdateCrawler") => text(doc, "Role").map(as_arn).into_iter().collect(),
        (Service::Firehose, "CreateDeliveryStream" | "UpdateDestination") => {
            let mut roles = Vec::new();
            for outer in [
                "ExtendedS3DestinationConfiguration",
                "ExtendedS3DestinationUpdate",
                "S3DestinationConfiguration",
                "S3DestinationUpdate",
                "KinesisStreamSourceConfiguration",
            ] {
                if let Some(r) = doc.get(outer).and_then(|d| text(d, "RoleARN")) {
                    roles.push(as_arn(r));
                }
            }
            roles
        }
        _ => Vec::new(),
    }
}

/// Glue asks for the catalog, the database and the table a request touches, each by ARN
/// ("Specifying AWS Glue resource ARNs").
fn glue_resources(op: &str, doc: &Doc, region: &str, account: &str) -> Vec<String> {
    let catalog = format!("arn:aws:glue:{region}:{account}:catalog");
    if op.contains("Crawler") {
        let mut names: Vec<String> = texts(doc, "CrawlerNames");
        if let Some(n) = text(doc, "Name").or_else(|| text(doc, "CrawlerName")) {
            names.push(n.to_string());
        }
        if names.is_empty() {
            names.push("*".into());
        }
        return names.into_iter().map(|n| format!("arn:aws:glue:{region}:{account}:crawler/{n}")).collect();
    }
    let mut out = vec![catalog];
    let nested = |outer: &str| doc.get(outer).and_then(|d| text(d, "Name")).map(str::to_string);
    let database = text(doc, "DatabaseName").map(str::to_string).or_else(|| {
        if op.contains("Database") {
            text(doc, "Name").map(str::to_string).or_else(|| nested("DatabaseInput"))
        } else {
            None
        }
    });
    let Some(database) = database else { return out };
    out.push(format!("arn:aws:glue:{region}:{account}:database/{database}"));
    if op.contains("Database") {
        if op == "DeleteDatabase" {
            out.push(format!("arn:aws:glue:{region}:{account}:table/{database}/*"));
        }
        return out;
    }
    let mut tables: Vec<String> = texts(doc, "TablesToDelete");
    if let Some(t) = text(doc, "TableName")
        .map(str::to_string)
        .or_else(|| text(doc, "Name").map(str::to_string))
        .or_else(|| nested("TableInput"))
    {
        tables.push(t);
    }
    if tables.is_empty() {
        tables.push("*".into());
    }
    out.extend(tables.into_iter().map(|t| format!("arn:aws:glue:{region}:{account}:table/{database}/{t}")));
    out
}

/// The IAM prefix of a service's actions.
#[must_use]
pub fn prefix(service: Service) -> &'static str {
    match service {
        Service::Kinesis => "kinesis",
        Service::Firehose => "firehose",
        Service::Glue => "glue",
        Service::Athena => "athena",
        Service::RedshiftData => "redshift-data",
        Service::Kms => "kms",
        Service::Cloudtrail => "cloudtrail",
        Service::Iam => "iam",
        Service::Sts => "sts",
    }
}

/// The S3 action of an S3 operation as policies name it ("Actions, resources, and condition
/// keys for Amazon S3").
#[must_use]
pub fn s3_action(op: &str, versioned: bool) -> String {
    let action = match op {
        "HeadObject" | "GetObjectAttributes" => "s3:GetObject".into(),
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "s3:ListBucket".into(),
        "ListObjectVersions" => "s3:ListBucketVersions".into(),
        "CopyObject" | "UploadPart" | "UploadPartCopy" | "CompleteMultipartUpload" | "CreateMultipartUpload" => {
            "s3:PutObject".into()
        }
        "ListParts" => "s3:ListMultipartUploadParts".into(),
        "ListMultipartUploads" => "s3:ListBucketMultipartUploads".into(),
        "ListBuckets" => "s3:ListAllMyBuckets".into(),
        "GetBucketPolicy" | "PutBucketPolicy" | "DeleteBucketPolicy" | "GetBucketPolicyStatus" => format!("s3:{op}"),
        "GetBucketVersioning" | "PutBucketVersioning" => format!("s3:{op}"),
        "DeleteObjects" => "s3:DeleteObject".into(),
        "PutPublicAccessBlock" | "DeletePublicAccessBlock" => "s3:PutBucketPublicAccessBlock".into(),
        "GetPublicAccessBlock" => "s3:GetBucketPublicAccessBlock".into(),
        "GetBucketLocation" => "s3:GetBucketLocation".into(),
        // S3's actions for default encryption name the configuration
        "PutBucketEncryption" | "DeleteBucketEncryption" => "s3:PutEncryptionConfiguration".into(),
        "GetBucketEncryption" => "s3:GetEncryptionConfiguration".into(),
        other => format!("s3:{other}"),
    };
    if versioned && matches!(action.as_str(), "s3:GetObject" | "s3:DeleteObject") {
        return format!("{action}Version");
    }
    action
}

/// An S3 resource's ARN.
#[must_use]
pub fn s3_arn(bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
        None => format!("arn:aws:s3:::{bucket}"),
    }
}

/// The condition keys an S3 request brings: a listing's `s3:prefix`, `s3:delimiter`,
/// `s3:max-keys`; a write's `s3:x-amz-acl`, `s3:x-amz-server-side-encryption`, ...
pub fn s3_context(cx: &mut Context, query: Option<&str>, headers: &http::HeaderMap) {
    if let Some(q) = query {
        for pair in q.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
            match k {
                "prefix" => cx.set("s3:prefix", v.into_owned()),
                "delimiter" => cx.set("s3:delimiter", v.into_owned()),
                "max-keys" => cx.set("s3:max-keys", v.into_owned()),
                "versionId" => cx.set("s3:VersionId", v.into_owned()),
                _ => cx,
            };
        }
    }
    for name in [
        "x-amz-acl",
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-copy-source",
        "x-amz-metadata-directive",
        "x-amz-storage-class",
        "x-amz-content-sha256",
    ] {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            cx.set(&format!("s3:{name}"), v.to_string());
        }
    }
}
