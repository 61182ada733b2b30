"""IAM through boto3 (default settings): users, keys, groups, managed and inline policies, and
the one authorizer behind every service. Phase "setup" runs as the root and as the users it
creates; phase "after-restart" checks that the directory and the keys survived.

Usage: iam_access.py setup|after-restart <state file>"""
import json
import sys
import urllib.parse

import boto3
from botocore.exceptions import ClientError

from tarn_checks import check, error_and_status, error_code, finish, wait_query

phase, state_file = sys.argv[1], sys.argv[2]
iam = boto3.client("iam")
s3 = boto3.client("s3")

TEAM_READ = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "ReadTeam", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/team/*"},
        {"Sid": "ListTeam", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::data",
         "Condition": {"StringLike": {"s3:prefix": ["team/*"]}}},
    ],
}


def client_as(service, key):
    return boto3.client(service, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])


def message(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"].get("Message", "")
    return None


def can_read(client, key):
    return error_code(client.get_object, Bucket="data", Key=key) is None


if phase == "setup":
    s3.create_bucket(Bucket="data")
    for key in ("team/a.txt", "team/sub/b.txt", "other/c.txt"):
        s3.put_object(Bucket="data", Key=key, Body=key.encode())

    # --- a user with a read-only prefix policy ---
    alice = iam.create_user(UserName="alice", Tags=[{"Key": "team", "Value": "ml"}])["User"]
    check(alice["Arn"] == "arn:aws:iam::000000000000:user/alice", "CreateUser answers the user's ARN")
    check(alice["UserId"].startswith("AIDA"), "user ids look like IAM's")
    check(error_code(iam.create_user, UserName="ALICE") == "EntityAlreadyExists",
          "user names are unique regardless of case: EntityAlreadyExists")
    policy = iam.create_policy(PolicyName="team-read", PolicyDocument=json.dumps(TEAM_READ))["Policy"]
    arn = policy["Arn"]
    check(arn == "arn:aws:iam::000000000000:policy/team-read", "CreatePolicy answers the policy's ARN")
    iam.attach_user_policy(UserName="alice", PolicyArn=arn)
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    check(key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40, "a key pair in AWS's shapes")
    a3 = client_as("s3", key)
    sts = client_as("sts", key).get_caller_identity()
    check(sts["Arn"] == alice["Arn"] and sts["UserId"] == alice["UserId"], "GetCallerIdentity names the user")

    check(can_read(a3, "team/a.txt") and can_read(a3, "team/sub/b.txt"), "alice reads under her prefix")
    listed = a3.list_objects_v2(Bucket="data", Prefix="team/")
    check(sorted(o["Key"] for o in listed.get("Contents", [])) == ["team/a.txt", "team/sub/b.txt"],
          "alice lists under her prefix")
    check(error_and_status(a3.get_object, Bucket="data", Key="other/c.txt") == ("AccessDenied", 403),
          "alice may not read elsewhere: AccessDenied 403")
    check(error_code(a3.list_objects_v2, Bucket="data", Prefix="other/") == "AccessDenied",
          "alice may not list elsewhere")
    check(error_code(a3.list_objects_v2, Bucket="data") == "AccessDenied",
          "a listing without a prefix does not satisfy the s3:prefix condition")
    check(error_code(a3.put_object, Bucket="data", Key="team/new.txt", Body=b"x") == "AccessDenied",
          "alice may not write, even under her prefix")
    check(error_code(a3.list_buckets) == "AccessDenied", "alice may not list buckets")
    iam.put_user_policy(UserName="alice", PolicyName="no-bpa", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:PutBucketPublicAccessBlock", "Resource": "*"}]}))
    check(error_code(a3.delete_public_access_block, Bucket="data") == "AccessDenied",
          "DeletePublicAccessBlock is s3:PutBucketPublicAccessBlock, as IAM names it")
    iam.delete_user_policy(UserName="alice", PolicyName="no-bpa")
    check(error_code(a3.delete_objects, Bucket="data", Delete={"Objects": [{"Key": "team/a.txt"}]}) is None
          and can_read(s3, "team/a.txt"), "DeleteObjects asks per key: a key alice may not delete stays")
    deleted = a3.delete_objects(Bucket="data", Delete={"Objects": [{"Key": "team/a.txt"}]})
    check([e["Code"] for e in deleted.get("Errors", [])] == ["AccessDenied"], "DeleteObjects reports the refused key")
    check(error_code(a3.copy_object, Bucket="data", Key="team/copy.txt",
                     CopySource={"Bucket": "data", "Key": "other/c.txt"}) == "AccessDenied",
          "a copy needs the right to write its target")

    # removing the policy removes the right at once
    iam.detach_user_policy(UserName="alice", PolicyArn=arn)
    check(error_code(a3.get_object, Bucket="data", Key="team/a.txt") == "AccessDenied",
          "detached: alice's read is refused at once (AccessDenied)")
    check(error_code(a3.list_objects_v2, Bucket="data", Prefix="team/") == "AccessDenied",
          "detached: and her listing")
    # ... and a group gives it back
    iam.create_group(GroupName="readers")
    iam.attach_group_policy(GroupName="readers", PolicyArn=arn)
    check(not can_read(a3, "team/a.txt"), "a group's policy applies only to its members")
    iam.add_user_to_group(GroupName="readers", UserName="alice")
    check(can_read(a3, "team/a.txt"), "a member of the group reads through the group's policy")
    check([g["GroupName"] for g in iam.list_groups_for_user(UserName="alice")["Groups"]] == ["readers"],
          "ListGroupsForUser")
    check([u["UserName"] for u in iam.get_group(GroupName="readers")["Users"]] == ["alice"], "GetGroup lists members")
    check(error_code(iam.delete_group, GroupName="readers") == "DeleteConflict", "a group with members is kept")

    # an explicit deny in an inline policy wins over the group's allow
    iam.put_user_policy(UserName="alice", PolicyName="no-sub", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/team/sub/*"}]}))
    check(can_read(a3, "team/a.txt") and not can_read(a3, "team/sub/b.txt"), "an explicit Deny wins")
    iam.delete_user_policy(UserName="alice", PolicyName="no-sub")
    check(can_read(a3, "team/sub/b.txt"), "DeleteUserPolicy takes the Deny away at once")
    iam.put_user_policy(UserName="alice", PolicyName="no-sub", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/team/sub/*"}]}))
    doc = iam.get_user_policy(UserName="alice", PolicyName="no-sub")["PolicyDocument"]
    check(isinstance(doc, dict) and doc["Statement"][0]["Effect"] == "Deny",
          "GetUserPolicy's document arrives URL-encoded and boto3 decodes it")
    check(iam.list_user_policies(UserName="alice")["PolicyNames"] == ["no-sub"], "ListUserPolicies")
    # policy variables: each user reads their own home
    iam.put_group_policy(GroupName="readers", PolicyName="home", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                       "Resource": "arn:aws:s3:::data/home/${aws:username}/*"}]}))
    check(error_code(a3.put_object, Bucket="data", Key="home/alice/notes.txt", Body=b"mine") is None,
          "${aws:username} lets alice write her home")
    check(error_code(a3.put_object, Bucket="data", Key="home/bob/notes.txt", Body=b"not mine") == "AccessDenied",
          "... and not someone else's")
    # a condition on the principal's tags
    iam.put_user_policy(UserName="alice", PolicyName="by-tag", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/other/*",
                       "Condition": {"StringEquals": {"aws:PrincipalTag/team": "ml"}}}]}))
    check(can_read(a3, "other/c.txt"), "aws:PrincipalTag conditions read the user's tags")
    iam.untag_user(UserName="alice", TagKeys=["team"])
    check(not can_read(a3, "other/c.txt"), "untagged: the condition no longer holds")

    # IAM itself is authorized too
    check(error_and_status(client_as("iam", key).create_user, UserName="mallory") == ("AccessDenied", 403),
          "alice may not create users: AccessDenied 403")
    check("alice is not authorized to perform: iam:CreateUser" in
          (message(client_as("iam", key).create_user, UserName="mallory") or ""),
          "the refusal names the caller and the action")

    # --- every service asks the same authorizer ---
    bob = iam.create_user(UserName="bob")["User"]
    bkey = iam.create_access_key(UserName="bob")["AccessKey"]
    calls = {
        "kinesis": ("kinesis:ListStreams", lambda c: c.list_streams()),
        "glue": ("glue:GetDatabases", lambda c: c.get_databases()),
        "athena": ("athena:ListWorkGroups", lambda c: c.list_work_groups()),
        "firehose": ("firehose:ListDeliveryStreams", lambda c: c.list_delivery_streams()),
    }
    for service, (action, call) in calls.items():
        client = client_as(service, bkey)
        code, status = error_and_status(call, client)
        check(code == "AccessDeniedException" and status == 400, f"{service}: refused without {action} ({code})")
        iam.put_user_policy(UserName="bob", PolicyName=service, PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}))
        check(error_code(call, client) is None, f"{service}: allowed with {action}")
    # resource-level: bob may put to one stream only
    boto3.client("kinesis").create_stream(StreamName="mine", ShardCount=1)
    boto3.client("kinesis").create_stream(StreamName="theirs", ShardCount=1)
    boto3.client("kinesis").get_waiter("stream_exists").wait(StreamName="mine")
    boto3.client("kinesis").get_waiter("stream_exists").wait(StreamName="theirs")
    iam.put_user_policy(UserName="bob", PolicyName="put-mine", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kinesis:PutRecord",
                                                "Resource": "arn:aws:kinesis:*:*:stream/mine"}]}))
    bk = client_as("kinesis", bkey)
    check(error_code(bk.put_record, StreamName="mine", Data=b"x", PartitionKey="k") is None,
          "kinesis: PutRecord on the stream the policy names")
    check(error_code(bk.put_record, StreamName="theirs", Data=b"x", PartitionKey="k") == "AccessDeniedException",
          "kinesis: PutRecord on another stream is refused")
    mine_arn = boto3.client("kinesis").describe_stream_summary(StreamName="mine")["StreamDescriptionSummary"]["StreamARN"]
    check(error_code(bk.put_record, StreamName="theirs", StreamARN=mine_arn, Data=b"x", PartitionKey="k")
          == "AccessDeniedException", "kinesis: the stream checked is the one written (StreamName wins)")
    iam.put_user_policy(UserName="bob", PolicyName="athena-all", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "athena:*", "Resource": "*"}]}))
    ba = client_as("athena", bkey)

    def run_query(sql):
        qid = ba.start_query_execution(QueryString=sql, ResultConfiguration={"OutputLocation": "s3://data/q/"})[
            "QueryExecutionId"]
        return wait_query(ba, qid)["Status"]

    status = run_query("SELECT 1")
    check(status["State"] == "FAILED" and "Access Denied" in status.get("StateChangeReason", ""),
          f"athena: a query runs as its caller, who may not write the results ({status})")
    iam.put_user_policy(UserName="bob", PolicyName="results", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",
                                                "Resource": "arn:aws:s3:::data/q/*"}]}))
    status = run_query("SELECT 1")
    check(status["State"] == "SUCCEEDED", f"athena: ... and succeeds once the caller may ({status})")
    iam.delete_user_policy(UserName="bob", PolicyName="athena-all")
    iam.delete_user_policy(UserName="bob", PolicyName="results")
    athena_root = boto3.client("athena")
    athena_root.create_work_group(Name="team", Configuration={
        "ResultConfiguration": {"OutputLocation": "s3://data/team-q/"}})
    nq = athena_root.create_named_query(Name="n", Database="default", QueryString="SELECT 1",
                                        WorkGroup="team")["NamedQueryId"]
    iam.put_user_policy(UserName="bob", PolicyName="athena-primary", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "athena:*",
                                                "Resource": "arn:aws:athena:*:*:workgroup/primary"}]}))
    check(error_code(ba.get_named_query, NamedQueryId=nq) == "AccessDeniedException",
          "athena: a named query is checked against its own work group")
    check(error_code(ba.batch_get_named_query, NamedQueryIds=[nq]) == "AccessDeniedException",
          "athena: ... each of a batch's too")
    check(error_code(ba.list_work_groups) is None, "athena: the primary work group's actions stay allowed")
    iam.delete_user_policy(UserName="bob", PolicyName="athena-primary")
    # Glue asks for the catalog, the database and the table
    boto3.client("glue").create_database(DatabaseInput={"Name": "sales"})
    iam.put_user_policy(UserName="bob", PolicyName="glue-db", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "glue:GetDatabase",
                                                "Resource": ["arn:aws:glue:*:*:catalog",
                                                             "arn:aws:glue:*:*:database/sales"]}]}))
    bg = client_as("glue", bkey)
    check(error_code(bg.get_database, Name="sales") is None, "glue: GetDatabase with catalog and database ARNs")
    check(error_code(bg.get_database, Name="other") == "AccessDeniedException", "glue: another database is refused")

    # --- bad input: IAM's codes and messages, nothing half-applied ---
    policies_before = len(iam.list_policies(Scope="Local")["Policies"])
    code, status = error_and_status(iam.create_policy, PolicyName="bad", PolicyDocument="{not json")
    check((code, status) == ("MalformedPolicyDocument", 400), f"malformed JSON: MalformedPolicyDocument 400 ({code})")
    msg = message(iam.create_policy, PolicyName="bad", PolicyDocument="{not json")
    check(msg is not None and msg.startswith("Syntax errors in policy"), f"malformed JSON: IAM's words ({msg})")
    bad_operator = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                                                            "Condition": {"StringEqualsSometimes": {"a:b": "c"}}}]}
    check(error_code(iam.create_policy, PolicyName="bad", PolicyDocument=json.dumps(bad_operator))
          == "MalformedPolicyDocument", "unknown condition operator: MalformedPolicyDocument")
    msg = message(iam.create_policy, PolicyName="bad", PolicyDocument=json.dumps(bad_operator))
    check(msg is not None and "Invalid Condition type : StringEqualsSometimes" in msg,
          f"unknown condition operator: IAM's words ({msg})")
    # a bad document changes nothing wherever it is sent
    inline_before = iam.list_user_policies(UserName="bob")["PolicyNames"]
    check(error_code(iam.put_user_policy, UserName="bob", PolicyName="bad", PolicyDocument="{not json")
          == "MalformedPolicyDocument" and iam.list_user_policies(UserName="bob")["PolicyNames"] == inline_before,
          "PutUserPolicy with a bad document: refused, the user's policies unchanged")
    big = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                   "Resource": [f"arn:aws:s3:::b/{i:05d}" for i in range(400)]}]}
    msg = message(iam.create_policy, PolicyName="big", PolicyDocument=json.dumps(big))
    check(error_code(iam.create_policy, PolicyName="big", PolicyDocument=json.dumps(big)) == "LimitExceeded"
          and msg == "Cannot exceed quota for PolicySize: 6144", f"oversized policy: LimitExceeded ({msg})")
    check(len(iam.list_policies(Scope="Local")["Policies"]) == policies_before, "refused policies were not created")
    msg = message(iam.create_access_key, UserName="bob")  # bob's second: fine
    check(msg is None, "a second access key is allowed")
    code = error_code(iam.create_access_key, UserName="bob")
    msg = message(iam.create_access_key, UserName="bob")
    check(code == "LimitExceeded" and msg == "Cannot exceed quota for AccessKeysPerUser: 2",
          f"a third access key: LimitExceeded ({msg})")
    check(len(iam.list_access_keys(UserName="bob")["AccessKeyMetadata"]) == 2, "the third key was not created")
    code, status = error_and_status(iam.delete_user, UserName="bob")
    msg = message(iam.delete_user, UserName="bob")
    check((code, status) == ("DeleteConflict", 409) and msg == "Cannot delete entity, must delete access keys first.",
          f"deleting a user with keys: DeleteConflict 409 ({msg})")
    check(iam.get_user(UserName="bob")["User"]["UserName"] == "bob", "the user is still there")
    check(error_and_status(iam.get_user, UserName="nobody") == ("NoSuchEntity", 404), "NoSuchEntity 404")
    check(message(iam.get_user, UserName="nobody") == "The user with name nobody cannot be found.",
          "NoSuchEntity in IAM's words")
    check(error_code(iam.delete_policy, PolicyArn=arn) == "DeleteConflict", "an attached policy is kept")
    check(error_code(iam.create_user, UserName="bad name!") == "ValidationError",
          "a name outside IAM's pattern: ValidationError")

    # --- keys: inactive keys stop working, deleted keys are gone ---
    b_keys = iam.list_access_keys(UserName="bob")["AccessKeyMetadata"]
    iam.update_access_key(UserName="bob", AccessKeyId=bkey["AccessKeyId"], Status="Inactive")
    check(error_code(client_as("kinesis", bkey).list_streams) == "UnrecognizedClientException",
          "an inactive key does not authenticate")
    for k in b_keys:
        iam.delete_access_key(UserName="bob", AccessKeyId=k["AccessKeyId"])
    for name in ("kinesis", "glue", "athena", "firehose", "put-mine", "glue-db"):
        iam.delete_user_policy(UserName="bob", PolicyName=name)
    iam.delete_user(UserName="bob")
    check(error_code(iam.get_user, UserName="bob") == "NoSuchEntity", "a user with nothing left is deleted")

    # --- managed policy versions ---
    for i in range(4):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(TEAM_READ), SetAsDefault=(i == 3))
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    check([v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"], "ListPolicyVersions, newest first")
    check([v["VersionId"] for v in versions if v["IsDefaultVersion"]] == ["v5"], "SetAsDefault moved the default")
    check(error_code(iam.create_policy_version, PolicyArn=arn, PolicyDocument=json.dumps(TEAM_READ))
          == "LimitExceeded", "a sixth version: LimitExceeded")
    check(error_code(iam.delete_policy_version, PolicyArn=arn, VersionId="v5") == "DeleteConflict",
          "the default version is kept")
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    check(error_code(iam.create_policy_version, PolicyArn=arn, PolicyDocument="{not json", SetAsDefault=True)
          == "MalformedPolicyDocument"
          and [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]] == ["v5", "v4", "v3", "v2"],
          "a bad version document: refused, no version added, the default kept")
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v5")["PolicyVersion"]
    check(got["Document"]["Statement"][0]["Sid"] == "ReadTeam", "GetPolicyVersion's document decodes")

    # --- roles, tags, paging ---
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="crawler", AssumeRolePolicyDocument=json.dumps(trust),
                           Tags=[{"Key": "k", "Value": "v"}])["Role"]
    check(role["Arn"] == "arn:aws:iam::000000000000:role/crawler" and role["RoleId"].startswith("AROA"), "CreateRole")
    got = iam.get_role(RoleName="crawler")["Role"]
    check(got["AssumeRolePolicyDocument"] == trust and got["MaxSessionDuration"] == 3600,
          "GetRole: the trust policy decodes, MaxSessionDuration defaults to an hour")
    check(error_code(iam.create_role, RoleName="r2", AssumeRolePolicyDocument=json.dumps(TEAM_READ))
          == "MalformedPolicyDocument", "a trust policy must name a principal")
    check(iam.list_role_tags(RoleName="crawler")["Tags"] == [{"Key": "k", "Value": "v"}], "ListRoleTags")
    for i in range(5):
        iam.create_user(UserName=f"paged{i}", Path="/paged/")
    first = iam.list_users(PathPrefix="/paged/", MaxItems=2)
    check(len(first["Users"]) == 2 and first["IsTruncated"], "MaxItems cuts a page, IsTruncated says so")
    names = [u["UserName"] for page in iam.get_paginator("list_users").paginate(PathPrefix="/paged/",
                                                                             PaginationConfig={"PageSize": 2})
             for u in page["Users"]]
    check(names == [f"paged{i}" for i in range(5)], f"the paginator walks every page ({names})")

    with open(state_file, "w") as f:
        json.dump({"alice": {k: key[k] for k in ("AccessKeyId", "SecretAccessKey")}, "policy": arn}, f)
    finish("iam setup")
else:
    state = json.load(open(state_file))
    a3 = client_as("s3", state["alice"])
    check(can_read(a3, "team/a.txt"), "after a restart alice's key and her group's policy still work")
    check(not can_read(a3, "team/sub/b.txt"), "... and so does her inline Deny")
    check([v["VersionId"] for v in iam.list_policy_versions(PolicyArn=state["policy"])["Versions"]]
          == ["v5", "v4", "v3", "v2"], "policy versions survive")
    check(iam.get_role(RoleName="crawler")["Role"]["RoleName"] == "crawler", "roles survive")
    check(error_code(iam.get_user, UserName="bob") == "NoSuchEntity", "deletions survive")
    finish("iam after restart")
