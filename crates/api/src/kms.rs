//! KMS (`TrentService.<Operation>`, JSON 1.1): the generated `KmsApi` trait over
//! [`tarn_kms::Kms`]. Who may use a key is asked before the handler runs
//! ([`crate::Api`]'s authorizer, with the key's policy and grants: [`authorize`]).

use std::collections::BTreeMap;

use tarn_kms::{Kms as Keys, KmsError, NewKey};
use tarn_wire::generated::kms::{self as k, errors};
use tarn_wire::{Context, ServiceError, Timestamp};

/// The KMS handler.
pub struct Kms {
    pub keys: Keys,
}

fn err(e: KmsError) -> ServiceError {
    let m = e.to_string();
    match e {
        KmsError::NotFound(_) => ServiceError::new(&errors::NOT_FOUND_EXCEPTION, m),
        KmsError::AlreadyExists(_) => ServiceError::new(&errors::ALREADY_EXISTS_EXCEPTION, m),
        KmsError::Disabled(_) => ServiceError::new(&errors::DISABLED_EXCEPTION, m),
        KmsError::InvalidState(_) => ServiceError::new(&errors::KMS_INVALID_STATE_EXCEPTION, m),
        KmsError::InvalidCiphertext => ServiceError::new(&errors::INVALID_CIPHERTEXT_EXCEPTION, m),
        KmsError::IncorrectKey => ServiceError::new(&errors::INCORRECT_KEY_EXCEPTION, m),
        KmsError::InvalidKeyUsage(_) => ServiceError::new(&errors::INVALID_KEY_USAGE_EXCEPTION, m),
        KmsError::InvalidAliasName(_) => ServiceError::new(&errors::INVALID_ALIAS_NAME_EXCEPTION, m),
        KmsError::InvalidArn(_) => ServiceError::new(&errors::INVALID_ARN_EXCEPTION, m),
        KmsError::InvalidGrantToken(_) => ServiceError::new(&errors::INVALID_GRANT_TOKEN_EXCEPTION, m),
        KmsError::InvalidGrantId(_) => ServiceError::new(&errors::INVALID_GRANT_ID_EXCEPTION, m),
        KmsError::InvalidMac(_) => ServiceError::new(&errors::KMS_INVALID_MAC_EXCEPTION, m),
        KmsError::LimitExceeded(_) => ServiceError::new(&errors::LIMIT_EXCEEDED_EXCEPTION, m),
        KmsError::Unsupported(_) => ServiceError::new(&errors::UNSUPPORTED_OPERATION_EXCEPTION, m),
        KmsError::Tag(_) => ServiceError::new(&errors::TAG_EXCEPTION, m),
        KmsError::AccessDenied(_) => ServiceError::common("AccessDeniedException", 400, m),
        KmsError::Validation(_) => ServiceError::common("ValidationException", 400, m),
        KmsError::Store(e) => {
            tracing::error!(error = %e, "kms store failure");
            ServiceError::new(&errors::KMS_INTERNAL_EXCEPTION, "An internal error occurred.")
        }
    }
}

fn context(c: Option<BTreeMap<String, String>>) -> BTreeMap<String, String> {
    c.unwrap_or_default()
}

/// Bytes a data key or random request asks for: NumberOfBytes or KeySpec, one of them (AWS).
fn data_key_bytes(n: Option<i32>, spec: Option<k::DataKeySpec>, required: bool) -> Result<usize, ServiceError> {
    match (n, spec) {
        (Some(_), Some(_)) => {
            Err(ServiceError::common("ValidationException", 400, "Please specify either number of bytes or key spec."))
        }
        (Some(n), None) => Ok(usize::try_from(n).unwrap_or(0)),
        (None, Some(s)) => Ok(if s.as_str() == "AES_128" { 16 } else { 32 }),
        (None, None) if required => {
            Err(ServiceError::common("ValidationException", 400, "Please specify either number of bytes or key spec."))
        }
        (None, None) => Ok(32),
    }
}

fn enum_of<T>(parse: fn(&str) -> Option<T>, name: &str) -> T {
    parse(name).unwrap_or_else(|| panic!("{name} is a value of the model's enum"))
}

fn metadata(m: &tarn_kms::KeyMetadata) -> k::KeyMetadata {
    let spec = m.spec.name();
    let symmetric = m.spec == tarn_kms::KeySpec::SymmetricDefault;
    k::KeyMetadata {
        aws_account_id: Some(m.account.clone()),
        key_id: m.id.clone(),
        arn: Some(m.arn.clone()),
        creation_date: Some(Timestamp::from_millis(m.created)),
        enabled: Some(m.state == tarn_kms::KeyState::Enabled),
        description: Some(m.description.clone()),
        key_usage: Some(enum_of(k::KeyUsageType::from_name, m.spec.usage())),
        key_state: Some(enum_of(k::KeyState::from_name, m.state.name())),
        deletion_date: m.deletion.map(Timestamp::from_millis),
        origin: Some(enum_of(k::OriginType::from_name, "AWS_KMS")),
        key_manager: Some(enum_of(k::KeyManagerType::from_name, if m.aws_managed { "AWS" } else { "CUSTOMER" })),
        customer_master_key_spec: Some(enum_of(k::CustomerMasterKeySpec::from_name, spec)),
        key_spec: Some(enum_of(k::KeySpec::from_name, spec)),
        encryption_algorithms: symmetric
            .then(|| vec![enum_of(k::EncryptionAlgorithmSpec::from_name, "SYMMETRIC_DEFAULT")]),
        mac_algorithms: (!symmetric).then(|| vec![enum_of(k::MacAlgorithmSpec::from_name, "HMAC_SHA_256")]),
        multi_region: Some(false),
        pending_deletion_window_in_days: m.pending_days,
        ..k::KeyMetadata::default()
    }
}

fn limit(l: Option<i32>) -> usize {
    l.map_or(tarn_common::limits::kms::LIST_LIMIT_DEFAULT, |l| usize::try_from(l).unwrap_or(1))
}

fn symmetric_only(a: Option<k::EncryptionAlgorithmSpec>) -> Result<(), ServiceError> {
    match a {
        Some(a) if a.as_str() != "SYMMETRIC_DEFAULT" => Err(ServiceError::new(
            &errors::INVALID_KEY_USAGE_EXCEPTION,
            format!("{a} is not a valid encryption algorithm for a symmetric key."),
        )),
        _ => Ok(()),
    }
}

fn hmac_sha_256(a: k::MacAlgorithmSpec) -> Result<(), ServiceError> {
    if a.as_str() == "HMAC_SHA_256" {
        return Ok(());
    }
    Err(ServiceError::new(
        &errors::INVALID_KEY_USAGE_EXCEPTION,
        format!("{a} is not a valid MAC algorithm for an HMAC_256 key."),
    ))
}

/// PutKeyPolicy and CreateKey's policy: a resource policy in IAM's grammar.
fn check_policy(text: &str) -> Result<(), ServiceError> {
    tarn_iam::policy::Policy::parse_as(text, tarn_iam::policy::Kind::Resource)
        .map(drop)
        .map_err(|e| ServiceError::new(&errors::MALFORMED_POLICY_DOCUMENT_EXCEPTION, e.to_string()))
}

impl k::KmsApi for Kms {
    async fn create_key(&self, cx: &Context, input: k::CreateKeyRequest) -> Result<k::CreateKeyResponse, ServiceError> {
        let spec = input.key_spec.map(|s| s.as_str()).or(input.customer_master_key_spec.map(|s| s.as_str()));
        let spec = match spec {
            None | Some("SYMMETRIC_DEFAULT") => tarn_kms::KeySpec::SymmetricDefault,
            Some("HMAC_256") => tarn_kms::KeySpec::Hmac256,
            Some(other) => {
                return Err(ServiceError::new(
                    &errors::UNSUPPORTED_OPERATION_EXCEPTION,
                    format!("KeySpec {other} is not supported by tarn (SYMMETRIC_DEFAULT and HMAC_256 are)"),
                ));
            }
        };
        let usage = input.key_usage.map(|u| u.as_str());
        if usage.is_some_and(|u| u != spec.usage()) {
            return Err(ServiceError::common(
                "ValidationException",
                400,
                format!("KeyUsage {} is not compatible with KeySpec {}", usage.unwrap_or_default(), spec.name()),
            ));
        }
        if input.origin.is_some_and(|o| o.as_str() != "AWS_KMS") {
            return Err(ServiceError::new(
                &errors::UNSUPPORTED_OPERATION_EXCEPTION,
                "Only keys whose material KMS makes (Origin AWS_KMS) are supported by tarn",
            ));
        }
        if input.multi_region == Some(true) {
            return Err(ServiceError::new(
                &errors::UNSUPPORTED_OPERATION_EXCEPTION,
                "Multi-Region keys are not supported by tarn",
            ));
        }
        if let Some(p) = &input.policy {
            check_policy(p)?;
        }
        let tags: BTreeMap<String, String> =
            input.tags.unwrap_or_default().into_iter().map(|t| (t.tag_key, t.tag_value)).collect();
        let new =
            NewKey { spec: Some(spec), description: input.description.unwrap_or_default(), policy: input.policy, tags };
        let m = self.keys.create_key(&cx.account_id, new).await.map_err(err)?;
        Ok(k::CreateKeyResponse { key_metadata: Some(metadata(&m)) })
    }

    async fn describe_key(
        &self,
        cx: &Context,
        input: k::DescribeKeyRequest,
    ) -> Result<k::DescribeKeyResponse, ServiceError> {
        // the AWS managed key of S3 exists once asked for, as on AWS
        if input.key_id == "alias/aws/s3" {
            let m = self.keys.managed_key(&cx.account_id, "s3").await.map_err(err)?;
            return Ok(k::DescribeKeyResponse { key_metadata: Some(metadata(&m)) });
        }
        let m = self.keys.describe(&cx.account_id, &input.key_id).await.map_err(err)?;
        Ok(k::DescribeKeyResponse { key_metadata: Some(metadata(&m)) })
    }

    async fn list_keys(&self, cx: &Context, input: k::ListKeysRequest) -> Result<k::ListKeysResponse, ServiceError> {
        let (keys, next) = self.keys.list_keys(&cx.account_id, input.marker.as_deref(), limit(input.limit));
        Ok(k::ListKeysResponse {
            keys: Some(
                keys.into_iter().map(|(id, arn)| k::KeyListEntry { key_id: Some(id), key_arn: Some(arn) }).collect(),
            ),
            truncated: Some(next.is_some()),
            next_marker: next,
        })
    }

    async fn enable_key(&self, cx: &Context, input: k::EnableKeyRequest) -> Result<(), ServiceError> {
        self.keys.set_enabled(&cx.account_id, &input.key_id, true).await.map_err(err)
    }

    async fn disable_key(&self, cx: &Context, input: k::DisableKeyRequest) -> Result<(), ServiceError> {
        self.keys.set_enabled(&cx.account_id, &input.key_id, false).await.map_err(err)
    }

    async fn update_key_description(
        &self,
        cx: &Context,
        input: k::UpdateKeyDescriptionRequest,
    ) -> Result<(), ServiceError> {
        self.keys.update_description(&cx.account_id, &input.key_id, input.description).await.map_err(err)
    }

    async fn schedule_key_deletion(
        &self,
        cx: &Context,
        input: k::ScheduleKeyDeletionRequest,
    ) -> Result<k::ScheduleKeyDeletionResponse, ServiceError> {
        let m = self
            .keys
            .schedule_deletion(&cx.account_id, &input.key_id, input.pending_window_in_days)
            .await
            .map_err(err)?;
        Ok(k::ScheduleKeyDeletionResponse {
            key_id: Some(m.arn),
            deletion_date: m.deletion.map(Timestamp::from_millis),
            key_state: Some(enum_of(k::KeyState::from_name, m.state.name())),
            pending_window_in_days: m.pending_days,
        })
    }

    async fn cancel_key_deletion(
        &self,
        cx: &Context,
        input: k::CancelKeyDeletionRequest,
    ) -> Result<k::CancelKeyDeletionResponse, ServiceError> {
        let arn = self.keys.cancel_deletion(&cx.account_id, &input.key_id).await.map_err(err)?;
        Ok(k::CancelKeyDeletionResponse { key_id: Some(arn) })
    }

    // ---- aliases ----

    async fn create_alias(&self, cx: &Context, input: k::CreateAliasRequest) -> Result<(), ServiceError> {
        self.keys.create_alias(&cx.account_id, &input.alias_name, &input.target_key_id).await.map_err(err)
    }

    async fn update_alias(&self, cx: &Context, input: k::UpdateAliasRequest) -> Result<(), ServiceError> {
        self.keys.update_alias(&cx.account_id, &input.alias_name, &input.target_key_id).await.map_err(err)
    }

    async fn delete_alias(&self, cx: &Context, input: k::DeleteAliasRequest) -> Result<(), ServiceError> {
        self.keys.delete_alias(&cx.account_id, &input.alias_name).await.map_err(err)
    }

    async fn list_aliases(
        &self,
        cx: &Context,
        input: k::ListAliasesRequest,
    ) -> Result<k::ListAliasesResponse, ServiceError> {
        let (aliases, next) = self
            .keys
            .list_aliases(&cx.account_id, input.key_id.as_deref(), input.marker.as_deref(), limit(input.limit))
            .await
            .map_err(err)?;
        let region = self.keys.region().to_string();
        Ok(k::ListAliasesResponse {
            aliases: Some(
                aliases
                    .into_iter()
                    .map(|a| k::AliasListEntry {
                        alias_arn: Some(tarn_kms::alias_arn(&region, &a.account, &a.name)),
                        alias_name: Some(a.name),
                        target_key_id: Some(a.target),
                        creation_date: Some(Timestamp::from_millis(a.created)),
                        last_updated_date: Some(Timestamp::from_millis(a.updated)),
                    })
                    .collect(),
            ),
            truncated: Some(next.is_some()),
            next_marker: next,
        })
    }

    // ---- policies and tags ----

    async fn get_key_policy(
        &self,
        cx: &Context,
        input: k::GetKeyPolicyRequest,
    ) -> Result<k::GetKeyPolicyResponse, ServiceError> {
        let name = input.policy_name.unwrap_or_else(|| "default".into());
        if name != "default" {
            return Err(ServiceError::new(&errors::NOT_FOUND_EXCEPTION, format!("Policy {name} does not exist")));
        }
        let policy = self.keys.policy(&cx.account_id, &input.key_id).await.map_err(err)?;
        Ok(k::GetKeyPolicyResponse { policy: Some(policy), policy_name: Some(name) })
    }

    async fn put_key_policy(&self, cx: &Context, input: k::PutKeyPolicyRequest) -> Result<(), ServiceError> {
        if input.policy_name.as_deref().is_some_and(|n| n != "default") {
            return Err(ServiceError::common("ValidationException", 400, "PolicyName must be default"));
        }
        check_policy(&input.policy)?;
        self.keys.put_policy(&cx.account_id, &input.key_id, input.policy).await.map_err(err)
    }

    async fn list_key_policies(
        &self,
        cx: &Context,
        input: k::ListKeyPoliciesRequest,
    ) -> Result<k::ListKeyPoliciesResponse, ServiceError> {
        self.keys.describe(&cx.account_id, &input.key_id).await.map_err(err)?;
        Ok(k::ListKeyPoliciesResponse {
            policy_names: Some(vec!["default".into()]),
            next_marker: None,
            truncated: Some(false),
        })
    }

    async fn tag_resource(&self, cx: &Context, input: k::TagResourceRequest) -> Result<(), ServiceError> {
        let tags = input.tags.into_iter().map(|t| (t.tag_key, t.tag_value)).collect();
        self.keys.tag(&cx.account_id, &input.key_id, tags).await.map_err(err)
    }

    async fn untag_resource(&self, cx: &Context, input: k::UntagResourceRequest) -> Result<(), ServiceError> {
        self.keys.untag(&cx.account_id, &input.key_id, &input.tag_keys).await.map_err(err)
    }

    async fn list_resource_tags(
        &self,
        cx: &Context,
        input: k::ListResourceTagsRequest,
    ) -> Result<k::ListResourceTagsResponse, ServiceError> {
        let tags = self.keys.tags(&cx.account_id, &input.key_id).await.map_err(err)?;
        let all: Vec<k::Tag> = tags
            .into_iter()
            .filter(|(key, _)| input.marker.as_ref().is_none_or(|m| key > m))
            .map(|(tag_key, tag_value)| k::Tag { tag_key, tag_value })
            .collect();
        let n = limit(input.limit);
        let next = (all.len() > n).then(|| all[n - 1].tag_key.clone());
        Ok(k::ListResourceTagsResponse {
            tags: Some(all.into_iter().take(n).collect()),
            truncated: Some(next.is_some()),
            next_marker: next,
        })
    }

    // ---- rotation ----

    async fn enable_key_rotation(&self, cx: &Context, input: k::EnableKeyRotationRequest) -> Result<(), ServiceError> {
        let days = input.rotation_period_in_days.unwrap_or(tarn_kms::ROTATION_PERIOD_DEFAULT);
        self.keys.set_rotation(&cx.account_id, &input.key_id, Some(days)).await.map_err(err)
    }

    async fn disable_key_rotation(
        &self,
        cx: &Context,
        input: k::DisableKeyRotationRequest,
    ) -> Result<(), ServiceError> {
        self.keys.set_rotation(&cx.account_id, &input.key_id, None).await.map_err(err)
    }

    async fn get_key_rotation_status(
        &self,
        cx: &Context,
        input: k::GetKeyRotationStatusRequest,
    ) -> Result<k::GetKeyRotationStatusResponse, ServiceError> {
        let m = self.keys.describe(&cx.account_id, &input.key_id).await.map_err(err)?;
        let s = self.keys.rotation_status(&cx.account_id, &input.key_id).await.map_err(err)?;
        Ok(k::GetKeyRotationStatusResponse {
            key_rotation_enabled: Some(s.enabled),
            key_id: Some(m.arn),
            rotation_period_in_days: s.period_days,
            next_rotation_date: s.next.map(Timestamp::from_millis),
            on_demand_rotation_start_date: None,
        })
    }

    async fn rotate_key_on_demand(
        &self,
        cx: &Context,
        input: k::RotateKeyOnDemandRequest,
    ) -> Result<k::RotateKeyOnDemandResponse, ServiceError> {
        let id = self.keys.rotate_now(&cx.account_id, &input.key_id).await.map_err(err)?;
        Ok(k::RotateKeyOnDemandResponse { key_id: Some(id) })
    }

    async fn list_key_rotations(
        &self,
        cx: &Context,
        input: k::ListKeyRotationsRequest,
    ) -> Result<k::ListKeyRotationsResponse, ServiceError> {
        let m = self.keys.describe(&cx.account_id, &input.key_id).await.map_err(err)?;
        let all = self.keys.rotations(&cx.account_id, &input.key_id).await.map_err(err)?;
        let start = input.marker.as_deref().and_then(|m| m.parse::<usize>().ok()).unwrap_or(0);
        let n = limit(input.limit);
        let page: Vec<k::RotationsListEntry> = all
            .iter()
            .skip(start)
            .take(n)
            .map(|r| k::RotationsListEntry {
                key_id: Some(m.id.clone()),
                rotation_date: Some(Timestamp::from_millis(r.date)),
                rotation_type: Some(enum_of(k::RotationType::from_name, &r.kind)),
                ..k::RotationsListEntry::default()
            })
            .collect();
        let next = (start + page.len() < all.len()).then(|| (start + page.len()).to_string());
        Ok(k::ListKeyRotationsResponse { rotations: Some(page), truncated: Some(next.is_some()), next_marker: next })
    }

    // ---- grants ----

    async fn create_grant(
        &self,
        cx: &Context,
        input: k::CreateGrantRequest,
    ) -> Result<k::CreateGrantResponse, ServiceError> {
        let Some(grantee) = input.grantee_principal else {
            return Err(ServiceError::common(
                "ValidationException",
                400,
                "GranteePrincipal is required (service principals are not supported by tarn)",
            ));
        };
        if input.operations.is_empty() {
            return Err(ServiceError::common("ValidationException", 400, "Operations must not be empty"));
        }
        let constraints = input
            .constraints
            .map(|c| tarn_kms::GrantConstraints {
                context_subset: c.encryption_context_subset,
                context_equals: c.encryption_context_equals,
            })
            .unwrap_or_default();
        let operations = input.operations.iter().map(|o| o.as_str().to_string()).collect();
        let (id, token) = self
            .keys
            .create_grant(
                &cx.account_id,
                &input.key_id,
                &cx.principal_arn,
                grantee,
                input.retiring_principal,
                operations,
                constraints,
                input.name,
            )
            .await
            .map_err(err)?;
        Ok(k::CreateGrantResponse { grant_token: Some(token), grant_id: Some(id) })
    }

    async fn list_grants(
        &self,
        cx: &Context,
        input: k::ListGrantsRequest,
    ) -> Result<k::ListGrantsResponse, ServiceError> {
        let (grants, next) = self
            .keys
            .list_grants(
                &cx.account_id,
                &input.key_id,
                input.grant_id.as_deref(),
                input.grantee_principal.as_deref(),
                input.marker.as_deref(),
                limit(input.limit),
            )
            .await
            .map_err(err)?;
        Ok(k::ListGrantsResponse {
            grants: Some(grants.into_iter().map(|g| grant_entry(&self.keys, g)).collect()),
            truncated: Some(next.is_some()),
            next_marker: next,
        })
    }

    async fn list_retirable_grants(
        &self,
        cx: &Context,
        input: k::ListRetirableGrantsRequest,
    ) -> Result<k::ListGrantsResponse, ServiceError> {
        let Some(principal) = input.retiring_principal else {
            return Err(ServiceError::common("ValidationException", 400, "RetiringPrincipal is required"));
        };
        let all = self.keys.retirable_grants(&cx.account_id, &principal);
        let start =
            input.marker.as_deref().and_then(|m| all.iter().position(|g| g.id == m).map(|i| i + 1)).unwrap_or(0);
        let n = limit(input.limit);
        let page: Vec<tarn_kms::Grant> = all.iter().skip(start).take(n).cloned().collect();
        let next = (start + page.len() < all.len()).then(|| page.last().map(|g| g.id.clone())).flatten();
        Ok(k::ListGrantsResponse {
            grants: Some(page.into_iter().map(|g| grant_entry(&self.keys, g)).collect()),
            truncated: Some(next.is_some()),
            next_marker: next,
        })
    }

    async fn retire_grant(&self, cx: &Context, input: k::RetireGrantRequest) -> Result<(), ServiceError> {
        self.keys
            .retire_grant(
                &cx.account_id,
                &cx.principal_arn,
                input.grant_token.as_deref(),
                input.key_id.as_deref(),
                input.grant_id.as_deref(),
            )
            .await
            .map(drop)
            .map_err(err)
    }

    async fn revoke_grant(&self, cx: &Context, input: k::RevokeGrantRequest) -> Result<(), ServiceError> {
        self.keys.revoke_grant(&cx.account_id, &input.key_id, &input.grant_id).await.map_err(err)
    }

    // ---- cryptography ----

    async fn encrypt(&self, cx: &Context, input: k::EncryptRequest) -> Result<k::EncryptResponse, ServiceError> {
        symmetric_only(input.encryption_algorithm)?;
        let (blob, arn) = self
            .keys
            .encrypt(&cx.account_id, &input.key_id, &input.plaintext, &context(input.encryption_context))
            .await
            .map_err(err)?;
        Ok(k::EncryptResponse {
            ciphertext_blob: Some(blob),
            key_id: Some(arn),
            encryption_algorithm: Some(enum_of(k::EncryptionAlgorithmSpec::from_name, "SYMMETRIC_DEFAULT")),
        })
    }

    async fn decrypt(&self, cx: &Context, input: k::DecryptRequest) -> Result<k::DecryptResponse, ServiceError> {
        symmetric_only(input.encryption_algorithm)?;
        let Some(blob) = input.ciphertext_blob else {
            return Err(ServiceError::common("ValidationException", 400, "CiphertextBlob is required"));
        };
        let (plain, arn) = self
            .keys
            .decrypt(&cx.account_id, &blob, input.key_id.as_deref(), &context(input.encryption_context))
            .await
            .map_err(err)?;
        Ok(k::DecryptResponse {
            key_id: Some(arn),
            plaintext: Some(plain),
            encryption_algorithm: Some(enum_of(k::EncryptionAlgorithmSpec::from_name, "SYMMETRIC_DEFAULT")),
            ..k::DecryptResponse::default()
        })
    }

    async fn re_encrypt(&self, cx: &Context, input: k::ReEncryptRequest) -> Result<k::ReEncryptResponse, ServiceError> {
        symmetric_only(input.source_encryption_algorithm)?;
        symmetric_only(input.destination_encryption_algorithm)?;
        let Some(blob) = input.ciphertext_blob else {
            return Err(ServiceError::common("ValidationException", 400, "CiphertextBlob is required"));
        };
        let (plain, source) = self
            .keys
            .decrypt(&cx.account_id, &blob, input.source_key_id.as_deref(), &context(input.source_encryption_context))
            .await
            .map_err(err)?;
        let (out, arn) = self
            .keys
            .encrypt(&cx.account_id, &input.destination_key_id, &plain, &context(input.destination_encryption_context))
            .await
            .map_err(err)?;
        let symmetric = || Some(enum_of(k::EncryptionAlgorithmSpec::from_name, "SYMMETRIC_DEFAULT"));
        Ok(k::ReEncryptResponse {
            ciphertext_blob: Some(out),
            source_key_id: Some(source),
            key_id: Some(arn),
            source_encryption_algorithm: symmetric(),
            destination_encryption_algorithm: symmetric(),
            ..k::ReEncryptResponse::default()
        })
    }

    async fn generate_data_key(
        &self,
        cx: &Context,
        input: k::GenerateDataKeyRequest,
    ) -> Result<k::GenerateDataKeyResponse, ServiceError> {
        let n = data_key_bytes(input.number_of_bytes, input.key_spec, true)?;
        let (plain, blob, arn) = self
            .keys
            .generate_data_key(&cx.account_id, &input.key_id, n, &context(input.encryption_context))
            .await
            .map_err(err)?;
        Ok(k::GenerateDataKeyResponse {
            ciphertext_blob: Some(blob),
            plaintext: Some(plain),
            key_id: Some(arn),
            ..k::GenerateDataKeyResponse::default()
        })
    }

    async fn generate_data_key_without_plaintext(
        &self,
        cx: &Context,
        input: k::GenerateDataKeyWithoutPlaintextRequest,
    ) -> Result<k::GenerateDataKeyWithoutPlaintextResponse, ServiceError> {
        let n = data_key_bytes(input.number_of_bytes, input.key_spec, true)?;
        let (_, blob, arn) = self
            .keys
            .generate_data_key(&cx.account_id, &input.key_id, n, &context(input.encryption_context))
            .await
            .map_err(err)?;
        Ok(k::GenerateDataKeyWithoutPlaintextResponse {
            ciphertext_blob: Some(blob),
            key_id: Some(arn),
            key_material_id: None,
        })
    }

    async fn generate_random(
        &self,
        _cx: &Context,
        input: k::GenerateRandomRequest,
    ) -> Result<k::GenerateRandomResponse, ServiceError> {
        if input.custom_key_store_id.is_some() {
            return Err(ServiceError::new(
                &errors::CUSTOM_KEY_STORE_NOT_FOUND_EXCEPTION,
                "tarn has no custom key stores",
            ));
        }
        let n = data_key_bytes(input.number_of_bytes, None, false)?;
        Ok(k::GenerateRandomResponse { plaintext: Some(tarn_kms::cipher::random(n)), ciphertext_for_recipient: None })
    }

    async fn generate_mac(
        &self,
        cx: &Context,
        input: k::GenerateMacRequest,
    ) -> Result<k::GenerateMacResponse, ServiceError> {
        hmac_sha_256(input.mac_algorithm)?;
        let (mac, arn) = self.keys.generate_mac(&cx.account_id, &input.key_id, &input.message).await.map_err(err)?;
        Ok(k::GenerateMacResponse { mac: Some(mac), mac_algorithm: Some(input.mac_algorithm), key_id: Some(arn) })
    }

    async fn verify_mac(&self, cx: &Context, input: k::VerifyMacRequest) -> Result<k::VerifyMacResponse, ServiceError> {
        hmac_sha_256(input.mac_algorithm)?;
        let arn = self.keys.verify_mac(&cx.account_id, &input.key_id, &input.message, &input.mac).await.map_err(err)?;
        Ok(k::VerifyMacResponse { key_id: Some(arn), mac_valid: Some(true), mac_algorithm: Some(input.mac_algorithm) })
    }
}

fn grant_entry(keys: &Keys, g: tarn_kms::Grant) -> k::GrantListEntry {
    let constraints = (g.constraints != tarn_kms::GrantConstraints::default()).then(|| k::GrantConstraints {
        encryption_context_subset: g.constraints.context_subset.clone(),
        encryption_context_equals: g.constraints.context_equals.clone(),
        ..k::GrantConstraints::default()
    });
    k::GrantListEntry {
        key_id: Some(tarn_kms::key_arn(keys.region(), &g.account, &g.key_id)),
        grant_id: Some(g.id),
        name: g.name,
        creation_date: Some(Timestamp::from_millis(g.created)),
        grantee_principal: Some(g.grantee),
        retiring_principal: g.retiring,
        issuing_account: Some(format!("arn:aws:iam::{}:root", g.account)),
        operations: Some(g.operations.iter().filter_map(|o| k::GrantOperation::from_name(o)).collect()),
        constraints,
        ..k::GrantListEntry::default()
    }
}

/// What a KMS request must be allowed, each an action (`kms:<Operation>`), the grant
/// operation that would allow it, and the key it acts on (None: no key, `*`). ReEncrypt is two:
/// ReEncryptFrom on the source key, ReEncryptTo on the destination.
#[must_use]
pub fn checks(
    keys: &Keys,
    account: &str,
    operation: &str,
    doc: &tarn_wire::Doc,
) -> Vec<(String, String, Option<crate::authz::KeyAccess>)> {
    let text = |name: &str| match doc.get(name) {
        Some(tarn_wire::Doc::Str(s)) => Some(s.clone()),
        _ => None,
    };
    if operation == "ReEncrypt" {
        let source = key_named(keys, account, text("SourceKeyId"), doc);
        let destination = key_named(keys, account, text("DestinationKeyId"), doc);
        return vec![
            ("kms:ReEncryptFrom".into(), "ReEncryptFrom".into(), source),
            ("kms:ReEncryptTo".into(), "ReEncryptTo".into(), destination),
        ];
    }
    let reference = text("KeyId").or_else(|| text("TargetKeyId"));
    vec![(format!("kms:{operation}"), operation.to_string(), key_named(keys, account, reference, doc))]
}

/// The key `reference` names in `account`, or (none named) the key of the request's
/// ciphertext.
fn key_named(
    keys: &Keys,
    account: &str,
    reference: Option<String>,
    doc: &tarn_wire::Doc,
) -> Option<crate::authz::KeyAccess> {
    let (arn, owner, policy) = match reference {
        Some(r) => {
            let (arn, policy) = keys.access_of(account, &r)?;
            (arn, account.to_string(), policy)
        }
        None => {
            let blob = match doc.get("CiphertextBlob") {
                Some(tarn_wire::Doc::Blob(b)) => b.clone(),
                _ => return None,
            };
            keys.blob_access(&blob)?
        }
    };
    let policy = tarn_iam::policy::Policy::parse_as(&policy, tarn_iam::policy::Kind::Resource).ok();
    Some(crate::authz::KeyAccess { arn, account: owner, policy })
}

/// The encryption context a request carries (for grant constraints).
#[must_use]
pub fn request_context(doc: &tarn_wire::Doc) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for name in ["EncryptionContext", "SourceEncryptionContext"] {
        if let Some(tarn_wire::Doc::Map(m)) = doc.get(name) {
            for (k, v) in m {
                if let tarn_wire::Doc::Str(v) = v {
                    out.insert(k.to_string(), v.clone());
                }
            }
        }
    }
    out
}
