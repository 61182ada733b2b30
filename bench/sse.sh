#!/usr/bin/env bash
# Encryption and audit side by side (issue 18): 4 KiB and 64 MiB PUT/GET under SSE-S3 and
# SSE-KMS (the aws/s3 key, with and without a bucket key), with the audit trail off and on, in
# one run against one binary; every rate as a ratio of SSE-S3 with the trail off.
# Run from the repo root: bench/sse.sh   (see bench/README.md)
#
# Env knobs:
#   BENCH_SECONDS   seconds per 4 KiB measurement (default 6)
#   BENCH_CONNS     concurrent connections for 4 KiB (default 16)
#   BENCH_LARGE_REQ 64 MiB PUTs/GETs per configuration (default 4)
#   BENCH_PROFILE   release (default) or debug (the dev profile is optimised too: quicker to build)
#   BENCH_TMP       parent dir of the temp data dirs (default target/)
set -euo pipefail

SECS=${BENCH_SECONDS:-6}
CONNS=${BENCH_CONNS:-16}
LARGE_REQ=${BENCH_LARGE_REQ:-4}
PROFILE=${BENCH_PROFILE:-release}
OUT=target/bench-sse.md
if [[ -z ${RUSTFLAGS:-} ]] && command -v mold >/dev/null; then export RUSTFLAGS="-C link-arg=-fuse-ld=mold"; fi
BIN=${CARGO_TARGET_DIR:-target}/$PROFILE
export AWS_ACCESS_KEY_ID=benchaccesskey
export AWS_SECRET_ACCESS_KEY=benchsecretkey0123456789
export TARN_ROOT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID TARN_ROOT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY

[[ -f Cargo.toml && -d crates/bench ]] || { echo "run from the repo root" >&2; exit 2; }
log() { printf '\n==> %s\n' "$*" >&2; }

PID=""
WORK=""
cleanup() {
    [[ -n "$PID" ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    [[ -n "$WORK" && -d "$WORK" ]] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building tarn and tarn-bench ($PROFILE)"
if [[ $PROFILE == release ]]; then
    cargo build --release -p tarn-server -p tarn-bench
else
    cargo build -p tarn-server -p tarn-bench
fi
TARN=$BIN/tarn
BENCH=$BIN/tarn-bench
mkdir -p "${BENCH_TMP:-target}"
WORK=$(mktemp -d "${BENCH_TMP:-target}/bench-sse.XXXXXX")
PORT=47566
EP=http://127.0.0.1:$PORT

start() { # start <audit on|off>
    rm -rf "$WORK/data"
    "$TARN" serve --data-dir "$WORK/data" --listen 127.0.0.1:$PORT --pg-listen off \
        --audit-trail="$1" >"$WORK/tarn-$1.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do curl -sf "$EP/_tarn/health" >/dev/null && return; sleep 0.1; done
    echo "tarn did not start" >&2; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }

declare -A RATE
# run <label> <bucket> [--header ...]: 4 KiB and 64 MiB, PUT then GET
run() {
    local label=$1 bucket=$2; shift 2
    "$BENCH" mb --endpoint "$EP" --bucket "$bucket" >/dev/null
    local line
    line=$("$BENCH" put --endpoint "$EP" --bucket "$bucket" --size 4096 --conns "$CONNS" --seconds "$SECS" "$@" | tail -1)
    RATE[$label,put4k]=$(sed -E 's/.*rate=([0-9]+).*/\1/' <<<"$line"); echo "$label PUT 4KiB: $line" >&2
    line=$("$BENCH" get --endpoint "$EP" --bucket "$bucket" --size 4096 --conns "$CONNS" --seconds "$SECS" | tail -1)
    RATE[$label,get4k]=$(sed -E 's/.*rate=([0-9]+).*/\1/' <<<"$line"); echo "$label GET 4KiB: $line" >&2
    "$BENCH" mb --endpoint "$EP" --bucket "$bucket-l" >/dev/null
    line=$("$BENCH" put --endpoint "$EP" --bucket "$bucket-l" --size $((64 << 20)) --conns 1 --keys 1 \
        --requests "$LARGE_REQ" "$@" | tail -1)
    RATE[$label,put64m]=$(sed -E 's/.*throughput=([0-9.]+)MB.*/\1/' <<<"$line"); echo "$label PUT 64MiB: $line" >&2
    line=$("$BENCH" get --endpoint "$EP" --bucket "$bucket-l" --size $((64 << 20)) --conns 1 --keys 1 \
        --requests "$LARGE_REQ" | tail -1)
    RATE[$label,get64m]=$(sed -E 's/.*throughput=([0-9.]+)MB.*/\1/' <<<"$line"); echo "$label GET 64MiB: $line" >&2
}

KMS=(--header "x-amz-server-side-encryption:aws:kms")
KMSBK=(--header "x-amz-server-side-encryption:aws:kms" --header "x-amz-server-side-encryption-bucket-key-enabled:true")

log "audit trail off"
start false
run "SSE-S3" s3-off
run "SSE-KMS, bucket key" kmsbk-off "${KMSBK[@]}"
stop
log "audit trail on"
start true
run "SSE-S3 + trail" s3-on
run "SSE-KMS + trail" kms-on "${KMS[@]}"
run "SSE-KMS, bucket key + trail" kmsbk-on "${KMSBK[@]}"
stop

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
{
    echo "# Encryption and audit: rates against SSE-S3 without the trail ($(date -u +%F), $(nproc) cores)"
    echo
    echo "| configuration | PUT 4 KiB/s | ratio | GET 4 KiB/s | ratio | PUT 64 MiB MB/s | ratio | GET 64 MiB MB/s | ratio |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for label in "SSE-S3" "SSE-KMS, bucket key" "SSE-S3 + trail" "SSE-KMS + trail" "SSE-KMS, bucket key + trail"; do
        row="| $label"
        for m in put4k get4k put64m get64m; do
            row+=" | ${RATE[$label,$m]} | $(ratio "${RATE[$label,$m]}" "${RATE[SSE-S3,$m]}")"
        done
        echo "$row |"
    done
    echo
    echo "4 KiB: $CONNS connections, $SECS s each; 64 MiB: $LARGE_REQ requests on one connection."
} >"$OUT"
cat "$OUT"
