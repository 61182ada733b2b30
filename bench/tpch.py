#!/usr/bin/env python3
"""TPC-H side by side: tarn (over its PostgreSQL wire) vs DuckDB vs DataFusion (Python), same files.

usage: tpch.py --data DIR --queries DIR --pg HOST:PORT --key ID --secret SECRET [--runs 2]
DIR holds <table>/part-0.parquet; the same files are in tarn's bucket `tpch` and registered in
its database `tpch` (bench/tpch.sh does both). Each query runs --runs times per engine, engines
interleaved; the best time counts. Prints a Markdown table and the totals' ratios.
"""
import argparse
import os
import time

import datafusion
import duckdb
import psycopg

TABLES = ["nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem"]

p = argparse.ArgumentParser()
p.add_argument("--data", required=True)
p.add_argument("--queries", required=True)
p.add_argument("--pg", required=True)
p.add_argument("--key", required=True)
p.add_argument("--secret", required=True)
p.add_argument("--runs", type=int, default=2)
args = p.parse_args()

queries = []
for i in range(1, 23):
    with open(os.path.join(args.queries, f"q{i:02d}.sql")) as f:
        queries.append((f"q{i:02d}", f.read().strip().rstrip(";")))

duck = duckdb.connect()
for t in TABLES:
    duck.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{args.data}/{t}/part-0.parquet')")
df = datafusion.SessionContext()
for t in TABLES:
    df.register_parquet(t, f"{args.data}/{t}/part-0.parquet")
host, port = args.pg.rsplit(":", 1)
pg = psycopg.connect(host=host, port=int(port), user=args.key, password=args.secret, dbname="tpch", autocommit=True)


def run_duck(sql):
    return len(duck.execute(sql).fetchall())


def run_df(sql):
    return sum(b.num_rows for b in df.sql(sql).collect())


def run_tarn(sql):
    with pg.cursor() as cur:
        cur.execute(sql)
        return len(cur.fetchall())


engines = [("tarn", run_tarn), ("DataFusion", run_df), ("DuckDB", run_duck)]
best = {name: {} for name, _ in engines}
rows = {name: {} for name, _ in engines}
for q, sql in queries:
    for _ in range(args.runs):
        for name, fn in engines:
            t = time.perf_counter()
            try:
                n = fn(sql)
            except Exception as e:  # report and go on
                print(f"{name} {q}: {e}")
                n = None
            dt = time.perf_counter() - t
            if n is not None:
                best[name][q] = min(best[name].get(q, dt), dt)
                rows[name][q] = n

print(f"DuckDB {duckdb.__version__}, DataFusion (Python) {datafusion.__version__}, best of {args.runs}\n")
print("| query | tarn s | DataFusion s | DuckDB s | rows (tarn/DF/DuckDB) |")
print("|---|---:|---:|---:|---|")
for q, _ in queries:
    cells = [f"{best[n].get(q, float('nan')):.3f}" for n, _ in engines]
    r = "/".join(str(rows[n].get(q, "-")) for n, _ in engines)
    print(f"| {q} | {' | '.join(cells)} | {r} |")
# the engines must agree on every answer's row count (the tests check tarn's answers in full)
differ = [q for q, _ in queries if len({rows[n].get(q) for n, _ in engines}) != 1]
if differ:
    print(f"\nrow counts differ between engines in {', '.join(differ)}")
ok = all(len(best[n]) == 22 for n, _ in engines) and not differ
tot = {n: sum(best[n].values()) for n, _ in engines}
print(f"| **total** | {tot['tarn']:.2f} | {tot['DataFusion']:.2f} | {tot['DuckDB']:.2f} | |")
if ok:
    print(f"\ntarn / DataFusion = {tot['tarn'] / tot['DataFusion']:.2f}x (target <= 1.1x); "
          f"tarn / DuckDB = {tot['tarn'] / tot['DuckDB']:.2f}x (target <= 1.5x)")
else:
    print("\nnot every engine ran all 22 queries alike: totals are not comparable")
