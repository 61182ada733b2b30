#!/usr/bin/env bash
# What authorization costs on the S3 GET path, counted in instructions rather than timed: the
# server runs under valgrind's callgrind, which counts every instruction it executes, the same
# count for the same binary and inputs whatever else the shared machine is doing. The setup is
# bench/iam.sh's (a user whose access comes from 10 attached managed policies with conditions,
# on a bucket whose policy has conditions); the count is zeroed, N GETs of 4 KiB are made as the
# account root, the count dumped, zeroed again, the same N GETs made as the user, dumped.
#
#   bench/iam-instructions.sh [N]      (default 2000)
#
# Prints instructions per GET for each and the user's extra as a share of the root's GET: the
# cost of deciding 10 conditional policies and a bucket policy per request.
# KEEP=DIR keeps the two dumps (root.callgrind, user.callgrind) for callgrind_annotate.
# Needs valgrind, release builds of tarn and tarn-bench, and python3 with boto3 (as bench/iam.sh).
set -euo pipefail
N=${1:-2000}
T=${CARGO_TARGET_DIR:-target}
TARN=${TARN:-$T/release/tarn}
BENCH=${BENCH:-$T/release/tarn-bench}
[[ -x $TARN && -x $BENCH ]] || { echo "build first: cargo build --release -p tarn-server -p tarn-bench" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
export AWS_ACCESS_KEY_ID=benchaccesskey AWS_SECRET_ACCESS_KEY=benchsecretkey0123456789 AWS_DEFAULT_REGION=us-east-1
WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/bench-iam-instr-XXXX")
TPID=""
trap '[[ -n $TPID ]] && kill $TPID 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
PY=$T/smoke-venv/bin/python
if ! "$PY" -c 'import boto3' 2>/dev/null; then
    python3 -m venv "$WORK/venv" && "$WORK/venv/bin/pip" -q install boto3 && PY=$WORK/venv/bin/python
fi

port=$((20000 + RANDOM % 20000))
TARN_ROOT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID TARN_ROOT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY RUST_LOG=warn \
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p" \
    "$TARN" serve --data-dir "$WORK/data" --listen 127.0.0.1:$port --pg-listen off >"$WORK/tarn.log" 2>&1 &
TPID=$!
for _ in $(seq 1200); do curl -sf http://127.0.0.1:$port/_tarn/health >/dev/null && break; sleep 0.1; done
curl -sf http://127.0.0.1:$port/_tarn/health >/dev/null || { cat "$WORK/tarn.log" >&2; exit 1; }
EP=http://127.0.0.1:$port
"$BENCH" mb --endpoint "$EP" --bucket bench >/dev/null

read -r UKEY USECRET < <(AWS_ENDPOINT_URL=$EP "$PY" "$(dirname "$0")/iam_setup.py")
# one connection: every key is written (with several, shares of --requests are uneven)
"$BENCH" put --endpoint "$EP" --bucket bench --conns 1 --requests 1000 --keys 1000 >/dev/null 2>&1

gets() { # KEY SECRET: N GETs (a warm-up of 200 first, not counted)
    "$BENCH" get --endpoint "$EP" --bucket bench --access-key "$1" --secret-key "$2" --conns 4 \
        --requests 200 --keys 1000 --seconds 600 >/dev/null 2>&1
    callgrind_control --zero "$TPID" >/dev/null
    local out
    out=$("$BENCH" get --endpoint "$EP" --bucket bench --access-key "$1" --secret-key "$2" --conns 4 \
        --requests "$N" --keys 1000 --seconds 600 2>/dev/null | tail -1)
    [[ $out =~ failed=0 ]] || { echo "refused or failed requests: $out" >&2; exit 1; }
    callgrind_control --dump "$TPID" >/dev/null
    # the newest dump's total instruction count
    local dump
    dump=$(ls -t "$WORK"/cg.* | head -1)
    awk '/^(summary|totals):/ {print $2; exit}' "$dump"
}
root=$(gets "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY")
[[ -n ${KEEP:-} ]] && cp "$(ls -t "$WORK"/cg.* | head -1)" "$KEEP/root.callgrind"
user=$(gets "$UKEY" "$USECRET")
# KEEP=DIR keeps both dumps for callgrind_annotate
[[ -n ${KEEP:-} ]] && cp "$(ls -t "$WORK"/cg.* | head -1)" "$KEEP/user.callgrind"
awk -v r="$root" -v u="$user" -v n="$N" 'BEGIN {
    printf "instructions per 4 KiB GET (%d GETs each, callgrind): root %.0f  user %.0f\n", n, r / n, u / n
    printf "authorization of the user beyond the root: %.0f instructions per GET, %.1f%% of the root'"'"'s GET\n", (u - r) / n, (u - r) * 100 / r
}'
