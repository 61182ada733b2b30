"""HTTPS beside HTTP, through boto3 (default settings, the self-signed certificate as its CA
bundle): a bucket policy denying aws:SecureTransport = false refuses plain HTTP and allows
HTTPS (SSE-C over TLS: sse_c.py).

Usage: secure_transport.py <https endpoint> <CA bundle>"""
import json
import sys

import boto3

from tarn_checks import check, error_and_status, error_code, finish

https_endpoint, ca = sys.argv[1], sys.argv[2]
plain = boto3.client("s3")
secure = boto3.client("s3", endpoint_url=https_endpoint, verify=ca)

check(secure.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200, "boto3 over HTTPS with the CA bundle")
secure.create_bucket(Bucket="vault")
secure.put_object(Bucket="vault", Key="k", Body=b"v")
secure.put_bucket_policy(Bucket="vault", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
     "Resource": ["arn:aws:s3:::vault", "arn:aws:s3:::vault/*"],
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
check(error_and_status(plain.get_object, Bucket="vault", Key="k") == ("AccessDenied", 403),
      "aws:SecureTransport false: plain HTTP is refused")
check(secure.get_object(Bucket="vault", Key="k")["Body"].read() == b"v", "... and HTTPS is allowed")
check(error_code(plain.put_object, Bucket="vault", Key="k2", Body=b"x") == "AccessDenied", "writes too")
check(error_code(secure.put_object, Bucket="vault", Key="k2", Body=b"x") is None, "... over HTTPS they go through")
finish("secure transport")
