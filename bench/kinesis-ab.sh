#!/usr/bin/env bash
# Two tarn builds side by side on the Kinesis and Firehose request paths: how a change moves
# PutRecords, GetRecords and PutRecordBatch throughput, in one run.
#
#   bench/kinesis-ab.sh BIN_A BIN_B [ROUNDS]
#
# Each round starts A and B in turn (alternating which goes first) on a fresh temp data dir,
# creates a 4-shard stream, runs PutRecords (16 producers, 500 x 1 KiB) for BENCH_SECONDS
# (default 8), reads everything back with GetRecords, and sends BENCH_FIREHOSE_RECORDS (default
# 500,000) records of 200 bytes to a Firehose delivery stream by PutRecordBatch (8 producers,
# 500 a call). Prints every round, the
# medians and B/A. The load generator is tarn-bench ($BENCH, default
# ${CARGO_TARGET_DIR:-target}/release/tarn-bench); build it with
# `cargo build --release -p tarn-bench`.
set -euo pipefail
[[ $# -ge 2 ]] || { sed -n '2,13p' "$0" >&2; exit 2; }
A=$(realpath "$1"); B=$(realpath "$2"); ROUNDS=${3:-3}
SECS=${BENCH_SECONDS:-8}
FH_RECORDS=${BENCH_FIREHOSE_RECORDS:-500000}
BENCH=${BENCH:-${CARGO_TARGET_DIR:-target}/release/tarn-bench}
[[ -x $BENCH ]] || { echo "no tarn-bench at $BENCH" >&2; exit 2; }
export AWS_ACCESS_KEY_ID=benchaccesskey AWS_SECRET_ACCESS_KEY=benchsecretkey0123456789 AWS_DEFAULT_REGION=us-east-1
WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/bench-kinesis-ab-XXXX")
TPID=""
trap '[[ -n $TPID ]] && kill $TPID 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

field() { [[ $1 =~ (^|[[:space:]])$2=([0-9.]+) ]] && echo "${BASH_REMATCH[2]}" || echo 0; }

# run BIN LABEL -> "put get firehose" rates
run() {
    local bin=$1 dir=$WORK/data port=$((20000 + RANDOM % 20000))
    rm -rf "$dir"
    TARN_ROOT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID TARN_ROOT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY RUST_LOG=warn \
        "$bin" serve --data-dir "$dir" --listen 127.0.0.1:$port --pg-listen off --kinesis-enforce-limits=false \
        --kinesis-status-delay-ms 0 --firehose-status-delay-ms 0 >"$WORK/tarn.log" 2>&1 &
    TPID=$!
    for _ in $(seq 300); do curl -sf http://127.0.0.1:$port/_tarn/health >/dev/null && break; sleep 0.1; done
    local ep=http://127.0.0.1:$port
    "$BENCH" kinesis-create --endpoint "$ep" --stream s --shards 4 >/dev/null 2>&1
    local put get fh
    put=$("$BENCH" kinesis-put --endpoint "$ep" --stream s --producers 16 --batch 500 --size 1024 --seconds "$SECS" 2>/dev/null | grep '^KINESIS-' | tail -1)
    get=$("$BENCH" kinesis-get --endpoint "$ep" --stream s --seconds 120 2>/dev/null | grep '^KINESIS-' | tail -1)
    "$BENCH" mb --endpoint "$ep" --bucket bench-fh >/dev/null 2>&1
    "$BENCH" firehose-create --endpoint "$ep" --stream fh --bucket bench-fh >/dev/null 2>&1
    fh=$("$BENCH" firehose-put --endpoint "$ep" --stream fh --producers 8 --batch 500 --records "$FH_RECORDS" --size 200 2>/dev/null | grep -E '^FIREHOSE-PUT' | tail -1 || true)
    kill $TPID; wait $TPID 2>/dev/null || true; TPID=""
    echo "$(field "$put" rate) $(field "$get" rate) $(field "$fh" rate)"
}

declare -a PA GA FA PB GB FB
for r in $(seq "$ROUNDS"); do
    if (( r % 2 )); then order="A B"; else order="B A"; fi
    for which in $order; do
        if [[ $which == A ]]; then bin=$A; else bin=$B; fi
        read -r p g f < <(run "$bin")
        printf 'round %d %s: PutRecords %s rec/s, GetRecords %s rec/s, PutRecordBatch %s rec/s\n' "$r" "$which" "$p" "$g" "$f" >&2
        if [[ $which == A ]]; then PA+=("$p"); GA+=("$g"); FA+=("$f"); else PB+=("$p"); GB+=("$g"); FB+=("$f"); fi
    done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{ print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2 }'; }
row() { # label a-values... -- b-values...
    local label=$1 a b; shift
    a=$(median "${@:1:$ROUNDS}"); b=$(median "${@:$((ROUNDS + 1))}")
    awk -v l="$label" -v a="$a" -v b="$b" 'BEGIN{ printf "| %s | %.0f | %.0f | %s |\n", l, a, b, (a > 0 ? sprintf("%.2fx", b / a) : "n/a") }'
}
echo "| $ROUNDS rounds, median records/s | A | B | B/A |"
echo "|---|---:|---:|---:|"
row "PutRecords, 16 producers, 500 x 1 KiB" "${PA[@]}" "${PB[@]}"
row "GetRecords, 4 readers" "${GA[@]}" "${GB[@]}"
row "Firehose PutRecordBatch, 8 producers, 500 x 200 B" "${FA[@]}" "${FB[@]}"
