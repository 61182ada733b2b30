//! AWS Identity and Access Management over the query protocol (API version 2010-05-08): the
//! generated `IamApi` trait over `tarn-iam`'s directory. Every change is one durable commit;
//! a refused one changes nothing. Lists page with `Marker`/`MaxItems` as IAM does (the marker
//! is the next item's name). Policy documents are answered URL-encoded (RFC 3986), as IAM
//! answers them and the SDKs decode them.

use tarn_common::limits::iam as limits;
use tarn_iam::directory::{
    AccessKeyRecord, Directory, DirectoryError, Group, Holder, KeyStatus, ManagedPolicy, PolicyVersion, Role, User,
};
use tarn_wire::generated::iam::{self as g};
use tarn_wire::{Context, ServiceError, Timestamp};

pub struct Iam {
    pub iam: tarn_iam::Iam,
}

type R<T> = Result<T, ServiceError>;

fn error(e: DirectoryError) -> ServiceError {
    let (code, status) = match &e {
        DirectoryError::NoSuchEntity(_) => ("NoSuchEntity", 404),
        DirectoryError::EntityAlreadyExists(_) => ("EntityAlreadyExists", 409),
        DirectoryError::DeleteConflict(_) => ("DeleteConflict", 409),
        DirectoryError::LimitExceeded(_) => ("LimitExceeded", 409),
        DirectoryError::MalformedPolicyDocument(_) => ("MalformedPolicyDocument", 400),
        DirectoryError::InvalidInput(_) => ("InvalidInput", 400),
        DirectoryError::PolicyNotAttachable(_) => ("PolicyNotAttachable", 400),
        DirectoryError::Store(_) => ("ServiceFailure", 500),
    };
    ServiceError::common(code, status, e.to_string())
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// RFC 3986 percent-encoding of a policy document.
fn url_encoded(text: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(text, KEEP).to_string()
}

fn tags_in(tags: Option<Vec<g::Tag>>) -> Vec<(String, String)> {
    tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect()
}

fn tags_out(tags: &[(String, String)]) -> Vec<g::Tag> {
    tags.iter().map(|(k, v)| g::Tag { key: k.clone(), value: v.clone() }).collect()
}

fn boundary(arn: Option<&String>) -> Option<g::AttachedPermissionsBoundary> {
    arn.map(|a| g::AttachedPermissionsBoundary {
        permissions_boundary_arn: Some(a.clone()),
        permissions_boundary_type: Some(g::PermissionsBoundaryAttachmentType::PermissionsBoundaryPolicy),
    })
}

fn user_out(dir: &Directory, u: &User, with_tags: bool) -> g::User {
    g::User {
        arn: dir.user_arn(u),
        create_date: ts(u.created_ms),
        path: u.path.clone(),
        user_id: u.id.clone(),
        user_name: u.name.clone(),
        permissions_boundary: boundary(u.boundary.as_ref()),
        tags: (with_tags && !u.tags.is_empty()).then(|| tags_out(&u.tags)),
        ..g::User::default()
    }
}

fn group_out(dir: &Directory, gr: &Group) -> g::Group {
    g::Group {
        arn: dir.group_arn(gr),
        create_date: ts(gr.created_ms),
        group_id: gr.id.clone(),
        group_name: gr.name.clone(),
        path: gr.path.clone(),
    }
}

fn role_out(dir: &Directory, r: &Role, full: bool) -> g::Role {
    g::Role {
        arn: dir.role_arn(r),
        assume_role_policy_document: Some(url_encoded(&r.trust.text)),
        create_date: ts(r.created_ms),
        description: r.description.clone(),
        max_session_duration: Some(i32::try_from(r.max_session_secs).unwrap_or(i32::MAX)),
        path: r.path.clone(),
        permissions_boundary: boundary(r.boundary.as_ref()),
        role_id: r.id.clone(),
        role_name: r.name.clone(),
        tags: (full && !r.tags.is_empty()).then(|| tags_out(&r.tags)),
        role_last_used: full.then(g::RoleLastUsed::default),
        ..g::Role::default()
    }
}

fn policy_out(dir: &Directory, p: &ManagedPolicy) -> g::Policy {
    g::Policy {
        arn: Some(p.arn.clone()),
        attachment_count: Some(i32::try_from(dir.attachment_count(&p.arn)).unwrap_or(i32::MAX)),
        create_date: Some(ts(p.created_ms)),
        default_version_id: Some(format!("v{}", p.default_version)),
        description: p.description.clone(),
        is_attachable: Some(true),
        path: Some(p.path.clone()),
        permissions_boundary_usage_count: Some(0),
        policy_id: Some(p.id.clone()),
        policy_name: Some(p.name.clone()),
        tags: (!p.tags.is_empty()).then(|| tags_out(&p.tags)),
        update_date: Some(ts(p.updated_ms)),
    }
}

fn version_out(v: u32, pv: &PolicyVersion, default: u32, with_document: bool) -> g::PolicyVersion {
    g::PolicyVersion {
        create_date: Some(ts(pv.created_ms)),
        document: with_document.then(|| url_encoded(&pv.document.text)),
        is_default_version: Some(v == default),
        version_id: Some(format!("v{v}")),
    }
}

fn key_meta(dir: &Directory, k: &AccessKeyRecord) -> g::AccessKeyMetadata {
    g::AccessKeyMetadata {
        access_key_id: Some(k.id.clone()),
        create_date: Some(ts(k.created_ms)),
        status: Some(status_out(k.status)),
        user_name: dir.users.get(&k.user).map(|u| u.name.clone()),
    }
}

fn status_out(s: KeyStatus) -> g::StatusType {
    match s {
        KeyStatus::Active => g::StatusType::Active,
        KeyStatus::Inactive => g::StatusType::Inactive,
    }
}

/// One page of `items` (each with its marker key, by which they are ordered): IAM's Marker is opaque;
/// tarn's is the key of the first item not yet returned.
fn page<T>(
    mut items: Vec<(String, T)>,
    marker: Option<&str>,
    max: Option<i32>,
) -> (Vec<T>, Option<bool>, Option<String>) {
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let max = max.and_then(|m| usize::try_from(m).ok()).unwrap_or(limits::PAGE_DEFAULT);
    let start = marker.map_or(0, |m| items.iter().position(|(k, _)| k.as_str() >= m).unwrap_or(items.len()));
    let mut rest: Vec<(String, T)> = items.into_iter().skip(start).collect();
    let next = (rest.len() > max).then(|| rest[max].0.clone());
    rest.truncate(max);
    (rest.into_iter().map(|(_, t)| t).collect(), Some(next.is_some()), next)
}

/// The user a request names, or else the calling user (as IAM defaults UserName).
fn user_or_caller(named: Option<String>, cx: &Context) -> R<String> {
    if let Some(n) = named {
        return Ok(n);
    }
    match cx.principal_arn.split_once(":user/") {
        Some((_, path)) => Ok(path.rsplit('/').next().unwrap_or(path).to_string()),
        None => Err(ServiceError::common(
            "InvalidInput",
            400,
            "UserName is required when the caller is not an IAM user (tarn keeps the root key outside the directory)",
        )),
    }
}

fn policy_arn_check(arn: &str) -> R<()> {
    if arn.starts_with("arn:aws:iam::") && arn.contains(":policy/") {
        Ok(())
    } else {
        Err(ServiceError::common("InvalidInput", 400, format!("ARN {arn} is not valid.")))
    }
}

impl Iam {
    async fn change<T>(
        &self,
        f: impl FnOnce(&mut Directory, &tarn_iam::directory::Sealer) -> Result<T, DirectoryError>,
    ) -> R<T> {
        self.iam.change(f).await.map_err(error)
    }

    fn attached_list(
        &self,
        holder: Holder,
        name: &str,
        prefix: Option<&str>,
        marker: Option<&str>,
        max: Option<i32>,
    ) -> R<(Vec<g::AttachedPolicy>, Option<bool>, Option<String>)> {
        let dir = self.iam.snapshot();
        let arns = dir.attached(holder, name).map_err(error)?;
        let items: Vec<(String, g::AttachedPolicy)> = arns
            .iter()
            .filter_map(|arn| dir.policies.get(arn))
            .filter(|p| prefix.is_none_or(|pre| p.path.starts_with(pre)))
            .map(|p| {
                (
                    p.name.clone(),
                    g::AttachedPolicy { policy_arn: Some(p.arn.clone()), policy_name: Some(p.name.clone()) },
                )
            })
            .collect();
        let mut items = items;
        items.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(page(items, marker, max))
    }

    fn inline_names(
        &self,
        holder: Holder,
        name: &str,
        marker: Option<&str>,
        max: Option<i32>,
    ) -> R<(Vec<String>, Option<bool>, Option<String>)> {
        let dir = self.iam.snapshot();
        let names: Vec<(String, String)> =
            dir.inline(holder, name).map_err(error)?.keys().map(|k| (k.clone(), k.clone())).collect();
        Ok(page(names, marker, max))
    }

    fn inline_get(&self, holder: Holder, name: &str, policy: &str) -> R<(String, String)> {
        let dir = self.iam.snapshot();
        let doc = dir.inline_policy(holder, name, policy).map_err(error)?;
        let owner = match holder {
            Holder::User => dir.user(name).map(|u| u.name.clone()),
            Holder::Group => dir.group(name).map(|g| g.name.clone()),
            Holder::Role => dir.role(name).map(|r| r.name.clone()),
        }
        .map_err(error)?;
        Ok((owner, url_encoded(&doc.text)))
    }
}

impl g::IamApi for Iam {
    // ---- users ----

    async fn create_user(&self, _cx: &Context, input: g::CreateUserRequest) -> R<g::CreateUserResponse> {
        let tags = tags_in(input.tags);
        let name = input.user_name;
        self.change(move |d, _| {
            let u = d.create_user(&name, input.path.as_deref(), &tags, input.permissions_boundary.as_deref())?;
            Ok(g::CreateUserResponse { user: Some(user_out(d, &u, true)) })
        })
        .await
    }

    async fn get_user(&self, cx: &Context, input: g::GetUserRequest) -> R<g::GetUserResponse> {
        if input.user_name.is_none() && cx.principal_arn.ends_with(":root") {
            return Ok(g::GetUserResponse {
                user: g::User {
                    arn: cx.principal_arn.clone(),
                    user_id: cx.account_id.clone(),
                    path: "/".into(),
                    create_date: ts(0),
                    ..g::User::default()
                },
            });
        }
        let name = user_or_caller(input.user_name, cx)?;
        let dir = self.iam.snapshot();
        let u = dir.user(&name).map_err(error)?;
        Ok(g::GetUserResponse { user: user_out(&dir, u, true) })
    }

    async fn list_users(&self, _cx: &Context, input: g::ListUsersRequest) -> R<g::ListUsersResponse> {
        let dir = self.iam.snapshot();
        let prefix = input.path_prefix.unwrap_or_else(|| "/".into());
        let items = dir
            .users
            .iter()
            .filter(|(_, u)| u.path.starts_with(&prefix))
            .map(|(k, u)| (k.clone(), user_out(&dir, u, false)))
            .collect();
        let (users, is_truncated, marker) = page(items, input.marker.as_deref(), input.max_items);
        Ok(g::ListUsersResponse { users, is_truncated, marker })
    }

    async fn update_user(&self, _cx: &Context, input: g::UpdateUserRequest) -> R<()> {
        self.change(move |d, _| {
            d.update_user(&input.user_name, input.new_user_name.as_deref(), input.new_path.as_deref())
        })
        .await
    }

    async fn delete_user(&self, _cx: &Context, input: g::DeleteUserRequest) -> R<()> {
        self.change(move |d, _| d.delete_user(&input.user_name)).await
    }

    async fn tag_user(&self, _cx: &Context, input: g::TagUserRequest) -> R<()> {
        let tags = tags_in(Some(input.tags));
        self.change(move |d, _| d.tag_user(&input.user_name, &tags)).await
    }

    async fn untag_user(&self, _cx: &Context, input: g::UntagUserRequest) -> R<()> {
        self.change(move |d, _| d.untag_user(&input.user_name, &input.tag_keys)).await
    }

    async fn list_user_tags(&self, _cx: &Context, input: g::ListUserTagsRequest) -> R<g::ListUserTagsResponse> {
        let dir = self.iam.snapshot();
        let u = dir.user(&input.user_name).map_err(error)?;
        let items = u.tags.iter().map(|(k, v)| (k.clone(), g::Tag { key: k.clone(), value: v.clone() })).collect();
        let (tags, is_truncated, marker) = page(items, input.marker.as_deref(), input.max_items);
        Ok(g::ListUserTagsResponse { tags, is_truncated, marker })
    }

    // ---- access keys ----

    async fn create_access_key(&self, cx: &Context, input: g::CreateAccessKeyRequest) -> R<g::CreateAccessKeyResponse> {
        let name = user_or_caller(input.user_name, cx)?;
        self.change(move |d, sealer| {
            let k = d.create_access_key(&name, sealer)?;
            let user_name = d.user(&name)?.name.clone();
            Ok(g::CreateAccessKeyResponse {
                access_key: g::AccessKey {
                    access_key_id: k.id,
                    create_date: Some(ts(k.created_ms)),
                    secret_access_key: k.secret,
                    status: g::StatusType::Active,
                    user_name,
                },
            })
        })
        .await
    }

    async fn list_access_keys(&self, cx: &Context, input: g::ListAccessKeysRequest) -> R<g::ListAccessKeysResponse> {
        let name = user_or_caller(input.user_name, cx)?;
        let dir = self.iam.snapshot();
        dir.user(&name).map_err(error)?;
        let items = dir.keys_of(&name).into_iter().map(|k| (k.id.clone(), key_meta(&dir, k))).collect();
        let (access_key_metadata, is_truncated, marker) = page(items, input.marker.as_deref(), input.max_items);
        Ok(g::ListAccessKeysResponse { access_key_metadata, is_truncated, marker })
    }

    async fn update_access_key(&self, cx: &Context, input: g::UpdateAccessKeyRequest) -> R<()> {
        let name = user_or_caller(input.user_name, cx)?;
        let status = match input.status {
            g::StatusType::Active => KeyStatus::Active,
            g::StatusType::Inactive => KeyStatus::Inactive,
            g::StatusType::Expired => {
                return Err(ServiceError::common("InvalidInput", 400, "Status may be Active or Inactive."));
            }
        };
        self.change(move |d, _| d.update_access_key(&name, &input.access_key_id, status)).await
    }

    async fn delete_access_key(&self, cx: &Context, input: g::DeleteAccessKeyRequest) -> R<()> {
        let name = user_or_caller(input.user_name, cx)?;
        self.change(move |d, _| d.delete_access_key(&name, &input.access_key_id)).await
    }

    async fn get_access_key_last_used(
        &self,
        cx: &Context,
        input: g::GetAccessKeyLastUsedRequest,
    ) -> R<g::GetAccessKeyLastUsedResponse> {
        let dir = self.iam.snapshot();
        let Some(k) = dir.keys.get(&input.access_key_id) else {
            if input.access_key_id == cx.access_key_id {
                return Ok(g::GetAccessKeyLastUsedResponse {
                    user_name: Some("root".into()),
                    access_key_last_used: Some(g::AccessKeyLastUsed {
                        region: "N/A".into(),
                        service_name: "N/A".into(),
                        last_used_date: None,
                    }),
                });
            }
            return Err(ServiceError::common(
                "AccessDenied",
                403,
                format!("The access key {} cannot be found in this account.", input.access_key_id),
            ));
        };
        Ok(g::GetAccessKeyLastUsedResponse {
            user_name: dir.users.get(&k.user).map(|u| u.name.clone()),
            // tarn does not record use per request (a write per request); AWS answers N/A for a
            // key that has not been used, which is what a client sees here
            access_key_last_used: Some(g::AccessKeyLastUsed {
                region: "N/A".into(),
                service_name: "N/A".into(),
                last_used_date: None,
            }),
        })
    }

    // ---- groups ----

    async fn create_group(&self, _cx: &Context, input: g::CreateGroupRequest) -> R<g::CreateGroupResponse> {
        self.change(move |d, _| {
            let gr = d.create_group(&input.group_name, input.path.as_deref())?;
            Ok(g::CreateGroupResponse { group: group_out(d, &gr) })
        })
        .await
    }

    async fn get_group(&self, _cx: &Context, input: g::GetGroupRequest) -> R<g::GetGroupResponse> {
        let dir = self.iam.snapshot();
        let gr = dir.group(&input.group_name).map_err(error)?;
        let items = dir
            .members(&input.group_name)
            .into_iter()
            .map(|u| (u.name.to_ascii_lowercase(), user_out(&dir, u, false)))
            .collect();
        let (users, is_truncated, marker) = page(items, input.marker.as_deref(), input.max_items);
        Ok(g::GetGroupResponse { group: group_out(&dir, gr), users, is_truncated, marker })
    }

    async fn list_groups(&self, _cx: &Context, input: g::ListGroupsRequest) -> R<g::ListGroupsResponse> {
        let dir = self.iam.snapshot();
        let prefix = input.path_prefix.unwrap_or_else(|| "/".into());
        let items = dir
            .groups
            .iter()
            .filter(|(_, gr)| gr.path.starts_with(&prefix))
            .map(|(k, gr)| (k.clone(), group_out(&dir, gr)))
            .collect();
        let (groups, is_truncated, marker) = page(items, input.marker.as_deref(), input.max_items);
        Ok(g::ListGroupsResponse { groups, is_truncated, marker })
    }

    async fn list_groups_for_user(
        &self,
        _cx: &Context,
        input: g::ListGroupsForUserRequest,
    ) -> R<g::ListGroupsForUserResponse> {
        let dir = self.iam.snapshot();
        let u = dir.user(&input.user_name).map_err(error)?;
        let items =
            u.groups.iter().filter_map(|k| dir.groups.get(k).map(|gr| (k.clone(), group_out(&dir, gr)))).collect();
        let (groups, is_truncated, marker) = page(items, input.marker.as_deref(), input.max_items);
        Ok(g::ListGroupsForUserResponse { groups, is_truncated, marker })
    }

    async fn delete_group(&self, _cx: &Context, input: g::DeleteGroupRequest) -> R<()> {
        self.change(move |d, _| d.delete_group(&input.group_name)).await
    }

    async fn add_user_to_group(&self, _cx: &Context, input: g::AddUserToGroupRequest) -> R<()> {
        self.change(move |d, _| d.add_user_to_group(&input.group_name, &input.user_name)).await
    }

    async fn remove_user_from_group(&self, _cx: &Context, input: g::RemoveUserFromGroupRequest) -> R<()> {
        self.change(move |d, _| d.remove_user_from_group(&input.group_name, &input.user_name)).await
    }

    // ---- roles ----

    async fn create_role(&self, _cx: &Context, input: g::CreateRoleRequest) -> R<g::CreateRoleResponse> {
        let tags = tags_in(input.tags);
        self.change(move |d, _| {
            let r = d.create_role(
                &input.role_name,
                input.path.as_deref(),
                &input.assume_role_policy_document,
                input.description.as_deref(),
                input.max_session_duration.map(i64::from),
                &tags,
                input.permissions_boundary.as_deref(),
            )?;
            Ok(g::CreateRoleResponse { role: role_out(d, &r, false) })
        })
        .await
    }

    async fn get_role(&self, _cx: &Context, input: g::GetRoleRequest) -> R<g::GetRoleResponse> {
        let dir = self.iam.snapshot();
        let r = dir.role(&input.role_name).map_err(error)?;
        Ok(g::GetRoleResponse { role: role_out(&dir, r, true) })
    }

    async fn list_roles(&self, _cx: &Context, input: g::ListRolesRequest) -> R<g::ListRolesResponse> {
        let dir = self.iam.snapshot();
        let prefix = input.path_prefix.unwrap_or_else(|| "/".into());
        let items = dir
            .roles
            .iter()
            .filter(|(_, r)| r.path.starts_with(&prefix))
            .map(|(k, r)| (k.clone(), role_out(&dir, r, false)))
            .collect();
        let (roles, is_truncated, marker) = page(items, input.marker.as_deref(), input.max_items);
        Ok(g::ListRolesResponse { roles, is_truncated, marker })
    }

    async fn update_role(&self, _cx: &Context, input: g::UpdateRoleRequest) -> R<g::UpdateRoleResponse> {
        self.change(move |d, _| {
            d.update_role(&input.role_name, input.description.as_deref(), input.max_session_duration.map(i64::from))
        })
        .await?;
        Ok(g::UpdateRoleResponse::default())
    }

    async fn update_assume_role_policy(&self, _cx: &Context, input: g::UpdateAssumeRolePolicyRequest) -> R<()> {
        self.change(move |d, _| d.update_trust(&input.role_name, &input.policy_document)).await
    }

    async fn delete_role(&self, _cx: &Context, input: g::DeleteRoleRequest) -> R<()> {
        self.change(move |d, _| d.delete_role(&input.role_name)).await
    }

    async fn tag_role(&self, _cx: &Context, input: g::TagRoleRequest) -> R<()> {
        let tags = tags_in(Some(input.tags));
        self.change(move |d, _| d.tag_role(&input.role_name, &tags)).await
    }

    async fn untag_role(&self, _cx: &Context, input: g::UntagRoleRequest) -> R<()> {
        self.change(move |d, _| d.untag_role(&input.role_name, &input.tag_keys)).await
    }

    async fn list_role_tags(&self, _cx: &Context, input: g::ListRoleTagsRequest) -> R<g::ListRoleTagsResponse> {
        let dir = self.iam.snapshot();
        let r = dir.role(&input.role_name).map_err(error)?;
        let items = r.tags.iter().map(|(k, v)| (k.clone(), g::Tag { key: k.clone(), value: v.clone() })).collect();
        let (tags, is_truncated, marker) = page(items, input.marker.as_deref(), input.max_items);
        Ok(g::ListRoleTagsResponse { tags, is_truncated, marker })
    }

    // ---- managed policies ----

    async fn create_policy(&self, _cx: &Context, input: g::CreatePolicyRequest) -> R<g::CreatePolicyResponse> {
        let tags = tags_in(input.tags);
        self.change(move |d, _| {
            let p = d.create_policy(
                &input.policy_name,
                input.path.as_deref(),
                &input.policy_document,
                input.description.as_deref(),
                &tags,
            )?;
            let mut out = policy_out(d, &p);
            out.description = None;
            Ok(g::CreatePolicyResponse { policy: Some(out) })
        })
        .await
    }

    async fn get_policy(&self, _cx: &Context, input: g::GetPolicyRequest) -> R<g::GetPolicyResponse> {
        policy_arn_check(&input.policy_arn)?;
        let dir = self.iam.snapshot();
        let p = dir.policies.get(&input.policy_arn).ok_or_else(|| {
            ServiceError::common("NoSuchEntity", 404, format!("Policy {} was not found.", input.policy_arn))
        })?;
        Ok(g::GetPolicyResponse { policy: Some(policy_out(&dir, p)) })
    }

    async fn list_policies(&self, _cx: &Context, input: g::ListPoliciesRequest) -> R<g::ListPoliciesResponse> {
        let dir = self.iam.snapshot();
        // tarn holds no AWS managed policies: scope AWS lists nothing
        if input.scope == Some(g::PolicyScopeType::Aws) {
            return Ok(g::ListPoliciesResponse { policies: Some(Vec::new()), is_truncated: Some(false), marker: None });
        }
        let prefix = input.path_prefix.unwrap_or_else(|| "/".into());
        let only_attached = input.only_attached.unwrap_or(false);
        let mut items: Vec<(String, g::Policy)> = dir
            .policies
            .values()
            .filter(|p| p.path.starts_with(&prefix))
            .filter(|p| !only_attached || dir.attachment_count(&p.arn) > 0)
            .map(|p| {
                let mut out = policy_out(&dir, p);
                out.description = None;
                out.tags = None;
                (p.name.to_ascii_lowercase(), out)
            })
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let (policies, is_truncated, marker) = page(items, input.marker.as_deref(), input.max_items);
        Ok(g::ListPoliciesResponse { policies: Some(policies), is_truncated, marker })
    }

    async fn delete_policy(&self, _cx: &Context, input: g::DeletePolicyRequest) -> R<()> {
        policy_arn_check(&input.policy_arn)?;
        self.change(move |d, _| d.delete_policy(&input.policy_arn)).await
    }

    async fn create_policy_version(
        &self,
        _cx: &Context,
        input: g::CreatePolicyVersionRequest,
    ) -> R<g::CreatePolicyVersionResponse> {
        policy_arn_check(&input.policy_arn)?;
        self.change(move |d, _| {
            let v = d.create_policy_version(
                &input.policy_arn,
                &input.policy_document,
                input.set_as_default.unwrap_or(false),
            )?;
            let p = d.policy(&input.policy_arn)?;
            Ok(g::CreatePolicyVersionResponse {
                policy_version: Some(version_out(v, &p.versions[&v], p.default_version, false)),
            })
        })
        .await
    }

    async fn get_policy_version(
        &self,
        _cx: &Context,
        input: g::GetPolicyVersionRequest,
    ) -> R<g::GetPolicyVersionResponse> {
        policy_arn_check(&input.policy_arn)?;
        let dir = self.iam.snapshot();
        let (v, pv) = dir.policy_version(&input.policy_arn, &input.version_id).map_err(error)?;
        let default = dir.policy(&input.policy_arn).map_err(error)?.default_version;
        Ok(g::GetPolicyVersionResponse { policy_version: Some(version_out(v, pv, default, true)) })
    }

    async fn list_policy_versions(
        &self,
        _cx: &Context,
        input: g::ListPolicyVersionsRequest,
    ) -> R<g::ListPolicyVersionsResponse> {
        policy_arn_check(&input.policy_arn)?;
        let dir = self.iam.snapshot();
        let p = dir.policy(&input.policy_arn).map_err(error)?;
        // newest first, as IAM lists them
        let items = p
            .versions
            .iter()
            .rev()
            .map(|(v, pv)| (format!("{:010}", u32::MAX - v), version_out(*v, pv, p.default_version, false)))
            .collect();
        let (versions, is_truncated, marker) = page(items, input.marker.as_deref(), input.max_items);
        Ok(g::ListPolicyVersionsResponse { versions: Some(versions), is_truncated, marker })
    }

    async fn delete_policy_version(&self, _cx: &Context, input: g::DeletePolicyVersionRequest) -> R<()> {
        policy_arn_check(&input.policy_arn)?;
        self.change(move |d, _| d.delete_policy_version(&input.policy_arn, &input.version_id)).await
    }

    async fn set_default_policy_version(&self, _cx: &Context, input: g::SetDefaultPolicyVersionRequest) -> R<()> {
        policy_arn_check(&input.policy_arn)?;
        self.change(move |d, _| d.set_default_version(&input.policy_arn, &input.version_id)).await
    }

    // ---- attachments ----

    async fn attach_user_policy(&self, _cx: &Context, input: g::AttachUserPolicyRequest) -> R<()> {
        policy_arn_check(&input.policy_arn)?;
        self.change(move |d, _| d.attach(Holder::User, &input.user_name, &input.policy_arn)).await
    }

    async fn detach_user_policy(&self, _cx: &Context, input: g::DetachUserPolicyRequest) -> R<()> {
        policy_arn_check(&input.policy_arn)?;
        self.change(move |d, _| d.detach(Holder::User, &input.user_name, &input.policy_arn)).await
    }

    async fn attach_group_policy(&self, _cx: &Context, input: g::AttachGroupPolicyRequest) -> R<()> {
        policy_arn_check(&input.policy_arn)?;
        self.change(move |d, _| d.attach(Holder::Group, &input.group_name, &input.policy_arn)).await
    }

    async fn detach_group_policy(&self, _cx: &Context, input: g::DetachGroupPolicyRequest) -> R<()> {
        policy_arn_check(&input.policy_arn)?;
        self.change(move |d, _| d.detach(Holder::Group, &input.group_name, &input.policy_arn)).await
    }

    async fn attach_role_policy(&self, _cx: &Context, input: g::AttachRolePolicyRequest) -> R<()> {
        policy_arn_check(&input.policy_arn)?;
        self.change(move |d, _| d.attach(Holder::Role, &input.role_name, &input.policy_arn)).await
    }

    async fn detach_role_policy(&self, _cx: &Context, input: g::DetachRolePolicyRequest) -> R<()> {
        policy_arn_check(&input.policy_arn)?;
        self.change(move |d, _| d.detach(Holder::Role, &input.role_name, &input.policy_arn)).await
    }

    async fn list_attached_user_policies(
        &self,
        _cx: &Context,
        input: g::ListAttachedUserPoliciesRequest,
    ) -> R<g::ListAttachedUserPoliciesResponse> {
        let (p, is_truncated, marker) = self.attached_list(
            Holder::User,
            &input.user_name,
            input.path_prefix.as_deref(),
            input.marker.as_deref(),
            input.max_items,
        )?;
        Ok(g::ListAttachedUserPoliciesResponse { attached_policies: Some(p), is_truncated, marker })
    }

    async fn list_attached_group_policies(
        &self,
        _cx: &Context,
        input: g::ListAttachedGroupPoliciesRequest,
    ) -> R<g::ListAttachedGroupPoliciesResponse> {
        let (p, is_truncated, marker) = self.attached_list(
            Holder::Group,
            &input.group_name,
            input.path_prefix.as_deref(),
            input.marker.as_deref(),
            input.max_items,
        )?;
        Ok(g::ListAttachedGroupPoliciesResponse { attached_policies: Some(p), is_truncated, marker })
    }

    async fn list_attached_role_policies(
        &self,
        _cx: &Context,
        input: g::ListAttachedRolePoliciesRequest,
    ) -> R<g::ListAttachedRolePoliciesResponse> {
        let (p, is_truncated, marker) = self.attached_list(
            Holder::Role,
            &input.role_name,
            input.path_prefix.as_deref(),
            input.marker.as_deref(),
            input.max_items,
        )?;
        Ok(g::ListAttachedRolePoliciesResponse { attached_policies: Some(p), is_truncated, marker })
    }

    // ---- inline policies ----

    async fn put_user_policy(&self, _cx: &Context, input: g::PutUserPolicyRequest) -> R<()> {
        self.change(move |d, _| {
            d.put_inline(Holder::User, &input.user_name, &input.policy_name, &input.policy_document)
        })
        .await
    }

    async fn get_user_policy(&self, _cx: &Context, input: g::GetUserPolicyRequest) -> R<g::GetUserPolicyResponse> {
        let (user_name, policy_document) = self.inline_get(Holder::User, &input.user_name, &input.policy_name)?;
        Ok(g::GetUserPolicyResponse { user_name, policy_name: input.policy_name, policy_document })
    }

    async fn list_user_policies(
        &self,
        _cx: &Context,
        input: g::ListUserPoliciesRequest,
    ) -> R<g::ListUserPoliciesResponse> {
        let (policy_names, is_truncated, marker) =
            self.inline_names(Holder::User, &input.user_name, input.marker.as_deref(), input.max_items)?;
        Ok(g::ListUserPoliciesResponse { policy_names, is_truncated, marker })
    }

    async fn delete_user_policy(&self, _cx: &Context, input: g::DeleteUserPolicyRequest) -> R<()> {
        self.change(move |d, _| d.delete_inline(Holder::User, &input.user_name, &input.policy_name)).await
    }

    async fn put_group_policy(&self, _cx: &Context, input: g::PutGroupPolicyRequest) -> R<()> {
        self.change(move |d, _| {
            d.put_inline(Holder::Group, &input.group_name, &input.policy_name, &input.policy_document)
        })
        .await
    }

    async fn get_group_policy(&self, _cx: &Context, input: g::GetGroupPolicyRequest) -> R<g::GetGroupPolicyResponse> {
        let (group_name, policy_document) = self.inline_get(Holder::Group, &input.group_name, &input.policy_name)?;
        Ok(g::GetGroupPolicyResponse { group_name, policy_name: input.policy_name, policy_document })
    }

    async fn list_group_policies(
        &self,
        _cx: &Context,
        input: g::ListGroupPoliciesRequest,
    ) -> R<g::ListGroupPoliciesResponse> {
        let (policy_names, is_truncated, marker) =
            self.inline_names(Holder::Group, &input.group_name, input.marker.as_deref(), input.max_items)?;
        Ok(g::ListGroupPoliciesResponse { policy_names, is_truncated, marker })
    }

    async fn delete_group_policy(&self, _cx: &Context, input: g::DeleteGroupPolicyRequest) -> R<()> {
        self.change(move |d, _| d.delete_inline(Holder::Group, &input.group_name, &input.policy_name)).await
    }

    async fn put_role_policy(&self, _cx: &Context, input: g::PutRolePolicyRequest) -> R<()> {
        self.change(move |d, _| {
            d.put_inline(Holder::Role, &input.role_name, &input.policy_name, &input.policy_document)
        })
        .await
    }

    async fn get_role_policy(&self, _cx: &Context, input: g::GetRolePolicyRequest) -> R<g::GetRolePolicyResponse> {
        let (role_name, policy_document) = self.inline_get(Holder::Role, &input.role_name, &input.policy_name)?;
        Ok(g::GetRolePolicyResponse { role_name, policy_name: input.policy_name, policy_document })
    }

    async fn list_role_policies(
        &self,
        _cx: &Context,
        input: g::ListRolePoliciesRequest,
    ) -> R<g::ListRolePoliciesResponse> {
        let (policy_names, is_truncated, marker) =
            self.inline_names(Holder::Role, &input.role_name, input.marker.as_deref(), input.max_items)?;
        Ok(g::ListRolePoliciesResponse { policy_names, is_truncated, marker })
    }

    async fn delete_role_policy(&self, _cx: &Context, input: g::DeleteRolePolicyRequest) -> R<()> {
        self.change(move |d, _| d.delete_inline(Holder::Role, &input.role_name, &input.policy_name)).await
    }
}

/// The namespace of every IAM response document.
pub const XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// The resource an IAM action is on, from the entity the request names.
/// The entity comes first (attaching a policy to a user is an action on the user), with its
/// path when it exists; a call that defaults to the caller (CreateAccessKey without a
/// UserName) is on the caller.
fn resource_of(params: &[(String, String)], dir: &Directory, caller_arn: &str) -> String {
    let param = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let account = &dir.account_id;
    if let Some(name) = param("UserName") {
        return dir.user(name).map_or_else(|_| format!("arn:aws:iam::{account}:user/{name}"), |u| dir.user_arn(u));
    }
    if let Some(name) = param("RoleName") {
        return dir.role(name).map_or_else(|_| format!("arn:aws:iam::{account}:role/{name}"), |r| dir.role_arn(r));
    }
    if let Some(name) = param("GroupName") {
        return dir.group(name).map_or_else(|_| format!("arn:aws:iam::{account}:group/{name}"), |g| dir.group_arn(g));
    }
    if let Some(arn) = param("PolicyArn") {
        return arn.to_string();
    }
    let on_caller = matches!(
        param("Action"),
        Some("CreateAccessKey" | "ListAccessKeys" | "UpdateAccessKey" | "DeleteAccessKey" | "GetUser")
    );
    if on_caller && caller_arn.contains(":user/") {
        return caller_arn.to_string();
    }
    "*".to_string()
}

/// Answers an IAM query-protocol request whose form fields are `params`, for the caller `who`
/// (authorized here as `iam:<Action>` on the entity it names): (status, content type, body).
pub async fn handle(
    handler: &Iam,
    gate: &crate::authz::Gate,
    params: &[(String, String)],
    cx: &Context,
    who: &tarn_iam::Principal,
    context: &tarn_iam::policy::Context,
) -> (http::StatusCode, &'static str, bytes::Bytes) {
    use bytes::Bytes;
    use http::StatusCode;
    const CONTENT_TYPE: &str = "text/xml";
    let model = &g::MODEL;
    let param = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, value)| value.as_str());
    let fail = |status: StatusCode, code: &str, message: &str| {
        (status, CONTENT_TYPE, crate::sts::error_xml_in(XMLNS, code, message, &cx.request_id))
    };
    let action = match param("Action") {
        None | Some("") => return fail(StatusCode::BAD_REQUEST, "MissingAction", "Missing Action"),
        Some(action) => action,
    };
    let Some(op) = g::Operation::from_name(action) else {
        let version = param("Version").filter(|v| !v.is_empty()).unwrap_or(model.api_version);
        return fail(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            &format!("Could not find operation {action} for version {version}"),
        );
    };
    let op_model = op.model();
    let answer = async {
        if !op_model.served {
            return Err(ServiceError::common("InvalidAction", 400, format!("tarn does not serve IAM {action} yet")));
        }
        let mut doc = match op_model.input {
            Some(shape) => tarn_wire::query::decode(model, shape, params),
            None => tarn_wire::Doc::empty(),
        };
        tarn_wire::prepare(model, op_model, &mut doc, tarn_wire::Scalars::Text)?;
        let dir = handler.iam.snapshot();
        let resource = resource_of(params, &dir, &who.arn);
        // the tags the request brings and those of the user or role it names
        let mut context = context.clone();
        crate::authz::request_tags(&mut context, &doc);
        let param = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        if let Some(u) = param("UserName").and_then(|n| dir.user(n).ok()) {
            crate::authz::resource_tags(&mut context, &u.tags);
        } else if let Some(r) = param("RoleName").and_then(|n| dir.role(n).ok()) {
            crate::authz::resource_tags(&mut context, &r.tags);
        }
        gate.service_in(who, &format!("iam:{action}"), &[resource], &context, handler.iam.scope())
            .map_err(|d| ServiceError::common("AccessDenied", 403, d.message))?;
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
