"""Tag condition keys through boto3: aws:RequestTag/*, aws:TagKeys and aws:ResourceTag/* are
filled from what a request carries and from the tags of the Kinesis stream or IAM user or role
it names, so tag-based policies decide as on AWS."""
import json
import time

import boto3

from tarn_checks import check, error_code, finish

iam, kinesis = boto3.client("iam"), boto3.client("kinesis")


def as_user(name, statements):
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return lambda service: boto3.client(service, aws_access_key_id=k["AccessKeyId"],
                                        aws_secret_access_key=k["SecretAccessKey"])


def active(name):
    while kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        time.sleep(0.05)


# --- aws:RequestTag and aws:TagKeys: a stream may be made only tagged team=ml, and only that key ---
tagger = as_user("tagger", [
    {"Effect": "Allow", "Action": ["kinesis:CreateStream", "kinesis:AddTagsToStream"], "Resource": "*",
     "Condition": {"StringEquals": {"aws:RequestTag/team": "ml"}, "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}},
    {"Effect": "Allow", "Action": "kinesis:DescribeStreamSummary", "Resource": "*"}])
tk = tagger("kinesis")
check(error_code(tk.create_stream, StreamName="ml-stream", ShardCount=1, Tags={"team": "ml"}) is None,
      "CreateStream tagged team=ml: allowed by aws:RequestTag/team")
check(error_code(tk.create_stream, StreamName="ops-stream", ShardCount=1, Tags={"team": "ops"})
      == "AccessDeniedException", "tagged team=ops: refused")
check(error_code(tk.create_stream, StreamName="bare-stream", ShardCount=1) == "AccessDeniedException",
      "untagged: refused (the key is absent)")
active("ml-stream")
check(error_code(tk.add_tags_to_stream, StreamName="ml-stream", Tags={"team": "ml", "owner": "x"})
      == "AccessDeniedException", "a tag key outside aws:TagKeys' allowed set: refused")
check("ops-stream" not in kinesis.list_streams()["StreamNames"], "the refused streams were not made")

# --- aws:ResourceTag: records only into streams tagged team=ml ---
kinesis.create_stream(StreamName="plain", ShardCount=1)
active("plain")
writer = as_user("writer", [{"Effect": "Allow", "Action": "kinesis:PutRecord", "Resource": "*",
                             "Condition": {"StringEquals": {"aws:ResourceTag/team": "ml"}}}])
wk = writer("kinesis")
check(error_code(wk.put_record, StreamName="ml-stream", Data=b"x", PartitionKey="k") is None,
      "PutRecord into the stream tagged team=ml: allowed by aws:ResourceTag/team")
check(error_code(wk.put_record, StreamName="plain", Data=b"x", PartitionKey="k") == "AccessDeniedException",
      "into an untagged stream: refused")

# --- aws:ResourceTag on IAM users ---
iam.create_user(UserName="in-ml", Tags=[{"Key": "team", "Value": "ml"}])
iam.create_user(UserName="in-ops", Tags=[{"Key": "team", "Value": "ops"}])
viewer = as_user("viewer", [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*",
                             "Condition": {"StringEquals": {"aws:ResourceTag/team": "ml"}}},
                            {"Effect": "Allow", "Action": "iam:TagUser", "Resource": "*",
                             "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["note"]}}}])
vi = viewer("iam")
check(error_code(vi.get_user, UserName="in-ml") is None, "GetUser of a user tagged team=ml: allowed")
check(error_code(vi.get_user, UserName="in-ops") == "AccessDenied", "of a user tagged team=ops: refused")
check(error_code(vi.tag_user, UserName="in-ops", Tags=[{"Key": "note", "Value": "n"}]) is None,
      "TagUser with only the allowed key: allowed")
check(error_code(vi.tag_user, UserName="in-ops", Tags=[{"Key": "team", "Value": "ml"}]) == "AccessDenied",
      "with another key: refused")
tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName="in-ops")["Tags"]}
check(tags == {"team": "ops", "note": "n"}, f"the allowed tag was written, the refused one not: {tags}")
finish("tag conditions")
