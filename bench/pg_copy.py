#!/usr/bin/env python3
"""Redshift's COPY of CSV from S3 into a Parquet table through tarn's PostgreSQL wire, beside
DuckDB loading the same local CSV files into a Parquet file, in one process.

usage: pg_copy.py --csv DIR --s3 s3://BUCKET/PREFIX/ --pg HOST:PORT --key ID --secret SECRET
                  --work DIR [--runs 2] [--server-pid PID] [--upload-seconds S]

DIR holds part-*.csv (headerless, the columns of bench/pg_data.py) and `rows`; the same files
are under the S3 prefix (bench/pg-copy.sh uploads them). Each run loads DuckDB then tarn; tarn
loads into a fresh managed table (CREATE TABLE without a location), checked with count(*) and
sum(id) and then dropped. The best time counts. Prints a Markdown table.
"""
import argparse
import glob
import os
import time

import boto3
import duckdb
import psycopg

import pg_data
from pg_data import DUCK_COLUMNS, PG_COLUMNS

p = argparse.ArgumentParser()
p.add_argument("--csv", required=True)
p.add_argument("--s3", required=True)
p.add_argument("--pg", required=True)
p.add_argument("--key", required=True)
p.add_argument("--secret", required=True)
p.add_argument("--work", required=True)
p.add_argument("--runs", type=int, default=2)
p.add_argument("--server-pid", type=int)
p.add_argument("--upload-seconds", type=float)
args = p.parse_args()

files = sorted(glob.glob(f"{args.csv}/part-*.csv"))
size = sum(os.path.getsize(f) for f in files)
with open(f"{args.csv}/rows") as f:
    rows = int(f.read())
host, port = args.pg.rsplit(":", 1)
pg = psycopg.connect(host=host, port=int(port), user=args.key, password=args.secret, dbname="default",
                     sslmode="disable", autocommit=True)
s3 = boto3.client("s3")  # AWS_ENDPOINT_URL and the keys come from the environment


def server_cpu():
    return pg_data.server_cpu(args.server_pid)


# tarn writes Parquet with DataFusion's default codec, zstd level 3 (written_files checks the
# codec); DuckDB's default is snappy, so the baseline is told zstd (its default level is 3 too)
duck = duckdb.connect()
out = f"{args.work}/duckdb.parquet"
columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in DUCK_COLUMNS.items()) + "}"
DUCK_SQL = (f"COPY (SELECT * FROM read_csv({files!r}, header = false, delim = ',', quote = '\"', "
            f"columns = {columns})) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")


def timed(fn):
    # seconds, the Python process's CPU seconds (DuckDB's threads included) and the server's
    c0, s0, t = time.process_time(), server_cpu(), time.perf_counter()
    result = fn()
    secs = time.perf_counter() - t
    return result, (secs, time.process_time() - c0, server_cpu() - s0)


def run_duck():
    _, cost = timed(lambda: duck.execute(DUCK_SQL))
    (n,) = duck.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchall()[0]
    written = os.path.getsize(out)
    os.remove(out)
    return cost, n, None, written


def run_tarn(k):
    table = f"copy_t{k}"
    pg.execute(f"CREATE TABLE {table} ({PG_COLUMNS})")
    sql = f"COPY {table} FROM '{args.s3}' IAM_ROLE 'arn:aws:iam::000000000000:role/bench' FORMAT AS CSV"
    cur, cost = timed(lambda: pg.execute(sql))
    tag = cur.statusmessage
    n, id_sum = pg.execute(f"SELECT count(*), sum(id) FROM {table}").fetchone()
    ok = n == rows and int(id_sum) == rows * (rows - 1) // 2
    written = written_files(table)
    pg.execute(f"DROP TABLE {table}")
    return cost, n, (tag, ok), written


def written_files(table):
    # the files COPY wrote into the managed table's location (SHOW CREATE TABLE's LOCATION), and
    # the codec of the smallest: the baseline's codec has to match it
    ddl = [line.strip() for (line,) in pg.execute(f"SHOW CREATE TABLE {table}").fetchall()]
    bucket, prefix = ddl[ddl.index("LOCATION") + 1].strip("'").removeprefix("s3://").split("/", 1)
    objs = [o for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])]
    small = min(objs, key=lambda o: o["Size"])
    local = f"{args.work}/tarn-sample.parquet"
    s3.download_file(bucket, small["Key"], local)
    codecs = duck.execute(f"SELECT DISTINCT compression FROM parquet_metadata('{local}')").fetchall()
    os.remove(local)
    return len(objs), sum(o["Size"] for o in objs), ",".join(sorted(c for (c,) in codecs))


best = {}
checks = []
codecs = set()
for run in range(args.runs):
    for name, fn in [("duck", run_duck), ("tarn", lambda: run_tarn(run))]:
        cost, n, check, written = fn()
        if name == "duck":
            checks.append((f"run {run + 1}, DuckDB", n == rows, f"{n:,} rows in its Parquet file ({written / 1e6:.0f} MB)"))
        else:
            tag, ok = check
            files_n, files_bytes, codec = written
            codecs.add(codec)
            checks.append((f"run {run + 1}, tarn", ok, f"COPY's tag `{tag}`, count(*) {n:,}, sum(id) as expected: {ok}; "
                                       f"wrote {files_n} Parquet file(s), {files_bytes / 1e6:.0f} MB, {codec}"))
        if name not in best or cost[0] < best[name][0]:
            best[name] = cost

mb = size / 1e6
print(f"DuckDB {duckdb.__version__}; {len(files)} CSV file(s), {size:,} bytes ({mb:,.0f} MB), {rows:,} rows; "
      f"best of {args.runs}, DuckDB then tarn in each run\n")
print("| load | seconds | MB/s of CSV | rows/s | / DuckDB (MB/s) | client CPU s | tarn CPU s |")
print("|---|---:|---:|---:|---:|---:|---:|")
d_secs = best["duck"][0]
for name, label in [("duck", "DuckDB: `COPY (SELECT * FROM read_csv(local files)) TO parquet` (zstd)"),
                    ("tarn", "tarn: `COPY t FROM 's3://...' FORMAT AS CSV` into a managed Parquet table")]:
    secs, ccpu, scpu = best[name]
    sc = f"{scpu:.2f}" if name == "tarn" and args.server_pid else "-"
    print(f"| {label} | {secs:.2f} | {mb / secs:,.1f} | {rows / secs:,.0f} | {d_secs / secs:.2f}x | {ccpu:.2f} | {sc} |")
if args.upload_seconds:
    print(f"| context: boto3 upload_file of the CSV into tarn (multipart, 10 threads), not part of COPY "
          f"| {args.upload_seconds:.2f} | {mb / args.upload_seconds:,.1f} | | | | |")
print(f"""
MB/s is CSV bytes / seconds (10^6 bytes). tarn reads the CSV from its own bucket (the S3 store in
the same process), parses it with the table's types, reads it a second time to write (COPY
decodes every row before it writes any: all or nothing) and writes Parquet (DataFusion's
default, zstd) into the table's location; DuckDB reads the local files once, with the types
given, and writes one zstd Parquet file. Both use every core ({os.cpu_count()}); tarn CPU is the
server's for the best run, client CPU the Python process's (DuckDB's threads included).
""")
for who, ok, text in checks:
    print(f"- {who}: {'ok' if ok else '**MISMATCH**'}, {text}")
if codecs != {"ZSTD"}:
    print(f"\n**tarn wrote {'/'.join(sorted(codecs))}, not ZSTD as the baseline does: the ratio compares unlike files**")
if not all(ok for _, ok, _ in checks):
    raise SystemExit("FAILED: a load did not hold every row")
