//! CloudTrail (`CloudTrail_20131101.<Operation>`, JSON 1.1): trails, their event selectors and
//! status, and LookupEvents over the audit trail every call is recorded in ([`tarn_audit`];
//! the records themselves are made by [`crate::audit`]).

use std::collections::BTreeMap;

use tarn_audit::{Audit, AuditError, EventSelector, Lookup, NewTrail};
use tarn_objects::Objects;
use tarn_wire::generated::cloudtrail::{self as c, errors};
use tarn_wire::{Context, ServiceError, Timestamp};

/// The CloudTrail handler.
pub struct CloudTrail {
    pub audit: Audit,
    pub objects: Objects,
}

fn err(e: AuditError) -> ServiceError {
    let m = e.to_string();
    match e {
        AuditError::TrailNotFound(_) => ServiceError::new(&errors::TRAIL_NOT_FOUND_EXCEPTION, m),
        AuditError::TrailAlreadyExists(_) => ServiceError::new(&errors::TRAIL_ALREADY_EXISTS_EXCEPTION, m),
        AuditError::InvalidTrailName(_) => ServiceError::new(&errors::INVALID_TRAIL_NAME_EXCEPTION, m),
        AuditError::BucketDoesNotExist(_) => ServiceError::new(&errors::S3_BUCKET_DOES_NOT_EXIST_EXCEPTION, m),
        AuditError::InvalidEventSelectors(_) => ServiceError::new(&errors::INVALID_EVENT_SELECTORS_EXCEPTION, m),
        AuditError::InvalidLookupAttributes(_) => ServiceError::new(&errors::INVALID_LOOKUP_ATTRIBUTES_EXCEPTION, m),
        AuditError::InvalidTimeRange(_) => ServiceError::new(&errors::INVALID_TIME_RANGE_EXCEPTION, m),
        AuditError::InvalidNextToken(_) => ServiceError::new(&errors::INVALID_NEXT_TOKEN_EXCEPTION, m),
        AuditError::MaximumTrailsExceeded(_) => {
            ServiceError::new(&errors::MAXIMUM_NUMBER_OF_TRAILS_EXCEEDED_EXCEPTION, m)
        }
        AuditError::Store(e) => {
            tracing::error!(error = %e, "audit store failure");
            ServiceError::common("InternalFailure", 500, "An internal error occurred.")
        }
    }
}

fn trail_shape(t: &tarn_audit::Trail) -> c::Trail {
    c::Trail {
        name: Some(t.name.clone()),
        s3_bucket_name: Some(t.bucket.clone()),
        s3_key_prefix: t.prefix.clone(),
        include_global_service_events: Some(t.include_global),
        is_multi_region_trail: Some(t.multi_region),
        home_region: Some(t.region.clone()),
        trail_arn: Some(t.arn()),
        log_file_validation_enabled: Some(t.log_file_validation),
        kms_key_id: t.kms_key_id.clone(),
        has_custom_event_selectors: Some(t.custom_selectors),
        has_insight_selectors: Some(false),
        is_organization_trail: Some(false),
        ..c::Trail::default()
    }
}

/// CreateTrail's and UpdateTrail's answers (the same members) for a trail.
trait FromTrail: Default {
    fn from_trail(t: &tarn_audit::Trail) -> Self;
}

macro_rules! from_trail {
    ($ty:ty) => {
        impl FromTrail for $ty {
            fn from_trail(t: &tarn_audit::Trail) -> Self {
                Self {
                    name: Some(t.name.clone()),
                    s3_bucket_name: Some(t.bucket.clone()),
                    s3_key_prefix: t.prefix.clone(),
                    include_global_service_events: Some(t.include_global),
                    is_multi_region_trail: Some(t.multi_region),
                    trail_arn: Some(t.arn()),
                    log_file_validation_enabled: Some(t.log_file_validation),
                    kms_key_id: t.kms_key_id.clone(),
                    is_organization_trail: Some(false),
                    ..Self::default()
                }
            }
        }
    };
}
from_trail!(c::CreateTrailResponse);
from_trail!(c::UpdateTrailResponse);

fn selector_shape(s: &EventSelector) -> c::EventSelector {
    c::EventSelector {
        read_write_type: c::ReadWriteType::from_name(&s.read_write_type),
        include_management_events: Some(s.include_management_events),
        data_resources: Some(
            s.data_resources
                .iter()
                .map(|(t, v)| c::DataResource { r#type: Some(t.clone()), values: Some(v.clone()) })
                .collect(),
        ),
        exclude_management_event_sources: Some(s.exclude_management_event_sources.clone()),
    }
}

/// The 12-digit form CloudTrail reports a time in (GetTrailStatus' "attempt" fields are text).
fn text_time(ms: Option<i64>) -> Option<String> {
    ms.map(|ms| {
        let t = time::OffsetDateTime::from_unix_timestamp(ms / 1000).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
    })
}

impl CloudTrail {
    fn bucket_exists(&self, bucket: &str) -> bool {
        self.objects.bucket(bucket).is_ok()
    }
}

impl c::CloudTrailApi for CloudTrail {
    async fn create_trail(
        &self,
        cx: &Context,
        input: c::CreateTrailRequest,
    ) -> Result<c::CreateTrailResponse, ServiceError> {
        if input.cloud_watch_logs_log_group_arn.is_some() || input.is_organization_trail == Some(true) {
            return Err(ServiceError::new(
                &errors::UNSUPPORTED_OPERATION_EXCEPTION,
                "tarn's trails deliver to S3 only (no CloudWatch Logs, no organization trails)",
            ));
        }
        let exists = self.bucket_exists(&input.s3_bucket_name);
        let new = NewTrail {
            name: input.name,
            bucket: input.s3_bucket_name,
            prefix: input.s3_key_prefix,
            multi_region: input.is_multi_region_trail.unwrap_or(false),
            include_global: input.include_global_service_events.unwrap_or(true),
            log_file_validation: input.enable_log_file_validation.unwrap_or(false),
            kms_key_id: input.kms_key_id,
            tags: input
                .tags_list
                .unwrap_or_default()
                .into_iter()
                .map(|t| (t.key, t.value.unwrap_or_default()))
                .collect(),
        };
        let t = self.audit.create_trail(&cx.account_id, new, exists).await.map_err(err)?;
        Ok(c::CreateTrailResponse::from_trail(&t))
    }

    async fn update_trail(
        &self,
        _cx: &Context,
        input: c::UpdateTrailRequest,
    ) -> Result<c::UpdateTrailResponse, ServiceError> {
        if let Some(bucket) = &input.s3_bucket_name
            && !self.bucket_exists(bucket)
        {
            return Err(err(AuditError::BucketDoesNotExist(format!("S3 bucket {bucket} does not exist."))));
        }
        let t = self
            .audit
            .change_trail(&input.name, |t| {
                if let Some(b) = input.s3_bucket_name {
                    t.bucket = b;
                }
                if let Some(p) = input.s3_key_prefix {
                    t.prefix = Some(p).filter(|p| !p.is_empty());
                }
                if let Some(m) = input.is_multi_region_trail {
                    t.multi_region = m;
                }
                if let Some(g) = input.include_global_service_events {
                    t.include_global = g;
                }
                if let Some(v) = input.enable_log_file_validation {
                    t.log_file_validation = v;
                }
                if let Some(k) = input.kms_key_id {
                    t.kms_key_id = Some(k).filter(|k| !k.is_empty());
                }
                Ok(())
            })
            .await
            .map_err(err)?;
        Ok(c::UpdateTrailResponse::from_trail(&t))
    }

    async fn delete_trail(
        &self,
        _cx: &Context,
        input: c::DeleteTrailRequest,
    ) -> Result<c::DeleteTrailResponse, ServiceError> {
        self.audit.delete_trail(&input.name).await.map_err(err)?;
        Ok(c::DeleteTrailResponse::default())
    }

    async fn describe_trails(
        &self,
        _cx: &Context,
        input: c::DescribeTrailsRequest,
    ) -> Result<c::DescribeTrailsResponse, ServiceError> {
        let all = self.audit.trails();
        let list = match input.trail_name_list.filter(|l| !l.is_empty()) {
            None => all.iter().map(trail_shape).collect(),
            Some(names) => names.iter().filter_map(|n| self.audit.trail(n).ok()).map(|t| trail_shape(&t)).collect(),
        };
        Ok(c::DescribeTrailsResponse { trail_list: Some(list) })
    }

    async fn get_trail(&self, _cx: &Context, input: c::GetTrailRequest) -> Result<c::GetTrailResponse, ServiceError> {
        let t = self.audit.trail(&input.name).map_err(err)?;
        Ok(c::GetTrailResponse { trail: Some(trail_shape(&t)) })
    }

    async fn list_trails(
        &self,
        _cx: &Context,
        _input: c::ListTrailsRequest,
    ) -> Result<c::ListTrailsResponse, ServiceError> {
        let trails = self
            .audit
            .trails()
            .iter()
            .map(|t| c::TrailInfo {
                name: Some(t.name.clone()),
                trail_arn: Some(t.arn()),
                home_region: Some(t.region.clone()),
            })
            .collect();
        Ok(c::ListTrailsResponse { trails: Some(trails), next_token: None })
    }

    async fn get_trail_status(
        &self,
        _cx: &Context,
        input: c::GetTrailStatusRequest,
    ) -> Result<c::GetTrailStatusResponse, ServiceError> {
        let s = self.audit.status(&input.name).map_err(err)?;
        let attempt = s.latest_delivery_attempt_ms;
        Ok(c::GetTrailStatusResponse {
            is_logging: Some(s.logging),
            start_logging_time: s.started_ms.map(Timestamp::from_millis),
            stop_logging_time: s.stopped_ms.map(Timestamp::from_millis),
            latest_delivery_time: s.last_delivery_ms.map(Timestamp::from_millis),
            latest_delivery_error: s.last_delivery_error.clone(),
            latest_delivery_attempt_time: text_time(attempt),
            latest_delivery_attempt_succeeded: attempt
                .map(|_| if s.last_delivery_error.is_none() { text_time(s.last_delivery_ms) } else { None })
                .map(Option::unwrap_or_default),
            time_logging_started: text_time(s.started_ms),
            time_logging_stopped: text_time(s.stopped_ms),
            ..c::GetTrailStatusResponse::default()
        })
    }

    async fn start_logging(
        &self,
        _cx: &Context,
        input: c::StartLoggingRequest,
    ) -> Result<c::StartLoggingResponse, ServiceError> {
        self.audit.set_logging(&input.name, true).await.map_err(err)?;
        Ok(c::StartLoggingResponse::default())
    }

    async fn stop_logging(
        &self,
        _cx: &Context,
        input: c::StopLoggingRequest,
    ) -> Result<c::StopLoggingResponse, ServiceError> {
        self.audit.set_logging(&input.name, false).await.map_err(err)?;
        Ok(c::StopLoggingResponse::default())
    }

    async fn put_event_selectors(
        &self,
        _cx: &Context,
        input: c::PutEventSelectorsRequest,
    ) -> Result<c::PutEventSelectorsResponse, ServiceError> {
        if input.advanced_event_selectors.is_some() {
            return Err(ServiceError::new(
                &errors::UNSUPPORTED_OPERATION_EXCEPTION,
                "tarn's trails take basic EventSelectors (AdvancedEventSelectors are not served)",
            ));
        }
        let selectors: Vec<EventSelector> = input
            .event_selectors
            .unwrap_or_default()
            .into_iter()
            .map(|s| EventSelector {
                read_write_type: s.read_write_type.map_or("All", c::ReadWriteType::as_str).to_string(),
                include_management_events: s.include_management_events.unwrap_or(true),
                data_resources: s
                    .data_resources
                    .unwrap_or_default()
                    .into_iter()
                    .map(|d| (d.r#type.unwrap_or_default(), d.values.unwrap_or_default()))
                    .collect(),
                exclude_management_event_sources: s.exclude_management_event_sources.unwrap_or_default(),
            })
            .collect();
        let t = self.audit.put_selectors(&input.trail_name, selectors).await.map_err(err)?;
        Ok(c::PutEventSelectorsResponse {
            trail_arn: Some(t.arn()),
            event_selectors: Some(t.selectors.iter().map(selector_shape).collect()),
            advanced_event_selectors: None,
        })
    }

    async fn get_event_selectors(
        &self,
        _cx: &Context,
        input: c::GetEventSelectorsRequest,
    ) -> Result<c::GetEventSelectorsResponse, ServiceError> {
        let t = self.audit.trail(&input.trail_name).map_err(err)?;
        Ok(c::GetEventSelectorsResponse {
            trail_arn: Some(t.arn()),
            event_selectors: Some(t.selectors.iter().map(selector_shape).collect()),
            advanced_event_selectors: None,
        })
    }

    async fn add_tags(&self, _cx: &Context, input: c::AddTagsRequest) -> Result<c::AddTagsResponse, ServiceError> {
        let tags: BTreeMap<String, String> =
            input.tags_list.into_iter().map(|t| (t.key, t.value.unwrap_or_default())).collect();
        self.audit
            .change_trail(&input.resource_id, |t| {
                t.tags.extend(tags);
                Ok(())
            })
            .await
            .map_err(err)?;
        Ok(c::AddTagsResponse::default())
    }

    async fn remove_tags(
        &self,
        _cx: &Context,
        input: c::RemoveTagsRequest,
    ) -> Result<c::RemoveTagsResponse, ServiceError> {
        self.audit
            .change_trail(&input.resource_id, |t| {
                for tag in &input.tags_list {
                    t.tags.remove(&tag.key);
                }
                Ok(())
            })
            .await
            .map_err(err)?;
        Ok(c::RemoveTagsResponse::default())
    }

    async fn list_tags(&self, _cx: &Context, input: c::ListTagsRequest) -> Result<c::ListTagsResponse, ServiceError> {
        let mut list = Vec::new();
        for id in input.resource_id_list {
            let t = self.audit.trail(&id).map_err(err)?;
            list.push(c::ResourceTag {
                resource_id: Some(t.arn()),
                tags_list: Some(
                    t.tags.iter().map(|(k, v)| c::Tag { key: k.clone(), value: Some(v.clone()) }).collect(),
                ),
            });
        }
        Ok(c::ListTagsResponse { resource_tag_list: Some(list), next_token: None })
    }

    async fn lookup_events(
        &self,
        _cx: &Context,
        input: c::LookupEventsRequest,
    ) -> Result<c::LookupEventsResponse, ServiceError> {
        if input.event_category.is_some() {
            return Err(ServiceError::new(
                &errors::INVALID_EVENT_CATEGORY_EXCEPTION,
                "tarn records no Insights events: leave EventCategory out",
            ));
        }
        let attributes = input.lookup_attributes.unwrap_or_default();
        if attributes.len() > 1 {
            return Err(err(AuditError::InvalidLookupAttributes("You can only specify one lookup attribute.".into())));
        }
        let attribute =
            attributes.into_iter().next().map(|a| (a.attribute_key.as_str().to_string(), a.attribute_value));
        let before = match input.next_token {
            None => None,
            Some(t) => Some(
                u64::from_str_radix(&t, 16)
                    .map_err(|_| err(AuditError::InvalidNextToken("Invalid NextToken.".into())))?,
            ),
        };
        let max = match input.max_results {
            None => tarn_audit::LOOKUP_PAGE_MAX,
            Some(n) if (1..=50).contains(&n) => usize::try_from(n).unwrap_or(50),
            Some(_) => {
                return Err(ServiceError::new(
                    &errors::INVALID_MAX_RESULTS_EXCEPTION,
                    "MaxResults must be between 1 and 50.",
                ));
            }
        };
        let q = Lookup {
            attribute,
            start_ms: input.start_time.map(Timestamp::millis),
            end_ms: input.end_time.map(Timestamp::millis),
            max,
            before,
        };
        let (events, next) = self.audit.lookup(&q).map_err(err)?;
        let events = events
            .into_iter()
            .map(|e| {
                let text = |k: &str| e.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
                let time = text("eventTime")
                    .and_then(|t| time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok())
                    .map(|t| Timestamp::from_millis(i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)));
                let resources = e.get("resources").and_then(serde_json::Value::as_array).map(|rs| {
                    rs.iter()
                        .map(|r| c::Resource {
                            resource_type: r.get("type").and_then(serde_json::Value::as_str).map(str::to_string),
                            resource_name: r.get("ARN").and_then(serde_json::Value::as_str).map(str::to_string),
                        })
                        .collect()
                });
                c::Event {
                    event_id: text("eventID"),
                    event_name: text("eventName"),
                    event_source: text("eventSource"),
                    event_time: time,
                    read_only: e.get("readOnly").and_then(serde_json::Value::as_bool).map(|b| b.to_string()),
                    access_key_id: e
                        .pointer("/userIdentity/accessKeyId")
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_string),
                    username: tarn_audit::username(&e),
                    resources,
                    cloud_trail_event: Some(e.to_string()),
                }
            })
            .collect();
        Ok(c::LookupEventsResponse { events: Some(events), next_token: next.map(|n| format!("{n:016X}")) })
    }
}
