"""Glue crawlers through boto3: classifiers, partitions, schema changes, schedules, then SQL."""
import gzip
import json
import sys
import time

import boto3
from botocore.exceptions import ClientError

from tarn_checks import check, finish

s3 = boto3.client("s3")
glue = boto3.client("glue")
athena = boto3.client("athena")
parquet_path = sys.argv[1]


def put(key, body):
    s3.put_object(Bucket="lake", Key=key, Body=body)


def crawl(name, timeout=60):
    glue.start_crawler(Name=name)
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = glue.get_crawler(Name=name)["Crawler"]
        if c["State"] == "READY" and c.get("LastCrawl"):
            return c
        time.sleep(0.1)
    raise TimeoutError(name)


def cols(table):
    t = glue.get_table(DatabaseName="lake", Name=table)["Table"]
    return [(c["Name"], c["Type"]) for c in t["StorageDescriptor"]["Columns"]], t


s3.create_bucket(Bucket="lake")
s3.create_bucket(Bucket="results")
header = b"id,name,score\n1,alpha,1.5\n2,beta,2.5\n3,gamma,3.5\n"
put("csv_header/data.csv", header)
put("csv_noheader/data.csv", b"1,alpha,1.5\n2,beta,2.5\n3,gamma,3.5\n")
put("csv_gz/data.csv.gz", gzip.compress(header))
events = [{"id": i, "user": {"name": f"u{i}", "age": 20 + i}, "tags": ["a", "b"]} for i in range(5)]
put("events/part-0.json", "\n".join(json.dumps(e) for e in events).encode() + b"\n")
with open(parquet_path, "rb") as f:
    put("parquet_t/part-0.parquet", f.read())
for y, m in (("2025", "01"), ("2026", "02")):
    put(f"hive/year={y}/month={m}/x.csv", b"id,amount\n1,10.5\n2,20.25\n")
    put(f"unnamed/{y}/{m}/x.csv", b"id,amount\n1,10.5\n2,20.25\n")
put("hive/_SUCCESS", b"")

names = ["csv_header", "csv_noheader", "csv_gz", "events", "parquet_t", "hive", "unnamed"]
glue.create_crawler(Name="lake-crawler", Role="arn:aws:iam::000000000000:role/glue", DatabaseName="lake",
                    Targets={"S3Targets": [{"Path": f"s3://lake/{n}/"} for n in names]})
try:
    glue.create_crawler(Name="lake-crawler", Role="r", DatabaseName="lake",
                        Targets={"S3Targets": [{"Path": "s3://lake/csv_header/"}]})
    check(False, "CreateCrawler twice -> AlreadyExistsException")
except ClientError as e:
    check(e.response["Error"]["Code"] == "AlreadyExistsException", "CreateCrawler twice -> AlreadyExistsException")
c = crawl("lake-crawler")
check(c["LastCrawl"]["Status"] == "SUCCEEDED", f"the crawl succeeded: {c['LastCrawl']}")
tables = sorted(t["Name"] for t in glue.get_tables(DatabaseName="lake")["TableList"])
check(tables == sorted(names), f"one table per dataset folder: {tables}")

got, t = cols("csv_header")
check(got == [("id", "bigint"), ("name", "string"), ("score", "double")], f"CSV with a header: {got}")
check(t["Parameters"].get("classification") == "csv", "classification csv")
check(t["Parameters"].get("skip.header.line.count") == "1" or
      t["StorageDescriptor"]["Parameters"].get("skip.header.line.count") == "1", "the header is skipped")
got, _ = cols("csv_noheader")
check(got == [("col0", "bigint"), ("col1", "string"), ("col2", "double")], f"headerless CSV: {got}")
got, t = cols("csv_gz")
params = {**t["Parameters"], **t["StorageDescriptor"].get("Parameters", {})}
check(got == [("id", "bigint"), ("name", "string"), ("score", "double")] and params.get("compressionType") == "gzip",
      f"gzip CSV: {got} {params.get('compressionType')}")
check(t["Parameters"].get("classification") == "csv", f"gzip CSV classified csv: {t['Parameters']}")
got, t = cols("events")
check(got == [("id", "bigint"), ("user", "struct<name:string,age:bigint>"), ("tags", "array<string>")],
      f"JSON Lines with nested fields: {got}")
check(t["Parameters"].get("classification") == "json", f"JSON Lines classified json: {t['Parameters']}")
got, t = cols("parquet_t")
check(got == [("id", "bigint"), ("label", "string"), ("ratio", "double")] and
      t["Parameters"].get("classification") == "parquet", f"Parquet from its footer: {got}")
got, t = cols("hive")
check(got == [("id", "bigint"), ("amount", "double")], f"Hive-partitioned data columns: {got}")
check([(k["Name"], k["Type"]) for k in t["PartitionKeys"]] == [("year", "string"), ("month", "string")],
      f"Hive partition keys: {t['PartitionKeys']}")
parts = sorted(p["Values"] for p in glue.get_partitions(DatabaseName="lake", TableName="hive")["Partitions"])
check(parts == [["2025", "01"], ["2026", "02"]], f"two-level Hive partitions: {parts}")
got, t = cols("unnamed")
check(got == [("id", "bigint"), ("amount", "double")], f"unnamed-partition data columns: {got}")
check([(k["Name"], k["Type"]) for k in t["PartitionKeys"]] == [("partition_0", "string"), ("partition_1", "string")],
      f"unnamed partitions partition_0/1: {t['PartitionKeys']}")
parts = sorted(p["Values"] for p in glue.get_partitions(DatabaseName="lake", TableName="unnamed")["Partitions"])
check(parts == [["2025", "01"], ["2026", "02"]], f"unnamed partitions' values: {parts}")

# the crawled tables are queryable
qid = athena.start_query_execution(QueryString="SELECT year, sum(amount) AS s FROM hive GROUP BY year ORDER BY year",
                                   QueryExecutionContext={"Database": "lake"},
                                   ResultConfiguration={"OutputLocation": "s3://results/q/"})["QueryExecutionId"]
while athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]["State"] in ("QUEUED", "RUNNING"):
    time.sleep(0.05)
q = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
rows = [[d.get("VarCharValue") for d in r["Data"]] for r in athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]]
check(rows == [["year", "s"], ["2025", "30.75"], ["2026", "30.75"]], f"Athena reads a crawled table: {rows} {q['Status']}")

# schema change -> new version; new folder -> new partition
put("csv_header/more.csv", b"id,name,score,extra\n4,delta,4.5,x\n")
put("hive/year=2027/month=03/z.csv", b"id,amount\n3,1.0\n")
c = crawl("lake-crawler")
got, t = cols("csv_header")
check(("extra", "string") in got, f"a new column is added: {got}")
versions = glue.get_table_versions(DatabaseName="lake", TableName="csv_header")["TableVersions"]
check(len(versions) == 2, f"the schema change made a new table version: {[v['VersionId'] for v in versions]}")
parts = sorted(p["Values"] for p in glue.get_partitions(DatabaseName="lake", TableName="hive")["Partitions"])
check(["2027", "03"] in parts and len(parts) == 3, f"a new folder adds a partition: {parts}")
metrics = glue.get_crawler_metrics(CrawlerNameList=["lake-crawler"])["CrawlerMetricsList"][0]
check(metrics["TablesUpdated"] >= 1, f"GetCrawlerMetrics: {metrics}")
try:
    glue.stop_crawler(Name="lake-crawler")
    check(False, "StopCrawler of a READY crawler -> CrawlerNotRunningException")
except ClientError as e:
    check(e.response["Error"]["Code"] == "CrawlerNotRunningException",
          "StopCrawler of a READY crawler -> CrawlerNotRunningException")

# a scheduled crawler runs on its own (every minute)
put("scheduled/data.csv", header)
glue.create_crawler(Name="every-minute", Role="r", DatabaseName="sched",
                    Targets={"S3Targets": [{"Path": "s3://lake/scheduled/"}]}, Schedule="cron(* * * * ? *)")
c = glue.get_crawler(Name="every-minute")["Crawler"]
check(c["Schedule"]["State"] == "SCHEDULED", f"the schedule is on: {c['Schedule']}")
deadline = time.time() + 75
ran = False
while time.time() < deadline:
    c = glue.get_crawler(Name="every-minute")["Crawler"]
    if c.get("LastCrawl", {}).get("Status") == "SUCCEEDED":
        ran = True
        break
    time.sleep(0.5)
check(ran, "the scheduled crawler ran by itself within a minute")
check(ran and glue.get_table(DatabaseName="sched", Name="scheduled")["Table"]["Name"] == "scheduled",
      "the scheduled crawl made its table")
try:
    glue.create_crawler(Name="bad-cron", Role="r", DatabaseName="x", Targets={"S3Targets": []}, Schedule="cron(nope)")
    check(False, "a bad cron expression -> InvalidInputException")
except ClientError as e:
    check(e.response["Error"]["Code"] == "InvalidInputException", "a bad cron expression -> InvalidInputException")
finish("crawler")
