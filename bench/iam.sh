#!/usr/bin/env bash
# What authorization costs on the S3 hot path: 4 KiB PUT and GET rates of the account root
# (nothing to evaluate) beside an IAM user whose access comes from 10 attached managed policies
# with conditions, on a bucket that has a policy, all against one server in one run.
#
#   bench/iam.sh [ROUNDS]
#
# Needs release builds of tarn and tarn-bench (`cargo build --release -p tarn-server -p
# tarn-bench`) and python3 with boto3 (the tests' venv under the target dir is used when present,
# else a venv is made in the run's temp dir). Each round measures root then the user, or the user
# then root (alternating), BENCH_SECONDS (default 8) each, BENCH_CONNS (default 16) connections,
# and reads the server's CPU time around each run (/proc/PID/stat): CPU per request excludes the
# load generator and whatever else the shared machine runs.
set -euo pipefail
ROUNDS=${1:-3}
SECS=${BENCH_SECONDS:-8}
CONNS=${BENCH_CONNS:-16}
T=${CARGO_TARGET_DIR:-target}
TARN=${TARN:-$T/release/tarn}
BENCH=${BENCH:-$T/release/tarn-bench}
[[ -x $TARN && -x $BENCH ]] || { echo "build first: cargo build --release -p tarn-server -p tarn-bench" >&2; exit 2; }
export AWS_ACCESS_KEY_ID=benchaccesskey AWS_SECRET_ACCESS_KEY=benchsecretkey0123456789 AWS_DEFAULT_REGION=us-east-1
WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/bench-iam-XXXX")
TPID=""
trap '[[ -n $TPID ]] && kill $TPID 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
PY=$T/smoke-venv/bin/python
if ! "$PY" -c 'import boto3' 2>/dev/null; then
    python3 -m venv "$WORK/venv" && "$WORK/venv/bin/pip" -q install boto3 && PY=$WORK/venv/bin/python
fi

port=$((20000 + RANDOM % 20000))
TARN_ROOT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID TARN_ROOT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY RUST_LOG=warn \
    "$TARN" serve --data-dir "$WORK/data" --listen 127.0.0.1:$port --pg-listen off >"$WORK/tarn.log" 2>&1 &
TPID=$!
for _ in $(seq 300); do curl -sf http://127.0.0.1:$port/_tarn/health >/dev/null && break; sleep 0.1; done
EP=http://127.0.0.1:$port
"$BENCH" mb --endpoint "$EP" --bucket bench >/dev/null

# the user: 10 managed policies, each with conditions (one of them grants), and a bucket policy
read -r UKEY USECRET < <(AWS_ENDPOINT_URL=$EP "$PY" "$(dirname "$0")/iam_setup.py")

field() { [[ $1 =~ (^|[[:space:]])$2=([0-9.]+) ]] && echo "${BASH_REMATCH[2]}" || echo 0; }
# the server's CPU time so far (user + system), in clock ticks
ticks() { awk '{print $14 + $15}' "/proc/$TPID/stat"; }
TCK=$(getconf CLK_TCK)
rate() { # OP KEY SECRET -> "requests/s server-CPU-microseconds-per-request"
    local out t0 t1 n
    t0=$(ticks)
    out=$("$BENCH" "$1" --endpoint "$EP" --bucket bench --access-key "$2" --secret-key "$3" --conns "$CONNS" \
        --seconds "$SECS" --size 4096 --keys 1000 2>/dev/null | tail -1)
    t1=$(ticks)
    [[ $(field "$out" failed) == 0 ]] || { echo "refused or failed requests: $out" >&2; exit 1; }
    n=$(field "$out" requests)
    echo "$(field "$out" rate) $(awk -v d=$((t1 - t0)) -v n="$n" -v hz="$TCK" 'BEGIN{printf "%.2f", d * 1e6 / hz / n}')"
}
# the GETs need the objects: written once by each
"$BENCH" put --endpoint "$EP" --bucket bench --conns 8 --requests 1000 --keys 1000 >/dev/null 2>&1

declare -a RP RG UP UG CRP CRG CUP CUG
for r in $(seq "$ROUNDS"); do
    if (( r % 2 )); then order="root user"; else order="user root"; fi
    for who in $order; do
        if [[ $who == root ]]; then key=$AWS_ACCESS_KEY_ID; sec=$AWS_SECRET_ACCESS_KEY; else key=$UKEY; sec=$USECRET; fi
        read -r p pc < <(rate put "$key" "$sec"); read -r g gc < <(rate get "$key" "$sec")
        printf 'round %d %-4s: PUT %s/s (%s us CPU each) GET %s/s (%s us CPU each)\n' "$r" "$who" "$p" "$pc" "$g" "$gc" >&2
        if [[ $who == root ]]; then RP+=("$p"); RG+=("$g"); CRP+=("$pc"); CRG+=("$gc")
        else UP+=("$p"); UG+=("$g"); CUP+=("$pc"); CUG+=("$gc"); fi
    done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{ print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2 }'; }
mrp=$(median "${RP[@]}"); mrg=$(median "${RG[@]}"); mup=$(median "${UP[@]}"); mug=$(median "${UG[@]}")
# each round's user/root pair was measured back to back: the median of the paired ratios is
# the steadier figure on a shared machine (drift between rounds cancels within a pair)
paired() { local -n a=$1 b=$2; local out=() i; for i in "${!a[@]}"; do out+=("$(awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN{printf "%.4f", x/y}')"); done; median "${out[@]}"; }
echo "medians over $ROUNDS rounds, 4 KiB, $CONNS connections:"
echo "  PUT root $mrp/s  user $mup/s  user/root $(awk -v a="$mup" -v b="$mrp" 'BEGIN{printf "%.3f", a/b}')  paired $(paired UP RP)"
echo "  GET root $mrg/s  user $mug/s  user/root $(awk -v a="$mug" -v b="$mrg" 'BEGIN{printf "%.3f", a/b}')  paired $(paired UG RG)"
# the server's own CPU per request (the load generator and the rest of the machine excluded)
echo "server CPU per request, root/user (1.000: authorization costs nothing):"
echo "  PUT root $(median "${CRP[@]}") us  user $(median "${CUP[@]}") us  root/user paired $(paired CRP CUP)"
echo "  GET root $(median "${CRG[@]}") us  user $(median "${CUG[@]}") us  root/user paired $(paired CRG CUG)"
