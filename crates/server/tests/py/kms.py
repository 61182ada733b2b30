"""KMS through boto3 (default settings): keys, aliases, encryption with context, data keys,
states, deletion, rotation, key policies, grants, HMAC, tags, and AWS's error codes.

Usage: kms.py <canary>  (a plaintext the caller then looks for in the data dir)"""
import json
import sys

import boto3

from tarn_checks import check, error_and_status, error_code, finish

canary = sys.argv[1].encode()
kms = boto3.client("kms")
iam = boto3.client("iam")
account = boto3.client("sts").get_caller_identity()["Account"]

# --- keys and aliases
key = kms.create_key(Description="models", Tags=[{"TagKey": "team", "TagValue": "ml"}])["KeyMetadata"]
kid, karn = key["KeyId"], key["Arn"]
check(key["KeyState"] == "Enabled" and key["Enabled"] and key["KeySpec"] == "SYMMETRIC_DEFAULT"
      and key["KeyUsage"] == "ENCRYPT_DECRYPT" and key["KeyManager"] == "CUSTOMER" and key["Origin"] == "AWS_KMS",
      f"CreateKey's metadata: {key}")
check(karn == f"arn:aws:kms:{kms.meta.region_name}:{account}:key/{kid}", f"the key's ARN: {karn}")
listed = [k["KeyId"] for page in kms.get_paginator("list_keys").paginate() for k in page["Keys"]]
check(kid in listed, "ListKeys lists it")
kms.create_alias(AliasName="alias/models", TargetKeyId=kid)
check(kms.describe_key(KeyId="alias/models")["KeyMetadata"]["KeyId"] == kid, "DescribeKey by alias")
check(kms.describe_key(KeyId=karn)["KeyMetadata"]["KeyId"] == kid, "DescribeKey by ARN")
aliases = {a["AliasName"]: a for a in kms.list_aliases(KeyId=kid)["Aliases"]}
check(list(aliases) == ["alias/models"] and aliases["alias/models"]["TargetKeyId"] == kid, f"ListAliases of the key: {aliases}")
check(error_code(kms.create_alias, AliasName="alias/models", TargetKeyId=kid) == "AlreadyExistsException", "a taken alias")
check(error_code(kms.create_alias, AliasName="alias/aws/mine", TargetKeyId=kid) == "InvalidAliasNameException", "alias/aws/ is reserved")
check(error_and_status(kms.describe_key, KeyId="alias/none") == ("NotFoundException", 400), "an unknown alias: NotFoundException 400")
check(error_code(kms.describe_key, KeyId="00000000-0000-4000-8000-000000000000") == "NotFoundException", "an unknown key id")
check(error_code(kms.encrypt, KeyId="not-a-key", Plaintext=b"x") == "NotFoundException", "a bad key id")
check(error_code(kms.describe_key, KeyId="arn:aws:s3:::bucket") == "InvalidArnException", "an ARN of another service")
spare = kms.create_key(Description="aliases move")["KeyMetadata"]["KeyId"]
kms.create_alias(AliasName="alias/moving", TargetKeyId=kid)
kms.update_alias(AliasName="alias/moving", TargetKeyId=spare)
check(kms.describe_key(KeyId="alias/moving")["KeyMetadata"]["KeyId"] == spare, "UpdateAlias points the alias elsewhere")
kms.delete_alias(AliasName="alias/moving")
check(error_code(kms.describe_key, KeyId="alias/moving") == "NotFoundException", "DeleteAlias removes it")
check(kms.describe_key(KeyId=spare)["KeyMetadata"]["KeyState"] == "Enabled", "... and leaves its key")
check(error_code(kms.delete_alias, AliasName="alias/moving") == "NotFoundException", "deleting it again: NotFoundException")
for days in (6, 31):
    code, status = error_and_status(kms.schedule_key_deletion, KeyId=spare, PendingWindowInDays=days)
    check((code, status) == ("ValidationException", 400), f"a deletion window of {days} days: {code} {status}")
check(kms.describe_key(KeyId=spare)["KeyMetadata"]["KeyState"] == "Enabled", "... and the key stays enabled")

# --- encryption with context, data keys, random
ctx = {"purpose": "test", "bucket": "b"}
blob = kms.encrypt(KeyId="alias/models", Plaintext=canary, EncryptionContext=ctx)["CiphertextBlob"]
check(canary not in blob, "the ciphertext does not hold the plaintext")
out = kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)
check(out["Plaintext"] == canary and out["KeyId"] == karn, "Decrypt without KeyId finds the key in the blob")
check(error_code(kms.decrypt, CiphertextBlob=blob, EncryptionContext={"purpose": "other"}) == "InvalidCiphertextException",
      "a different encryption context: InvalidCiphertextException")
check(error_code(kms.decrypt, CiphertextBlob=blob) == "InvalidCiphertextException", "no encryption context")
check(error_code(kms.decrypt, CiphertextBlob=b"\x01" + b"garbage" * 20) == "InvalidCiphertextException", "a malformed blob")
flipped = blob[:-1] + bytes([blob[-1] ^ 1])
check(error_code(kms.decrypt, CiphertextBlob=flipped, EncryptionContext=ctx) == "InvalidCiphertextException", "a flipped bit")
other = kms.create_key()["KeyMetadata"]["KeyId"]
check(error_code(kms.decrypt, CiphertextBlob=blob, EncryptionContext=ctx, KeyId=other) == "IncorrectKeyException",
      "Decrypt naming another key: IncorrectKeyException")
code, status = error_and_status(kms.encrypt, KeyId=kid, Plaintext=b"x" * 4097)
check((code, status) == ("ValidationException", 400), f"4097 bytes of plaintext: {code} {status}")
check(error_code(kms.encrypt, KeyId=kid, Plaintext=b"x" * 4096) is None, "4096 bytes is the limit")
dk = kms.generate_data_key(KeyId=kid, KeySpec="AES_256", EncryptionContext=ctx)
check(len(dk["Plaintext"]) == 32 and kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] == dk["Plaintext"],
      "GenerateDataKey: a 32-byte key and its blob")
check(len(kms.generate_data_key(KeyId=kid, NumberOfBytes=64)["Plaintext"]) == 64, "GenerateDataKey NumberOfBytes")
check(error_code(kms.generate_data_key, KeyId=kid) == "ValidationException", "GenerateDataKey needs KeySpec or NumberOfBytes")
check(error_code(kms.generate_data_key, KeyId=kid, NumberOfBytes=1025) == "ValidationException", "NumberOfBytes above 1024")
nk = kms.generate_data_key_without_plaintext(KeyId=kid, KeySpec="AES_128")
check("Plaintext" not in nk and len(kms.decrypt(CiphertextBlob=nk["CiphertextBlob"])["Plaintext"]) == 16,
      "GenerateDataKeyWithoutPlaintext")
check(len(kms.generate_random(NumberOfBytes=100)["Plaintext"]) == 100, "GenerateRandom")
re = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext=ctx, DestinationKeyId=other)
check(kms.decrypt(CiphertextBlob=re["CiphertextBlob"])["Plaintext"] == canary and re["SourceKeyId"] == karn, "ReEncrypt to another key")

# --- states and deletion
kms.disable_key(KeyId=kid)
check(kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Disabled", "DisableKey")
check(error_code(kms.decrypt, CiphertextBlob=blob, EncryptionContext=ctx) == "DisabledException", "a disabled key: DisabledException")
kms.enable_key(KeyId=kid)
check(kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == canary, "re-enabled, it decrypts again")
check(error_code(kms.schedule_key_deletion, KeyId=other, PendingWindowInDays=6) == "ValidationException", "a 6-day window")
d = kms.schedule_key_deletion(KeyId=other, PendingWindowInDays=7)
check(d["KeyState"] == "PendingDeletion" and d["PendingWindowInDays"] == 7 and "DeletionDate" in d, f"ScheduleKeyDeletion: {d}")
check(error_code(kms.decrypt, CiphertextBlob=re["CiphertextBlob"]) == "KMSInvalidStateException", "pending deletion: KMSInvalidStateException")
kms.cancel_key_deletion(KeyId=other)
check(kms.describe_key(KeyId=other)["KeyMetadata"]["KeyState"] == "Disabled", "CancelKeyDeletion leaves it Disabled")

# --- rotation
kms.enable_key_rotation(KeyId=kid, RotationPeriodInDays=180)
st = kms.get_key_rotation_status(KeyId=kid)
check(st["KeyRotationEnabled"] and st["RotationPeriodInDays"] == 180 and "NextRotationDate" in st, f"rotation status: {st}")
kms.rotate_key_on_demand(KeyId=kid)
rotations = kms.list_key_rotations(KeyId=kid)["Rotations"]
check([r["RotationType"] for r in rotations] == ["ON_DEMAND"], f"ListKeyRotations: {rotations}")
check(kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == canary, "a blob from before the rotation still decrypts")
newer = kms.encrypt(KeyId=kid, Plaintext=b"after")["CiphertextBlob"]
check(kms.decrypt(CiphertextBlob=newer)["Plaintext"] == b"after", "and one after it")

# --- key policies, tags
policy = json.loads(kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"])
check(policy["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"} and policy["Statement"][0]["Action"] == "kms:*",
      "the default key policy lets the account's IAM policies decide")
check(error_code(kms.put_key_policy, KeyId=kid, PolicyName="default", Policy="{not json") == "MalformedPolicyDocumentException",
      "a malformed key policy")
kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "stage", "TagValue": "prod"}])
kms.untag_resource(KeyId=kid, TagKeys=["team"])
check(kms.list_resource_tags(KeyId=kid)["Tags"] == [{"TagKey": "stage", "TagValue": "prod"}], "tags")

# --- who may use a key: IAM policies, the key policy, grants
iam.create_user(UserName="kms-user")
ak = iam.create_access_key(UserName="kms-user")["AccessKey"]
user_arn = f"arn:aws:iam::{account}:user/kms-user"
ukms = boto3.client("kms", aws_access_key_id=ak["AccessKeyId"], aws_secret_access_key=ak["SecretAccessKey"])
check(error_code(ukms.decrypt, CiphertextBlob=blob, EncryptionContext=ctx) == "AccessDeniedException",
      "a user with no KMS permission: AccessDeniedException")
grant = kms.create_grant(KeyId=kid, GranteePrincipal=user_arn, Operations=["Decrypt"],
                         Constraints={"EncryptionContextSubset": {"purpose": "test"}})
check(ukms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == canary, "a grant lets the user decrypt")
check(error_code(ukms.encrypt, KeyId=kid, Plaintext=b"x") == "AccessDeniedException", "only the granted operations")
grants = kms.list_grants(KeyId=kid)["Grants"]
check(len(grants) == 1 and grants[0]["GranteePrincipal"] == user_arn and grants[0]["Operations"] == ["Decrypt"], f"ListGrants: {grants}")
kms.revoke_grant(KeyId=kid, GrantId=grant["GrantId"])
check(error_code(ukms.decrypt, CiphertextBlob=blob, EncryptionContext=ctx) == "AccessDeniedException", "a revoked grant no longer lets it")
iam.put_user_policy(UserName="kms-user", PolicyName="use-keys", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": karn}]}))
check(ukms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == canary, "an IAM policy on the key's ARN lets the user decrypt")
check(error_code(ukms.encrypt, KeyId=other, Plaintext=b"x") == "AccessDeniedException", "but not another key")
deny = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"},
    {"Sid": "NoUser", "Effect": "Deny", "Principal": {"AWS": user_arn}, "Action": "kms:Decrypt", "Resource": "*"}]}
kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=json.dumps(deny))
check(error_code(ukms.decrypt, CiphertextBlob=blob, EncryptionContext=ctx) == "AccessDeniedException",
      "a key policy's Deny wins over the user's Allow")
check(ukms.encrypt(KeyId=kid, Plaintext=b"x")["KeyId"] == karn, "what the key policy does not deny stays allowed")
g2 = kms.create_grant(KeyId=kid, GranteePrincipal=user_arn, Operations=["Decrypt"])
check(error_code(ukms.decrypt, CiphertextBlob=blob, EncryptionContext=ctx) == "AccessDeniedException",
      "a grant does not override the key policy's explicit Deny")
check(error_code(ukms.retire_grant, KeyId=kid, GrantId=g2["GrantId"] + "0") in ("NotFoundException", "AccessDeniedException"),
      "retiring an unknown grant")
iam.put_user_policy(UserName="kms-user", PolicyName="re-encrypt", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "kms:ReEncrypt*", "Resource": karn}]}))
check(error_code(ukms.re_encrypt, CiphertextBlob=newer, DestinationKeyId=other) == "AccessDeniedException",
      "ReEncrypt needs kms:ReEncryptTo on the destination key too")
grants_before = len(kms.list_grants(KeyId=kid)["Grants"])
check(error_and_status(kms.create_grant, KeyId=kid, GranteePrincipal=user_arn, Operations=["Encrypt"], DryRun=True)
      == ("DryRunOperationException", 412), "DryRun: DryRunOperationException 412")
check(len(kms.list_grants(KeyId=kid)["Grants"]) == grants_before, "and nothing is done")

# --- HMAC keys and the AWS managed key
hk = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
mac = kms.generate_mac(KeyId=hk, Message=b"msg", MacAlgorithm="HMAC_SHA_256")["Mac"]
check(kms.verify_mac(KeyId=hk, Message=b"msg", Mac=mac, MacAlgorithm="HMAC_SHA_256")["MacValid"], "VerifyMac")
check(error_code(kms.verify_mac, KeyId=hk, Message=b"other", Mac=mac, MacAlgorithm="HMAC_SHA_256") == "KMSInvalidMacException",
      "a wrong MAC: KMSInvalidMacException")
check(error_code(kms.encrypt, KeyId=hk, Plaintext=b"x") == "InvalidKeyUsageException", "an HMAC key does not encrypt")
managed = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
check(managed["KeyManager"] == "AWS", "alias/aws/s3 is the AWS managed key, made on first use")
check(error_code(kms.disable_key, KeyId=managed["KeyId"]) == "UnsupportedOperationException", "an AWS managed key cannot be disabled")
finish("kms")
