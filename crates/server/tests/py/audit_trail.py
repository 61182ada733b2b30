"""The audit trail through boto3 (default settings): a trail delivering management and S3 data
events; a scripted session of one IAM user across S3, Kinesis, Glue, Athena, Firehose, IAM and
KMS, one call of it denied; then exactly one record per call in the delivered files (valid
CloudTrail JSON, the user as principal, the denied call marked), and LookupEvents by EventName
and Username.

Usage: audit_trail.py <README.md>   (the server delivers every second: --cloudtrail-delivery-secs 1;
the README's CloudTrail table is created over the delivered files and queried)"""
import gzip
import json
import re
import sys
import time

import boto3
from botocore.exceptions import ClientError

from tarn_checks import check, error_and_status, finish, wait_query

s3 = boto3.client("s3")
iam = boto3.client("iam")
ct = boto3.client("cloudtrail")

s3.create_bucket(Bucket="trail-logs")
s3.create_bucket(Bucket="work")
check(error_and_status(ct.create_trail, Name="main", S3BucketName="no-such-bucket")
      == ("S3BucketDoesNotExistException", 400), "a trail into a missing bucket: S3BucketDoesNotExistException")
check(error_and_status(ct.create_trail, Name="-bad", S3BucketName="trail-logs")
      == ("InvalidTrailNameException", 400), "a bad trail name: InvalidTrailNameException")
trail = ct.create_trail(Name="main", S3BucketName="trail-logs", S3KeyPrefix="audit")
check(trail["TrailARN"].endswith(":trail/main"), "CreateTrail answers the trail's ARN")
check(error_and_status(ct.create_trail, Name="main", S3BucketName="trail-logs")
      == ("TrailAlreadyExistsException", 400), "the same name again: TrailAlreadyExistsException")
check(ct.get_trail_status(Name="main")["IsLogging"] is False, "a new trail is not logging")
ct.put_event_selectors(TrailName="main", EventSelectors=[{
    "ReadWriteType": "All", "IncludeManagementEvents": True,
    "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::work/"]}]}])
selectors = ct.get_event_selectors(TrailName="main")["EventSelectors"]
check(selectors[0]["DataResources"][0]["Values"] == ["arn:aws:s3:::work/"], "GetEventSelectors answers what was put")
ct.start_logging(Name="main")
check(ct.get_trail_status(Name="main")["IsLogging"] is True, "StartLogging")
check([t["Name"] for t in ct.list_trails()["Trails"]] == ["main"], "ListTrails")

# --- the session: one user, every service, one call denied ---
iam.create_user(UserName="carol")
iam.put_user_policy(UserName="carol", PolicyName="work", PolicyDocument=json.dumps({"Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "arn:aws:s3:::work/*"},
        {"Effect": "Allow", "Action": ["kinesis:*", "glue:*", "athena:*", "firehose:*", "kms:ListKeys",
                                       "kms:CreateKey", "iam:GetUser"], "Resource": "*"}]}))
key = iam.create_access_key(UserName="carol")["AccessKey"]
carol_arn = iam.get_user(UserName="carol")["User"]["Arn"]


def as_carol(service):
    return boto3.client(service, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])


calls = []  # (request id, event source, event name, denied)


def call(client, source, name, fn, **kwargs):
    try:
        out = fn(**kwargs)
        calls.append((out["ResponseMetadata"]["RequestId"], source, name, None))
        return out
    except ClientError as e:
        calls.append((e.response["ResponseMetadata"]["RequestId"], source, name, e.response["Error"]["Code"]))
        return None


c3, ck, cg, ca, cf, ci, cm = (as_carol(s) for s in ("s3", "kinesis", "glue", "athena", "firehose", "iam", "kms"))
call(c3, "s3", "PutObject", c3.put_object, Bucket="work", Key="day1.json", Body=b'{"a": 1}')
call(c3, "s3", "GetObject", c3.get_object, Bucket="work", Key="day1.json")
call(c3, "s3", "DeleteBucket", c3.delete_bucket, Bucket="work")  # denied
call(ck, "kinesis", "CreateStream", ck.create_stream, StreamName="clicks", ShardCount=1)
call(cg, "glue", "CreateDatabase", cg.create_database, DatabaseInput={"Name": "auditdb"})
call(cg, "glue", "GetDatabase", cg.get_database, Name="auditdb")
call(ca, "athena", "ListWorkGroups", ca.list_work_groups)
call(cf, "firehose", "ListDeliveryStreams", cf.list_delivery_streams)
call(ci, "iam", "GetUser", ci.get_user)
call(cm, "kms", "CreateKey", cm.create_key, Description="audited")
call(cm, "kms", "ListKeys", cm.list_keys)
denied = [c for c in calls if c[3]]
check(len(denied) == 1 and denied[0][3] == "AccessDenied", f"exactly one call of the session is denied: {denied}")

# --- the delivered files ---
ids = {c[0] for c in calls}
records, keys = [], []
deadline = time.time() + 30
while time.time() < deadline:
    listed = s3.list_objects_v2(Bucket="trail-logs", Prefix="audit/AWSLogs/").get("Contents", [])
    keys = [o["Key"] for o in listed]
    records = []
    for k in keys:
        records += json.loads(gzip.decompress(s3.get_object(Bucket="trail-logs", Key=k)["Body"].read()))["Records"]
    if ids <= {r["requestID"] for r in records}:
        break
    time.sleep(0.5)
pattern = re.compile(r"^audit/AWSLogs/000000000000/CloudTrail/us-east-1/\d{4}/\d{2}/\d{2}/"
                     r"000000000000_CloudTrail_us-east-1_\d{8}T\d{4}Z_[0-9A-F]{16}\.json\.gz$")
check(keys and all(pattern.match(k) for k in keys), f"files are named as CloudTrail names them: {keys[:2]}")
for rid, source, name, error in calls:
    mine = [r for r in records if r["requestID"] == rid]
    check(len(mine) == 1, f"exactly one record of {name} ({len(mine)})")
    if len(mine) != 1:
        continue
    r = mine[0]
    check(r["eventSource"] == f"{source}.amazonaws.com" and r["eventName"] == name, f"{name}: source and name")
    check(r["userIdentity"]["type"] == "IAMUser" and r["userIdentity"]["arn"] == carol_arn
          and r["userIdentity"]["userName"] == "carol" and r["userIdentity"]["accessKeyId"] == key["AccessKeyId"],
          f"{name}: the user is the principal, with the access key")
    check(r.get("errorCode") == error, f"{name}: errorCode {r.get('errorCode')}")
    check(re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", r["eventTime"]) is not None, f"{name}: eventTime")
    check(r["eventVersion"] == "1.09" and r["eventType"] == "AwsApiCall" and r["awsRegion"] == "us-east-1"
          and re.match(r"^[0-9a-f-]{36}$", r["eventID"]) and r["sourceIPAddress"] == "127.0.0.1"
          and "Boto3" in r["userAgent"], f"{name}: CloudTrail's fields")
carol_records = [r for r in records if r["userIdentity"].get("userName") == "carol"]
check(len(carol_records) == len(calls), f"no other record names the user ({len(carol_records)} for {len(calls)} calls)")
put = next(r for r in records if r["eventName"] == "PutObject")
check(put["eventCategory"] == "Data" and put["managementEvent"] is False and put["readOnly"] is False
      and put["requestParameters"]["bucketName"] == "work" and put["requestParameters"]["key"] == "day1.json"
      and {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::work/day1.json"} in put["resources"],
      "an S3 data event names its bucket, key and object")
get = next(r for r in records if r["eventName"] == "GetObject")
check(get["readOnly"] is True, "GetObject is readOnly")
stream = next(r for r in records if r["eventName"] == "CreateStream")
check(stream["requestParameters"] == {"streamName": "clicks", "shardCount": 1}
      and stream["resources"][0]["type"] == "AWS::Kinesis::Stream", "CreateStream's parameters and resource")
denied_record = next(r for r in records if r["requestID"] == denied[0][0])
check(denied_record["errorCode"] == "AccessDenied" and denied_record["errorMessage"],
      "the denied call is recorded as denied, with its message")
check(not any(r["eventName"] == "GetObject" and r["requestParameters"].get("bucketName") == "trail-logs"
              for r in records), "S3 data events outside the selected prefix are not delivered")

# --- Athena over the delivered files, with the README's table ---
athena = boto3.client("athena")
s3.create_bucket(Bucket="athena-results")
readme = open(sys.argv[1], encoding="utf-8").read()
ddl = readme.split("<!-- cloudtrail-table:start -->")[1].split("<!-- cloudtrail-table:end -->")[0]
ddl = ddl.strip().removeprefix("```sql").removesuffix("```").strip()
ddl = ddl.replace("s3://results/audit/", "s3://trail-logs/audit/")


def athena_rows(sql):
    qid = athena.start_query_execution(QueryString=sql, ResultConfiguration={
        "OutputLocation": "s3://athena-results/"})["QueryExecutionId"]
    q = wait_query(athena, qid)
    if q["Status"]["State"] != "SUCCEEDED":
        return q["Status"].get("StateChangeReason")
    rows = athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]
    return [[c.get("VarCharValue") for c in r["Data"]] for r in rows[1:]]


check(athena_rows(ddl) == [], "the README's CloudTrail table is created")
rows = athena_rows("SELECT eventname, useridentity.arn, errorcode, readonly, requestid FROM cloudtrail_logs "
                   "WHERE useridentity.username = 'carol' ORDER BY eventtime, eventname")
check(isinstance(rows, list) and sorted(r[4] for r in rows) == sorted(ids),
      f"Athena finds every call of the session in the delivered files, once ({rows if not isinstance(rows, list) else len(rows)})")
if isinstance(rows, list):
    check(all(r[1] == carol_arn for r in rows), "with the user's ARN")
    check([r[2] for r in rows if r[2]] == ["AccessDenied"], "and the denied call's errorCode")
    check({r[3] for r in rows} == {"true", "false"}, "readOnly as text, as AWS's table declares it")
params = athena_rows("SELECT requestparameters FROM cloudtrail_logs WHERE eventname = 'CreateStream'")
check(isinstance(params, list) and len(params) == 1 and json.loads(params[0][0]) == {"streamName": "clicks", "shardCount": 1},
      f"requestparameters is the parameters' JSON text ({params})")

# the queries AWS's CloudTrail examples run: JSON in requestparameters, ISO 8601 eventtime,
# resources unnested
rows = athena_rows("SELECT json_extract_scalar(requestparameters, '$.streamName'), "
                   "json_extract_scalar(requestparameters, '$.shardCount') FROM cloudtrail_logs "
                   "WHERE eventname = 'CreateStream' "
                   "AND from_iso8601_timestamp(eventtime) > current_timestamp - interval '1' day")
check(rows == [["clicks", "1"]], f"json_extract_scalar and from_iso8601_timestamp over the trail ({rows})")
rows = athena_rows("SELECT eventname, r.arn, r.type FROM cloudtrail_logs CROSS JOIN UNNEST(resources) AS t(r) "
                   "WHERE eventname = 'CreateStream'")
check(isinstance(rows, list) and len(rows) == 1 and rows[0][1].endswith(":stream/clicks")
      and rows[0][2] == "AWS::Kinesis::Stream", f"CROSS JOIN UNNEST(resources) names the stream ({rows})")

example = readme.split("<!-- cloudtrail-query:start -->")[1].split("<!-- cloudtrail-query:end -->")[0]
example = example.strip().removeprefix("```sql").removesuffix("```").strip()
rows = athena_rows(example)
check(isinstance(rows, list) and any(r[1] == "CreateStream" and r[3].endswith(":stream/clicks") for r in rows),
      f"the README's example query answers ({rows if not isinstance(rows, list) else len(rows)})")

# --- LookupEvents ---
by_name = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateStream"}])
check([(e["EventName"], e["Username"]) for e in by_name["Events"]] == [("CreateStream", "carol")],
      "LookupEvents by EventName")
by_user = ct.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "carol"}])["Events"]
names = [e["EventName"] for e in by_user]
check(names == ["ListKeys", "CreateKey", "GetUser", "ListDeliveryStreams", "ListWorkGroups", "GetDatabase",
                "CreateDatabase", "CreateStream", "DeleteBucket"],
      f"LookupEvents by Username: the user's management events, newest first ({names})")
check(all(e["Username"] == "carol" and json.loads(e["CloudTrailEvent"])["userIdentity"]["arn"] == carol_arn
          for e in by_user), "each with the user and the whole record")
page = ct.lookup_events(MaxResults=2)
check(len(page["Events"]) == 2 and "NextToken" in page, "pages of MaxResults with a NextToken")
nxt = ct.lookup_events(MaxResults=2, NextToken=page["NextToken"])
check(nxt["Events"][0]["EventId"] != page["Events"][0]["EventId"], "NextToken goes on")
check(error_and_status(ct.lookup_events, LookupAttributes=[
    {"AttributeKey": "EventName", "AttributeValue": "a"}, {"AttributeKey": "Username", "AttributeValue": "b"}])
      == ("InvalidLookupAttributesException", 400), "two attributes: InvalidLookupAttributesException")
status = ct.get_trail_status(Name="main")
check("LatestDeliveryTime" in status and "LatestDeliveryError" not in status, "GetTrailStatus reports the delivery")
ct.stop_logging(Name="main")
check(ct.get_trail_status(Name="main")["IsLogging"] is False, "StopLogging")

finish("audit trail")
