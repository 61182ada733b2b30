"""Service roles through boto3: a crawler runs as its Role and a Firehose delivery stream writes
as its RoleARN; what the role may not do fails the way Glue and Firehose report it, and nothing
is written; handing a role to a service needs iam:PassRole."""
import json
import time

import boto3

from tarn_checks import allow, check, crawl, error_code, finish, trust

ACCOUNT = "000000000000"
iam, s3, glue, firehose = (boto3.client(s) for s in ("iam", "s3", "glue", "firehose"))




s3.create_bucket(Bucket="lake")
s3.put_object(Bucket="lake", Key="sales/part-0.csv", Body=b"id,amount\n1,10\n2,20\n")
glue.create_database(DatabaseInput={"Name": "ml"})

# --- crawlers ---
iam.create_role(RoleName="reader", AssumeRolePolicyDocument=trust("glue.amazonaws.com"))
iam.put_role_policy(RoleName="reader", PolicyName="read", PolicyDocument=allow(
    ["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::lake", "arn:aws:s3:::lake/*"]))
iam.create_role(RoleName="blind", AssumeRolePolicyDocument=trust("glue.amazonaws.com"))
iam.put_role_policy(RoleName="blind", PolicyName="other", PolicyDocument=allow(
    ["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::elsewhere", "arn:aws:s3:::elsewhere/*"]))
iam.create_role(RoleName="untrusting", AssumeRolePolicyDocument=trust("firehose.amazonaws.com"))
iam.put_role_policy(RoleName="untrusting", PolicyName="read", PolicyDocument=allow("s3:*", "*"))
targets = {"S3Targets": [{"Path": "s3://lake/sales/"}]}
glue.create_crawler(Name="blind", Role="blind", DatabaseName="ml", Targets=targets)
last = crawl(glue, "blind")
check(last["Status"] == "FAILED" and "AccessDenied" in last.get("ErrorMessage", ""),
      f"a crawler whose role cannot read the bucket fails with the reason ({last})")
check(glue.get_tables(DatabaseName="ml")["TableList"] == [], "... and writes no table")
glue.create_crawler(Name="untrusting", Role=f"arn:aws:iam::{ACCOUNT}:role/untrusting", DatabaseName="ml",
                    Targets=targets)
last = crawl(glue, "untrusting")
check(last["Status"] == "FAILED" and "sts:AssumeRole" in last.get("ErrorMessage", ""),
      f"a role that does not trust Glue cannot be assumed ({last.get('ErrorMessage')})")
glue.create_crawler(Name="reader", Role="reader", DatabaseName="ml", Targets=targets)
last = crawl(glue, "reader")
check(last["Status"] == "SUCCEEDED", f"a crawler whose role reads the bucket succeeds ({last})")
check([t["Name"] for t in glue.get_tables(DatabaseName="ml")["TableList"]] == ["sales"], "... and makes its table")

# --- Firehose ---
iam.create_role(RoleName="deliverer", AssumeRolePolicyDocument=trust("firehose.amazonaws.com"))
iam.put_role_policy(RoleName="deliverer", PolicyName="none", PolicyDocument=allow(
    "s3:PutObject", "arn:aws:s3:::elsewhere/*"))
firehose.create_delivery_stream(DeliveryStreamName="clicks", ExtendedS3DestinationConfiguration={
    "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/deliverer", "BucketARN": "arn:aws:s3:::lake", "Prefix": "clicks/",
    "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}})
deadline = time.time() + 30
while firehose.describe_delivery_stream(DeliveryStreamName="clicks")["DeliveryStreamDescription"][
        "DeliveryStreamStatus"] != "ACTIVE" and time.time() < deadline:
    time.sleep(0.1)
firehose.put_record(DeliveryStreamName="clicks", Record={"Data": b'{"id": 1}\n'})
failure = None
deadline = time.time() + 30
while time.time() < deadline:
    d = firehose.describe_delivery_stream(DeliveryStreamName="clicks")["DeliveryStreamDescription"]
    failure = d.get("FailureDescription")
    if failure:
        break
    time.sleep(0.1)
check(failure is not None and failure["Type"] == "UNKNOWN_ERROR" and failure["Details"].startswith("S3.AccessDenied"),
      f"a stream whose role cannot write reports S3.AccessDenied ({failure})")
check(s3.list_objects_v2(Bucket="lake", Prefix="clicks/").get("KeyCount") == 0, "... and delivers nothing")
iam.put_role_policy(RoleName="deliverer", PolicyName="write", PolicyDocument=allow(
    "s3:PutObject", "arn:aws:s3:::lake/clicks/*"))
delivered = 0
deadline = time.time() + 30
while time.time() < deadline and delivered == 0:
    delivered = s3.list_objects_v2(Bucket="lake", Prefix="clicks/").get("KeyCount", 0)
    time.sleep(0.2)
check(delivered == 1, "once the role may write, the buffered record is delivered")
check("FailureDescription" not in firehose.describe_delivery_stream(DeliveryStreamName="clicks")[
    "DeliveryStreamDescription"], "... and the failure is cleared")

# --- a Kinesis source is read as its own RoleARN ---
kinesis = boto3.client("kinesis")
kinesis.create_stream(StreamName="events", ShardCount=1)
while kinesis.describe_stream_summary(StreamName="events")["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
    time.sleep(0.05)
stream_arn = kinesis.describe_stream_summary(StreamName="events")["StreamDescriptionSummary"]["StreamARN"]
iam.create_role(RoleName="source-reader", AssumeRolePolicyDocument=trust("firehose.amazonaws.com"))
iam.put_role_policy(RoleName="source-reader", PolicyName="describe-only", PolicyDocument=allow(
    "kinesis:DescribeStream", stream_arn))
firehose.create_delivery_stream(
    DeliveryStreamName="from-events", DeliveryStreamType="KinesisStreamAsSource",
    KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn,
                                      "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/source-reader"},
    ExtendedS3DestinationConfiguration={
        "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/deliverer", "BucketARN": "arn:aws:s3:::lake", "Prefix": "clicks/events/",
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}})
deadline = time.time() + 30
while firehose.describe_delivery_stream(DeliveryStreamName="from-events")["DeliveryStreamDescription"][
        "DeliveryStreamStatus"] != "ACTIVE" and time.time() < deadline:
    time.sleep(0.1)
kinesis.put_record(StreamName="events", Data=b'{"id": 2}\n', PartitionKey="k")
failure = None
deadline = time.time() + 30
while time.time() < deadline:
    failure = firehose.describe_delivery_stream(DeliveryStreamName="from-events")[
        "DeliveryStreamDescription"].get("FailureDescription")
    if failure:
        break
    time.sleep(0.1)
check(failure is not None and failure["Details"].startswith("Kinesis.AccessDenied")
      and "kinesis:GetShardIterator" in failure["Details"],
      f"a source role that may not read the stream reports Kinesis.AccessDenied ({failure})")
check(s3.list_objects_v2(Bucket="lake", Prefix="clicks/events/").get("KeyCount") == 0, "... and delivers nothing")
iam.put_role_policy(RoleName="source-reader", PolicyName="read", PolicyDocument=allow(
    ["kinesis:GetShardIterator", "kinesis:GetRecords"], stream_arn))
delivered = 0
deadline = time.time() + 30
while time.time() < deadline and delivered == 0:
    delivered = s3.list_objects_v2(Bucket="lake", Prefix="clicks/events/").get("KeyCount", 0)
    time.sleep(0.2)
check(delivered == 1, "once the source role may read, the record is delivered")

# --- iam:PassRole ---
iam.create_user(UserName="dev")
iam.put_user_policy(UserName="dev", PolicyName="glue", PolicyDocument=allow("glue:*", "*"))
key = iam.create_access_key(UserName="dev")["AccessKey"]
dev = boto3.client("glue", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
check(error_code(dev.create_crawler, Name="dev1", Role="reader", DatabaseName="ml", Targets=targets)
      == "AccessDeniedException", "creating a crawler needs iam:PassRole on its role")
iam.put_user_policy(UserName="dev", PolicyName="pass", PolicyDocument=allow(
    "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/reader"))
check(error_code(dev.create_crawler, Name="dev1", Role="reader", DatabaseName="ml", Targets=targets) is None,
      "... and with it, the crawler is created")
check(error_code(dev.create_crawler, Name="dev2", Role="blind", DatabaseName="ml", Targets=targets)
      == "AccessDeniedException", "... for that role only")
iam.put_user_policy(UserName="dev", PolicyName="pass-any", PolicyDocument=allow("iam:PassRole", "*"))
check(error_code(dev.create_crawler, Name="dev3", Role="ghost", DatabaseName="ml", Targets=targets)
      == "AccessDeniedException", "a user may not pass a role that does not exist")
finish("service roles")
