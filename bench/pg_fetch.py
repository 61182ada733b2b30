#!/usr/bin/env python3
"""SELECT * of a whole table into Python: tarn over its PostgreSQL wire (psycopg 3 text and
binary, psycopg2 text) beside DuckDB's Python API on the same Parquet file, in one process.

usage: pg_fetch.py --parquet FILE --pg HOST:PORT --key ID --secret SECRET --table T
                   [--runs 3] [--server-pid PID]

Every path ends the same way: fetchall() into a list of tuples of the same Python types (int,
float, Decimal, str, date, datetime); the first run of each is checked against DuckDB's rows
(an order-free fingerprint). Engines are interleaved per run; the best time counts.
Prints a Markdown table.
"""
import argparse
import gc
import os
import time

import duckdb
import psycopg

import pg_data

try:
    import psycopg2
except ImportError:  # optional
    psycopg2 = None

p = argparse.ArgumentParser()
p.add_argument("--parquet", required=True)
p.add_argument("--pg", required=True)
p.add_argument("--key", required=True)
p.add_argument("--secret", required=True)
p.add_argument("--table", required=True)
p.add_argument("--runs", type=int, default=3)
p.add_argument("--server-pid", type=int)
args = p.parse_args()

host, port = args.pg.rsplit(":", 1)
login = dict(host=host, port=int(port), user=args.key, password=args.secret, dbname="default", sslmode="disable")
SQL = f"SELECT * FROM {args.table}"


def server_cpu():
    return pg_data.server_cpu(args.server_pid)


duck = duckdb.connect()
pg3 = psycopg.connect(**login, autocommit=True)
pg2 = None
if psycopg2 is not None:
    pg2 = psycopg2.connect(**login)
    pg2.autocommit = True


# each returns (rows, seconds until the result is in the client, seconds converting it);
# for DuckDB the split is not defined (the relation runs as fetchall pulls), so all of it is
# the second part
def run_duck():
    t = time.perf_counter()
    rows = duck.sql(f"SELECT * FROM read_parquet('{args.parquet}')").fetchall()
    return rows, None, time.perf_counter() - t


def run_pg3(binary):
    def run():
        with pg3.cursor() as cur:
            t = time.perf_counter()
            # libpq keeps the whole result before execute returns; fetchall converts it
            cur.execute(SQL, binary=binary)
            t1 = time.perf_counter()
            rows = cur.fetchall()
            return rows, t1 - t, time.perf_counter() - t1
    return run


def run_pg2():
    with pg2.cursor() as cur:
        t = time.perf_counter()
        cur.execute(SQL)
        t1 = time.perf_counter()
        rows = cur.fetchall()
        return rows, t1 - t, time.perf_counter() - t1


def fingerprint(rows):
    return len(rows), sum(hash(r) for r in rows) & 0xFFFFFFFFFFFFFFFF


engines = [
    ("DuckDB (Python API, local file)", "-", run_duck),
    (f"tarn, psycopg {psycopg.__version__}", "text", run_pg3(False)),
    (f"tarn, psycopg {psycopg.__version__}", "binary", run_pg3(True)),
]
if pg2 is not None:
    engines.append((f"tarn, psycopg2 {psycopg2.__version__.split()[0]}", "text", run_pg2))

best = {}  # index -> (total, execute, fetch, client cpu, server cpu)
checks = {}
for run in range(args.runs):
    for i, (name, fmt, fn) in enumerate(engines):
        gc.collect()
        c0, s0 = time.process_time(), server_cpu()
        rows, execute, fetch = fn()
        c1, s1 = time.process_time(), server_cpu()
        total = (execute or 0) + fetch
        if i not in best or total < best[i][0]:
            best[i] = (total, execute, fetch, c1 - c0, s1 - s0)
        if run == 0:
            checks[i] = fingerprint(rows)
            if i == 0:
                sample = rows[0]
        del rows

n, _ = checks[0]
duck_total = best[0][0]
print(f"DuckDB {duckdb.__version__}; `{SQL}` ({n:,} rows), best of {args.runs}, engines interleaved per run\n")
print("| client | format | execute s | fetchall s | total s | rows/s | time / DuckDB | client CPU s | tarn CPU s | rows match DuckDB |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
for i, (name, fmt, _) in enumerate(engines):
    total, execute, fetch, ccpu, scpu = best[i]
    ex = "-" if execute is None else f"{execute:.3f}"
    sc = "-" if i == 0 or not args.server_pid else f"{scpu:.2f}"
    ok = "(baseline)" if i == 0 else ("yes" if checks[i] == checks[0] else f"**NO** ({checks[i][0]:,} rows)")
    print(f"| {name} | {fmt} | {ex} | {fetch:.3f} | {total:.3f} | {n / total:,.0f} | {total / duck_total:.2f}x "
          f"| {ccpu:.2f} | {sc} | {ok} |")
print(f"""
Every path fetches the whole result with fetchall() into a list of {n:,} tuples of the same Python
types ({", ".join(type(v).__name__ for v in sample)}); nothing streams or is discarded early.
psycopg 3: a client-side cursor, `cursor.execute(sql, binary=...)` then `fetchall()` (extended
protocol; libpq holds the whole result when execute returns, so "execute" is the query plus the
wire and "fetchall" the conversion into Python). psycopg2: simple-query protocol, text, the same
split. DuckDB: `duckdb.sql(...).fetchall()` on the local file, the whole time in one figure.
Client CPU is the Python process's (DuckDB's threads included), tarn CPU the server's, both
for the run shown; the machine has {os.cpu_count()} cores, shared by client and server.""")
if any(checks[i] != checks[0] for i in checks):
    raise SystemExit("FAILED: a client's rows differ from DuckDB's")
