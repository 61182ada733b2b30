"""SSE-KMS through boto3 and aws-cli (default settings): objects under customer managed keys,
aliases and the aws/s3 key, encryption contexts, bucket keys, multipart and copy, rotation, key
states, bucket default encryption, a policy that requires aws:kms, and callers without
kms:Decrypt or kms:GenerateDataKey.

Usage: sse_kms.py <canary>   (the canary is in every plaintext, for the data-dir scan)"""
import base64
import json
import os
import subprocess
import sys
import tempfile

import boto3

from tarn_checks import check, error_and_status, error_code, finish, wait_query

canary = sys.argv[1]
s3 = boto3.client("s3")
kms = boto3.client("kms")
iam = boto3.client("iam")

body = (canary + " object under a customer managed key. ").encode() * 16
s3.create_bucket(Bucket="vault")
key = kms.create_key(Description="objects of vault")["KeyMetadata"]
arn, kid = key["Arn"], key["KeyId"]
kms.create_alias(AliasName="alias/vault", TargetKeyId=kid)


def reads(client, bucket, name, expected=body):
    return client.get_object(Bucket=bucket, Key=name)["Body"].read() == expected


# --- PUT and GET under a key named by id, alias and alias ARN ---
out = s3.put_object(Bucket="vault", Key="by-id", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=kid)
check(out["ServerSideEncryption"] == "aws:kms" and out["SSEKMSKeyId"] == arn,
      "PUT answers aws:kms and the key's ARN")
got = s3.get_object(Bucket="vault", Key="by-id")
check(got["Body"].read() == body, "an SSE-KMS object round-trips")
check(got["ServerSideEncryption"] == "aws:kms" and got["SSEKMSKeyId"] == arn, "GET reports aws:kms and the key")
head = s3.head_object(Bucket="vault", Key="by-id")
check(head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == arn, "HEAD reports aws:kms and the key")
check("BucketKeyEnabled" not in head, "no bucket key unless asked for")
out = s3.put_object(Bucket="vault", Key="by-alias", Body=body, ServerSideEncryption="aws:kms",
                    SSEKMSKeyId="alias/vault")
check(out["SSEKMSKeyId"] == arn and reads(s3, "vault", "by-alias"), "a key named by its alias")
alias_arn = arn.split(":key/")[0] + ":alias/vault"
out = s3.put_object(Bucket="vault", Key="by-alias-arn", Body=body, ServerSideEncryption="aws:kms",
                    SSEKMSKeyId=alias_arn)
check(out["SSEKMSKeyId"] == arn and reads(s3, "vault", "by-alias-arn"), "a key named by its alias ARN")

# --- no key named: the account's AWS managed aws/s3 key, made on first use ---
check(not any(a["AliasName"] == "alias/aws/s3" for a in kms.list_aliases()["Aliases"]),
      "no aws/s3 key before the first SSE-KMS PUT that names none")
out = s3.put_object(Bucket="vault", Key="managed", Body=body, ServerSideEncryption="aws:kms")
managed = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/aws/s3"]
check(len(managed) == 1 and out["SSEKMSKeyId"].endswith("key/" + managed[0]["TargetKeyId"]),
      "no key named: the aws/s3 key, made on first use")
meta = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
check(meta["KeyManager"] == "AWS", "the aws/s3 key is AWS managed")
check(reads(s3, "vault", "managed"), "an object under the aws/s3 key round-trips")

# --- encryption context ---
context = base64.b64encode(json.dumps({"team": "ml"}).encode()).decode()
out = s3.put_object(Bucket="vault", Key="with-context", Body=body, ServerSideEncryption="aws:kms",
                    SSEKMSKeyId=kid, SSEKMSEncryptionContext=context)
answered = json.loads(base64.b64decode(out["SSEKMSEncryptionContext"]))
check(answered == {"team": "ml", "aws:s3:arn": "arn:aws:s3:::vault/with-context"},
      "PUT answers the whole encryption context (the caller's and aws:s3:arn)")
check(reads(s3, "vault", "with-context"), "an object with an encryption context round-trips")
check(error_and_status(s3.put_object, Bucket="vault", Key="bad-context", Body=b"x", ServerSideEncryption="aws:kms",
                       SSEKMSKeyId=kid, SSEKMSEncryptionContext="not base64 json") == ("InvalidArgument", 400),
      "a context that is not base64 JSON: InvalidArgument 400")
check(error_and_status(s3.put_object, Bucket="vault", Key="bad-context", Body=b"x", ServerSideEncryption="AES256",
                       SSEKMSKeyId=kid) == ("InvalidArgument", 400),
      "a KMS key id without aws:kms: InvalidArgument 400")
check(error_code(s3.head_object, Bucket="vault", Key="bad-context") == "404", "the refused PUTs stored nothing")

# --- bucket keys ---
out = s3.put_object(Bucket="vault", Key="bucket-key", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=kid,
                    BucketKeyEnabled=True)
check(out.get("BucketKeyEnabled") is True, "PUT answers BucketKeyEnabled")
out2 = s3.put_object(Bucket="vault", Key="bucket-key-2", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=kid,
                     BucketKeyEnabled=True)
check(out2.get("BucketKeyEnabled") is True and reads(s3, "vault", "bucket-key-2"), "a second bucket-key PUT")
head = s3.head_object(Bucket="vault", Key="bucket-key")
check(head.get("BucketKeyEnabled") is True and head["SSEKMSKeyId"] == arn, "HEAD reports the bucket key")
check(reads(s3, "vault", "bucket-key"), "an object under a bucket key round-trips")

# --- bad input stores nothing ---
check(error_and_status(s3.put_object, Bucket="vault", Key="nokey", Body=body, ServerSideEncryption="aws:kms",
                       SSEKMSKeyId="alias/missing") == ("KMS.NotFoundException", 400),
      "a key alias that names nothing: KMS.NotFoundException 400")
check(error_and_status(s3.put_object, Bucket="vault", Key="nokey", Body=body, ServerSideEncryption="aws:kms",
                       SSEKMSKeyId="0b6c2a9e-1111-4222-8333-944455556666") == ("KMS.NotFoundException", 400),
      "a key id that names nothing: KMS.NotFoundException 400")
check(error_code(s3.head_object, Bucket="vault", Key="nokey") == "404", "a refused SSE-KMS PUT stores nothing")
check(error_and_status(s3.put_object, Bucket="vault", Key="nokey", Body=body, ServerSideEncryption="aws:fancy")
      == ("InvalidArgument", 400), "an unknown encryption: InvalidArgument 400")
check(error_code(s3.head_object, Bucket="vault", Key="nokey") == "404", "... and stored nothing")

# --- multipart ---
mp = s3.create_multipart_upload(Bucket="vault", Key="multi", ServerSideEncryption="aws:kms", SSEKMSKeyId=kid)
check(mp["ServerSideEncryption"] == "aws:kms" and mp["SSEKMSKeyId"] == arn, "CreateMultipartUpload reports the key")
part1 = (canary + " part one ").encode() * (5 * 1024 * 1024 // (len(canary) + 10) + 1)
part2 = (canary + " part two").encode()
p1 = s3.upload_part(Bucket="vault", Key="multi", UploadId=mp["UploadId"], PartNumber=1, Body=part1)
check(p1["ServerSideEncryption"] == "aws:kms" and p1["SSEKMSKeyId"] == arn, "UploadPart reports the key")
p2 = s3.upload_part(Bucket="vault", Key="multi", UploadId=mp["UploadId"], PartNumber=2, Body=part2)
done = s3.complete_multipart_upload(Bucket="vault", Key="multi", UploadId=mp["UploadId"], MultipartUpload={
    "Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
check(done["ServerSideEncryption"] == "aws:kms" and done["SSEKMSKeyId"] == arn, "CompleteMultipartUpload reports")
check(reads(s3, "vault", "multi", part1 + part2), "an SSE-KMS multipart object round-trips")
ranged = s3.get_object(Bucket="vault", Key="multi", Range="bytes=5242870-5242899")["Body"].read()
check(ranged == (part1 + part2)[5242870:5242900], "a range across the parts of an SSE-KMS object")

# --- copy: the destination's encryption, never the source's ---
s3.put_object(Bucket="vault", Key="plain", Body=body)
check(s3.head_object(Bucket="vault", Key="plain")["ServerSideEncryption"] == "AES256", "a PUT naming none: SSE-S3")
out = s3.copy_object(Bucket="vault", Key="copied", CopySource={"Bucket": "vault", "Key": "plain"},
                     ServerSideEncryption="aws:kms", SSEKMSKeyId=kid)
check(out["ServerSideEncryption"] == "aws:kms" and out["SSEKMSKeyId"] == arn, "a copy into SSE-KMS reports the key")
check(reads(s3, "vault", "copied"), "the SSE-KMS copy reads back")
out = s3.copy_object(Bucket="vault", Key="unwrapped", CopySource={"Bucket": "vault", "Key": "by-id"})
check(out["ServerSideEncryption"] == "AES256" and "SSEKMSKeyId" not in out,
      "a copy naming no encryption takes the destination bucket's default (SSE-S3)")
check(reads(s3, "vault", "unwrapped"), "the SSE-S3 copy of an SSE-KMS object reads back")
out = s3.copy_object(Bucket="vault", Key="plain", CopySource={"Bucket": "vault", "Key": "plain"},
                     ServerSideEncryption="aws:kms", SSEKMSKeyId=kid)
check(out["ServerSideEncryption"] == "aws:kms", "a copy onto itself that changes only the encryption is allowed")
mp = s3.create_multipart_upload(Bucket="vault", Key="multi-copy", ServerSideEncryption="aws:kms", SSEKMSKeyId=kid,
                                BucketKeyEnabled=True)
pc = s3.upload_part_copy(Bucket="vault", Key="multi-copy", UploadId=mp["UploadId"], PartNumber=1,
                         CopySource={"Bucket": "vault", "Key": "by-id"})
s3.complete_multipart_upload(Bucket="vault", Key="multi-copy", UploadId=mp["UploadId"], MultipartUpload={
    "Parts": [{"PartNumber": 1, "ETag": pc["CopyPartResult"]["ETag"]}]})
check(reads(s3, "vault", "multi-copy"), "UploadPartCopy from an SSE-KMS object into a bucket-key upload")

# --- rotation keeps older objects readable ---
kms.rotate_key_on_demand(KeyId=kid)
s3.put_object(Bucket="vault", Key="after-rotation", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=kid)
check(reads(s3, "vault", "by-id") and reads(s3, "vault", "after-rotation"),
      "after a rotation, objects under the old and the new key material read back")

# --- key states ---
kms.disable_key(KeyId=kid)
check(error_and_status(s3.get_object, Bucket="vault", Key="by-id") == ("KMS.DisabledException", 400),
      "GET under a disabled key: KMS.DisabledException 400")
check(error_and_status(s3.get_object, Bucket="vault", Key="bucket-key") == ("KMS.DisabledException", 400),
      "GET under a bucket key of a disabled key: KMS.DisabledException 400 (no cached key used)")
check(error_and_status(s3.put_object, Bucket="vault", Key="while-disabled", Body=b"x", ServerSideEncryption="aws:kms",
                       SSEKMSKeyId=kid) == ("KMS.DisabledException", 400), "PUT under a disabled key refused")
check(error_and_status(s3.put_object, Bucket="vault", Key="while-disabled", Body=b"x", ServerSideEncryption="aws:kms",
                       SSEKMSKeyId=kid, BucketKeyEnabled=True) == ("KMS.DisabledException", 400),
      "a bucket-key PUT under a disabled key refused (no cached bucket key used)")
check(s3.head_object(Bucket="vault", Key="by-id")["SSEKMSKeyId"] == arn, "HEAD needs no key and still answers")
kms.enable_key(KeyId=kid)
check(reads(s3, "vault", "by-id") and reads(s3, "vault", "bucket-key"), "enabling the key again restores reads")
kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
check(error_and_status(s3.get_object, Bucket="vault", Key="by-id") == ("KMS.KMSInvalidStateException", 400),
      "GET under a key pending deletion: KMS.KMSInvalidStateException 400")
kms.cancel_key_deletion(KeyId=kid)
check(error_code(s3.get_object, Bucket="vault", Key="by-id") == "KMS.DisabledException",
      "a cancelled deletion leaves the key disabled, as KMS does")
kms.enable_key(KeyId=kid)
check(reads(s3, "vault", "by-id"), "and enabled again, its objects read back")

# --- bucket default encryption ---
s3.create_bucket(Bucket="defaults")
s3.put_bucket_encryption(Bucket="defaults", ServerSideEncryptionConfiguration={"Rules": [{
    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": arn},
    "BucketKeyEnabled": True}]})
rule = s3.get_bucket_encryption(Bucket="defaults")["ServerSideEncryptionConfiguration"]["Rules"][0]
check(rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": arn}
      and rule["BucketKeyEnabled"] is True, "GetBucketEncryption answers the SSE-KMS default")
out = s3.put_object(Bucket="defaults", Key="d", Body=body)
check(out["ServerSideEncryption"] == "aws:kms" and out["SSEKMSKeyId"] == arn and out.get("BucketKeyEnabled") is True,
      "a PUT naming no encryption gets the bucket's SSE-KMS default, bucket key included")
check(reads(s3, "defaults", "d"), "the default-encrypted object reads back")
kms.disable_key(KeyId=kid)
check(error_and_status(s3.get_object, Bucket="defaults", Key="d") == ("KMS.DisabledException", 400),
      "the default-encrypted object is really under the key: disabling it stops its reads")
kms.enable_key(KeyId=kid)
out = s3.copy_object(Bucket="defaults", Key="copied-in", CopySource={"Bucket": "vault", "Key": "unwrapped"})
check(out["ServerSideEncryption"] == "aws:kms" and out["SSEKMSKeyId"] == arn,
      "a copy into the bucket naming no encryption gets its SSE-KMS default")
mp = s3.create_multipart_upload(Bucket="defaults", Key="multi-default")
check(mp["ServerSideEncryption"] == "aws:kms" and mp["SSEKMSKeyId"] == arn and mp.get("BucketKeyEnabled") is True,
      "a multipart upload naming no encryption gets the default")
part = s3.upload_part(Bucket="defaults", Key="multi-default", UploadId=mp["UploadId"], PartNumber=1, Body=body)
s3.complete_multipart_upload(Bucket="defaults", Key="multi-default", UploadId=mp["UploadId"],
                             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
check(reads(s3, "defaults", "multi-default"), "and reads back")
out = s3.put_object(Bucket="defaults", Key="explicit", Body=body, ServerSideEncryption="AES256")
check(out["ServerSideEncryption"] == "AES256", "a PUT naming AES256 overrides the default")
s3.create_bucket(Bucket="missing-key")
s3.put_bucket_encryption(Bucket="missing-key", ServerSideEncryptionConfiguration={"Rules": [{
    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/missing"}}]})
check(error_and_status(s3.put_object, Bucket="missing-key", Key="k", Body=body) == ("KMS.NotFoundException", 400),
      "a default naming a missing key is kept (as S3 keeps it); PUTs under it: KMS.NotFoundException 400")
check(error_code(s3.head_object, Bucket="missing-key", Key="k") == "404", "and store nothing")
s3.put_bucket_encryption(Bucket="defaults", ServerSideEncryptionConfiguration={"Rules": [{
    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
out = s3.put_object(Bucket="defaults", Key="managed-default", Body=body)
check(out["SSEKMSKeyId"].endswith("key/" + managed[0]["TargetKeyId"]) and "BucketKeyEnabled" not in out,
      "an SSE-KMS default without a key: the aws/s3 key")

# --- a bucket policy that requires aws:kms ---
s3.put_bucket_policy(Bucket="defaults", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
    "Sid": "RequireKms", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
    "Resource": "arn:aws:s3:::defaults/*",
    "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}}]}))
check(error_and_status(s3.put_object, Bucket="defaults", Key="aes", Body=b"x", ServerSideEncryption="AES256")
      == ("AccessDenied", 403), "a policy requiring aws:kms refuses an AES256 PUT")
check(error_code(s3.head_object, Bucket="defaults", Key="aes") == "404", "the refused PUT stored nothing")
check(error_and_status(s3.put_object, Bucket="defaults", Key="none", Body=b"x") == ("AccessDenied", 403),
      "a PUT naming no encryption is refused too (the condition key is absent: StringNotEquals holds)")
s3.put_object(Bucket="defaults", Key="kms", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=kid)
check(reads(s3, "defaults", "kms"), "and lets an aws:kms PUT through")
s3.delete_bucket_policy(Bucket="defaults")

# --- a bucket policy that requires one KMS key (by ARN, as S3's condition key takes it) ---
stranger = kms.create_key(Description="not the bucket's key")["KeyMetadata"]
s3.put_bucket_policy(Bucket="defaults", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
    "Sid": "RequireVaultKey", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
    "Resource": "arn:aws:s3:::defaults/*",
    "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": arn}}}]}))
check(error_and_status(s3.put_object, Bucket="defaults", Key="stranger", Body=body, ServerSideEncryption="aws:kms",
                       SSEKMSKeyId=stranger["Arn"]) == ("AccessDenied", 403),
      "a policy requiring one KMS key refuses a PUT under another")
check(error_code(s3.head_object, Bucket="defaults", Key="stranger") == "404", "... and stores nothing")
s3.put_object(Bucket="defaults", Key="vault-key", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=arn)
check(reads(s3, "defaults", "vault-key"), "and lets a PUT under the required key through")
s3.delete_bucket_policy(Bucket="defaults")

# --- callers without kms:Decrypt / kms:GenerateDataKey ---
iam.create_user(UserName="reader")
iam.put_user_policy(UserName="reader", PolicyName="s3", PolicyDocument=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                   "Resource": "arn:aws:s3:::vault/*"}]}))
k = iam.create_access_key(UserName="reader")["AccessKey"]
reader = boto3.client("s3", aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"])
code, status = error_and_status(reader.get_object, Bucket="vault", Key="by-id")
check((code, status) == ("AccessDenied", 403), f"GET of an SSE-KMS object without kms:Decrypt: AccessDenied 403 ({code})")
check(reads(reader, "vault", "unwrapped"), "the same caller reads an SSE-S3 object it may read")

# Athena reads SSE-KMS objects as its caller: kms:Decrypt is asked there too
s3.create_bucket(Bucket="vault-results")
s3.put_object(Bucket="vault", Key="athena/rows.csv", Body=b"alpha\nbeta\n", ServerSideEncryption="aws:kms",
              SSEKMSKeyId=kid)
iam.put_user_policy(UserName="reader", PolicyName="athena", PolicyDocument=json.dumps({"Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["athena:*", "glue:*"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
         "Resource": ["arn:aws:s3:::vault", "arn:aws:s3:::vault-results"]},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::vault-results/*"}]}))
athena = boto3.client("athena")
reader_athena = boto3.client("athena", aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"])


def athena_state(client, sql):
    qid = client.start_query_execution(QueryString=sql, ResultConfiguration={
        "OutputLocation": "s3://vault-results/"})["QueryExecutionId"]
    q = wait_query(client, qid)
    rows = None
    if q["Status"]["State"] == "SUCCEEDED":
        rows = [[c.get("VarCharValue") for c in r["Data"]] for r in
                client.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"][1:]]
    return q["Status"]["State"], q["Status"].get("StateChangeReason", ""), rows


check(athena_state(athena, "CREATE EXTERNAL TABLE vault_lines (line string) LOCATION 's3://vault/athena/'")[0]
      == "SUCCEEDED", "a table over SSE-KMS objects")
state, reason, _ = athena_state(reader_athena, "SELECT count(*) FROM vault_lines")
check(state == "FAILED" and "kms:Decrypt" in reason,
      f"Athena as a caller without kms:Decrypt cannot read SSE-KMS objects ({state}: {reason})")
check(error_and_status(reader.put_object, Bucket="vault", Key="r", Body=b"x", ServerSideEncryption="aws:kms",
                       SSEKMSKeyId=kid) == ("AccessDenied", 403),
      "PUT under a key without kms:GenerateDataKey: AccessDenied 403")
check(error_code(s3.head_object, Bucket="vault", Key="r") == "404", "the refused PUT stored nothing")
me = iam.get_user(UserName="reader")["User"]["Arn"]
grant = kms.create_grant(KeyId=kid, GranteePrincipal=me, Operations=["Decrypt"],
                         Constraints={"EncryptionContextSubset": {"aws:s3:arn": "arn:aws:s3:::vault/by-id"}})
check(reads(reader, "vault", "by-id"), "a grant of Decrypt constrained to the object's aws:s3:arn lets the reader in")
check(error_code(reader.get_object, Bucket="vault", Key="by-alias") == "AccessDenied",
      "but not to an object outside the grant's encryption context")
kms.revoke_grant(KeyId=kid, GrantId=grant["GrantId"])
iam.put_user_policy(UserName="reader", PolicyName="kms", PolicyDocument=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": arn}]}))
check(reads(reader, "vault", "by-alias"), "with kms:Decrypt on the key the reader reads SSE-KMS objects")
check(athena_state(reader_athena, "SELECT count(*) FROM vault_lines")[::2] == ("SUCCEEDED", [["2"]]),
      "and Athena reads them as that caller")
reader.put_object(Bucket="vault", Key="r", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=arn)
check(reads(s3, "vault", "r"), "and with kms:GenerateDataKey writes them")

# --- aws-cli, default settings ---
aws = os.path.join(os.path.dirname(sys.executable), "aws")
with tempfile.TemporaryDirectory() as tmp:
    src, dst = os.path.join(tmp, "src"), os.path.join(tmp, "dst")
    with open(src, "wb") as f:
        f.write(body)
    subprocess.run([aws, "s3", "cp", src, "s3://vault/cli", "--sse", "aws:kms", "--sse-kms-key-id", kid],
                   check=True, capture_output=True)
    subprocess.run([aws, "s3", "cp", "s3://vault/cli", dst], check=True, capture_output=True)
    with open(dst, "rb") as f:
        check(f.read() == body, "aws s3 cp --sse aws:kms round-trips")
    head = json.loads(subprocess.run([aws, "s3api", "head-object", "--bucket", "vault", "--key", "cli"],
                                     check=True, capture_output=True).stdout)
    check(head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == arn, "aws s3api head-object reports it")

# --- S3's KMS calls for its callers are in the audit trail, as CloudTrail shows them ---
ct = boto3.client("cloudtrail")
s3.put_object(Bucket="vault", Key="audited", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=kid)
check(reads(s3, "vault", "audited"), "an audited SSE-KMS object reads back")
s3.put_object(Bucket="vault", Key="audited-bk", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=kid,
              BucketKeyEnabled=True)


def kms_events(name, object_arn):
    pages = ct.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])
    events = [json.loads(e["CloudTrailEvent"]) for page in pages for e in page["Events"]]
    return [e for e in events if e["eventSource"] == "kms.amazonaws.com"
            and e["requestParameters"].get("encryptionContext", {}).get("aws:s3:arn") == object_arn]


made = kms_events("GenerateDataKey", "arn:aws:s3:::vault/audited")
check(len(made) == 1 and made[0]["userIdentity"].get("invokedBy") == "s3.amazonaws.com"
      and made[0]["resources"][0]["ARN"] == arn and made[0]["requestParameters"]["keyId"] == arn
      and made[0]["readOnly"] is True,
      f"the PUT's GenerateDataKey is recorded, invoked by S3 for the caller, on the key ({made})")
opened = kms_events("Decrypt", "arn:aws:s3:::vault/audited")
check(len(opened) == 1 and opened[0]["userIdentity"].get("invokedBy") == "s3.amazonaws.com",
      f"the GET's Decrypt is recorded ({len(opened)})")
check(kms_events("GenerateDataKey", "arn:aws:s3:::vault/audited-bk") == [],
      "a bucket-key PUT makes no per-object KMS record (S3 asks KMS per bucket key)")

finish("sse_kms")
