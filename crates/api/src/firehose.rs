//! Data Firehose: the generated `FirehoseApi` trait over `tarn-delivery`. Requests arrive
//! type-checked and validated against botocore's `firehose/2015-08-04` model. Destinations
//! are kept by tarn-delivery as documents in the API's own shape, so a configuration goes in
//! as the JSON its shape describes and a description comes back through the generated type.

use std::borrow::Cow;

use tarn_common::limits::firehose as limits;
use tarn_delivery::{CreateRequest, Delivery, DeliveryError};
use tarn_wire::generated::firehose::{self as f, errors};
use tarn_wire::{Context, Doc, ServiceError};

/// The Firehose handler.
pub struct Firehose {
    pub delivery: Delivery,
}

fn err(e: DeliveryError) -> ServiceError {
    match e {
        DeliveryError::InvalidArgument(m) => ServiceError::new(&errors::INVALID_ARGUMENT_EXCEPTION, m),
        DeliveryError::Validation(m) => ServiceError::common("ValidationException", 400, m),
        DeliveryError::ResourceNotFound(m) => ServiceError::new(&errors::RESOURCE_NOT_FOUND_EXCEPTION, m),
        DeliveryError::ResourceInUse(m) => ServiceError::new(&errors::RESOURCE_IN_USE_EXCEPTION, m),
        DeliveryError::LimitExceeded(m) => ServiceError::new(&errors::LIMIT_EXCEEDED_EXCEPTION, m),
        DeliveryError::ConcurrentModification(m) => ServiceError::new(&errors::CONCURRENT_MODIFICATION_EXCEPTION, m),
        DeliveryError::ServiceUnavailable(m) => ServiceError::new(&errors::SERVICE_UNAVAILABLE_EXCEPTION, m),
        DeliveryError::InvalidKmsResource(m) => ServiceError::new(&errors::INVALID_KMS_RESOURCE_EXCEPTION, m),
        DeliveryError::Store(inner) => {
            tracing::error!(error = %inner, "firehose storage failure");
            ServiceError::new(
                &errors::SERVICE_UNAVAILABLE_EXCEPTION,
                "The service is unavailable. Back off and retry the operation.",
            )
        }
    }
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::new(&errors::INVALID_ARGUMENT_EXCEPTION, message)
}

fn limit(value: Option<i32>, default: usize) -> usize {
    value.and_then(|n| usize::try_from(n).ok()).unwrap_or(default)
}

fn encryption(input: Option<f::DeliveryStreamEncryptionConfigurationInput>) -> Option<(String, Option<String>)> {
    input.map(|e| (e.key_type.as_str().to_string(), e.key_arn))
}

fn tags(tags: Vec<f::Tag>) -> Vec<(String, Option<String>)> {
    tags.into_iter().map(|t| (t.key, t.value)).collect()
}

impl f::FirehoseApi for Firehose {
    async fn create_delivery_stream(
        &self,
        _: &Context,
        input: f::CreateDeliveryStreamInput,
    ) -> Result<f::CreateDeliveryStreamOutput, ServiceError> {
        let other = [
            ("RedshiftDestinationConfiguration", input.redshift_destination_configuration.is_some()),
            ("ElasticsearchDestinationConfiguration", input.elasticsearch_destination_configuration.is_some()),
            (
                "AmazonopensearchserviceDestinationConfiguration",
                input.amazonopensearchservice_destination_configuration.is_some(),
            ),
            ("SplunkDestinationConfiguration", input.splunk_destination_configuration.is_some()),
            ("HttpEndpointDestinationConfiguration", input.http_endpoint_destination_configuration.is_some()),
            (
                "AmazonOpenSearchServerlessDestinationConfiguration",
                input.amazon_open_search_serverless_destination_configuration.is_some(),
            ),
            ("SnowflakeDestinationConfiguration", input.snowflake_destination_configuration.is_some()),
            ("IcebergDestinationConfiguration", input.iceberg_destination_configuration.is_some()),
            ("MSKSourceConfiguration", input.msk_source_configuration.is_some()),
            ("DatabaseSourceConfiguration", input.database_source_configuration.is_some()),
        ]
        .into_iter()
        .find(|(_, given)| *given)
        .map(|(n, _)| n.to_string());
        if input.s3_destination_configuration.is_some() && input.extended_s3_destination_configuration.is_some() {
            return Err(invalid("Only one destination configuration may be given."));
        }
        let destination = match (input.extended_s3_destination_configuration, input.s3_destination_configuration) {
            (Some(extended), _) => Some(tarn_wire::to_json_value(extended)),
            (None, Some(plain)) => Some(tarn_delivery::model::extend_plain_s3(&tarn_wire::to_json_value(plain))),
            (None, None) => None,
        };
        let arn = self
            .delivery
            .create(CreateRequest {
                name: input.delivery_stream_name,
                stream_type: input.delivery_stream_type.map(|t| t.as_str().to_string()),
                kinesis_source: input.kinesis_stream_source_configuration.map(|k| (k.kinesis_stream_arn, k.role_arn)),
                destination,
                encryption: encryption(input.delivery_stream_encryption_configuration_input),
                tags: tags(input.tags.unwrap_or_default()),
                other_destination: other,
            })
            .await
            .map_err(err)?;
        Ok(f::CreateDeliveryStreamOutput { delivery_stream_arn: Some(arn) })
    }

    async fn delete_delivery_stream(
        &self,
        _: &Context,
        input: f::DeleteDeliveryStreamInput,
    ) -> Result<f::DeleteDeliveryStreamOutput, ServiceError> {
        self.delivery.delete(&input.delivery_stream_name).await.map_err(err).map(|()| f::DeleteDeliveryStreamOutput {})
    }

    async fn describe_delivery_stream(
        &self,
        _: &Context,
        input: f::DescribeDeliveryStreamInput,
    ) -> Result<f::DescribeDeliveryStreamOutput, ServiceError> {
        let description = self.delivery.describe(&input.delivery_stream_name).map_err(err)?;
        Ok(f::DescribeDeliveryStreamOutput {
            delivery_stream_description: tarn_wire::from_json_value(&description).inspect_err(|e| {
                tracing::error!(error = %e, "a stored delivery stream does not read as its description");
            })?,
        })
    }

    async fn list_delivery_streams(
        &self,
        _: &Context,
        input: f::ListDeliveryStreamsInput,
    ) -> Result<f::ListDeliveryStreamsOutput, ServiceError> {
        let (names, more) = self
            .delivery
            .list(
                limit(input.limit, 10),
                input.delivery_stream_type.map(f::DeliveryStreamType::as_str),
                input.exclusive_start_delivery_stream_name.as_deref(),
            )
            .map_err(err)?;
        Ok(f::ListDeliveryStreamsOutput { delivery_stream_names: names, has_more_delivery_streams: more })
    }

    async fn list_tags_for_delivery_stream(
        &self,
        _: &Context,
        input: f::ListTagsForDeliveryStreamInput,
    ) -> Result<f::ListTagsForDeliveryStreamOutput, ServiceError> {
        let (tags, more) = self
            .delivery
            .list_tags(&input.delivery_stream_name, input.exclusive_start_tag_key.as_deref(), limit(input.limit, 50))
            .map_err(err)?;
        Ok(f::ListTagsForDeliveryStreamOutput {
            tags: tags.into_iter().map(|(key, value)| f::Tag { key, value: Some(value) }).collect(),
            has_more_tags: more,
        })
    }

    async fn put_record(&self, _: &Context, input: f::PutRecordInput) -> Result<f::PutRecordOutput, ServiceError> {
        let (ids, encrypted) =
            self.delivery.put(&input.delivery_stream_name, vec![input.record.data]).await.map_err(err)?;
        let record_id = ids.into_iter().next().ok_or_else(ServiceError::internal)?;
        Ok(f::PutRecordOutput { record_id, encrypted: Some(encrypted) })
    }

    async fn put_record_batch(
        &self,
        _: &Context,
        input: f::PutRecordBatchInput,
    ) -> Result<f::PutRecordBatchOutput, ServiceError> {
        let data: Vec<Vec<u8>> = input.records.into_iter().map(|r| r.data).collect();
        let total: usize = data.iter().map(Vec::len).sum();
        if total > limits::BATCH_BYTES_MAX {
            return Err(invalid(format!(
                "Records size exceeds {} bytes limit: the batch holds {total} bytes of data.",
                limits::BATCH_BYTES_MAX
            )));
        }
        let count = data.len();
        match self.delivery.put(&input.delivery_stream_name, data).await {
            Ok((ids, encrypted)) => Ok(f::PutRecordBatchOutput {
                failed_put_count: 0,
                encrypted: Some(encrypted),
                request_responses: ids
                    .into_iter()
                    .map(|id| f::PutRecordBatchResponseEntry { record_id: Some(id), ..Default::default() })
                    .collect(),
            }),
            // the buffer could not take the batch: every record failed, and says why
            Err(DeliveryError::Store(e)) => {
                tracing::error!(error = %e, "firehose buffer append failed");
                let entry = f::PutRecordBatchResponseEntry {
                    error_code: Some("ServiceUnavailableException".into()),
                    error_message: Some("Slow down: the buffer could not store the record; retry it.".into()),
                    record_id: None,
                };
                Ok(f::PutRecordBatchOutput {
                    failed_put_count: i32::try_from(count).unwrap_or(i32::MAX),
                    encrypted: Some(false),
                    request_responses: vec![entry; count],
                })
            }
            Err(e) => Err(err(e)),
        }
    }

    async fn start_delivery_stream_encryption(
        &self,
        _: &Context,
        input: f::StartDeliveryStreamEncryptionInput,
    ) -> Result<f::StartDeliveryStreamEncryptionOutput, ServiceError> {
        self.delivery
            .start_encryption(
                &input.delivery_stream_name,
                encryption(input.delivery_stream_encryption_configuration_input),
            )
            .await
            .map_err(err)
            .map(|()| f::StartDeliveryStreamEncryptionOutput {})
    }

    async fn stop_delivery_stream_encryption(
        &self,
        _: &Context,
        input: f::StopDeliveryStreamEncryptionInput,
    ) -> Result<f::StopDeliveryStreamEncryptionOutput, ServiceError> {
        self.delivery
            .stop_encryption(&input.delivery_stream_name)
            .await
            .map_err(err)
            .map(|()| f::StopDeliveryStreamEncryptionOutput {})
    }

    async fn tag_delivery_stream(
        &self,
        _: &Context,
        input: f::TagDeliveryStreamInput,
    ) -> Result<f::TagDeliveryStreamOutput, ServiceError> {
        self.delivery
            .tag(&input.delivery_stream_name, &tags(input.tags))
            .await
            .map_err(err)
            .map(|()| f::TagDeliveryStreamOutput {})
    }

    async fn untag_delivery_stream(
        &self,
        _: &Context,
        input: f::UntagDeliveryStreamInput,
    ) -> Result<f::UntagDeliveryStreamOutput, ServiceError> {
        self.delivery
            .untag(&input.delivery_stream_name, &input.tag_keys)
            .await
            .map_err(err)
            .map(|()| f::UntagDeliveryStreamOutput {})
    }

    async fn update_destination(
        &self,
        _: &Context,
        input: f::UpdateDestinationInput,
    ) -> Result<f::UpdateDestinationOutput, ServiceError> {
        let update = match (input.extended_s3_destination_update, input.s3_destination_update) {
            (Some(extended), _) => tarn_wire::to_json_value(extended),
            (None, Some(plain)) => tarn_wire::to_json_value(plain),
            (None, None) => return Err(invalid("An ExtendedS3DestinationUpdate or S3DestinationUpdate is required.")),
        };
        self.delivery
            .update_destination(
                &input.delivery_stream_name,
                &input.current_delivery_stream_version_id,
                &input.destination_id,
                &update,
            )
            .await
            .map_err(err)
            .map(|()| f::UpdateDestinationOutput {})
    }
}

/// PutRecordBatch as the SDKs send it, read without a general JSON parser (the records'
/// base64 is nearly all of the body): the request `Doc`, with the data already decoded, or
/// `None` for anything else, which takes the general path (and its error messages). Either
/// way the generated checks and validation run on the result.
pub fn fast_put_record_batch(body: &[u8]) -> Option<Doc> {
    let (name, data) = scan_batch(body)?;
    let records = data
        .into_iter()
        .map(|d| {
            let bytes = base64_simd::STANDARD.decode_to_vec(d).ok()?;
            Some(Doc::Map(vec![(Cow::Borrowed("Data"), Doc::Blob(bytes))]))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Doc::Map(vec![
        (Cow::Borrowed("DeliveryStreamName"), Doc::Str(name.to_string())),
        (Cow::Borrowed("Records"), Doc::List(records)),
    ]))
}

/// A PutRecordBatch body as the SDKs write it, `{"DeliveryStreamName": "...", "Records":
/// [{"Data": "..."}, ...]}` (members in either order, any whitespace), scanned without a
/// general JSON parser: the records' base64 is nearly all of the body, and decoding it checks
/// every character anyway. Any other shape (other members, escapes, duplicates, trailing
/// bytes) answers None, and the request takes the general path, which also words the errors.
fn scan_batch(body: &[u8]) -> Option<(&str, Vec<&[u8]>)> {
    struct Cursor<'a> {
        b: &'a [u8],
        at: usize,
    }
    impl<'a> Cursor<'a> {
        fn ws(&mut self) {
            while self.b.get(self.at).is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) {
                self.at += 1;
            }
        }
        /// The next non-space byte is `c`: consume it.
        fn eat(&mut self, c: u8) -> bool {
            self.ws();
            let hit = self.b.get(self.at) == Some(&c);
            if hit {
                self.at += 1;
            }
            hit
        }
        /// A string without escapes or control characters; its bytes.
        fn string(&mut self) -> Option<&'a [u8]> {
            if !self.eat(b'"') {
                return None;
            }
            let rest = &self.b[self.at..];
            let end = memchr::memchr2(b'"', b'\\', rest)?;
            if rest[end] != b'"' {
                return None;
            }
            self.at += end + 1;
            Some(&rest[..end])
        }
    }
    let mut c = Cursor { b: body, at: 0 };
    let (mut name, mut records) = (None, None);
    if !c.eat(b'{') {
        return None;
    }
    loop {
        match c.string()? {
            b"DeliveryStreamName" if name.is_none() => {
                if !c.eat(b':') {
                    return None;
                }
                let n = c.string()?;
                if n.iter().any(|&b| b < 0x20) {
                    return None;
                }
                name = Some(std::str::from_utf8(n).ok()?);
            }
            b"Records" if records.is_none() => {
                if !c.eat(b':') || !c.eat(b'[') {
                    return None;
                }
                let mut list = Vec::with_capacity(limits::BATCH_RECORDS_MAX);
                if !c.eat(b']') {
                    loop {
                        if !c.eat(b'{') || c.string()? != b"Data" || !c.eat(b':') {
                            return None;
                        }
                        list.push(c.string()?);
                        if !c.eat(b'}') {
                            return None;
                        }
                        if c.eat(b']') {
                            break;
                        }
                        if !c.eat(b',') {
                            return None;
                        }
                    }
                }
                records = Some(list);
            }
            _ => return None,
        }
        if c.eat(b'}') {
            break;
        }
        if !c.eat(b',') {
            return None;
        }
    }
    c.ws();
    if c.at != body.len() {
        return None;
    }
    Some((name?, records?))
}

#[cfg(test)]
mod tests {
    use super::scan_batch;

    #[test]
    fn scan_batch_reads_what_the_sdks_send() {
        let (name, data) =
            scan_batch(br#"{"DeliveryStreamName":"clicks","Records":[{"Data":"aGk="},{"Data":"eA=="}]}"#)
                .expect("the SDKs' shape");
        assert_eq!((name, data), ("clicks", vec![b"aGk=".as_slice(), b"eA=="]));
        // either order, any whitespace, an empty list
        let (name, data) =
            scan_batch(b" {\n \"Records\" : [ { \"Data\" : \"QQ==\" } ] ,\t\"DeliveryStreamName\":\"s\" }\r\n")
                .unwrap();
        assert_eq!((name, data), ("s", vec![b"QQ==".as_slice()]));
        assert_eq!(scan_batch(br#"{"DeliveryStreamName":"s","Records":[]}"#).unwrap().1.len(), 0);
    }

    #[test]
    fn scan_batch_leaves_anything_else_to_the_json_parser() {
        for body in [
            // an escape ("\/" is what some encoders write for '/')
            r#"{"DeliveryStreamName":"s","Records":[{"Data":"a\/b="}]}"#,
            r#"{"DeliveryStreamName":"s\u0041","Records":[{"Data":"QQ=="}]}"#,
            // other members, anywhere
            r#"{"DeliveryStreamName":"s","Records":[{"Data":"QQ==","Other":1}]}"#,
            r#"{"DeliveryStreamName":"s","Records":[{"Data":"QQ=="}],"Extra":true}"#,
            // duplicates, missing members, wrong types
            r#"{"DeliveryStreamName":"s","DeliveryStreamName":"t","Records":[]}"#,
            r#"{"Records":[{"Data":"QQ=="}]}"#,
            r#"{"DeliveryStreamName":"s"}"#,
            r#"{"DeliveryStreamName":"s","Records":[{"Data":null}]}"#,
            r#"{"DeliveryStreamName":"s","Records":{"Data":"QQ=="}}"#,
            // not JSON, or more after it
            r#"{"DeliveryStreamName":"s","Records":[{"Data":"QQ=="},]}"#,
            r#"{"DeliveryStreamName":"s","Records":[{"Data":"QQ=="}]}x"#,
            r#"{"DeliveryStreamName":"s","Records":[{"Data":"QQ=="}"#,
            "",
        ] {
            assert!(scan_batch(body.as_bytes()).is_none(), "{body}");
        }
    }
}
