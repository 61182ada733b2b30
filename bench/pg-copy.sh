#!/usr/bin/env bash
# COPY benchmark: Redshift's COPY of about COPY_BYTES (default 1 GiB) of CSV from tarn's S3 into a
# managed Parquet table over the PostgreSQL wire, in MB/s of CSV, beside DuckDB loading the same
# local CSV into a Parquet file, in one run.
# Run from the repo root: bench/pg-copy.sh   (see bench/README.md)
#
# Env knobs: COPY_BYTES, COPY_PARTS (CSV files the bytes are split into, default 1), COPY_RUNS
# (loads per engine, best counts; default 2), TARN_BIN (the server binary; default the release
# build), SKIP_BUILD=1 (no cargo build, for a TARN_BIN built elsewhere), BENCH_TMP (parent of the
# temp dir, default target/)
set -euo pipefail
BYTES=${COPY_BYTES:-1073741824}
PARTS=${COPY_PARTS:-1}
RUNS=${COPY_RUNS:-2}
VENV=target/bench-venv
OUT=target/bench-pg-copy.md
CSV=target/bench-pg-copy-csv-$BYTES-$PARTS
# mold links faster where it is installed; the build works without it
if [[ -z ${RUSTFLAGS:-} ]] && command -v mold >/dev/null; then export RUSTFLAGS="-C link-arg=-fuse-ld=mold"; fi
TARN=${TARN_BIN:-${CARGO_TARGET_DIR:-target}/release/tarn}
export AWS_ACCESS_KEY_ID=benchaccesskey AWS_SECRET_ACCESS_KEY=benchsecretkey0123456789
export AWS_DEFAULT_REGION=us-east-1 TARN_ROOT_ACCESS_KEY_ID=benchaccesskey TARN_ROOT_SECRET_ACCESS_KEY=benchsecretkey0123456789
[[ -f Cargo.toml && -d crates/bench ]] || { echo "run from the repo root" >&2; exit 2; }

[[ ${SKIP_BUILD:-} == 1 ]] || cargo build --release -p tarn-server -p tarn-bench
[[ -x $VENV/bin/python ]] || python3 -m venv $VENV
# DuckDB pinned as in bench/tpch.sh, so that runs compare
$VENV/bin/pip install --quiet --disable-pip-version-check duckdb==2.0.1 'psycopg[binary]' boto3
# the CSV, once per size and split (kept in target/; `rows` is written last)
[[ -f $CSV/rows ]] || { rm -rf "$CSV"; $VENV/bin/python bench/pg_data.py csv "$CSV" "$BYTES" "$PARTS"; }

WORK=$(mktemp -d "${BENCH_TMP:-target}/bench-pg-copy-XXXX")
PORT=$((20000 + RANDOM % 20000)); PG=$((PORT + 1))
"$TARN" serve --data-dir "$WORK/data" --listen 127.0.0.1:$PORT --pg-listen 127.0.0.1:$PG > "$WORK/tarn.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/_tarn/health >/dev/null && break; sleep 0.1; done
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT
# the upload's time is context for the table, not part of COPY's
UPLOAD=$($VENV/bin/python - "$CSV" <<'PY'
import glob, os, sys, time, boto3
s3 = boto3.client("s3"); s3.create_bucket(Bucket="bench")
t = time.perf_counter()
for f in sorted(glob.glob(f"{sys.argv[1]}/part-*.csv")):
    s3.upload_file(f, "bench", f"csv/{os.path.basename(f)}")
print(f"{time.perf_counter() - t:.3f}")
PY
)
{
  echo "# Redshift COPY of CSV through the PostgreSQL wire, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  echo
  echo "tarn: \`$TARN\`; the CSV is \`$CSV/\`, uploaded to \`s3://bench/csv/\`."
  echo
  $VENV/bin/python bench/pg_copy.py --csv "$CSV" --s3 s3://bench/csv/ --pg 127.0.0.1:$PG \
      --key "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" --work "$WORK" --runs "$RUNS" \
      --server-pid $PID --upload-seconds "$UPLOAD"
  echo
  echo "ERROR/WARN lines in the tarn log: $(grep -cE ' (ERROR|WARN) ' "$WORK/tarn.log" || true)"
} | tee "$OUT"
echo "written to $OUT"
