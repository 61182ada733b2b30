"""Two accounts on one server, through boto3: the home account (000000000000, the env's root
key) and account 111122223333 from the IAM file (its root and user bob). A bucket policy that
grants another account's user access works only when that user's own identity policy allows it
too; each account has its own buckets, IAM directory and callers; a role of one account is
assumed from the other when both the trust policy and the caller's policies allow it.

Phases: `setup` (everything), `after-restart` (ownership and keys survive)."""
import json
import sys

import boto3

from tarn_checks import check, error_code, finish

HOME, OTHER = "000000000000", "111122223333"
B_ROOT = ("AKIAOTHERACCOUNTROOT", "other-account-root-secret-000000000000001")
BOB = ("AKIAOTHERACCOUNTBOB1", "other-account-bob-secret-0000000000000001")
BOB_ARN = f"arn:aws:iam::{OTHER}:user/bob"


def client(service, creds=None, token=None):
    if creds is None:
        return boto3.client(service)
    return boto3.client(service, aws_access_key_id=creds[0], aws_secret_access_key=creds[1],
                        aws_session_token=token)


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resources, principal=None):
    s = {"Effect": "Allow", "Action": actions, "Resource": resources}
    if principal is not None:
        s["Principal"] = principal
    return s


def body(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


a_s3, a_iam, a_sts = client("s3"), client("iam"), client("sts")
b_s3, b_iam, b_sts = client("s3", B_ROOT), client("iam", B_ROOT), client("sts", B_ROOT)
bob_s3, bob_sts, bob_kinesis = client("s3", BOB), client("sts", BOB), client("kinesis", BOB)
phase = sys.argv[1]

if phase == "setup":
    # --- who each key is ---
    me = bob_sts.get_caller_identity()
    check(me["Account"] == OTHER and me["Arn"] == BOB_ARN, f"bob is a user of {OTHER}: {me['Arn']}")
    check(b_sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{OTHER}:root", "the other account's root")

    # --- the home account's bucket, and bob outside it ---
    a_s3.create_bucket(Bucket="a-data")
    a_s3.put_object(Bucket="a-data", Key="shared/x", Body=b"shared")
    a_s3.put_object(Bucket="a-data", Key="private/y", Body=b"private")
    check(error_code(bob_s3.get_object, Bucket="a-data", Key="shared/x") == "AccessDenied",
          "no bucket policy, no identity policy: bob is refused")

    # the bucket policy grants bob; bob's own account has not allowed it yet
    grant_bob = policy(allow("s3:GetObject", "arn:aws:s3:::a-data/shared/*", {"AWS": BOB_ARN}))
    a_s3.put_bucket_policy(Bucket="a-data", Policy=grant_bob)
    check(error_code(bob_s3.get_object, Bucket="a-data", Key="shared/x") == "AccessDenied",
          "cross-account: the bucket policy alone does not let bob in")

    # bob's account allows it (through its own IAM, as its root): now both sides allow
    b_iam.put_user_policy(UserName="bob", PolicyName="read-a",
                          PolicyDocument=policy(allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::a-data/*")))
    check(body(bob_s3, "a-data", "shared/x") == b"shared", "bucket policy + bob's identity policy: bob reads")
    check(error_code(bob_s3.get_object, Bucket="a-data", Key="private/y") == "AccessDenied",
          "outside what the bucket policy grants: refused although bob's policy allows it")
    check(error_code(bob_s3.put_object, Bucket="a-data", Key="shared/z", Body=b"z") == "AccessDenied",
          "bob's policy allows PutObject, the bucket policy does not: refused, nothing written")
    check(error_code(a_s3.head_object, Bucket="a-data", Key="shared/z") == "404", "the refused PUT wrote nothing")

    # bob's own account takes its allowance back: the bucket policy alone is not enough, at once
    b_iam.delete_user_policy(UserName="bob", PolicyName="read-a")
    check(error_code(bob_s3.get_object, Bucket="a-data", Key="shared/x") == "AccessDenied",
          "bob's policy removed: refused at once, although the bucket policy still grants")
    b_iam.put_user_policy(UserName="bob", PolicyName="read-a",
                          PolicyDocument=policy(allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::a-data/*")))
    check(body(bob_s3, "a-data", "shared/x") == b"shared", "and allowed again")

    # the bucket policy taken away: bob's own policy alone is not enough
    a_s3.delete_bucket_policy(Bucket="a-data")
    check(error_code(bob_s3.get_object, Bucket="a-data", Key="shared/x") == "AccessDenied",
          "identity policy alone across accounts: refused")

    # a grant to the whole account: its principals whose own policies allow, and its root
    a_s3.put_bucket_policy(Bucket="a-data", Policy=policy(
        allow(["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::a-data", "arn:aws:s3:::a-data/*"],
              {"AWS": f"arn:aws:iam::{OTHER}:root"})))
    check(body(bob_s3, "a-data", "private/y") == b"private", "account grant + bob's policy: bob reads")
    check(body(b_s3, "a-data", "shared/x") == b"shared", "account grant: the other account's root reads")
    keys = [o["Key"] for o in b_s3.list_objects_v2(Bucket="a-data").get("Contents", [])]
    check(keys == ["private/y", "shared/x"], f"and lists: {keys}")
    check(error_code(bob_s3.list_objects_v2, Bucket="a-data") == "AccessDenied",
          "bob's own policy does not allow ListBucket: refused")
    check(error_code(b_s3.put_bucket_policy, Bucket="a-data", Policy=grant_bob) == "AccessDenied",
          "the other account's root may not change the bucket's policy")
    check(error_code(b_s3.delete_bucket, Bucket="a-data") == "AccessDenied",
          "nor delete the bucket")

    # --- each account's buckets ---
    b_s3.create_bucket(Bucket="b-data")
    b_s3.put_object(Bucket="b-data", Key="k", Body=b"b's")
    a_names = [b["Name"] for b in a_s3.list_buckets()["Buckets"]]
    b_list = b_s3.list_buckets()
    b_names = [b["Name"] for b in b_list["Buckets"]]
    check(a_names == ["a-data"] and b_names == ["b-data"], f"each account lists its own buckets: {a_names} {b_names}")
    check(b_list["Owner"]["ID"] == OTHER.rjust(64, "0"), "owned by the other account's canonical id")
    check(error_code(a_s3.create_bucket, Bucket="b-data") == "BucketAlreadyExists",
          "a name another account holds: BucketAlreadyExists")
    b_s3.create_bucket(Bucket="b-data")
    check(True, "re-creating one's own bucket in us-east-1 is a no-op")
    check(error_code(a_s3.get_object, Bucket="b-data", Key="k") == "AccessDenied",
          "the home account's root has no rights in another account's bucket")

    # --- each account's IAM directory ---
    a_iam.create_user(UserName="alice")
    check([u["UserName"] for u in b_iam.list_users()["Users"]] == ["bob"], "the other account lists only its users")
    check("bob" not in [u["UserName"] for u in a_iam.list_users()["Users"]], "and the home account only its own")
    check(error_code(a_iam.get_user, UserName="bob") == "NoSuchEntity", "bob is not a user of the home account")
    check(b_iam.get_user(UserName="bob")["User"]["Arn"] == BOB_ARN, "the other account's root manages bob")

    # --- a role of the home account, assumed from the other ---
    a_iam.create_role(RoleName="partner", AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "sts:AssumeRole"}))
    a_iam.put_role_policy(RoleName="partner", PolicyName="read",
                          PolicyDocument=policy(allow("s3:GetObject", "arn:aws:s3:::a-data/*")))
    role_arn = f"arn:aws:iam::{HOME}:role/partner"
    check(error_code(bob_sts.assume_role, RoleArn=role_arn, RoleSessionName="partner-s") == "AccessDenied",
          "the trust policy names bob's account, bob's own policies do not allow sts:AssumeRole: refused")
    b_iam.put_user_policy(UserName="bob", PolicyName="assume",
                          PolicyDocument=policy(allow("sts:AssumeRole", role_arn)))
    creds = bob_sts.assume_role(RoleArn=role_arn, RoleSessionName="partner-s")["Credentials"]
    session = (creds["AccessKeyId"], creds["SecretAccessKey"])
    who = client("sts", session, creds["SessionToken"]).get_caller_identity()
    check(who["Account"] == HOME and who["Arn"] == f"arn:aws:sts::{HOME}:assumed-role/partner/partner-s",
          f"the session is the home account's role: {who['Arn']}")
    s_s3 = client("s3", session, creds["SessionToken"])
    a_s3.delete_bucket_policy(Bucket="a-data")
    check(body(s_s3, "a-data", "private/y") == b"private", "the session reads with the role's rights")
    check(error_code(s_s3.put_object, Bucket="a-data", Key="w", Body=b"w") == "AccessDenied",
          "and nothing more")

    # --- services whose resources are the home account's: refused without resource policies ---
    check(error_code(bob_kinesis.list_streams) == "AccessDeniedException", "Kinesis refuses the other account's user")
    check(error_code(client("kinesis", B_ROOT).list_streams) == "AccessDeniedException",
          "and the other account's root")
    finish("cross-account setup")

elif phase == "after-restart":
    check([b["Name"] for b in b_s3.list_buckets()["Buckets"]] == ["b-data"], "ownership survives a restart")
    check(error_code(a_s3.get_object, Bucket="b-data", Key="k") == "AccessDenied", "and still binds the home root")
    check(body(b_s3, "b-data", "k") == b"b's", "the other account's root key survives")
    check(bob_sts.get_caller_identity()["Arn"] == BOB_ARN, "bob's key survives")
    check(sorted(p for p in b_iam.list_user_policies(UserName="bob")["PolicyNames"]) == ["assume", "read-a"],
          "bob's policies survive")
    finish("cross-account after restart")
