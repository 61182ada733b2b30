"""Account-wide Block Public Access (S3 Control Get/Put/DeletePublicAccessBlock) through boto3.

S3 Control clients put the account id in front of the endpoint's host
(`000000000000.localhost:PORT`); as an /etc/hosts line would, this script resolves names under
`localhost` to the loopback address. The client itself is stock boto3 with default settings."""
import json
import os
import socket
import sys
from urllib.parse import urlparse

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from tarn_checks import check, error_code, finish

_getaddrinfo = socket.getaddrinfo


def _resolve(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _resolve

ACCOUNT = "000000000000"
port = urlparse(os.environ["AWS_ENDPOINT_URL"]).port
control = boto3.client("s3control", endpoint_url=f"http://localhost:{port}")
s3 = boto3.client("s3")
anon = boto3.client("s3", config=Config(signature_version=UNSIGNED))
iam = boto3.client("iam")

check(error_code(control.get_public_access_block, AccountId=ACCOUNT) == "NoSuchPublicAccessBlockConfiguration",
      "no account settings yet: NoSuchPublicAccessBlockConfiguration")

# a public bucket, as the bucket's own switches allow
s3.create_bucket(Bucket="site")
s3.put_object(Bucket="site", Key="index.html", Body=b"hello")
s3.delete_public_access_block(Bucket="site")
public = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/*"}]})
s3.put_bucket_policy(Bucket="site", Policy=public)
check(anon.get_object(Bucket="site", Key="index.html")["Body"].read() == b"hello", "public before the account block")

# the account restricts public buckets: anonymous readers are out, whatever the bucket says
control.put_public_access_block(AccountId=ACCOUNT, PublicAccessBlockConfiguration={
    "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False, "RestrictPublicBuckets": True})
got = control.get_public_access_block(AccountId=ACCOUNT)["PublicAccessBlockConfiguration"]
check(got == {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
              "RestrictPublicBuckets": True}, f"GetPublicAccessBlock answers what was put: {got}")
check(error_code(anon.get_object, Bucket="site", Key="index.html") == "AccessDenied",
      "RestrictPublicBuckets on the account keeps anonymous readers out")
check(s3.get_object(Bucket="site", Key="index.html")["Body"].read() == b"hello", "the account's own root still reads")

# the account blocks public policies: a new public policy is refused, nothing stored
control.put_public_access_block(AccountId=ACCOUNT, PublicAccessBlockConfiguration={
    "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
s3.create_bucket(Bucket="site2")
s3.delete_public_access_block(Bucket="site2")
check(error_code(s3.put_bucket_policy, Bucket="site2", Policy=public.replace("site/", "site2/")) == "AccessDenied",
      "BlockPublicPolicy on the account refuses a public bucket policy")
check(error_code(s3.get_bucket_policy, Bucket="site2") == "NoSuchBucketPolicy", "and stores nothing")

# a user needs s3:GetAccountPublicAccessBlock / s3:PutAccountPublicAccessBlock
iam.create_user(UserName="auditor")
key = iam.create_access_key(UserName="auditor")["AccessKey"]
auditor = boto3.client("s3control", endpoint_url=f"http://localhost:{port}",
                       aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
check(error_code(auditor.get_public_access_block, AccountId=ACCOUNT) == "AccessDenied",
      "a user without s3:GetAccountPublicAccessBlock is refused")
iam.put_user_policy(UserName="auditor", PolicyName="read", PolicyDocument=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetAccountPublicAccessBlock", "Resource": "*"}]}))
check(auditor.get_public_access_block(AccountId=ACCOUNT)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"],
      "and allowed with it")
check(error_code(auditor.delete_public_access_block, AccountId=ACCOUNT) == "AccessDenied",
      "deleting needs s3:PutAccountPublicAccessBlock")
check(error_code(control.get_public_access_block, AccountId="111122223333") == "AccessDenied",
      "another account's settings are not this caller's")

# deleted: the buckets' own settings alone decide again
control.delete_public_access_block(AccountId=ACCOUNT)
check(error_code(control.get_public_access_block, AccountId=ACCOUNT) == "NoSuchPublicAccessBlockConfiguration",
      "deleted")
check(anon.get_object(Bucket="site", Key="index.html")["Body"].read() == b"hello", "public again")

if len(sys.argv) > 1 and sys.argv[1] == "keep":
    control.put_public_access_block(AccountId=ACCOUNT, PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False, "RestrictPublicBuckets": True})
finish("account public access")
