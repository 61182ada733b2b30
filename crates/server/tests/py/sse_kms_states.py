"""SSE-KMS writes under keys that may not be used, and a key deleted at the end of its window,
through boto3 (default settings).

Usage: sse_kms_states.py <canary> before   (writes, key states, then schedules the deletion)
       sse_kms_states.py <canary> after    (the server's KMS clock is past the deletion date)"""
import sys

import boto3

from tarn_checks import check, error_and_status, error_code, finish

canary, phase = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3")
kms = boto3.client("kms")
body = (canary + " under a key that goes away. ").encode() * 64


def sse(key_id):
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id}


if phase == "before":
    key = kms.create_key(Description="goes away")["KeyMetadata"]
    kid = key["KeyId"]
    kms.create_alias(AliasName="alias/goes-away", TargetKeyId=kid)
    s3.create_bucket(Bucket="states")
    s3.put_object(Bucket="states", Key="doomed", Body=body, **sse(kid))
    s3.put_object(Bucket="states", Key="plain", Body=body)
    open_upload = s3.create_multipart_upload(Bucket="states", Key="multi", **sse(kid))["UploadId"]

    for state, code in (("disabled", "KMS.DisabledException"), ("pending deletion", "KMS.KMSInvalidStateException")):
        if state == "disabled":
            kms.disable_key(KeyId=kid)
        else:
            kms.enable_key(KeyId=kid)
            kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
        got = error_and_status(s3.put_object, Bucket="states", Key="refused", Body=body, **sse(kid))
        check(got == (code, 400), f"PUT under a {state} key: {got}")
        got = error_and_status(s3.create_multipart_upload, Bucket="states", Key="refused", **sse(kid))
        check(got == (code, 400), f"CreateMultipartUpload under a {state} key: {got}")
        got = error_and_status(s3.upload_part, Bucket="states", Key="multi", UploadId=open_upload, PartNumber=1,
                               Body=body)
        check(got == (code, 400), f"UploadPart to an upload under a {state} key: {got}")
        got = error_and_status(s3.copy_object, Bucket="states", Key="refused",
                               CopySource={"Bucket": "states", "Key": "plain"}, **sse(kid))
        check(got == (code, 400), f"a copy into a {state} key: {got}")
        got = error_and_status(s3.copy_object, Bucket="states", Key="refused",
                               CopySource={"Bucket": "states", "Key": "doomed"})
        check(got == (code, 400), f"a copy out of an object under a {state} key: {got}")
        check(error_code(s3.head_object, Bucket="states", Key="refused") == "404", f"... none of them stored anything")
    check(s3.list_parts(Bucket="states", Key="multi", UploadId=open_upload).get("Parts", []) == [],
          "the refused part is not in the upload")
    # the key stays pending deletion: the next phase runs past its deletion date
    finish("sse_kms_states")

# --- after: the key's deletion date has passed ---
got = error_and_status(s3.get_object, Bucket="states", Key="doomed")
check(got == ("KMS.NotFoundException", 400), f"GET of an object whose key was deleted: {got}")
check(s3.head_object(Bucket="states", Key="doomed")["ServerSideEncryption"] == "aws:kms",
      "HEAD still answers (it needs no key)")
check(error_code(kms.describe_key, KeyId="alias/goes-away") == "NotFoundException", "the key's alias went with it")
got = error_and_status(s3.put_object, Bucket="states", Key="refused", Body=body, **sse("alias/goes-away"))
check(got == ("KMS.NotFoundException", 400), f"PUT naming the deleted key's alias: {got}")
check(s3.get_object(Bucket="states", Key="plain")["Body"].read() == body, "objects under other keys read as before")
finish("sse_kms_states")
