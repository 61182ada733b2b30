"""Bucket policies through boto3: Put/Get/DeleteBucketPolicy and their errors, a Deny enforced on
S3 reads, and the same Deny failing an Athena query over the table it covers (every read of a
table is an s3:GetObject of its objects)."""
import json
import sys

import boto3

from tarn_checks import check, error_and_status, error_code, finish, wait_query

s3 = boto3.client("s3")
glue = boto3.client("glue")
athena = boto3.client("athena")
phase = sys.argv[1] if len(sys.argv) > 1 else "setup"

deny_secret = {
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "no-secret-reads", "Effect": "Deny", "Principal": "*",
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/secret/*",
    }, {
        "Sid": "keep-secrets", "Effect": "Deny", "Principal": {"AWS": "000000000000"},
        "Action": ["s3:DeleteObject", "S3:DeleteObjectVersion"], "Resource": "arn:aws:s3:::lake/secret/*",
    }],
}


def query(sql):
    qid = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": "pol"},
        ResultConfiguration={"OutputLocation": "s3://results/q/"})["QueryExecutionId"]
    return wait_query(athena, qid)


if phase == "setup":
    s3.create_bucket(Bucket="lake")
    s3.create_bucket(Bucket="results")
    for prefix in ("open", "secret"):
        s3.put_object(Bucket="lake", Key=f"{prefix}/part-0.csv", Body=b"1,a\n2,b\n3,c\n")
    glue.create_database(DatabaseInput={"Name": "pol"})
    for name in ("open", "secret"):
        glue.create_table(DatabaseName="pol", TableInput={
            "Name": name, "Parameters": {"classification": "csv"},
            "StorageDescriptor": {
                "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "v", "Type": "string"}],
                "Location": f"s3://lake/{name}/",
                "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                              "Parameters": {"field.delim": ","}}}})

    check(error_code(s3.get_bucket_policy, Bucket="lake") == "NoSuchBucketPolicy", "no policy yet: NoSuchBucketPolicy")
    check(error_code(s3.put_bucket_policy, Bucket="lake", Policy="{not json") == "MalformedPolicy",
          "invalid JSON: MalformedPolicy")
    other = dict(deny_secret, Statement=[dict(deny_secret["Statement"][0], Resource="arn:aws:s3:::elsewhere/*")])
    check(error_code(s3.put_bucket_policy, Bucket="lake", Policy=json.dumps(other)) == "MalformedPolicy",
          "a resource outside the bucket: MalformedPolicy")
    check(error_code(s3.put_bucket_policy, Bucket="nope", Policy=json.dumps(deny_secret)) == "NoSuchBucket",
          "no such bucket")
    check(query("SELECT count(*) FROM secret")["Status"]["State"] == "SUCCEEDED", "readable before the policy")

    s3.put_bucket_policy(Bucket="lake", Policy=json.dumps(deny_secret))
    check(json.loads(s3.get_bucket_policy(Bucket="lake")["Policy"]) == deny_secret, "GetBucketPolicy returns it")

if phase in ("setup", "after-restart"):
    code, status = error_and_status(s3.get_object, Bucket="lake", Key="secret/part-0.csv")
    check((code, status) == ("AccessDenied", 403), f"denied GetObject: AccessDenied 403 ({code}, {status})")
    check(error_and_status(s3.head_object, Bucket="lake", Key="secret/part-0.csv")[1] == 403, "denied HeadObject: 403")
    check(s3.get_object(Bucket="lake", Key="open/part-0.csv")["Body"].read() == b"1,a\n2,b\n3,c\n",
          "objects the policy does not name stay readable")
    s3.put_object(Bucket="lake", Key="secret/part-1.csv", Body=b"4,d\n")
    check(True, "PutObject is not denied by a GetObject Deny")
    s3.put_object(Bucket="lake", Key="secret/*x", Body=b"starred")
    check(error_code(s3.get_object, Bucket="lake", Key="secret/*x") == "AccessDenied",
          "a '*' in a key does not escape the Resource wildcard")
    out = s3.delete_objects(Bucket="lake", Delete={"Objects": [{"Key": "secret/part-1.csv"}, {"Key": "open/none.csv"}]})
    errs = {e["Key"]: e["Code"] for e in out.get("Errors", [])}
    check(errs == {"secret/part-1.csv": "AccessDenied"}, f"DeleteObjects is checked key by key: {errs}")
    check(error_code(s3.delete_object, Bucket="lake", Key="secret/part-1.csv") == "AccessDenied",
          "DeleteObject denied (the action matches case-insensitively)")
    check(error_code(s3.copy_object, Bucket="results", Key="stolen.csv",
                     CopySource={"Bucket": "lake", "Key": "secret/part-0.csv"}) == "AccessDenied",
          "CopyObject reads its source: denied")

    q = query("SELECT count(*) FROM secret")
    reason = q["Status"].get("StateChangeReason", "")
    check(q["Status"]["State"] == "FAILED", f"a query over the denied table fails ({q['Status']['State']})")
    check("Permission denied on S3 path: s3://lake/secret/" in reason and "Access Denied" in reason,
          f"the reason names the path: {reason}")
    check(query("SELECT count(*) FROM open")["Status"]["State"] == "SUCCEEDED", "other tables still query")

if phase == "after-restart":
    s3.delete_bucket_policy(Bucket="lake")
    check(error_code(s3.get_bucket_policy, Bucket="lake") == "NoSuchBucketPolicy", "deleted")
    check(s3.get_object(Bucket="lake", Key="secret/part-0.csv")["Body"].read().startswith(b"1,a"),
          "readable again without the policy")
    q = query("SELECT count(*) FROM secret")
    check(q["Status"]["State"] == "SUCCEEDED", "the table queries again")

finish(f"bucket-policy {phase}")
