#!/usr/bin/env python3
"""Rows for bench/pg-fetch.sh and bench/pg-copy.sh, made by DuckDB from range(): the same row i
every time, so cached files compare across runs.

usage: pg_data.py parquet OUT ROWS        one Parquet file of ROWS rows (DuckDB's defaults: snappy,
                                          row groups of 122,880 rows)
       pg_data.py csv DIR BYTES PARTS     about BYTES of headerless CSV as DIR/part-000.csv ...,
                                          PARTS files of consecutive ids; writes DIR/rows last

Columns: id bigint, price double, amount decimal(12,2), name varchar (15-20 chars), day date,
ts timestamp; a CSV row is about 75 bytes.
"""
import os
import sys

import duckdb

# tarn's DDL for the same columns: Athena's names for CREATE EXTERNAL TABLE, PostgreSQL's for
# the managed CREATE TABLE that Redshift's COPY loads into
EXTERNAL_COLUMNS = "id bigint, price double, amount decimal(12,2), name varchar, day date, ts timestamp"
PG_COLUMNS = "id bigint, price double precision, amount numeric(12,2), name varchar(64), day date, ts timestamp"
DUCK_COLUMNS = {"id": "BIGINT", "price": "DOUBLE", "amount": "DECIMAL(12,2)", "name": "VARCHAR",
                "day": "DATE", "ts": "TIMESTAMP"}


def select(lo, hi):
    return f"""SELECT i::BIGINT AS id, (i * 0.37)::DOUBLE AS price,
        ((i % 10000000) / 100)::DECIMAL(12,2) AS amount,
        'item-' || (i * 7919 % 100003)::VARCHAR || '-' || substr(md5(i::VARCHAR), 1, 8) AS name,
        DATE '2020-01-01' + (i % 3000)::INTEGER AS day,
        TIMESTAMP '2020-01-01' + to_seconds(i * 37) AS ts
      FROM range({lo}, {hi}) r(i)"""


def parquet(out, rows):
    tmp = out + ".tmp"
    duckdb.sql(f"COPY ({select(0, rows)}) TO '{tmp}' (FORMAT parquet)")
    os.replace(tmp, out)


def csv_bytes_per_row(lo, n=100_000):
    # one CSV line's length, averaged over n rows from lo: the line grows with the id's digits
    cols = " || ',' || ".join(f"{c}::VARCHAR" for c in DUCK_COLUMNS)
    (avg,) = duckdb.execute(f"SELECT avg(length({cols}) + 1) FROM ({select(lo, lo + n)})").fetchall()[0]
    return avg


def csv(out_dir, size, parts):
    os.makedirs(out_dir, exist_ok=True)
    rows = int(size / csv_bytes_per_row(0))
    rows = int(size / csv_bytes_per_row(rows // 2))  # the middle of the range is the average
    step = -(-rows // parts)
    for k in range(parts):
        lo, hi = k * step, min(rows, (k + 1) * step)
        duckdb.sql(f"COPY ({select(lo, hi)}) TO '{out_dir}/part-{k:03d}.csv' (FORMAT csv, HEADER false)")
    with open(f"{out_dir}/rows", "w") as f:  # last: a directory without it is an interrupted run
        f.write(f"{rows}\n")


def server_cpu(pid):
    """User + system CPU seconds of process `pid` so far (0 when no pid was given)."""
    if not pid:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    if sys.argv[1] == "parquet":
        parquet(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "csv":
        csv(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)
