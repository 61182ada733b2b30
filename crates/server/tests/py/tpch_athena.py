"""TPC-H through Athena with boto3: register the 8 tables with Athena DDL, run the 22 queries.

usage: tpch_athena.py QUERIES_DIR OUT_JSON

The Parquet files are already in s3://tpch/<table>/part-0.parquet (the Rust test put them there).
Writes OUT_JSON: {"columns": {table: [[name, type], ...]},
                  "queries": {"q01": {"header": [...], "rows": [[...]], "ms": 12.3} or {"error": "...", "ms": ...}}}
Comparing with the reference answers is the Rust test's job.
"""
import json
import os
import sys
import time

import boto3

from tarn_checks import wait_query

queries_dir, out_path = sys.argv[1], sys.argv[2]
glue = boto3.client("glue")
athena = boto3.client("athena")
OUTPUT = "s3://tpch/athena-results/"

# Column types as tpchgen-arrow writes them: Int64 -> bigint, Int32 -> int,
# Decimal128(15,2) -> decimal(15,2), Utf8View -> string, Date32 -> date.
TABLES = {
    "nation": "n_nationkey bigint, n_name string, n_regionkey bigint, n_comment string",
    "region": "r_regionkey bigint, r_name string, r_comment string",
    "part": "p_partkey bigint, p_name string, p_mfgr string, p_brand string, p_type string, p_size int, "
            "p_container string, p_retailprice decimal(15,2), p_comment string",
    "supplier": "s_suppkey bigint, s_name string, s_address string, s_nationkey bigint, s_phone string, "
                "s_acctbal decimal(15,2), s_comment string",
    "partsupp": "ps_partkey bigint, ps_suppkey bigint, ps_availqty int, ps_supplycost decimal(15,2), "
                "ps_comment string",
    "customer": "c_custkey bigint, c_name string, c_address string, c_nationkey bigint, c_phone string, "
                "c_acctbal decimal(15,2), c_mktsegment string, c_comment string",
    "orders": "o_orderkey bigint, o_custkey bigint, o_orderstatus string, o_totalprice decimal(15,2), "
              "o_orderdate date, o_orderpriority string, o_clerk string, o_shippriority int, o_comment string",
    "lineitem": "l_orderkey bigint, l_partkey bigint, l_suppkey bigint, l_linenumber int, "
                "l_quantity decimal(15,2), l_extendedprice decimal(15,2), l_discount decimal(15,2), "
                "l_tax decimal(15,2), l_returnflag string, l_linestatus string, l_shipdate date, "
                "l_commitdate date, l_receiptdate date, l_shipinstruct string, l_shipmode string, "
                "l_comment string",
}


def wait(qid, timeout=300):
    return wait_query(athena, qid, timeout)


def start(sql, db=None):
    kw = {"QueryExecutionContext": {"Database": db}} if db else {}
    qid = athena.start_query_execution(
        QueryString=sql, ResultConfiguration={"OutputLocation": OUTPUT}, **kw)["QueryExecutionId"]
    return qid, wait(qid)


def ddl(sql, db=None):
    qid, q = start(sql, db)
    if q["Status"]["State"] != "SUCCEEDED":
        sys.exit(f"DDL failed: {sql}\n{q['Status']}")


def fetch(qid):
    rows = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=qid):
        for r in page["ResultSet"]["Rows"]:
            rows.append([d.get("VarCharValue") for d in r["Data"]])
    return rows


ddl("CREATE DATABASE tpch")
for table, columns in TABLES.items():
    ddl(f"CREATE EXTERNAL TABLE tpch.{table} ({columns}) STORED AS PARQUET LOCATION 's3://tpch/{table}/'")
print(f"registered {len(TABLES)} tables")

out = {"columns": {}, "queries": {}}
for table in TABLES:
    cols = glue.get_table(DatabaseName="tpch", Name=table)["Table"]["StorageDescriptor"]["Columns"]
    out["columns"][table] = [[c["Name"], c["Type"]] for c in cols]

for name in sorted(f[:-4] for f in os.listdir(queries_dir) if f.endswith(".sql")):
    with open(os.path.join(queries_dir, name + ".sql")) as f:
        sql = f.read()
    began = time.perf_counter()
    qid, q = start(sql, "tpch")
    if q["Status"]["State"] != "SUCCEEDED":
        ms = (time.perf_counter() - began) * 1000
        out["queries"][name] = {"error": q["Status"].get("StateChangeReason", q["Status"]["State"]), "ms": ms}
        print(f"{name}: {q['Status']['State']} in {ms:.0f} ms: {out['queries'][name]['error']}")
        continue
    rows = fetch(qid)
    ms = (time.perf_counter() - began) * 1000
    out["queries"][name] = {"header": rows[0] if rows else [], "rows": rows[1:], "ms": ms,
                            "engine_ms": q["Statistics"].get("EngineExecutionTimeInMillis")}
    print(f"{name}: {len(rows) - 1} rows in {ms:.0f} ms")

with open(out_path, "w") as f:
    json.dump(out, f)
print(f"athena: ran {len(out['queries'])} queries")
