#!/usr/bin/env bash
# TPC-H benchmark: tarn (release build, data in its own bucket, SQL over its PostgreSQL wire)
# beside DuckDB and DataFusion (Python) on the same Parquet files, in one run.
# Run from the repo root: bench/tpch.sh   (see bench/README.md)
#
# Env knobs: TPCH_SF (default 1), TPCH_RUNS (runs per query and engine, best counts; default 2)
set -euo pipefail
SF=${TPCH_SF:-1}
RUNS=${TPCH_RUNS:-2}
DATA=target/tpch-sf$SF
VENV=target/bench-venv
OUT=target/bench-tpch.md
# mold links faster where it is installed; the build works without it
if [[ -z ${RUSTFLAGS:-} ]] && command -v mold >/dev/null; then export RUSTFLAGS="-C link-arg=-fuse-ld=mold"; fi
export AWS_ACCESS_KEY_ID=benchaccesskey AWS_SECRET_ACCESS_KEY=benchsecretkey0123456789
export AWS_DEFAULT_REGION=us-east-1 TARN_ROOT_ACCESS_KEY_ID=benchaccesskey TARN_ROOT_SECRET_ACCESS_KEY=benchsecretkey0123456789
[[ -f Cargo.toml && -d crates/bench ]] || { echo "run from the repo root" >&2; exit 2; }

cargo build --release -p tarn-server -p tarn-bench
[[ -x $VENV/bin/python ]] || python3 -m venv $VENV
# the engines' versions are pinned so that runs compare (DataFusion-Python 55 is the DataFusion tarn embeds)
$VENV/bin/pip install --quiet --disable-pip-version-check duckdb==2.0.1 datafusion==55.0.0 'psycopg[binary]' boto3
BIN=${CARGO_TARGET_DIR:-target}/release
[[ -f $DATA/lineitem/part-0.parquet ]] || $BIN/tarn-bench tpch-gen --sf "$SF" --out "$DATA"

WORK=$(mktemp -d target/bench-tpch-XXXX)
PORT=$((20000 + RANDOM % 20000)); PG=$((PORT + 1))
$BIN/tarn serve --data-dir "$WORK/data" --listen 127.0.0.1:$PORT --pg-listen 127.0.0.1:$PG > "$WORK/tarn.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/_tarn/health >/dev/null && break; sleep 0.1; done
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT
$VENV/bin/python - "$DATA" <<'PY'
import sys, boto3
s3 = boto3.client("s3"); s3.create_bucket(Bucket="tpch")
for t in ["nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem"]:
    s3.upload_file(f"{sys.argv[1]}/{t}/part-0.parquet", "tpch", f"{t}/part-0.parquet")
PY
DDL=$(sed -n '/^TABLES = {/,/^}/p' crates/server/tests/py/tpch_athena.py)
$VENV/bin/python - $PG <<PY
import psycopg, sys
$DDL
c = psycopg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="benchaccesskey", password="benchsecretkey0123456789", dbname="default", autocommit=True)
c.execute("CREATE DATABASE tpch")
for t, cols in TABLES.items():
    c.execute(f"CREATE EXTERNAL TABLE tpch.{t} ({cols}) STORED AS PARQUET LOCATION 's3://tpch/{t}/'")
PY
{
  echo "# TPC-H SF$SF, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  echo
  $VENV/bin/python bench/tpch.py --data "$DATA" --queries crates/server/tests/tpch/queries \
      --pg 127.0.0.1:$PG --key "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" --runs "$RUNS"
} | tee "$OUT"
echo "written to $OUT"
