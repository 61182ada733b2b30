"""Object Ownership (bucket owner enforced, every tarn bucket's setting) through boto3 and
aws-cli: ACLs are disabled, a write may carry no ACL or the bucket owner's full control, any
other ACL is refused with AccessControlListNotSupported and writes nothing; reading an ACL shows
the owner with full control; CreateBucket refuses ACLs and the other ownership settings."""
import json
import os
import subprocess
import sys

import boto3

from tarn_checks import check, error_and_status, error_code, finish

OWNER = "0" * 64  # the home account 000000000000's canonical id
s3 = boto3.client("s3")

s3.create_bucket(Bucket="owned")
rules = s3.get_bucket_ownership_controls(Bucket="owned")["OwnershipControls"]["Rules"]
check(rules == [{"ObjectOwnership": "BucketOwnerEnforced"}], f"ownership controls: {rules}")

# writes with an ACL
code, status = error_and_status(s3.put_object, Bucket="owned", Key="pub", Body=b"x", ACL="public-read")
check((code, status) == ("AccessControlListNotSupported", 400), f"PUT with public-read: {code} {status}")
check(error_code(s3.head_object, Bucket="owned", Key="pub") == "404", "the refused PUT wrote nothing")
s3.put_object(Bucket="owned", Key="a", Body=b"a", ACL="bucket-owner-full-control")
check(s3.get_object(Bucket="owned", Key="a")["Body"].read() == b"a", "bucket-owner-full-control is accepted")
s3.put_object(Bucket="owned", Key="b", Body=b"b", GrantFullControl=f'id="{OWNER}"')
check(True, "a grant of full control to the owner is accepted")
check(error_code(s3.put_object, Bucket="owned", Key="c", Body=b"c",
                 GrantRead='uri="http://acs.amazonaws.com/groups/global/AllUsers"') == "AccessControlListNotSupported",
      "a grant to everyone is refused")
check(error_code(s3.put_object, Bucket="owned", Key="c", Body=b"c",
                 GrantFullControl='id="' + "1" * 64 + '"') == "AccessControlListNotSupported",
      "full control to someone else is refused")
check(error_code(s3.copy_object, Bucket="owned", Key="d", CopySource="owned/a", ACL="public-read")
      == "AccessControlListNotSupported", "CopyObject with public-read is refused")
check(error_code(s3.create_multipart_upload, Bucket="owned", Key="e", ACL="authenticated-read")
      == "AccessControlListNotSupported", "CreateMultipartUpload with an ACL is refused")
check(s3.list_multipart_uploads(Bucket="owned").get("Uploads", []) == [], "and starts no upload")

# reading ACLs
for name, acl in (("object", s3.get_object_acl(Bucket="owned", Key="a")), ("bucket", s3.get_bucket_acl(Bucket="owned"))):
    grants = [(g["Grantee"].get("ID"), g["Grantee"]["Type"], g["Permission"]) for g in acl["Grants"]]
    check(acl["Owner"]["ID"] == OWNER and grants == [(OWNER, "CanonicalUser", "FULL_CONTROL")],
          f"the {name} ACL shows the owner with full control: {grants}")
check(error_code(s3.get_object_acl, Bucket="owned", Key="nope") == "NoSuchKey", "no ACL for a missing key")

# setting ACLs
check(error_code(s3.put_object_acl, Bucket="owned", Key="a", ACL="public-read") == "AccessControlListNotSupported",
      "PutObjectAcl public-read is refused")
check(error_code(s3.put_bucket_acl, Bucket="owned", ACL="public-read") == "AccessControlListNotSupported",
      "PutBucketAcl public-read is refused")
s3.put_object_acl(Bucket="owned", Key="a", AccessControlPolicy={
    "Owner": {"ID": OWNER},
    "Grants": [{"Grantee": {"ID": OWNER, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}]})
check(True, "an ACL body of the owner's full control is accepted (and changes nothing)")

# creating buckets
check(error_code(s3.create_bucket, Bucket="acl-bucket", ACL="public-read") == "InvalidBucketAclWithObjectOwnership",
      "CreateBucket with public-read: InvalidBucketAclWithObjectOwnership")
check(error_code(s3.create_bucket, Bucket="acl-bucket", ObjectOwnership="ObjectWriter") == "InvalidArgument",
      "CreateBucket asking for ObjectWriter is refused, not ignored")
check(error_code(s3.head_bucket, Bucket="acl-bucket") == "404", "neither made the bucket")
s3.create_bucket(Bucket="acl-bucket", ACL="private", ObjectOwnership="BucketOwnerEnforced")
check(True, "private and BucketOwnerEnforced are accepted")

# aws-cli with its defaults
aws = os.path.join(os.path.dirname(sys.executable), "aws")
with open(os.devnull, "wb") as devnull:
    out = subprocess.run([aws, "s3api", "put-object", "--bucket", "owned", "--key", "cli", "--acl", "public-read"],
                         capture_output=True, text=True)
check(out.returncode != 0 and "AccessControlListNotSupported" in out.stderr,
      f"aws-cli put-object --acl public-read: {out.returncode} {out.stderr.strip()[:120]}")
out = subprocess.run([aws, "s3api", "get-object-acl", "--bucket", "owned", "--key", "a"], capture_output=True, text=True)
check(out.returncode == 0 and json.loads(out.stdout)["Grants"][0]["Permission"] == "FULL_CONTROL",
      "aws-cli get-object-acl shows full control")
finish("ownership")
