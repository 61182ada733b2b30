"""Athena through boto3 over tables in the Glue catalog: executions, results, errors, workgroups."""
import sys

import boto3

from tarn_checks import check, error_code, finish, wait_query

s3 = boto3.client("s3")
glue = boto3.client("glue")
athena = boto3.client("athena")

# run with `--protocol rest-json` by the newest boto3, whose Athena speaks REST-JSON (older ones
# send JSON 1.1 with X-Amz-Target): the same checks hold for both bindings
if "--protocol" in sys.argv:
    want = sys.argv[sys.argv.index("--protocol") + 1]
    check(athena.meta.service_model.protocol == want,
          f"this boto3 ({boto3.__version__}) speaks {athena.meta.service_model.protocol} to Athena, as wanted: {want}")


def wait(qid, timeout=60):
    return wait_query(athena, qid, timeout)


def run(sql, db="shop", **kw):
    kw.setdefault("ResultConfiguration", {"OutputLocation": "s3://results/athena/"})
    qid = athena.start_query_execution(QueryString=sql, QueryExecutionContext={"Database": db}, **kw)["QueryExecutionId"]
    return qid, wait(qid)


def rows(qid, page=None):
    out = []
    kw = {"PaginationConfig": {"PageSize": page}} if page else {}
    for p in athena.get_paginator("get_query_results").paginate(QueryExecutionId=qid, **kw):
        for r in p["ResultSet"]["Rows"]:
            out.append([d.get("VarCharValue") for d in r["Data"]])
    return out


s3.create_bucket(Bucket="raw")
s3.create_bucket(Bucket="results")
lines = ["id,name,price,day"] + [f"{i},item {i},{i * 1.5},2026-11-{(i % 28) + 1:02d}" for i in range(1, 101)]
lines.append("101,broken,not-a-number,2026-11-01")
s3.put_object(Bucket="raw", Key="orders/part-0.csv", Body="\n".join(lines).encode() + b"\n")
glue.create_database(DatabaseInput={"Name": "shop"})
glue.create_table(DatabaseName="shop", TableInput={
    "Name": "orders", "TableType": "EXTERNAL_TABLE",
    "Parameters": {"classification": "csv", "skip.header.line.count": "1"},
    "StorageDescriptor": {
        "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "name", "Type": "string"},
                    {"Name": "price", "Type": "double"}, {"Name": "day", "Type": "date"}],
        "Location": "s3://raw/orders/",
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                      "Parameters": {"field.delim": ","}},
    },
})

qid, q = run("SELECT count(*) AS n, sum(price) AS total, count(price) AS priced FROM orders")
check(q["Status"]["State"] == "SUCCEEDED", f"a query succeeds: {q['Status']}")
check(q["StatementType"] == "DML", "StatementType DML")
check(q["Statistics"]["DataScannedInBytes"] > 0, f"DataScannedInBytes counted: {q['Statistics']}")
check("EngineExecutionTimeInMillis" in q["Statistics"], "EngineExecutionTimeInMillis reported")
r = rows(qid)
check(r[0] == ["n", "total", "priced"], f"the header row comes first: {r[0]}")
check(r[1] == ["101", "7575.0", "100"], f"values as strings; the malformed price is NULL: {r[1]}")
res = athena.get_query_results(QueryExecutionId=qid)
types = [c["Type"] for c in res["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
check(types == ["bigint", "double", "bigint"], f"typed ColumnInfo: {types}")
loc = q["ResultConfiguration"]["OutputLocation"]
check(loc == f"s3://results/athena/{qid}.csv", f"results land at OutputLocation/<id>.csv: {loc}")
body = s3.get_object(Bucket="results", Key=f"athena/{qid}.csv")["Body"].read().decode()
check(body.splitlines()[0] == '"n","total","priced"', f"the result CSV is in the bucket: {body[:40]!r}")
check(s3.head_object(Bucket="results", Key=f"athena/{qid}.csv.metadata")["ContentLength"] > 0, ".metadata written")

qid, q = run("SELECT id, name, day FROM orders WHERE id <= 25 ORDER BY id")
r = rows(qid, page=7)
check(len(r) == 26 and r[1] == ["1", "item 1", "2026-11-02"] and r[25][0] == "25",
      f"pagination keeps every row once, in order: {len(r)}")

qid, q = run("SELECT count(*), max(id) AS m FROM orders")
check(rows(qid)[0] == ["_col0", "m"], f"an unnamed expression is _col<i>, as in Athena: {rows(qid)[0]}")

qid, q = run("SELECT CAST(NULL AS varchar) AS a, '' AS b, 'x,\"y\"' AS c")
r = rows(qid)
check(r[1] == [None, "", 'x,"y"'], f"NULL has no VarCharValue, empty strings and quotes survive: {r[1]}")

# failures
qid, q = run("SELEC * FROM orders")
reason = q["Status"].get("StateChangeReason", "")
check(q["Status"]["State"] == "FAILED" and "SELEC" in reason and "line" in reason.lower(),
      f"a syntax error FAILS with a reason naming the token and where it is: {reason}")
err = q["Status"].get("AthenaError", {})
check(err.get("ErrorCategory") == 2 and err.get("ErrorType") == 1000, f"a syntax error is a USER error: {err}")
check(error_code(athena.get_query_results, QueryExecutionId=qid) == "InvalidRequestException",
      "GetQueryResults of a failed query -> InvalidRequestException")
qid, q = run("SELECT * FROM no_such_table")
reason = q["Status"].get("StateChangeReason", "")
check(q["Status"]["State"] == "FAILED" and "no_such_table" in reason, f"a missing table FAILS naming it: {reason}")
s3.put_object(Bucket="raw", Key="broken/part-7.parquet", Body=b"PAR1 this is not a parquet file")
qid, q = run("CREATE EXTERNAL TABLE broken (id bigint) STORED AS PARQUET LOCATION 's3://raw/broken/'")
check(q["Status"]["State"] == "SUCCEEDED" and q["StatementType"] == "DDL", f"CREATE EXTERNAL TABLE through Athena: {q['Status']}")
qid, q = run("SELECT count(*) FROM broken")
reason = q["Status"].get("StateChangeReason", "")
check(q["Status"]["State"] == "FAILED" and "s3://raw/broken/part-7.parquet" in reason,
      f"a corrupt Parquet file fails the query naming the object: {reason}")
check(error_code(athena.start_query_execution, QueryString="SELECT 1") == "InvalidRequestException",
      "no output location anywhere -> InvalidRequestException")
check(error_code(athena.get_query_execution, QueryExecutionId="nope") == "InvalidRequestException",
      "an unknown execution id -> InvalidRequestException")
check(error_code(athena.start_query_execution, QueryString="SELECT 1", WorkGroup="nope",
                 ResultConfiguration={"OutputLocation": "s3://results/x/"}) == "InvalidRequestException",
      "an unknown workgroup -> InvalidRequestException")

# utility statements: no header row, output as .txt
qid, q = run("SHOW TABLES")
check(q["StatementType"] == "UTILITY" and q["ResultConfiguration"]["OutputLocation"].endswith(".txt"),
      f"SHOW TABLES is UTILITY with .txt output: {q['StatementType']} {q['ResultConfiguration']}")
check(rows(qid) == [["broken"], ["orders"]], f"SHOW TABLES rows, no header: {rows(qid)}")
# CTAS without external_location lands under the result location and is DML
qid, q = run("CREATE TABLE cheap AS SELECT id, name FROM orders WHERE price < 3")
check(q["Status"]["State"] == "SUCCEEDED" and q["StatementType"] == "DML", f"CTAS through Athena: {q['Status']}")
loc = glue.get_table(DatabaseName="shop", Name="cheap")["Table"]["StorageDescriptor"]["Location"]
check(loc == f"s3://results/athena/tables/{qid}/", f"CTAS data under <output>/tables/<id>/: {loc}")
qid, q = run("SELECT count(*) AS n FROM cheap")
check(rows(qid)[1] == ["1"], f"the CTAS table reads back: {rows(qid)}")

# idempotency
a = athena.start_query_execution(QueryString="SELECT 1", ClientRequestToken="t" * 32,
                                 ResultConfiguration={"OutputLocation": "s3://results/x/"})["QueryExecutionId"]
b = athena.start_query_execution(QueryString="SELECT 1", ClientRequestToken="t" * 32,
                                 ResultConfiguration={"OutputLocation": "s3://results/x/"})["QueryExecutionId"]
check(a == b, "the same ClientRequestToken returns the same execution")

# workgroups
athena.create_work_group(Name="ml", Configuration={
    "ResultConfiguration": {"OutputLocation": "s3://results/ml/"}, "EnforceWorkGroupConfiguration": True})
qid = athena.start_query_execution(QueryString="SELECT 42 AS answer", WorkGroup="ml")["QueryExecutionId"]
q = wait(qid)
check(q["WorkGroup"] == "ml" and q["ResultConfiguration"]["OutputLocation"].startswith("s3://results/ml/"),
      "a workgroup's output location applies")
check(rows(qid)[1] == ["42"], "the workgroup query's result")
names = [w["Name"] for w in athena.list_work_groups()["WorkGroups"]]
check(names == ["primary", "ml"], f"ListWorkGroups: {names}")
check(athena.list_query_executions(WorkGroup="ml")["QueryExecutionIds"] == [qid], "ListQueryExecutions per workgroup")
batch = athena.batch_get_query_execution(QueryExecutionIds=[qid, "missing"])
check(len(batch["QueryExecutions"]) == 1 and len(batch["UnprocessedQueryExecutionIds"]) == 1,
      "BatchGetQueryExecution")
nq = athena.create_named_query(Name="top", Database="shop", QueryString="SELECT * FROM orders LIMIT 5")["NamedQueryId"]
check(athena.get_named_query(NamedQueryId=nq)["NamedQuery"]["QueryString"].startswith("SELECT"), "named queries")
check(nq in athena.list_named_queries()["NamedQueryIds"], "ListNamedQueries")

# the server stays up after everything above
check(athena.get_work_group(WorkGroup="primary")["WorkGroup"]["Name"] == "primary", "the server is still up")
finish("athena")
