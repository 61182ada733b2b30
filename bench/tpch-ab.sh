#!/usr/bin/env bash
# Two tarn builds side by side on TPC-H: how a change moves each query, in one run.
#
#   bench/tpch-ab.sh BIN_A BIN_B [RUNS]
#
# Starts both binaries (each on its own temp data dir and ports), loads the same Parquet files
# into each, registers the tables, then runs the 22 queries against both, A and B interleaved
# (alternating which goes first), and prints each query's best of RUNS (default 3) and B/A.
# Run bench/tpch.sh once first: it generates target/tpch-sf$TPCH_SF and the Python venv.
# B_ENV="NAME=value ..." sets environment variables for B only (A/B of a setting on one binary).
set -euo pipefail
[[ $# -ge 2 ]] || { sed -n '2,10p' "$0" >&2; exit 2; }
A=$(realpath "$1"); B=$(realpath "$2"); RUNS=${3:-3}
SF=${TPCH_SF:-1}
DATA=target/tpch-sf$SF
VENV=target/bench-venv
[[ -f Cargo.toml && -f $DATA/lineitem/part-0.parquet && -x $VENV/bin/python ]] \
  || { echo "run from the repo root after bench/tpch.sh" >&2; exit 2; }
export AWS_ACCESS_KEY_ID=benchaccesskey AWS_SECRET_ACCESS_KEY=benchsecretkey0123456789
export AWS_DEFAULT_REGION=us-east-1 TARN_ROOT_ACCESS_KEY_ID=benchaccesskey TARN_ROOT_SECRET_ACCESS_KEY=benchsecretkey0123456789

WORK=$(mktemp -d target/bench-ab-XXXX)
PA=$((20000 + RANDOM % 10000)); PB=$((PA + 10))
"$A" serve --data-dir "$WORK/a" --listen 127.0.0.1:$PA --pg-listen 127.0.0.1:$((PA + 1)) > "$WORK/a.log" 2>&1 &
PIDA=$!
# shellcheck disable=SC2086
env ${B_ENV:-} "$B" serve --data-dir "$WORK/b" --listen 127.0.0.1:$PB --pg-listen 127.0.0.1:$((PB + 1)) > "$WORK/b.log" 2>&1 &
PIDB=$!
trap 'kill $PIDA $PIDB 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
DDL=$(sed -n '/^TABLES = {/,/^}/p' crates/server/tests/py/tpch_athena.py)
for P in $PA $PB; do
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$P/_tarn/health >/dev/null && break; sleep 0.1; done
  AWS_ENDPOINT_URL=http://127.0.0.1:$P $VENV/bin/python - "$DATA" <<'PY'
import sys, boto3
s3 = boto3.client("s3"); s3.create_bucket(Bucket="tpch")
for t in ["nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem"]:
    s3.upload_file(f"{sys.argv[1]}/{t}/part-0.parquet", "tpch", f"{t}/part-0.parquet")
PY
  $VENV/bin/python - $((P + 1)) <<PY
import psycopg, sys
$DDL
c = psycopg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="benchaccesskey",
                    password="benchsecretkey0123456789", dbname="default", autocommit=True)
c.execute("CREATE DATABASE tpch")
for t, cols in TABLES.items():
    c.execute(f"CREATE EXTERNAL TABLE tpch.{t} ({cols}) STORED AS PARQUET LOCATION 's3://tpch/{t}/'")
PY
done
$VENV/bin/python - $((PA + 1)) $((PB + 1)) "$RUNS" <<'PY'
import psycopg, sys, time
ports, runs = (int(sys.argv[1]), int(sys.argv[2])), int(sys.argv[3])
cs = [psycopg.connect(host="127.0.0.1", port=p, user="benchaccesskey", password="benchsecretkey0123456789",
                      dbname="tpch", autocommit=True) for p in ports]
total = [0.0, 0.0]
for i in range(1, 23):
    sql = open(f"crates/server/tests/tpch/queries/q{i:02d}.sql").read().strip().rstrip(";")
    best = [float("inf")] * 2
    for r in range(runs):
        for k in ((0, 1) if r % 2 == 0 else (1, 0)):
            t = time.perf_counter()
            cs[k].execute(sql).fetchall()
            best[k] = min(best[k], time.perf_counter() - t)
    total = [total[0] + best[0], total[1] + best[1]]
    print(f"q{i:02d}  A {best[0]:.3f}  B {best[1]:.3f}  B/A {best[1] / best[0]:.2f}", flush=True)
print(f"total  A {total[0]:.2f}  B {total[1]:.2f}  B/A {total[1] / total[0]:.3f}")
PY
