#!/usr/bin/env bash
# Fetch benchmark: SELECT * of FETCH_ROWS (default 1,000,000) rows into Python through tarn's
# PostgreSQL wire (psycopg 3 text and binary, psycopg2 text) beside DuckDB's Python API reading
# the same Parquet file locally, in one run.
# Run from the repo root: bench/pg-fetch.sh   (see bench/README.md)
#
# Env knobs: FETCH_ROWS, FETCH_RUNS (runs per client, best counts; default 3), TARN_BIN (the
# server binary; default the release build), SKIP_BUILD=1 (no cargo build, for a TARN_BIN built
# elsewhere), BENCH_TMP (parent of the temp dir, default target/)
set -euo pipefail
ROWS=${FETCH_ROWS:-1000000}
RUNS=${FETCH_RUNS:-3}
VENV=target/bench-venv
OUT=target/bench-pg-fetch.md
DATA=target/bench-pg-fetch-$ROWS.parquet
# mold links faster where it is installed; the build works without it
if [[ -z ${RUSTFLAGS:-} ]] && command -v mold >/dev/null; then export RUSTFLAGS="-C link-arg=-fuse-ld=mold"; fi
TARN=${TARN_BIN:-${CARGO_TARGET_DIR:-target}/release/tarn}
export AWS_ACCESS_KEY_ID=benchaccesskey AWS_SECRET_ACCESS_KEY=benchsecretkey0123456789
export AWS_DEFAULT_REGION=us-east-1 TARN_ROOT_ACCESS_KEY_ID=benchaccesskey TARN_ROOT_SECRET_ACCESS_KEY=benchsecretkey0123456789
[[ -f Cargo.toml && -d crates/bench ]] || { echo "run from the repo root" >&2; exit 2; }

[[ ${SKIP_BUILD:-} == 1 ]] || cargo build --release -p tarn-server -p tarn-bench
[[ -x $VENV/bin/python ]] || python3 -m venv $VENV
# DuckDB pinned as in bench/tpch.sh, so that runs compare
$VENV/bin/pip install --quiet --disable-pip-version-check duckdb==2.0.1 'psycopg[binary]' psycopg2-binary boto3
# the Parquet file, once per row count (kept in target/)
[[ -f $DATA ]] || $VENV/bin/python bench/pg_data.py parquet "$DATA" "$ROWS"

WORK=$(mktemp -d "${BENCH_TMP:-target}/bench-pg-fetch-XXXX")
PORT=$((20000 + RANDOM % 20000)); PG=$((PORT + 1))
"$TARN" serve --data-dir "$WORK/data" --listen 127.0.0.1:$PORT --pg-listen 127.0.0.1:$PG > "$WORK/tarn.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/_tarn/health >/dev/null && break; sleep 0.1; done
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT
$VENV/bin/python - "$DATA" $PG <<'PY'
import sys, boto3, psycopg
sys.path.insert(0, "bench")
from pg_data import EXTERNAL_COLUMNS
s3 = boto3.client("s3"); s3.create_bucket(Bucket="bench")
s3.upload_file(sys.argv[1], "bench", "fetch/part-0.parquet")
c = psycopg.connect(host="127.0.0.1", port=int(sys.argv[2]), user="benchaccesskey", password="benchsecretkey0123456789",
                    dbname="default", sslmode="disable", autocommit=True)
c.execute(f"CREATE EXTERNAL TABLE fetch_t ({EXTERNAL_COLUMNS}) STORED AS PARQUET LOCATION 's3://bench/fetch/'")
PY
{
  echo "# Fetch through the PostgreSQL wire, $ROWS rows, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  echo
  echo "tarn: \`$TARN\`; the table is \`$DATA\` ($(du -h "$DATA" | cut -f1), DuckDB-written Parquet) uploaded to tarn's bucket."
  echo
  $VENV/bin/python bench/pg_fetch.py --parquet "$DATA" --pg 127.0.0.1:$PG --key "$AWS_ACCESS_KEY_ID" \
      --secret "$AWS_SECRET_ACCESS_KEY" --table fetch_t --runs "$RUNS" --server-pid $PID
  echo
  echo "ERROR/WARN lines in the tarn log: $(grep -cE ' (ERROR|WARN) ' "$WORK/tarn.log" || true)"
} | tee "$OUT"
echo "written to $OUT"
