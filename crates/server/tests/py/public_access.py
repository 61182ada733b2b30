"""Bucket policies in the full grammar and S3 Block Public Access, through boto3 (default
settings) and unsigned requests: a new bucket blocks public policies; without the block, a
public policy serves anonymous readers exactly what it allows; RestrictPublicBuckets shuts them
out again; conditions, NotPrincipal and aws:SecureTransport are evaluated."""
import json

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from tarn_checks import check, error_and_status, error_code, finish

s3 = boto3.client("s3")
anon = boto3.client("s3", config=Config(signature_version=UNSIGNED))
ACCOUNT = "000000000000"

s3.create_bucket(Bucket="site")
s3.put_object(Bucket="site", Key="pub/index.html", Body=b"<h1>hi</h1>")
s3.put_object(Bucket="site", Key="private/notes.txt", Body=b"secret")

block = s3.get_public_access_block(Bucket="site")["PublicAccessBlockConfiguration"]
check(block == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True}, "a new bucket blocks public access, all four switches on")
public = {"Version": "2012-10-17", "Statement": [
    {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::site/pub/*"}]}
check(error_and_status(s3.put_bucket_policy, Bucket="site", Policy=json.dumps(public)) == ("AccessDenied", 403),
      "BlockPublicPolicy refuses a public policy: AccessDenied 403")
check(error_code(s3.get_bucket_policy, Bucket="site") == "NoSuchBucketPolicy", "... and stores nothing")
check(error_and_status(anon.get_object, Bucket="site", Key="pub/index.html") == ("AccessDenied", 403),
      "anonymous GET without a public policy: AccessDenied")

s3.put_public_access_block(Bucket="site", PublicAccessBlockConfiguration={
    "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": True})
s3.put_bucket_policy(Bucket="site", Policy=json.dumps(public))
check(s3.get_bucket_policy_status(Bucket="site")["PolicyStatus"]["IsPublic"] is True,
      "GetBucketPolicyStatus: IsPublic")
check(error_code(anon.get_object, Bucket="site", Key="pub/index.html") == "AccessDenied",
      "RestrictPublicBuckets keeps anonymous readers out of a public bucket")

s3.delete_public_access_block(Bucket="site")
check(error_and_status(s3.get_public_access_block, Bucket="site")
      == ("NoSuchPublicAccessBlockConfiguration", 404), "deleted: NoSuchPublicAccessBlockConfiguration 404")
got = anon.get_object(Bucket="site", Key="pub/index.html")["Body"].read()
check(got == b"<h1>hi</h1>", "anonymous GET of what the public policy allows")
check(error_code(anon.get_object, Bucket="site", Key="private/notes.txt") == "AccessDenied",
      "anonymous GET outside the policy: AccessDenied")
check(error_code(anon.put_object, Bucket="site", Key="pub/x", Body=b"x") == "AccessDenied",
      "anonymous PUT: AccessDenied")
check(error_code(anon.list_objects_v2, Bucket="site") == "AccessDenied", "anonymous listing: AccessDenied")
check(error_code(anon.list_buckets) == "AccessDenied", "anonymous ListBuckets: AccessDenied")
everything = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::site", "arn:aws:s3:::site/*"]}]}
s3.put_bucket_policy(Bucket="site", Policy=json.dumps(everything))
check(error_code(anon.delete_bucket_policy, Bucket="site") == "AccessDenied"
      and error_code(anon.put_public_access_block, Bucket="site", PublicAccessBlockConfiguration={
          "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
          "RestrictPublicBuckets": False}) == "AccessDenied"
      and error_code(anon.delete_bucket, Bucket="site") == "AccessDenied",
      "even s3:* to everyone never lets anonymous callers change the bucket itself")
if_exists = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/*",
     "Condition": {"StringEqualsIfExists": {"aws:SourceAccount": "111122223333"}}}]}
s3.put_bucket_policy(Bucket="site", Policy=json.dumps(if_exists))
check(s3.get_bucket_policy_status(Bucket="site")["PolicyStatus"]["IsPublic"] is True,
      "a condition ...IfExists does not narrow an Allow to * (anonymous callers lack the key): public")

# a condition that fixes the caller makes an Allow to everyone not public
from_here = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/private/*",
     "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}]}
s3.put_bucket_policy(Bucket="site", Policy=json.dumps(from_here))
check(s3.get_bucket_policy_status(Bucket="site")["PolicyStatus"]["IsPublic"] is False,
      "an Allow to * limited to source addresses is not public")
check(error_code(anon.get_object, Bucket="site", Key="private/notes.txt") is None,
      "aws:SourceIp is the caller's address: the condition holds for 127.0.0.1")
elsewhere = dict(from_here, Statement=[dict(from_here["Statement"][0],
                                            Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})])
s3.put_bucket_policy(Bucket="site", Policy=json.dumps(elsewhere))
check(error_code(anon.get_object, Bucket="site", Key="private/notes.txt") == "AccessDenied",
      "... and not for another network")

# aws:SecureTransport: plain HTTP is refused to everyone, the root too
https_only = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::site", "arn:aws:s3:::site/*"],
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
s3.put_bucket_policy(Bucket="site", Policy=json.dumps(https_only))
check(error_code(s3.get_object, Bucket="site", Key="pub/index.html") == "AccessDenied",
      "a Deny on aws:SecureTransport false refuses plain HTTP, even to the root")
s3.delete_bucket_policy(Bucket="site")
check(error_code(s3.get_object, Bucket="site", Key="pub/index.html") is None, "the root reads again")

# NotPrincipal: everyone but the named principal is denied
iam = boto3.client("iam")
iam.create_user(UserName="eve")
iam.put_user_policy(UserName="eve", PolicyName="all-s3", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="eve")["AccessKey"]
eve = boto3.client("s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
check(error_code(eve.get_object, Bucket="site", Key="private/notes.txt") is None, "eve reads by her own policy")
only_root = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::site/private/*"}]}
s3.put_bucket_policy(Bucket="site", Policy=json.dumps(only_root))
check(error_code(eve.get_object, Bucket="site", Key="private/notes.txt") == "AccessDenied",
      "a Deny to everyone but the root (NotPrincipal) stops eve")
check(error_code(s3.get_object, Bucket="site", Key="private/notes.txt") is None, "... and spares the root")
check(error_code(s3.put_bucket_policy, Bucket="site", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/*",
     "Condition": {"StringEqualsWhenever": {"aws:username": "x"}}}]})) == "MalformedPolicy",
      "an unknown condition operator: MalformedPolicy")
finish("public access")
