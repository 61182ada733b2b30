"""boto3's redshift-data client against tarn: ExecuteStatement (DDL, INSERT, a query with
:parameters, Redshift's UNLOAD and COPY), DescribeStatement until FINISHED,
GetStatementResult with typed fields and pages (boto3's paginator), a failed statement's error,
CancelStatement of a long one, ListStatements, ListDatabases/ListSchemas/ListTables/
DescribeTable, and the errors AWS gives (no cluster or workgroup, an unknown id, results of a
statement without any). Usage: redshift_data.py (endpoint and keys from the environment)"""
import sys
import time

import boto3
import botocore

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


s3 = boto3.client("s3")
s3.create_bucket(Bucket="rsdata")
rd = boto3.client("redshift-data")
WG = {"WorkgroupName": "analytics", "Database": "default"}


def run(sql, params=None, wait=True, **kw):
    args = dict(WG, Sql=sql, **kw)
    if params:
        args["Parameters"] = [{"name": k, "value": v} for k, v in params.items()]
    sid = rd.execute_statement(**args)["Id"]
    if not wait:
        return sid, None
    for _ in range(600):
        d = rd.describe_statement(Id=sid)
        if d["Status"] in ("FINISHED", "FAILED", "ABORTED"):
            return sid, d
        time.sleep(0.05)
    return sid, d


sid, d = run("CREATE EXTERNAL TABLE readings (id int, name string, price decimal(10,2), d date, ok boolean, "
             "score double) STORED AS PARQUET LOCATION 's3://rsdata/readings/'", StatementName="make-readings")
check(d["Status"] == "FINISHED" and d["HasResultSet"] is False, f"DDL runs: {d['Status']} {d.get('Error')}")
sid, d = run("INSERT INTO readings VALUES (1, 'a', 1.50, DATE '2024-01-02', true, 0.5), "
             "(2, 'b', 2.25, DATE '2024-02-03', false, NULL)")
check(d["Status"] == "FINISHED" and d["ResultRows"] == 2, f"INSERT reports its rows: {d.get('ResultRows')}")

sid, d = run("SELECT id, name, price, d, ok, score FROM readings WHERE id >= :low ORDER BY id", {"low": "1"})
check(d["Status"] == "FINISHED" and d["HasResultSet"] and d["ResultRows"] == 2, f"a query with a parameter: {d}")
r = rd.get_statement_result(Id=sid)
names = [c["name"] for c in r["ColumnMetadata"]]
types = [c["typeName"] for c in r["ColumnMetadata"]]
check(names == ["id", "name", "price", "d", "ok", "score"], f"column names: {names}")
check(types == ["int4", "varchar", "numeric", "date", "bool", "float8"], f"Redshift's type names: {types}")
rows = r["Records"]
check(rows[0] == [{"longValue": 1}, {"stringValue": "a"}, {"stringValue": "1.50"}, {"stringValue": "2024-01-02"},
                  {"booleanValue": True}, {"doubleValue": 0.5}], f"typed fields: {rows[0]}")
check(rows[1][5] == {"isNull": True}, f"NULL is isNull: {rows[1][5]}")
check(r["TotalNumRows"] == 2 and "NextToken" not in r, "one page, its total")

# Redshift's UNLOAD and COPY through the Data API
sid, d = run("UNLOAD ('SELECT id, name, price, d, ok, score FROM readings') TO 's3://rsdata/out/' "
             "IAM_ROLE default FORMAT AS PARQUET")
check(d["Status"] == "FINISHED", f"UNLOAD runs: {d['Status']} {d.get('Error')}")
run("CREATE EXTERNAL TABLE copied (id int, name string, price decimal(10,2), d date, ok boolean, score double) "
    "STORED AS PARQUET LOCATION 's3://rsdata/copied/'")
sid, d = run("COPY copied FROM 's3://rsdata/out/' IAM_ROLE default FORMAT AS PARQUET")
check(d["Status"] == "FINISHED" and d["ResultRows"] == 2, f"COPY loads what UNLOAD wrote: {d.get('ResultRows')} {d.get('Error')}")

# many rows: pages, through boto3's paginator
sid, d = run("SELECT value FROM generate_series(1, 25000)")
pages = list(rd.get_paginator("get_statement_result").paginate(Id=sid))
values = [rec[0]["longValue"] for p in pages for rec in p["Records"]]
check(len(pages) > 1 and values == list(range(1, 25001)), f"25000 rows in {len(pages)} pages, in order")

# errors of a statement and of requests
sid, d = run("SELECT * FROM no_such_table")
check(d["Status"] == "FAILED" and "no_such_table" in d.get("Error", ""), f"a failed statement says why: {d.get('Error')}")
try:
    rd.get_statement_result(Id=sid)
    check(False, "a failed statement has no result")
except botocore.exceptions.ClientError as e:
    check(e.response["Error"]["Code"] == "ValidationException", f"no result: {e.response['Error']}")
try:
    rd.describe_statement(Id="00000000-0000-4000-8000-000000000000")
    check(False, "an unknown id is refused")
except botocore.exceptions.ClientError as e:
    check(e.response["Error"]["Code"] == "ResourceNotFoundException", f"unknown id: {e.response['Error']}")
try:
    rd.execute_statement(Database="default", Sql="SELECT 1")
    check(False, "a statement needs a cluster or a workgroup")
except botocore.exceptions.ClientError as e:
    check(e.response["Error"]["Code"] == "ValidationException", f"no cluster or workgroup: {e.response['Error']}")

# a long statement is cancelled
sid, _ = run("SELECT count(*) FROM generate_series(1, 5000000000)", wait=False)
time.sleep(0.5)
check(rd.cancel_statement(Id=sid)["Status"] is True, "CancelStatement of a running statement")
for _ in range(100):
    d = rd.describe_statement(Id=sid)
    if d["Status"] != "STARTED" and d["Status"] != "SUBMITTED":
        break
    time.sleep(0.05)
check(d["Status"] == "ABORTED", f"the cancelled statement is ABORTED: {d['Status']}")

listed = rd.list_statements(StatementName="make-")["Statements"]
check([s["StatementName"] for s in listed] == ["make-readings"], f"ListStatements by name: {listed}")
check(len(rd.list_statements()["Statements"]) == 9, "ListStatements lists the caller's nine statements")

check("default" in rd.list_databases(WorkgroupName="analytics", Database="default")["Databases"], "ListDatabases")
schemas = rd.list_schemas(WorkgroupName="analytics", Database="default", SchemaPattern="def%")["Schemas"]
check(schemas == ["default"], f"ListSchemas with a pattern: {schemas}")
tables = rd.list_tables(WorkgroupName="analytics", Database="default", TablePattern="read%")["Tables"]
check(tables == [{"name": "readings", "schema": "default", "type": "TABLE"}], f"ListTables: {tables}")
cols = rd.describe_table(WorkgroupName="analytics", Database="default", Schema="default", Table="readings")["ColumnList"]
check([(c["name"], c["typeName"]) for c in cols] == [("id", "int4"), ("name", "varchar"), ("price", "numeric"),
      ("d", "date"), ("ok", "bool"), ("score", "float8")] and cols[2]["precision"] == 10 and cols[2]["scale"] == 2,
      f"DescribeTable with Redshift's types: {cols}")

print(f"redshift-data: {len(failures)} failures")
sys.exit(1 if failures else 0)
