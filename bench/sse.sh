#!/usr/bin/env bash
# Encryption and audit side by side (issue 18): 4 KiB and 64 MiB PUT/GET under SSE-S3, SSE-KMS
# (the aws/s3 key, with and without a bucket key) and SSE-C (over HTTPS, as S3 requires; SSE-S3
# over HTTPS beside it shows what TLS itself costs), with the audit trail off and on (on: a
# logging trail with S3 data events delivering its files every 5 s), in one run against one
# binary; every rate as a ratio of SSE-S3 over HTTP with the trail off.
# Two servers run at once (trail off, trail on), measured one at a time; the configurations are
# measured in rounds, interleaved, and each figure is the median of its rounds, so the drift of a
# shared machine falls on every configuration alike.
# Run from the repo root: bench/sse.sh   (see bench/README.md)
#
# Env knobs:
#   BENCH_SECONDS   seconds per 4 KiB measurement (default 4)
#   BENCH_ROUNDS    rounds (default 3)
#   BENCH_CONNS     concurrent connections for 4 KiB (default 16)
#   BENCH_LARGE_REQ 64 MiB PUTs/GETs per configuration and round (default 2)
#   BENCH_PROFILE   release (default) or debug (the dev profile is optimised too: quicker to build)
#   BENCH_TMP       parent dir of the temp data dirs (default target/)
set -euo pipefail

SECS=${BENCH_SECONDS:-4}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-16}
LARGE_REQ=${BENCH_LARGE_REQ:-2}
PROFILE=${BENCH_PROFILE:-release}
OUT=target/bench-sse.md
if [[ -z ${RUSTFLAGS:-} ]] && command -v mold >/dev/null; then export RUSTFLAGS="-C link-arg=-fuse-ld=mold"; fi
BIN=${CARGO_TARGET_DIR:-target}/$PROFILE
export AWS_ACCESS_KEY_ID=benchaccesskey
export AWS_SECRET_ACCESS_KEY=benchsecretkey0123456789
export TARN_ROOT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID TARN_ROOT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY

[[ -f Cargo.toml && -d crates/bench ]] || { echo "run from the repo root" >&2; exit 2; }
log() { printf '\n==> %s\n' "$*" >&2; }

PIDS=()
WORK=""
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
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
OFF=http://127.0.0.1:47566
ON=http://127.0.0.1:47567
OFF_TLS=https://127.0.0.1:47568
ON_TLS=https://127.0.0.1:47569

start() { # start <port> <audit true|false> <https port>
    "$TARN" serve --data-dir "$WORK/data-$2" --listen "127.0.0.1:$1" --pg-listen off \
        --tls-listen "127.0.0.1:$3" --tls-self-signed --cloudtrail-delivery-secs 5 \
        --audit-trail="$2" >"$WORK/tarn-$2.log" 2>&1 &
    PIDS+=($!)
    local ep=http://127.0.0.1:$1
    for _ in $(seq 100); do curl -sf "$ep/_tarn/health" >/dev/null && break; sleep 0.1; done
    curl -sf "$ep/_tarn/health" >/dev/null || { echo "tarn did not start" >&2; exit 1; }
    # warm up (page cache, allocator, connections)
    "$BENCH" mb --endpoint "$ep" --bucket warmup >/dev/null
    "$BENCH" put --endpoint "$ep" --bucket warmup --size 4096 --conns "$CONNS" --seconds 2 >/dev/null
}
log "starting a server with the audit trail off and one with it on"
start 47566 false 47568
start 47567 true 47569
# the second server's trail logs every call, S3 objects' included, and delivers them
"$BENCH" mb --endpoint "$ON" --bucket trail-logs >/dev/null
"$BENCH" trail-create --endpoint "$ON" --bucket trail-logs >&2

KMS=(--header "x-amz-server-side-encryption:aws:kms")
KMSBK=(--header "x-amz-server-side-encryption:aws:kms" --header "x-amz-server-side-encryption-bucket-key-enabled:true")
# a customer key (32 bytes) and its MD5, both base64, on every PUT and GET
CKEY=$(head -c 32 /dev/urandom | base64)
CKEY_MD5=$(base64 -d <<<"$CKEY" | openssl md5 -binary | base64)
SSEC=(--header "x-amz-server-side-encryption-customer-algorithm:AES256"
      --header "x-amz-server-side-encryption-customer-key:$CKEY"
      --header "x-amz-server-side-encryption-customer-key-md5:$CKEY_MD5")
# label | endpoint | bucket | headers
CONFIGS=("SSE-S3|$OFF|s3|" "SSE-KMS|$OFF|kms|kms" "SSE-KMS, bucket key|$OFF|kmsbk|kmsbk"
         "SSE-S3 over HTTPS|$OFF_TLS|s3tls|" "SSE-C (HTTPS)|$OFF_TLS|ssec|ssec"
         "SSE-S3 + trail|$ON|s3|" "SSE-KMS + trail|$ON|kms|kms" "SSE-KMS, bucket key + trail|$ON|kmsbk|kmsbk"
         "SSE-C (HTTPS) + trail|$ON_TLS|ssec|ssec")
ca_of() { # the self-signed certificate an https endpoint is trusted by
    case $1 in
        "$OFF_TLS") echo --ca-file "$WORK/data-false/keys/tls-cert.pem" ;;
        "$ON_TLS") echo --ca-file "$WORK/data-true/keys/tls-cert.pem" ;;
    esac
}
for c in "${CONFIGS[@]}"; do
    IFS='|' read -r _ ep bucket _ <<<"$c"
    # shellcheck disable=SC2046
    "$BENCH" mb --endpoint "$ep" --bucket "$bucket-small" $(ca_of "$ep") >/dev/null
    # shellcheck disable=SC2046
    "$BENCH" mb --endpoint "$ep" --bucket "$bucket-large" $(ca_of "$ep") >/dev/null
done

declare -A SAMPLES
measure() { # measure <label> <metric> <field> cmd...
    local label=$1 metric=$2 field=$3; shift 3
    local line value
    line=$("$BENCH" "$@" | tail -1)
    value=$(sed -E "s/.*$field=([0-9.]+).*/\1/" <<<"$line")
    SAMPLES[$label,$metric]+="$value "
    echo "$label $metric: $line" >&2
}
for round in $(seq "$ROUNDS"); do
    log "round $round of $ROUNDS"
    for c in "${CONFIGS[@]}"; do
        IFS='|' read -r label ep bucket h <<<"$c"
        hdr=() get_hdr=()
        [[ $h == kms ]] && hdr=("${KMS[@]}")
        [[ $h == kmsbk ]] && hdr=("${KMSBK[@]}")
        # an SSE-C object is read with its key, too
        [[ $h == ssec ]] && hdr=("${SSEC[@]}") get_hdr=("${SSEC[@]}")
        read -r -a ca <<<"$(ca_of "$ep")"
        measure "$label" put4k rate put --endpoint "$ep" --bucket "$bucket-small" --size 4096 --conns "$CONNS" --seconds "$SECS" "${ca[@]}" "${hdr[@]}"
        measure "$label" get4k rate get --endpoint "$ep" --bucket "$bucket-small" --size 4096 --conns "$CONNS" --seconds "$SECS" "${ca[@]}" "${get_hdr[@]}"
        measure "$label" put64m throughput put --endpoint "$ep" --bucket "$bucket-large" --size $((64 << 20)) --conns 1 --keys 1 --requests "$LARGE_REQ" "${ca[@]}" "${hdr[@]}"
        measure "$label" get64m throughput get --endpoint "$ep" --bucket "$bucket-large" --size $((64 << 20)) --conns 1 --keys 1 --requests "$LARGE_REQ" "${ca[@]}" "${get_hdr[@]}"
    done
done

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
declare -A MED
for c in "${CONFIGS[@]}"; do
    IFS='|' read -r label _ _ _ <<<"$c"
    for m in put4k get4k put64m get64m; do MED[$label,$m]=$(median "${SAMPLES[$label,$m]}"); done
done
{
    echo "# Encryption and audit: rates against SSE-S3 without the trail ($(date -u +%F), $(nproc) cores, $PROFILE)"
    echo
    echo "| configuration | PUT 4 KiB/s | ratio | GET 4 KiB/s | ratio | PUT 64 MiB MB/s | ratio | GET 64 MiB MB/s | ratio |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for c in "${CONFIGS[@]}"; do
        IFS='|' read -r label _ _ _ <<<"$c"
        row="| $label"
        for m in put4k get4k put64m get64m; do
            row+=" | ${MED[$label,$m]} | $(ratio "${MED[$label,$m]}" "${MED[SSE-S3,$m]}")"
        done
        echo "$row |"
    done
    echo
    echo "Medians of $ROUNDS interleaved rounds. 4 KiB: $CONNS connections, $SECS s each; 64 MiB: $LARGE_REQ requests on one connection."
    echo "The trail-on server logs every call to a trail with S3 data events, delivering gzip files every 5 s."
} >"$OUT"
cat "$OUT"
