#!/usr/bin/env bash
# Kinesis Data Streams benchmark: PutRecords / GetRecords throughput of tarn (limits off) beside
# the disk's own fsync rate, all in one run.
# Run from the repo root: bench/kinesis.sh   (see bench/README.md)
#
# Env knobs:
#   BENCH_SECONDS      seconds per PutRecords measurement and for the disk baseline (default 8)
#   BENCH_SHARDS       shards of the stream (default 4)
#   BENCH_GET_SECONDS  cap on the GetRecords read-back (default 120; it normally ends when caught up)
#   BENCH_DISK_MB      MiB written for the disk's sequential figure (default 256)
#   BENCH_TMP          parent dir of the temp data dir (default target/; must be the filesystem you care about)
set -euo pipefail

SECS=${BENCH_SECONDS:-8}
SHARDS=${BENCH_SHARDS:-4}
GET_SECS=${BENCH_GET_SECONDS:-120}
DISK_MB=${BENCH_DISK_MB:-256}
STREAM=bench
OUT=target/bench-kinesis.md
LOGS=target/bench-kinesis-logs
TARGET_IN=50000
TARGET_OUT=200000
# mold links faster where it is installed; the build works without it
if [[ -z ${RUSTFLAGS:-} ]] && command -v mold >/dev/null; then export RUSTFLAGS="-C link-arg=-fuse-ld=mold"; fi
BIN=${CARGO_TARGET_DIR:-target}/release
export AWS_ACCESS_KEY_ID=benchaccesskey
export AWS_SECRET_ACCESS_KEY=benchsecretkey0123456789
START_TS=$(date +%s)

[[ -f Cargo.toml && -d crates/bench ]] || { echo "run from the repo root" >&2; exit 2; }
log() { printf '\n==> %s\n' "$*" >&2; }

# ---------------------------------------------------------------- cleanup
TPID=""
WORK=""
cleanup() {
    if [[ -n $TPID ]]; then
        kill "$TPID" 2>/dev/null || true
        wait "$TPID" 2>/dev/null || true
    fi
    [[ -n "$WORK" && -d "$WORK" ]] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- 1. build
log "building tarn and tarn-bench (release)"
cargo build --release -p tarn-server -p tarn-bench
TARN=$BIN/tarn
BENCH=$BIN/tarn-bench

# ---------------------------------------------------------------- helpers
mkdir -p target "$LOGS"
WORK=$(mktemp -d "${BENCH_TMP:-$PWD/target}/bench-kinesis.XXXXXX")

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null && return
    local p
    while :; do
        p=$((20000 + RANDOM % 20000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

# wait_port PORT PID LOGFILE
wait_port() {
    local i
    for i in $(seq 1 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        if ! kill -0 "$2" 2>/dev/null; then
            echo "tarn exited during startup; log tail:" >&2
            tail -20 "$3" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "tarn did not open port $1 in 30 s" >&2
    return 1
}

declare -A R      # R[key]=result line
RAW=()
# measure KEY cmd...   runs one tarn-bench command; keeps its result line (stdout) and its notes (stderr)
measure() {
    local key=$1 line out=$WORK/out err=$LOGS/$1.stderr
    shift
    "$BENCH" "$@" >"$out" 2>"$err" || true
    line=$(grep -E '^(KINESIS-|DISK )' "$out" | tail -1 || true)
    [[ -n "$line" ]] || line="(no result: $(tail -c 300 "$err" | tr '\n' ' '))"
    R[$key]=$line
    RAW+=("$key: $line")
    while IFS= read -r l; do RAW+=("$key: $l"); done <"$err"
    printf '   %-8s %s\n' "$key" "$line" >&2
    [[ -s $err ]] && sed 's/^/            /' "$err" >&2
    return 0
}
# field KEY NAME   -> number from "NAME=123.4..." in the result line, or empty
field() {
    local line=${R[$1]:-}
    [[ $line =~ (^|[[:space:]])$2=([0-9.]+) ]] && echo "${BASH_REMATCH[2]}" || true
}
num() { [[ -n $1 ]] && awk -v x="$1" 'BEGIN{ if (x >= 100) printf "%.0f", x; else printf "%.1f", x }' || echo "n/a"; }
ratio() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.0fx", a / b; else print "n/a" }' || echo "n/a"; }
ge() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN{ exit !(a >= b) }'; }
verdict() { # value target
    if [[ -z $1 ]]; then echo "n/a"; elif ge "$1" "$2"; then echo "**met**"; else echo "**NOT met**"; fi
}

# ---------------------------------------------------------------- 2. disk baseline
log "disk baseline in $WORK ($(df -P "$WORK" | awk 'NR==2{print $1" on "$6}'))"
measure disk disk --dir "$WORK/disk" --seconds "$SECS" --bytes $((DISK_MB * 1024 * 1024))
rm -rf "$WORK/disk"

# ---------------------------------------------------------------- 3. tarn
PORT=$(free_port)
EP=http://127.0.0.1:$PORT
TARN_LOG=$LOGS/tarn.log
log "tarn on $EP (--kinesis-enforce-limits=false), log $TARN_LOG"
RUST_LOG=warn TARN_ROOT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID TARN_ROOT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
    "$TARN" serve --data-dir "$WORK/tarn" --listen "127.0.0.1:$PORT" --kinesis-enforce-limits=false >"$TARN_LOG" 2>&1 &
TPID=$!
wait_port "$PORT" "$TPID" "$TARN_LOG"

measure create kinesis-create --endpoint "$EP" --stream "$STREAM" --shards "$SHARDS"
common=(--endpoint "$EP" --stream "$STREAM" --batch 500 --size 1024 --seconds "$SECS")
log "PutRecords, 500 x 1 KiB per call, ${SECS}s each"
measure put1 kinesis-put "${common[@]}" --producers 1
measure put16 kinesis-put "${common[@]}" --producers 16
log "GetRecords from TRIM_HORIZON, one reader per shard, until caught up"
measure get kinesis-get --endpoint "$EP" --stream "$STREAM" --seconds "$GET_SECS"
ALIVE=yes
kill -0 "$TPID" 2>/dev/null || ALIVE=no

# ---------------------------------------------------------------- 4. report
FSYNC=$(field disk fsync_4k_writes)
SEQ=$(field disk sequential_write)
PUT1=$(field put1 rate)
PUT16=$(field put16 rate)
GET=$(field get rate)
WRITTEN=$(awk -v a="$(field put1 records)" -v b="$(field put16 records)" 'BEGIN{ print a + b }')
READ=$(field get records)
FAILED=$(awk -v a="$(field put1 failed)" -v b="$(field put16 failed)" 'BEGIN{ print a + b }')
LOG_ISSUES=$(grep -ciE ' (ERROR|WARN) |panicked' "$TARN_LOG" || true)

row() { # label key target verdict per-fsync?
    local r=$(field "$2" rate) f
    f=$(field "$2" failed)
    local failed_cell=${f:-"-"}
    [[ $2 == get ]] && failed_cell="$(field get errors) call errors"
    printf '| %s | %s | %s | %s / %s | %s | %s | %s | %s |\n' "$1" "$(num "$r")" "$(num "$(field "$2" throughput)")" \
        "$(num "$(field "$2" p50)")" "$(num "$(field "$2" p99)")" "$failed_cell" \
        "$([[ $5 == yes ]] && ratio "$r" "$FSYNC" || echo "-")" "$3" "$4"
}

ELAPSED=$(($(date +%s) - START_TS))
{
    echo "# tarn Kinesis benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${SECS}s per PutRecords run, $SHARDS shards, limits off)"
    echo
    echo "Baseline, same run and filesystem: disk **$(num "$FSYNC") fsync'd 4 KiB writes/s**, $(num "$SEQ") MB/s sequential write."
    echo
    echo "| measurement | records/s | MB/s | p50 / p99 per call (ms) | failed records | records/s per disk fsync/s | target | |"
    echo "|---|---:|---:|---:|---:|---:|---|---|"
    row "PutRecords, 1 producer, 500 x 1 KiB" put1 "" "" yes
    row "PutRecords, 16 producers, 500 x 1 KiB" put16 ">= 50,000 records/s in" "$(verdict "$PUT16" "$TARGET_IN")" yes
    row "GetRecords, $SHARDS readers (1 per shard), Limit 10000" get ">= 200,000 records/s out" "$(verdict "$GET" "$TARGET_OUT")" no
    echo
    if [[ -n $READ && $READ == "$WRITTEN" ]]; then
        echo "Read back **$READ** records from TRIM_HORIZON = the $WRITTEN acknowledged by PutRecords."
    else
        echo "**Read back ${READ:-n/a} records but PutRecords acknowledged $WRITTEN.**"
    fi
    echo "Failed records (FailedRecordCount + records of failed calls): $FAILED. tarn still running at the end: $ALIVE."
    echo "tarn log: $LOG_ISSUES ERROR/WARN/panic lines ($TARN_LOG)."
    echo
    echo "Raw tarn-bench lines:"
    echo
    echo '```'
    printf '%s\n' "${RAW[@]}"
    echo '```'
    echo
    echo "Total run time: ${ELAPSED}s. The load generator shares the cores with tarn."
} | tee "$OUT"

if [[ $LOG_ISSUES != 0 || $ALIVE != yes || $FAILED != 0 || $READ != "$WRITTEN" ]]; then
    echo >&2
    echo "WARNING: failed records, a lost read-back, a dead server or log errors; tarn log tail ($TARN_LOG):" >&2
    tail -20 "$TARN_LOG" >&2
fi
