//! Data Firehose over JSON 1.1 (`X-Amz-Target: Firehose_20150804.<Operation>`).
//!
//! Shapes follow botocore's `firehose/2015-08-04` model. Destinations are kept in the API's
//! own shape by tarn-delivery, so most handlers parse a request, call the service and wrap
//! the answer.

use serde::Deserialize;
use serde_json::{Value, json};
use tarn_delivery::{CreateRequest, Delivery, DeliveryError, limits};

use crate::json::JsonError;

fn err(e: DeliveryError) -> JsonError {
    if let DeliveryError::Store(inner) = &e {
        tracing::error!(error = %inner, "firehose storage failure");
        return JsonError {
            status: http::StatusCode::SERVICE_UNAVAILABLE,
            kind: "ServiceUnavailableException",
            message: "The service is unavailable. Back off and retry the operation.".into(),
        };
    }
    JsonError::client(e.code(), e.to_string())
}

fn missing(member: &str) -> JsonError {
    JsonError::client(
        "ValidationException",
        format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagIn {
    key: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KinesisSourceIn {
    #[serde(rename = "KinesisStreamARN")]
    kinesis_stream_arn: Option<String>,
    #[serde(rename = "RoleARN")]
    role_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptionIn {
    #[serde(rename = "KeyARN")]
    key_arn: Option<String>,
    key_type: Option<String>,
}

#[derive(Deserialize)]
struct RecordIn<'a> {
    /// Borrowed from the body when it has no escapes (base64 never needs any): no copy.
    #[serde(rename = "Data", borrow)]
    data: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Req<'a> {
    delivery_stream_name: Option<String>,
    delivery_stream_type: Option<String>,
    kinesis_stream_source_configuration: Option<KinesisSourceIn>,
    delivery_stream_encryption_configuration_input: Option<EncryptionIn>,
    s3_destination_configuration: Option<Value>,
    extended_s3_destination_configuration: Option<Value>,
    redshift_destination_configuration: Option<Value>,
    elasticsearch_destination_configuration: Option<Value>,
    amazonopensearchservice_destination_configuration: Option<Value>,
    splunk_destination_configuration: Option<Value>,
    http_endpoint_destination_configuration: Option<Value>,
    amazon_open_search_serverless_destination_configuration: Option<Value>,
    snowflake_destination_configuration: Option<Value>,
    iceberg_destination_configuration: Option<Value>,
    #[serde(rename = "MSKSourceConfiguration")]
    msk_source_configuration: Option<Value>,
    tags: Option<Vec<TagIn>>,
    tag_keys: Option<Vec<String>>,
    limit: Option<i64>,
    exclusive_start_delivery_stream_name: Option<String>,
    exclusive_start_tag_key: Option<String>,
    current_delivery_stream_version_id: Option<String>,
    destination_id: Option<String>,
    s3_destination_update: Option<Value>,
    extended_s3_destination_update: Option<Value>,
    #[serde(borrow)]
    record: Option<RecordIn<'a>>,
    #[serde(borrow)]
    records: Option<Vec<RecordIn<'a>>>,
    allow_force_delete: Option<bool>,
}

impl Req<'_> {
    fn name(&self) -> Result<&str, JsonError> {
        self.delivery_stream_name.as_deref().ok_or_else(|| missing("deliveryStreamName"))
    }
}

fn decode_data(r: &RecordIn, member: &str) -> Result<Vec<u8>, JsonError> {
    let data = r.data.as_deref().ok_or_else(|| missing(member))?;
    base64_simd::STANDARD
        .decode_to_vec(data.as_bytes())
        .map_err(|_| JsonError::client("SerializationException", format!("{member} is not valid base64.")))
}

/// PutRecordBatch: `data` is each record's base64 text.
async fn put_batch(delivery: &Delivery, name: &str, data: &[&[u8]]) -> Result<Value, JsonError> {
    if data.is_empty() || data.len() > limits::BATCH_RECORDS_MAX {
        return Err(JsonError::client(
            "ValidationException",
            format!(
                "1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length between 1 and {}",
                limits::BATCH_RECORDS_MAX
            ),
        ));
    }
    let data: Vec<Vec<u8>> = data
        .iter()
        .map(|d| {
            base64_simd::STANDARD
                .decode_to_vec(d)
                .map_err(|_| JsonError::client("SerializationException", "records.member.data is not valid base64."))
        })
        .collect::<Result<_, _>>()?;
    let total: usize = data.iter().map(Vec::len).sum();
    if total > limits::BATCH_BYTES_MAX {
        return Err(JsonError::client(
            "InvalidArgumentException",
            format!(
                "Records size exceeds {} bytes limit: the batch holds {total} bytes of data.",
                limits::BATCH_BYTES_MAX
            ),
        ));
    }
    let count = data.len();
    match delivery.put(name, data).await {
        Ok((ids, encrypted)) => Ok(json!({
            "FailedPutCount": 0,
            "Encrypted": encrypted,
            "RequestResponses": ids.into_iter().map(|id| json!({ "RecordId": id })).collect::<Vec<_>>(),
        })),
        // the buffer could not take the batch: every record failed, and says why
        Err(DeliveryError::Store(e)) => {
            tracing::error!(error = %e, "firehose buffer append failed");
            let entry = json!({
                "ErrorCode": "ServiceUnavailableException",
                "ErrorMessage": "Slow down: the buffer could not store the record; retry it.",
            });
            Ok(json!({
                "FailedPutCount": count,
                "Encrypted": false,
                "RequestResponses": vec![entry; count],
            }))
        }
        Err(e) => Err(err(e)),
    }
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

fn limit(value: Option<i64>, default: usize, max: i64, member: &str) -> Result<usize, JsonError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(usize::try_from(n).unwrap_or(default)),
        Some(n) => Err(JsonError::client(
            "ValidationException",
            format!(
                "1 validation error detected: Value '{n}' at '{member}' failed to satisfy constraint: Member must have value between 1 and {max}"
            ),
        )),
    }
}

fn tags_of(tags: Option<Vec<TagIn>>) -> Result<Vec<(String, Option<String>)>, JsonError> {
    tags.unwrap_or_default()
        .into_iter()
        .map(|t| Ok((t.key.ok_or_else(|| missing("tags.member.key"))?, t.value)))
        .collect()
}

pub async fn handle(delivery: &Delivery, operation: &str, body: &[u8]) -> Result<Value, JsonError> {
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    if operation == "PutRecordBatch"
        && let Some((name, data)) = scan_batch(body)
    {
        return put_batch(delivery, name, &data).await;
    }
    let req: Req<'_> = serde_json::from_slice(body)
        .map_err(|e| JsonError::client("SerializationException", format!("the request body is not valid: {e}")))?;
    match operation {
        "CreateDeliveryStream" => {
            let name = req.name()?.to_string();
            let other = [
                ("RedshiftDestinationConfiguration", req.redshift_destination_configuration.is_some()),
                ("ElasticsearchDestinationConfiguration", req.elasticsearch_destination_configuration.is_some()),
                (
                    "AmazonopensearchserviceDestinationConfiguration",
                    req.amazonopensearchservice_destination_configuration.is_some(),
                ),
                ("SplunkDestinationConfiguration", req.splunk_destination_configuration.is_some()),
                ("HttpEndpointDestinationConfiguration", req.http_endpoint_destination_configuration.is_some()),
                (
                    "AmazonOpenSearchServerlessDestinationConfiguration",
                    req.amazon_open_search_serverless_destination_configuration.is_some(),
                ),
                ("SnowflakeDestinationConfiguration", req.snowflake_destination_configuration.is_some()),
                ("IcebergDestinationConfiguration", req.iceberg_destination_configuration.is_some()),
                ("MSKSourceConfiguration", req.msk_source_configuration.is_some()),
            ]
            .into_iter()
            .find(|(_, given)| *given)
            .map(|(n, _)| n.to_string());
            let given = usize::from(req.s3_destination_configuration.is_some())
                + usize::from(req.extended_s3_destination_configuration.is_some());
            if given > 1 {
                return Err(JsonError::client(
                    "InvalidArgumentException",
                    "Only one destination configuration may be given.",
                ));
            }
            let destination = req
                .extended_s3_destination_configuration
                .clone()
                .or_else(|| req.s3_destination_configuration.as_ref().map(tarn_delivery::model::extend_plain_s3));
            let kinesis_source = match req.kinesis_stream_source_configuration {
                Some(k) => Some((
                    k.kinesis_stream_arn.ok_or_else(|| missing("kinesisStreamSourceConfiguration.kinesisStreamARN"))?,
                    k.role_arn.ok_or_else(|| missing("kinesisStreamSourceConfiguration.roleARN"))?,
                )),
                None => None,
            };
            let encryption = match req.delivery_stream_encryption_configuration_input {
                Some(e) => Some((
                    e.key_type.ok_or_else(|| missing("deliveryStreamEncryptionConfigurationInput.keyType"))?,
                    e.key_arn,
                )),
                None => None,
            };
            let arn = delivery
                .create(CreateRequest {
                    name,
                    stream_type: req.delivery_stream_type,
                    kinesis_source,
                    destination,
                    encryption,
                    tags: tags_of(req.tags)?,
                    other_destination: other,
                })
                .await
                .map_err(err)?;
            Ok(json!({ "DeliveryStreamARN": arn }))
        }
        "DescribeDeliveryStream" => {
            limit(req.limit, 1, 10_000, "limit")?;
            let d = delivery.describe(req.name()?).map_err(err)?;
            Ok(json!({ "DeliveryStreamDescription": d }))
        }
        "ListDeliveryStreams" => {
            let n = limit(req.limit, 10, 10_000, "limit")?;
            let (names, more) = delivery
                .list(n, req.delivery_stream_type.as_deref(), req.exclusive_start_delivery_stream_name.as_deref())
                .map_err(err)?;
            Ok(json!({ "DeliveryStreamNames": names, "HasMoreDeliveryStreams": more }))
        }
        "DeleteDeliveryStream" => {
            let _ = req.allow_force_delete;
            delivery.delete(req.name()?).await.map_err(err)?;
            Ok(json!({}))
        }
        "UpdateDestination" => {
            let name = req.name()?;
            let version = req
                .current_delivery_stream_version_id
                .as_deref()
                .ok_or_else(|| missing("currentDeliveryStreamVersionId"))?;
            let dest_id = req.destination_id.as_deref().ok_or_else(|| missing("destinationId"))?;
            let update =
                req.extended_s3_destination_update.clone().or_else(|| req.s3_destination_update.clone()).ok_or_else(
                    || {
                        JsonError::client(
                            "InvalidArgumentException",
                            "An ExtendedS3DestinationUpdate or S3DestinationUpdate is required.",
                        )
                    },
                )?;
            delivery.update_destination(name, version, dest_id, &update).await.map_err(err)?;
            Ok(json!({}))
        }
        "PutRecord" => {
            let name = req.name()?;
            let record = req.record.as_ref().ok_or_else(|| missing("record"))?;
            let data = decode_data(record, "record.data")?;
            let (ids, encrypted) = delivery.put(name, vec![data]).await.map_err(err)?;
            Ok(json!({ "RecordId": ids[0], "Encrypted": encrypted }))
        }
        "PutRecordBatch" => {
            let name = req.name()?;
            let records = req.records.as_ref().ok_or_else(|| missing("records"))?;
            let data: Vec<&[u8]> = records
                .iter()
                .map(|r| r.data.as_deref().map(str::as_bytes).ok_or_else(|| missing("records.member.data")))
                .collect::<Result<_, _>>()?;
            put_batch(delivery, name, &data).await
        }
        "TagDeliveryStream" => {
            let name = req.name()?.to_string();
            let tags = tags_of(req.tags)?;
            if tags.is_empty() || tags.len() > limits::TAGS_MAX {
                return Err(JsonError::client(
                    "ValidationException",
                    "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length between 1 and 50",
                ));
            }
            delivery.tag(&name, &tags).await.map_err(err)?;
            Ok(json!({}))
        }
        "UntagDeliveryStream" => {
            let keys = req.tag_keys.clone().ok_or_else(|| missing("tagKeys"))?;
            delivery.untag(req.name()?, &keys).await.map_err(err)?;
            Ok(json!({}))
        }
        "ListTagsForDeliveryStream" => {
            let n = limit(req.limit, 50, 50, "limit")?;
            let (tags, more) =
                delivery.list_tags(req.name()?, req.exclusive_start_tag_key.as_deref(), n).map_err(err)?;
            let tags: Vec<Value> = tags.into_iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect();
            Ok(json!({ "Tags": tags, "HasMoreTags": more }))
        }
        "StartDeliveryStreamEncryption" => {
            let name = req.name()?.to_string();
            let key = match req.delivery_stream_encryption_configuration_input {
                Some(e) => Some((
                    e.key_type.ok_or_else(|| missing("deliveryStreamEncryptionConfigurationInput.keyType"))?,
                    e.key_arn,
                )),
                None => None,
            };
            delivery.start_encryption(&name, key).await.map_err(err)?;
            Ok(json!({}))
        }
        "StopDeliveryStreamEncryption" => {
            delivery.stop_encryption(req.name()?).await.map_err(err)?;
            Ok(json!({}))
        }
        other => Err(JsonError::client(
            "UnknownOperationException",
            format!("Firehose operation {other} is not supported by tarn"),
        )),
    }
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
