"""SSE-C over HTTPS through boto3 (default settings, the self-signed certificate as its CA
bundle): objects under a customer's key round-trip with it and only with it, through PUT, GET,
HEAD, ranges, copy, multipart, UploadPartCopy, a presigned URL and aws-cli's `--sse-c`; S3's
answers to a missing, wrong or malformed key; plain HTTP refused; a trail logging the bucket's
data events records the calls and never the key.

Usage: sse_c.py <https endpoint> <CA bundle> <canary> <key hex> <second key hex>"""
import base64
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import ssl

import boto3

from tarn_checks import check, error_and_status, error_code, finish

https_endpoint, ca, canary, key_hex, key2_hex = sys.argv[1:6]
key, key2 = bytes.fromhex(key_hex), bytes.fromhex(key2_hex)
s3 = boto3.client("s3", endpoint_url=https_endpoint, verify=ca)
plain = boto3.client("s3")
body = (canary + " under the customer's own key. ").encode() * 64
md5 = base64.b64encode(hashlib.md5(key).digest()).decode()
C = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
C2 = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key2}
SRC = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": key}

# a trail with the bucket's data events, delivering into another bucket (the server delivers
# every second in this test)
trail = boto3.client("cloudtrail")
s3.create_bucket(Bucket="ssec-trail")
trail.create_trail(Name="ssec", S3BucketName="ssec-trail")
trail.put_event_selectors(TrailName="ssec", EventSelectors=[{
    "ReadWriteType": "All", "IncludeManagementEvents": True,
    "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::ssec/"]}]}])
trail.start_logging(Name="ssec")

s3.create_bucket(Bucket="ssec")
out = s3.put_object(Bucket="ssec", Key="c", Body=body, **C)
check(out["SSECustomerAlgorithm"] == "AES256" and out["SSECustomerKeyMD5"] == md5,
      "PUT answers the customer algorithm and the key's MD5")
got = s3.get_object(Bucket="ssec", Key="c", **C)
check(got["Body"].read() == body, "GET with the key round-trips")
check(got["SSECustomerKeyMD5"] == md5 and "ServerSideEncryption" not in got, "GET reports the customer key's MD5")
ranged = s3.get_object(Bucket="ssec", Key="c", Range="bytes=100-199", **C)["Body"].read()
check(ranged == body[100:200], "a range of an SSE-C object")
head = s3.head_object(Bucket="ssec", Key="c", **C)
check(head["SSECustomerAlgorithm"] == "AES256" and head["ContentLength"] == len(body), "HEAD with the key")

# --- without the key, with another key, with a malformed one ---
check(error_and_status(s3.get_object, Bucket="ssec", Key="c") == ("InvalidRequest", 400),
      "GET without the key: InvalidRequest 400")
check(error_and_status(s3.head_object, Bucket="ssec", Key="c") == ("400", 400), "HEAD without the key: 400")
check(error_and_status(s3.get_object, Bucket="ssec", Key="c", **C2) == ("AccessDenied", 403),
      "GET with another key: AccessDenied 403")
check(error_and_status(s3.head_object, Bucket="ssec", Key="c", **C2) == ("403", 403), "HEAD with another key: 403")
check(error_and_status(s3.put_object, Bucket="ssec", Key="bad", Body=b"x", SSECustomerAlgorithm="AES256",
                       SSECustomerKey=base64.b64encode(key).decode(), SSECustomerKeyMD5="AAAAAAAAAAAAAAAAAAAAAA==") == ("InvalidArgument", 400),
      "a key whose MD5 does not match: InvalidArgument 400")
check(error_and_status(s3.put_object, Bucket="ssec", Key="bad", Body=b"x", SSECustomerAlgorithm="AES256",
                       SSECustomerKey=b"short") == ("InvalidArgument", 400), "a key that is not 32 bytes: InvalidArgument")
check(error_and_status(s3.put_object, Bucket="ssec", Key="bad", Body=b"x", SSECustomerAlgorithm="AES128",
                       SSECustomerKey=key) == ("InvalidEncryptionAlgorithmError", 400),
      "an algorithm other than AES256: InvalidEncryptionAlgorithmError 400")
check(error_and_status(s3.put_object, Bucket="ssec", Key="bad", Body=b"x", ServerSideEncryption="AES256", **C)
      == ("InvalidArgument", 400), "SSE-C beside x-amz-server-side-encryption: InvalidArgument 400")
check(error_code(s3.head_object, Bucket="ssec", Key="bad") == "404", "refused SSE-C PUTs store nothing")
s3.put_object(Bucket="ssec", Key="plain", Body=b"plain object")
check(error_and_status(s3.get_object, Bucket="ssec", Key="plain", **C) == ("InvalidRequest", 400),
      "a key sent for an object that has none: InvalidRequest 400")
check(error_and_status(plain.put_object, Bucket="ssec", Key="http", Body=body, **C) == ("InvalidRequest", 400),
      "SSE-C over plain HTTP: InvalidRequest 400")
check(error_and_status(plain.get_object, Bucket="ssec", Key="c", **C) == ("InvalidRequest", 400),
      "... GET too (the key sent in the clear is not used)")

# --- copy: the source's key to read it, the destination's (or none) to write ---
out = s3.copy_object(Bucket="ssec", Key="c2", CopySource={"Bucket": "ssec", "Key": "c"}, **SRC, **C2)
check(out["SSECustomerKeyMD5"] == base64.b64encode(hashlib.md5(key2).digest()).decode(),
      "a copy re-encrypted under another customer key reports it")
check(s3.get_object(Bucket="ssec", Key="c2", **C2)["Body"].read() == body, "the copy reads with the new key")
check(error_code(s3.get_object, Bucket="ssec", Key="c2", **C) == "AccessDenied", "and not with the old one")
s3.copy_object(Bucket="ssec", Key="c3", CopySource={"Bucket": "ssec", "Key": "c"}, **SRC)
got = s3.get_object(Bucket="ssec", Key="c3")
check(got["Body"].read() == body and got["ServerSideEncryption"] == "AES256",
      "a copy naming no destination key is SSE-S3 and reads without one")
check(error_and_status(s3.copy_object, Bucket="ssec", Key="c4", CopySource={"Bucket": "ssec", "Key": "c"})
      == ("InvalidRequest", 400), "a copy of an SSE-C object without the source key: InvalidRequest 400")
s3.copy_object(Bucket="ssec", Key="c", CopySource={"Bucket": "ssec", "Key": "c"}, **SRC, **C2)
check(s3.get_object(Bucket="ssec", Key="c", **C2)["Body"].read() == body, "a copy onto itself changes the key")
s3.copy_object(Bucket="ssec", Key="c", CopySource={"Bucket": "ssec", "Key": "c2"},
               CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=key2, **C)

# --- multipart ---
mp = s3.create_multipart_upload(Bucket="ssec", Key="multi", **C)
check(mp["SSECustomerKeyMD5"] == md5, "CreateMultipartUpload reports the key")
part1 = (canary + " part one ").encode() * (5 * 1024 * 1024 // (len(canary) + 10) + 1)
p1 = s3.upload_part(Bucket="ssec", Key="multi", UploadId=mp["UploadId"], PartNumber=1, Body=part1, **C)
check(error_and_status(s3.upload_part, Bucket="ssec", Key="multi", UploadId=mp["UploadId"], PartNumber=2,
                       Body=b"x") == ("InvalidRequest", 400), "a part without the upload's key: InvalidRequest 400")
check(error_and_status(s3.upload_part, Bucket="ssec", Key="multi", UploadId=mp["UploadId"], PartNumber=2,
                       Body=b"x", **C2) == ("AccessDenied", 403), "a part under another key: AccessDenied 403")
p2 = s3.upload_part_copy(Bucket="ssec", Key="multi", UploadId=mp["UploadId"], PartNumber=2,
                         CopySource={"Bucket": "ssec", "Key": "c"}, **SRC, **C)
s3.complete_multipart_upload(Bucket="ssec", Key="multi", UploadId=mp["UploadId"], MultipartUpload={
    "Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
check(s3.get_object(Bucket="ssec", Key="multi", **C)["Body"].read() == part1 + body,
      "an SSE-C multipart object (a part copied from an SSE-C object) round-trips")
check(error_code(s3.get_object, Bucket="ssec", Key="multi") == "InvalidRequest", "and needs its key")

# --- a presigned URL: the key still travels with the request ---
url = s3.generate_presigned_url("get_object", Params={"Bucket": "ssec", "Key": "c", **C})
context = ssl.create_default_context(cafile=ca)
headers = {"x-amz-server-side-encryption-customer-algorithm": "AES256",
           "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
           "x-amz-server-side-encryption-customer-key-MD5": md5}
with urllib.request.urlopen(urllib.request.Request(url, headers=headers), context=context) as r:
    check(r.read() == body, "a presigned GET with the SSE-C headers")
with urllib.request.urlopen(urllib.request.Request(url), context=context) as r:
    check(r.read() == body, "a presigned GET whose URL carries the key (as botocore signs it)")
bare = s3.generate_presigned_url("get_object", Params={"Bucket": "ssec", "Key": "c"})
try:
    urllib.request.urlopen(urllib.request.Request(bare), context=context)
    status = 200
except urllib.error.HTTPError as e:
    status = e.code
check(status == 400, f"a presigned GET without the key: 400 ({status})")

# --- aws-cli's --sse-c (v1, default settings, the CA bundle) ---
aws = os.path.join(os.path.dirname(sys.executable), "aws")
with tempfile.TemporaryDirectory() as tmp:
    key_file, src, dst = (os.path.join(tmp, n) for n in ("key.bin", "src.bin", "dst.bin"))
    open(key_file, "wb").write(key)
    open(src, "wb").write(body)
    common = ["--endpoint-url", https_endpoint, "--ca-bundle", ca]
    up = subprocess.run([aws, "s3", "cp", src, "s3://ssec/cli", "--sse-c", "AES256", "--sse-c-key",
                         f"fileb://{key_file}", *common], capture_output=True, text=True)
    check(up.returncode == 0, f"aws s3 cp --sse-c uploads ({up.stderr.strip()[-300:]})")
    down = subprocess.run([aws, "s3", "cp", "s3://ssec/cli", dst, "--sse-c", "AES256", "--sse-c-key",
                           f"fileb://{key_file}", *common], capture_output=True, text=True)
    check(down.returncode == 0 and open(dst, "rb").read() == body,
          f"aws s3 cp --sse-c downloads it with the key ({down.stderr.strip()[-300:]})")
    check(s3.get_object(Bucket="ssec", Key="cli", **C)["Body"].read() == body, "boto3 reads what aws-cli wrote")
    check(error_code(s3.get_object, Bucket="ssec", Key="cli") == "InvalidRequest", "and only with the key")

# --- the trail records the calls and never the key ---
secrets = {"the key in base64": base64.b64encode(key).decode(), "the key in hex": key.hex(),
           "the second key in base64": base64.b64encode(key2).decode()}
records = []
deadline = time.time() + 30
while time.time() < deadline:
    records = []
    for o in plain.list_objects_v2(Bucket="ssec-trail").get("Contents", []):
        doc = gzip.decompress(plain.get_object(Bucket="ssec-trail", Key=o["Key"])["Body"].read()).decode()
        for name, secret in secrets.items():
            check(secret not in doc, f"{name} is not in the delivered trail file {o['Key']}")
        records += json.loads(doc)["Records"]
    if any(r["eventName"] == "GetObject" and r["requestParameters"].get("key") == "cli" for r in records):
        break
    time.sleep(0.5)
puts = [r for r in records if r["eventName"] == "PutObject" and r["requestParameters"].get("bucketName") == "ssec"]
check(len(puts) >= 3 and any(r["requestParameters"].get("key") == "c" for r in puts),
      f"the trail holds the bucket's SSE-C PUTs ({len(puts)})")
check(any(r["eventName"] == "GetObject" and r["requestParameters"].get("key") == "cli" for r in records),
      "and aws-cli's GET of the SSE-C object")

finish("sse-c")
