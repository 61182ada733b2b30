"""Kinesis and Firehose at rest under KMS keys, through boto3 (default settings):
StartStreamEncryption/StopStreamEncryption, records sealed and read back, key states as Kinesis
answers them, kms:GenerateDataKey / kms:Decrypt asked of producers and consumers; a Firehose
buffer kept by a customer managed key.

Usage: stream_sse.py <canary> [after-restart]"""
import json
import sys
import time

import boto3

from tarn_checks import allow, check, crawl, error_and_status, error_code, finish, trust

canary = sys.argv[1]
after_restart = len(sys.argv) > 2
kinesis = boto3.client("kinesis")
kms = boto3.client("kms")
iam = boto3.client("iam")
firehose = boto3.client("firehose")
s3 = boto3.client("s3")


def records(client, name="sealed"):
    """Every record of the stream's one shard, from its start."""
    shard = client.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    it = client.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    out = []
    while it:
        page = client.get_records(ShardIterator=it)
        out += page["Records"]
        if not page["Records"]:
            break
        it = page.get("NextShardIterator")
    return out


if after_restart:
    got = records(kinesis)
    datas = [r["Data"] for r in got]
    check(f"{canary} sealed 0".encode() in datas and f"{canary} sealed 2".encode() in datas,
          f"after a restart the sealed records read back ({len(got)} records)")
    check(f"{canary} after rotation".encode() in datas, "... and the one sealed under the second data key")
    finish("stream_sse")

key = kms.create_key(Description="stream key")["KeyMetadata"]
kid, karn = key["KeyId"], key["Arn"]
kms.create_alias(AliasName="alias/streams", TargetKeyId=kid)

# --- Kinesis: start encryption; records sealed from then on
kinesis.create_stream(StreamName="sealed", ShardCount=1)
while kinesis.describe_stream_summary(StreamName="sealed")["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
    time.sleep(0.05)
summary = kinesis.describe_stream_summary(StreamName="sealed")["StreamDescriptionSummary"]
check(summary["EncryptionType"] == "NONE" and "KeyId" not in summary, f"a new stream is not encrypted: {summary.get('EncryptionType')}")
plain = kinesis.put_record(StreamName="sealed", Data=b"before encryption", PartitionKey="p")
check(plain["EncryptionType"] == "NONE", "PutRecord to a plain stream answers EncryptionType NONE")

code, status = error_and_status(kinesis.start_stream_encryption, StreamName="sealed", EncryptionType="KMS",
                                KeyId="alias/no-such-key")
check((code, status) == ("KMSNotFoundException", 400), f"a key that does not exist: {code} {status}")
check(kinesis.describe_stream(StreamName="sealed")["StreamDescription"]["EncryptionType"] == "NONE",
      "... and the stream stays unencrypted")
kinesis.start_stream_encryption(StreamName="sealed", EncryptionType="KMS", KeyId="alias/streams")
desc = kinesis.describe_stream(StreamName="sealed")["StreamDescription"]
check(desc["EncryptionType"] == "KMS" and desc["KeyId"] == "alias/streams",
      f"DescribeStream: EncryptionType KMS and the KeyId as given ({desc.get('EncryptionType')}, {desc.get('KeyId')})")
summary = kinesis.describe_stream_summary(StreamName="sealed")["StreamDescriptionSummary"]
check(summary["EncryptionType"] == "KMS" and summary["KeyId"] == "alias/streams", "DescribeStreamSummary says so too")

out = kinesis.put_record(StreamName="sealed", Data=f"{canary} sealed 0".encode(), PartitionKey="p")
check(out["EncryptionType"] == "KMS", "PutRecord to an encrypted stream answers EncryptionType KMS")
batch = kinesis.put_records(StreamName="sealed", Records=[
    {"Data": f"{canary} sealed {i}".encode(), "PartitionKey": f"k{i}"} for i in (1, 2)])
check(batch["FailedRecordCount"] == 0 and batch["EncryptionType"] == "KMS", "PutRecords too")
got = records(kinesis)
check([r["Data"] for r in got] == [b"before encryption"] + [f"{canary} sealed {i}".encode() for i in range(3)],
      "GetRecords reads plain and sealed records in order")
check([r.get("EncryptionType", "NONE") for r in got] == ["NONE", "KMS", "KMS", "KMS"],
      f"each record says whether it was sealed: {[r.get('EncryptionType') for r in got]}")
check([r["PartitionKey"] for r in got[1:]] == ["p", "k1", "k2"], "sealed records keep their partition keys")

# --- key states
kms.disable_key(KeyId=kid)
code, status = error_and_status(kinesis.put_record, StreamName="sealed", Data=b"refused", PartitionKey="p")
check((code, status) == ("KMSDisabledException", 400), f"PutRecord while the key is disabled: {code} {status}")
check(error_code(kinesis.put_records, StreamName="sealed", Records=[{"Data": b"refused", "PartitionKey": "p"}])
      == "KMSDisabledException", "PutRecords while the key is disabled")
check(error_code(records, kinesis) == "KMSDisabledException", "GetRecords of sealed records while the key is disabled")
kms.enable_key(KeyId=kid)
check(len(records(kinesis)) == 4, "enabling the key again makes the records readable again (and nothing refused was stored)")
kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
check(error_code(kinesis.put_record, StreamName="sealed", Data=b"refused", PartitionKey="p") == "KMSInvalidStateException",
      "a key pending deletion: KMSInvalidStateException")
check(error_code(records, kinesis) == "KMSInvalidStateException", "... for readers too")
kms.cancel_key_deletion(KeyId=kid)
kms.enable_key(KeyId=kid)

# --- a second data key (encryption started again, under another key); the first stays readable
other = kms.create_key(Description="second stream key")["KeyMetadata"]
kinesis.start_stream_encryption(StreamName="sealed", EncryptionType="KMS", KeyId=other["Arn"])
kinesis.put_record(StreamName="sealed", Data=f"{canary} after rotation".encode(), PartitionKey="p")
datas = [r["Data"] for r in records(kinesis)]
check(datas[-1] == f"{canary} after rotation".encode() and f"{canary} sealed 0".encode() in datas,
      "after a key change both the old and the new records read back")

# --- producers need kms:GenerateDataKey, consumers kms:Decrypt
iam.create_user(UserName="producer")
iam.put_user_policy(UserName="producer", PolicyName="kinesis", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"}]}))
k = iam.create_access_key(UserName="producer")["AccessKey"]
producer = boto3.client("kinesis", aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"])
code, status = error_and_status(producer.put_record, StreamName="sealed", Data=b"refused", PartitionKey="p")
check((code, status) == ("KMSAccessDeniedException", 400), f"a producer without kms:GenerateDataKey: {code} {status}")
check(error_code(records, producer) == "KMSAccessDeniedException", "a consumer without kms:Decrypt")
iam.put_user_policy(UserName="producer", PolicyName="key", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                                            "Resource": [karn, other["Arn"]]}]}))
check(error_code(producer.put_record, StreamName="sealed", Data=b"allowed", PartitionKey="p") is None,
      "with kms:GenerateDataKey on the key the producer writes")
check(len(records(producer)) == 6, "with kms:Decrypt the consumer reads every record")

# --- stop: new records plain, old ones still readable
kinesis.stop_stream_encryption(StreamName="sealed", EncryptionType="KMS", KeyId=other["Arn"])
desc = kinesis.describe_stream(StreamName="sealed")["StreamDescription"]
check(desc["EncryptionType"] == "NONE", "StopStreamEncryption: EncryptionType NONE")
check(kinesis.put_record(StreamName="sealed", Data=b"after stop", PartitionKey="p")["EncryptionType"] == "NONE",
      "records put after the stop are plain")
got = records(kinesis)
check([r.get("EncryptionType", "NONE") for r in got][-1] == "NONE" and len(got) == 7, "... and every record reads back")

# --- the AWS managed key
kinesis.create_stream(StreamName="managed", ShardCount=1)
while kinesis.describe_stream_summary(StreamName="managed")["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
    time.sleep(0.05)
kinesis.start_stream_encryption(StreamName="managed", EncryptionType="KMS", KeyId="alias/aws/kinesis")
kinesis.put_record(StreamName="managed", Data=f"{canary} managed".encode(), PartitionKey="p")
check([r["Data"] for r in records(kinesis, "managed")] == [f"{canary} managed".encode()], "alias/aws/kinesis seals too")
managed = kms.describe_key(KeyId="alias/aws/kinesis")["KeyMetadata"]
check(managed["KeyManager"] == "AWS", f"... under the AWS managed key made on first use ({managed['KeyManager']})")

# --- Firehose: a buffer kept by a customer managed key
s3.create_bucket(Bucket="sealed-lake")
fkey = kms.create_key(Description="firehose key")["KeyMetadata"]


def create(name, key_arn):
    return firehose.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamEncryptionConfigurationInput={"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": key_arn},
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::000000000000:role/firehose", "BucketARN": "arn:aws:s3:::sealed-lake",
            "Prefix": f"{name}/", "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}})


missing = fkey["Arn"].rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
code, status = error_and_status(create, "nokey", missing)
check((code, status) == ("InvalidKMSResourceException", 400), f"a customer key that does not exist: {code} {status}")
create("buffered", fkey["Arn"])
deadline = time.time() + 30
while firehose.describe_delivery_stream(DeliveryStreamName="buffered")["DeliveryStreamDescription"][
        "DeliveryStreamStatus"] != "ACTIVE" and time.time() < deadline:
    time.sleep(0.1)
enc = firehose.describe_delivery_stream(DeliveryStreamName="buffered")["DeliveryStreamDescription"][
    "DeliveryStreamEncryptionConfiguration"]
check(enc["KeyType"] == "CUSTOMER_MANAGED_CMK" and enc["KeyARN"] == fkey["Arn"] and enc["Status"] == "ENABLED",
      f"DescribeDeliveryStream names the key: {enc}")
out = firehose.put_record(DeliveryStreamName="buffered", Record={"Data": f"{canary} buffered 1\n".encode()})
check(out["Encrypted"], "PutRecord into a sealed buffer says Encrypted")
kms.disable_key(KeyId=fkey["KeyId"])
code, status = error_and_status(firehose.put_record, DeliveryStreamName="buffered", Record={"Data": b"refused\n"})
check((code, status) == ("InvalidKMSResourceException", 400), f"PutRecord while the buffer's key is disabled: {code} {status}")
check(error_code(firehose.put_record_batch, DeliveryStreamName="buffered", Records=[{"Data": b"refused\n"}])
      == "InvalidKMSResourceException", "PutRecordBatch too")
kms.enable_key(KeyId=fkey["KeyId"])
firehose.put_record(DeliveryStreamName="buffered", Record={"Data": f"{canary} buffered 2\n".encode()})
# switching the stream to the AWS owned key keeps the buffered records readable
firehose.start_delivery_stream_encryption(DeliveryStreamName="buffered",
                                          DeliveryStreamEncryptionConfigurationInput={"KeyType": "AWS_OWNED_CMK"})
firehose.put_record(DeliveryStreamName="buffered", Record={"Data": f"{canary} buffered 3\n".encode()})
firehose.update_destination(
    DeliveryStreamName="buffered",
    CurrentDeliveryStreamVersionId=firehose.describe_delivery_stream(DeliveryStreamName="buffered")[
        "DeliveryStreamDescription"]["VersionId"],
    DestinationId="destinationId-000000000001",
    ExtendedS3DestinationUpdate={"BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}})
body = b""
deadline = time.time() + 30
while time.time() < deadline and body.count(b"\n") < 3:
    body = b"".join(s3.get_object(Bucket="sealed-lake", Key=o["Key"])["Body"].read()
                    for o in s3.list_objects_v2(Bucket="sealed-lake", Prefix="buffered/").get("Contents", []))
    time.sleep(0.2)
check(body.decode().splitlines() == [f"{canary} buffered {i}" for i in (1, 2, 3)],
      f"the buffered records are delivered, none refused, in order: {body[:200]!r}")

# --- services read sealed data only when their roles may kms:Decrypt under its key
glue = boto3.client("glue")




s3.create_bucket(Bucket="sealed-data")
s3.put_object(Bucket="sealed-data", Key="sales/part-0.csv", Body=b"id,amount\n1,10\n2,20\n",
              ServerSideEncryption="aws:kms", SSEKMSKeyId=karn)
glue.create_database(DatabaseInput={"Name": "sealed"})
iam.create_role(RoleName="crawl-reader", AssumeRolePolicyDocument=trust("glue.amazonaws.com"))
iam.put_role_policy(RoleName="crawl-reader", PolicyName="read", PolicyDocument=allow(
    ["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::sealed-data", "arn:aws:s3:::sealed-data/*"]))
glue.create_crawler(Name="sealed", Role="crawl-reader", DatabaseName="sealed",
                    Targets={"S3Targets": [{"Path": "s3://sealed-data/sales/"}]})
last = crawl(glue, "sealed")
check(last["Status"] == "FAILED" and "kms:Decrypt" in last.get("ErrorMessage", ""),
      f"a crawler whose role may read the bucket but not kms:Decrypt fails, naming it ({last.get('ErrorMessage')})")
check(glue.get_tables(DatabaseName="sealed")["TableList"] == [], "... and writes no table")
iam.put_role_policy(RoleName="crawl-reader", PolicyName="key", PolicyDocument=allow("kms:Decrypt", karn))
last = crawl(glue, "sealed")
check(last["Status"] == "SUCCEEDED", f"with kms:Decrypt the crawl succeeds ({last})")
check([t["Name"] for t in glue.get_tables(DatabaseName="sealed")["TableList"]] == ["sales"], "... and makes its table")

# a Firehose source reads a sealed stream as its RoleARN: kms:Decrypt is asked of that role
kinesis.start_stream_encryption(StreamName="sealed", EncryptionType="KMS", KeyId=karn)
stream_arn = kinesis.describe_stream_summary(StreamName="sealed")["StreamDescriptionSummary"]["StreamARN"]
iam.create_role(RoleName="source-reader", AssumeRolePolicyDocument=trust("firehose.amazonaws.com"))
iam.put_role_policy(RoleName="source-reader", PolicyName="read", PolicyDocument=allow(
    ["kinesis:DescribeStream", "kinesis:GetShardIterator", "kinesis:GetRecords"], stream_arn))
firehose.create_delivery_stream(
    DeliveryStreamName="from-sealed", DeliveryStreamType="KinesisStreamAsSource",
    KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn,
                                      "RoleARN": "arn:aws:iam::000000000000:role/source-reader"},
    ExtendedS3DestinationConfiguration={
        "RoleARN": "arn:aws:iam::000000000000:role/firehose", "BucketARN": "arn:aws:s3:::sealed-lake",
        "Prefix": "from-sealed/", "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}})
deadline = time.time() + 30
while firehose.describe_delivery_stream(DeliveryStreamName="from-sealed")["DeliveryStreamDescription"][
        "DeliveryStreamStatus"] != "ACTIVE" and time.time() < deadline:
    time.sleep(0.1)
kinesis.put_record(StreamName="sealed", Data=f"{canary} via firehose\n".encode(), PartitionKey="p")
failure = None
deadline = time.time() + 30
while time.time() < deadline and failure is None:
    failure = firehose.describe_delivery_stream(DeliveryStreamName="from-sealed")[
        "DeliveryStreamDescription"].get("FailureDescription")
    time.sleep(0.1)
check(failure is not None and "kms:Decrypt" in failure["Details"],
      f"a source role without kms:Decrypt reads nothing and says why ({failure})")
iam.put_role_policy(RoleName="source-reader", PolicyName="key", PolicyDocument=allow("kms:Decrypt", karn))
body = b""
deadline = time.time() + 30
while time.time() < deadline and not body:
    body = b"".join(s3.get_object(Bucket="sealed-lake", Key=o["Key"])["Body"].read()
                    for o in s3.list_objects_v2(Bucket="sealed-lake", Prefix="from-sealed/").get("Contents", []))
    time.sleep(0.2)
check(body == f"{canary} via firehose\n".encode(), f"with kms:Decrypt the sealed record is delivered ({body[:100]!r})")

finish("stream_sse")
