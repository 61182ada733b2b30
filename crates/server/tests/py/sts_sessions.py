"""STS sessions through boto3 (default settings): AssumeRole with trust policies, session
policies and durations, GetSessionToken, tampered and missing tokens. Phase "setup" runs on a
fresh server; phase "expired" runs after a restart whose session clock is 1,000 s later, past
the 900 s sessions setup made.

Usage: sts_sessions.py setup|expired <state file>"""
import json
import sys

import boto3
from botocore.exceptions import ClientError

from tarn_checks import check, error_and_status, error_code, finish

phase, state_file = sys.argv[1], sys.argv[2]
iam = boto3.client("iam")
s3 = boto3.client("s3")
ACCOUNT = "000000000000"


def client(service, creds):
    return boto3.client(service, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds.get("SessionToken"))


def message(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"].get("Message", "")
    return None


def reads(c, key):
    return error_code(c.get_object, Bucket="lake", Key=key) is None


if phase == "setup":
    s3.create_bucket(Bucket="lake")
    for key in ("a/1.txt", "b/2.txt"):
        s3.put_object(Bucket="lake", Key=key, Body=key.encode())
    carol = iam.create_user(UserName="carol")["User"]
    ckey = iam.create_access_key(UserName="carol")["AccessKey"]
    iam.create_user(UserName="dave")
    dkey = iam.create_access_key(UserName="dave")["AccessKey"]
    trust_carol = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": carol["Arn"]}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps(trust_carol))["Role"]
    iam.put_role_policy(RoleName="reader", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
             "Resource": ["arn:aws:s3:::lake", "arn:aws:s3:::lake/*"]}]}))
    csts = client("sts", ckey)

    # the role's rights, exactly
    out = csts.assume_role(RoleArn=role["Arn"], RoleSessionName="job-1", DurationSeconds=900)
    creds = out["Credentials"]
    check(creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"], "AssumeRole returns ASIA keys and a token")
    check(out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/job-1",
          "the assumed-role ARN")
    check(out["AssumedRoleUser"]["AssumedRoleId"] == f"{role['RoleId']}:job-1", "the assumed-role id")
    who = client("sts", creds).get_caller_identity()
    check(who["Arn"] == out["AssumedRoleUser"]["Arn"], "GetCallerIdentity names the role session")
    rs3 = client("s3", creds)
    check(reads(rs3, "a/1.txt") and reads(rs3, "b/2.txt"), "the session reads what the role may")
    check(error_code(rs3.put_object, Bucket="lake", Key="a/new", Body=b"x") == "AccessDenied",
          "... and may not write what the role may not")
    check(error_code(client("kinesis", creds).list_streams) == "AccessDeniedException",
          "... nor use another service")
    check(not reads(client("s3", ckey), "a/1.txt"), "carol herself has none of the role's rights")

    # a session policy narrows the role
    narrow = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/a/*"}]}
    out = csts.assume_role(RoleArn=role["Arn"], RoleSessionName="narrow", Policy=json.dumps(narrow),
                           DurationSeconds=900)
    check(isinstance(out.get("PackedPolicySize"), int), "PackedPolicySize is reported")
    ns3 = client("s3", out["Credentials"])
    check(reads(ns3, "a/1.txt") and not reads(ns3, "b/2.txt"), "a session policy narrows the role's rights")
    wide = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    ws3 = client("s3", csts.assume_role(RoleArn=role["Arn"], RoleSessionName="wide", Policy=json.dumps(wide),
                                        DurationSeconds=900)["Credentials"])
    check(error_code(ws3.put_object, Bucket="lake", Key="a/x", Body=b"x") == "AccessDenied",
          "a session policy never widens the role")
    check(error_code(csts.assume_role, RoleArn=role["Arn"], RoleSessionName="bad", Policy="{nope")
          == "MalformedPolicyDocument", "a malformed session policy: MalformedPolicyDocument")

    # who may assume
    code, status = error_and_status(client("sts", dkey).assume_role, RoleArn=role["Arn"], RoleSessionName="xx")
    check((code, status) == ("AccessDenied", 403), "a user the trust policy does not name: AccessDenied 403")
    check(message(client("sts", dkey).assume_role, RoleArn=role["Arn"], RoleSessionName="xx")
          == f"User: arn:aws:iam::{ACCOUNT}:user/dave is not authorized to perform: sts:AssumeRole on resource: {role['Arn']}",
          "the refusal in STS's words")
    check(message(boto3.client("sts").assume_role, RoleArn=role["Arn"], RoleSessionName="xx")
          == "Roles may not be assumed by root accounts.", "the root may not assume roles")
    trust_account = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
    acct = iam.create_role(RoleName="delegated", AssumeRolePolicyDocument=json.dumps(trust_account))["Role"]
    check(error_code(client("sts", dkey).assume_role, RoleArn=acct["Arn"], RoleSessionName="xx") == "AccessDenied",
          "a trust policy naming the account needs the caller's own policy too")
    iam.put_user_policy(UserName="dave", PolicyName="assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": acct["Arn"]}]}))
    check(error_code(client("sts", dkey).assume_role, RoleArn=acct["Arn"], RoleSessionName="xx") is None,
          "... and with it, the role is assumed")
    iam.put_user_policy(UserName="dave", PolicyName="assume-any", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    check(error_code(client("sts", dkey).assume_role, RoleArn=role["Arn"], RoleSessionName="xx") == "AccessDenied",
          "the caller's own policies never open a role whose trust policy does not let it in")
    # source identity: the trust policy must allow sts:SetSourceIdentity; it then follows the
    # session, aws:SourceIdentity conditions read it, and role chaining may not change it
    check(error_code(csts.assume_role, RoleArn=role["Arn"], RoleSessionName="si", SourceIdentity="carol-laptop")
          == "AccessDenied", "SourceIdentity without sts:SetSourceIdentity in the trust policy: AccessDenied")
    trust_si = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": carol["Arn"]}, "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]}]}
    si_role = iam.create_role(RoleName="audited", AssumeRolePolicyDocument=json.dumps(trust_si))["Role"]
    iam.put_role_policy(RoleName="audited", PolicyName="read-if-known", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/*",
             "Condition": {"StringEquals": {"aws:SourceIdentity": "carol-laptop"}}},
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    out = csts.assume_role(RoleArn=si_role["Arn"], RoleSessionName="si", SourceIdentity="carol-laptop")
    check(out.get("SourceIdentity") == "carol-laptop", "AssumeRole answers the source identity")
    si_creds = out["Credentials"]
    check(reads(client("s3", si_creds), "a/1.txt"), "aws:SourceIdentity conditions read the session's")
    plain = csts.assume_role(RoleArn=si_role["Arn"], RoleSessionName="plain")["Credentials"]
    check(not reads(client("s3", plain), "a/1.txt"), "a session without it does not match")
    si_sts = client("sts", si_creds)
    # chaining into a role that trusts the audited role's sessions
    trust_chain = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": si_role["Arn"]}, "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]}]}
    chained = iam.create_role(RoleName="chained", AssumeRolePolicyDocument=json.dumps(trust_chain))["Role"]
    check(error_code(si_sts.assume_role, RoleArn=chained["Arn"], RoleSessionName="c2", SourceIdentity="someone-else")
          == "AccessDenied", "role chaining may not change the source identity")
    out = si_sts.assume_role(RoleArn=chained["Arn"], RoleSessionName="c2")
    check(out.get("SourceIdentity") == "carol-laptop", "role chaining keeps the source identity")

    # a presigned URL of a session carries its token
    import urllib.request
    url = client("s3", creds).generate_presigned_url("get_object", Params={"Bucket": "lake", "Key": "a/1.txt"})
    check("x-amz-security-token=" in url.lower() and urllib.request.urlopen(url).read() == b"a/1.txt",
          "a session's presigned GET works, its token in the URL")
    bad = url.replace("x-amz-security-token=", "x-amz-security-token=A").replace("X-Amz-Security-Token=", "X-Amz-Security-Token=A")
    check(bad != url, "the token was altered")
    try:
        urllib.request.urlopen(bad)
        check(False, "a presigned URL with an altered token is refused")
    except urllib.error.HTTPError as e:
        check(e.code in (400, 403), f"a presigned URL with an altered token is refused ({e.code})")

    # S3 condition keys from the request: s3:x-amz-server-side-encryption, s3:max-keys
    iam.put_role_policy(RoleName="reader", PolicyName="conditional", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::lake/enc/*",
             "Condition": {"StringEquals": {"s3:x-amz-server-side-encryption": "AES256"}}},
            {"Effect": "Deny", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::lake",
             "Condition": {"NumericGreaterThan": {"s3:max-keys": "100"}}}]}))
    cs3 = client("s3", csts.assume_role(RoleArn=role["Arn"], RoleSessionName="cond")["Credentials"])
    check(error_code(cs3.put_object, Bucket="lake", Key="enc/x", Body=b"x") == "AccessDenied",
          "s3:x-amz-server-side-encryption: a PUT without the header is refused")
    check(error_code(cs3.put_object, Bucket="lake", Key="enc/x", Body=b"x", ServerSideEncryption="AES256") is None,
          "... and allowed with it")
    check(error_code(cs3.list_objects_v2, Bucket="lake", MaxKeys=10) is None, "s3:max-keys 10: listed")
    check(error_code(cs3.list_objects_v2, Bucket="lake", MaxKeys=500) == "AccessDenied", "s3:max-keys 500: denied")
    iam.delete_role_policy(RoleName="reader", PolicyName="conditional")

    # a token does not outlive its role: one deleted and made again is another role
    iam.create_role(RoleName="temp", AssumeRolePolicyDocument=json.dumps(trust_carol))
    old = csts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/temp", RoleSessionName="old")["Credentials"]
    check(error_code(client("sts", old).get_caller_identity) is None, "a session of the first role works")
    iam.delete_role(RoleName="temp")
    iam.create_role(RoleName="temp", AssumeRolePolicyDocument=json.dumps(trust_carol))
    check(error_code(client("sts", old).get_caller_identity) == "InvalidClientTokenId",
          "... and not for the role made again under its name")
    check(error_code(client("sts", dict(ckey, SessionToken="bogus")).get_caller_identity) == "InvalidClientTokenId",
          "a long-term key with a session token is refused")
    check(error_code(csts.assume_role, RoleArn=role["Arn"], RoleSessionName="long", DurationSeconds=7200)
          == "ValidationError", "DurationSeconds past the role's MaxSessionDuration: ValidationError")
    check(error_code(csts.assume_role, RoleArn=f"arn:aws:iam::{ACCOUNT}:role/none", RoleSessionName="xx")
          == "AccessDenied", "a role that does not exist: AccessDenied")

    # tokens: tampered, missing, another key's
    t = creds["SessionToken"]
    tampered = dict(creds, SessionToken=t[:10] + ("A" if t[10] != "A" else "B") + t[11:])
    check(error_code(client("s3", tampered).get_object, Bucket="lake", Key="a/1.txt") == "InvalidToken",
          "S3: a tampered token is refused (InvalidToken)")
    check(error_code(client("sts", tampered).get_caller_identity) == "InvalidClientTokenId",
          "STS: a tampered token is refused (InvalidClientTokenId)")
    check(error_code(client("kinesis", tampered).list_streams) == "UnrecognizedClientException",
          "Kinesis: a tampered token is refused (UnrecognizedClientException)")
    missing = {k: creds[k] for k in ("AccessKeyId", "SecretAccessKey")}
    check(error_code(client("s3", missing).get_object, Bucket="lake", Key="a/1.txt") == "InvalidToken",
          "a session key without its token is refused")
    other = csts.assume_role(RoleArn=role["Arn"], RoleSessionName="other", DurationSeconds=900)["Credentials"]
    swapped = dict(creds, SessionToken=other["SessionToken"])
    check(error_code(client("s3", swapped).get_object, Bucket="lake", Key="a/1.txt") == "InvalidToken",
          "another session's token does not fit this key")

    # GetSessionToken: the caller's own rights
    st = csts.get_session_token(DurationSeconds=900)["Credentials"]
    check(client("sts", st).get_caller_identity()["Arn"] == carol["Arn"], "GetSessionToken acts as the user")
    check(not reads(client("s3", st), "a/1.txt"), "... with the user's rights only")

    with open(state_file, "w") as f:
        json.dump({"role": {k: creds[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")},
                   "user_session": {k: st[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")},
                   "presigned": client("s3", creds).generate_presigned_url(
                       "get_object", Params={"Bucket": "lake", "Key": "a/1.txt"}, ExpiresIn=86400),
                   "carol": {k: ckey[k] for k in ("AccessKeyId", "SecretAccessKey")}, "role_arn": role["Arn"]}, f)
    finish("sts setup")
else:
    state = json.load(open(state_file))
    creds = state["role"]
    code, status = error_and_status(client("s3", creds).get_object, Bucket="lake", Key="a/1.txt")
    check((code, status) == ("ExpiredToken", 400), f"S3: an expired session is refused: ExpiredToken 400 ({code})")
    check(error_code(client("sts", creds).get_caller_identity) == "ExpiredToken", "STS: ExpiredToken")
    check(error_code(client("kinesis", creds).list_streams) == "ExpiredTokenException",
          "Kinesis: ExpiredTokenException")
    check(error_code(client("glue", creds).get_databases) == "ExpiredTokenException", "Glue: ExpiredTokenException")
    check(error_code(client("firehose", creds).list_delivery_streams) == "ExpiredTokenException",
          "Firehose: ExpiredTokenException")
    check(error_code(client("athena", creds).list_work_groups) == "ExpiredTokenException",
          "Athena: ExpiredTokenException")
    check(error_code(client("iam", creds).list_users) == "ExpiredToken", "IAM: ExpiredToken")
    import urllib.request
    try:
        urllib.request.urlopen(state["presigned"])
        check(False, "a presigned URL of an expired session is refused")
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        check("ExpiredToken" in body, f"a presigned URL of an expired session is refused: ExpiredToken ({e.code})")
    user_session = state["user_session"]
    check(error_code(client("s3", user_session).list_buckets) == "ExpiredToken",
          "a GetSessionToken session expires too")
    fresh = client("sts", state["carol"]).assume_role(RoleArn=state["role_arn"], RoleSessionName="again")
    check(reads(client("s3", fresh["Credentials"]), "a/1.txt"), "a new session works after the restart")
    finish("sts expired")
