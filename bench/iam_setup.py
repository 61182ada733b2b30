"""The IAM benchmarks' setup (bench/iam.sh, bench/iam-instructions.sh): a user whose access
comes from 10 attached managed policies, each with conditions (one of them grants), and a
bucket policy with conditions on bucket `bench`; prints the user's access key id and secret."""
import json, boto3
iam, s3 = boto3.client("iam"), boto3.client("s3")
iam.create_user(UserName="bencher")
for i in range(10):
    grants = i == 9
    cond = {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "127.0.0.0/8"]},
            "Bool": {"aws:SecureTransport": "false"},
            "StringLike": {"aws:username": "bench*" if grants else f"nobody{i}"}}
    doc = {"Version": "2012-10-17", "Statement": [
        {"Sid": f"Read{i}", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": [f"arn:aws:s3:::other{i}/*", "arn:aws:s3:::bench/*"], "Condition": cond},
        {"Sid": f"Fence{i}", "Effect": "Deny", "Action": "s3:*", "Resource": f"arn:aws:s3:::bench/secret{i}/*"}]}
    arn = iam.create_policy(PolicyName=f"p{i}", PolicyDocument=json.dumps(doc))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="bencher", PolicyArn=arn)
s3.put_bucket_policy(Bucket="bench", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::bench/keep/*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/bencher"},
     "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bench/public/*",
     "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}, "StringLike": {"aws:username": "bench*"}}}]}))
k = iam.create_access_key(UserName="bencher")["AccessKey"]
print(k["AccessKeyId"], k["SecretAccessKey"])
