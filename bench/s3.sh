#!/usr/bin/env bash
# Side-by-side S3 benchmark: tarn vs s3s-fs vs nginx vs the disk itself, all in one run.
# Run from the repo root: bench/s3.sh   (see bench/README.md)
#
# Env knobs:
#   BENCH_SECONDS   seconds per timed measurement (default 8)
#   BENCH_KEYS      distinct 4 KiB keys (default 1000)
#   BENCH_LARGE_MB  size of the large object in MiB (default 1024)
#   BENCH_LARGE_REQ large PUTs/GETs per server (default 2)
#   BENCH_TMP       parent dir of the temp data dirs (default target/; must be the filesystem you care about)
set -euo pipefail

SECS=${BENCH_SECONDS:-8}
KEYS=${BENCH_KEYS:-1000}
LARGE_MB=${BENCH_LARGE_MB:-1024}
LARGE_REQ=${BENCH_LARGE_REQ:-2}
LARGE=$((LARGE_MB * 1024 * 1024))
TOOLS=target/bench-tools
OUT=target/bench-s3.md
LOGS=target/bench-s3-logs
# mold links faster where it is installed; the build works without it
if [[ -z ${RUSTFLAGS:-} ]] && command -v mold >/dev/null; then export RUSTFLAGS="-C link-arg=-fuse-ld=mold"; fi
BIN=${CARGO_TARGET_DIR:-target}/release
export AWS_ACCESS_KEY_ID=benchaccesskey
export AWS_SECRET_ACCESS_KEY=benchsecretkey0123456789
START_TS=$(date +%s)

[[ -f Cargo.toml && -d crates/bench ]] || { echo "run from the repo root" >&2; exit 2; }
log() { printf '\n==> %s\n' "$*" >&2; }

# ---------------------------------------------------------------- cleanup
PIDS=()
WORK=""
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    [[ -n "$WORK" && -d "$WORK" ]] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- 1. build
log "building tarn and tarn-bench (release)"
cargo build --release -p tarn-server -p tarn-bench
TARN=$BIN/tarn
BENCH=$BIN/tarn-bench

# ---------------------------------------------------------------- 2. s3s-fs
S3SFS=$TOOLS/bin/s3s-fs
if [[ ! -x $S3SFS ]]; then
    log "installing s3s-fs 0.14.1 into $TOOLS"
    cargo install s3s-fs --version 0.14.1 --features binary --locked --root "$TOOLS"
fi
S3SFS_SRC=$(find "${CARGO_HOME:-$HOME/.cargo}"/registry/src -maxdepth 2 -type d -name 's3s-fs-0.14.1' 2>/dev/null | head -1 || true)
if [[ -z "$S3SFS_SRC" ]]; then
    S3SFS_FSYNC="unknown (source not found in the cargo registry)"
elif grep -rqE 'sync_all|sync_data|fsync|fdatasync' "$S3SFS_SRC/src"; then
    S3SFS_FSYNC="yes: $(grep -rlE 'sync_all|sync_data|fsync|fdatasync' "$S3SFS_SRC/src" | xargs -n1 basename | tr '\n' ' ')calls sync"
else
    S3SFS_FSYNC="no: s3s-fs 0.14.1 never calls sync_all/sync_data/fsync (writes a temp file through a BufWriter, flush() to the page cache, rename); its PUTs are not durable"
fi
S3SFS_NODELAY="unknown"
if [[ -n "$S3SFS_SRC" ]]; then
    if grep -rq 'set_nodelay' "$S3SFS_SRC/src"; then S3SFS_NODELAY="sets TCP_NODELAY"; else
        S3SFS_NODELAY="does not set TCP_NODELAY on accepted sockets (Nagle + delayed ACK can add ~40 ms to small requests)"
    fi
fi

# ---------------------------------------------------------------- 3. nginx
if ! command -v nginx >/dev/null 2>&1; then
    log "installing nginx"
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO=sudo
    $SUDO apt-get install -y nginx || { $SUDO apt-get update && $SUDO apt-get install -y nginx; }
fi
NGINX=$(command -v nginx)

# ---------------------------------------------------------------- helpers
mkdir -p target "$LOGS"
WORK=$(mktemp -d "${BENCH_TMP:-$PWD/target}/bench-s3.XXXXXX")
chmod 755 "$WORK"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null && return
    local p
    while :; do
        p=$((20000 + RANDOM % 20000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

# wait_port PORT PID NAME LOGFILE
wait_port() {
    local i
    for i in $(seq 1 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        if ! kill -0 "$2" 2>/dev/null; then
            echo "$3 exited during startup; log tail:" >&2
            tail -20 "$4" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "$3 did not open port $1 in 30 s" >&2
    return 1
}

stop_server() {
    local pid=$1 keep=() p
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

declare -A R      # R[key]=full result line
RAW=()
# measure KEY cmd...   runs one tarn-bench measurement, stores its result line
measure() {
    local key=$1 line
    shift
    line=$("$BENCH" "$@" 2>&1 | tail -1) || true
    [[ -n "$line" ]] || line="(no output)"
    R[$key]=$line
    RAW+=("$key: $line")
    printf '   %-16s %s\n' "$key" "$line" >&2
}
# field KEY NAME   -> number from "NAME=123.4..." in the result line, or empty
field() {
    local line=${R[$1]:-}
    [[ $line =~ (^|[[:space:]])$2=([0-9.]+) ]] && echo "${BASH_REMATCH[2]}" || true
}
failed() { field "$1" failed; }

# s3_suite PREFIX ENDPOINT   the same S3 measurements for each server
s3_suite() {
    local p=$1 ep=$2 out b
    for b in bench bench-large; do
        out=$("$BENCH" mb --endpoint "$ep" --bucket "$b" 2>&1 || true)
        echo "   $p create bucket $b: $out" >&2
        [[ $out == *": 200" ]] || RAW+=("$p: create bucket $b: $out (expected 200)")
    done
    local common=(--endpoint "$ep" --bucket bench --size 4096 --keys "$KEYS" --seconds "$SECS")
    measure "$p.put1" put "${common[@]}" --conns 1
    measure "$p.put64" put "${common[@]}" --conns 64
    # write every key exactly once (1 connection walks keys 0..KEYS-1) so the GETs never miss
    measure "$p.fill" put "${common[@]}" --conns 1 --requests "$KEYS"
    measure "$p.get1" get "${common[@]}" --conns 1
    measure "$p.get64" get "${common[@]}" --conns 64
    local big=(--endpoint "$ep" --bucket bench-large --size "$LARGE" --keys 1 --conns 1 --requests "$LARGE_REQ" --seconds 3600)
    measure "$p.bigput" put "${big[@]}"
    measure "$p.bigget" get "${big[@]}"
}

# ---------------------------------------------------------------- 4a. disk baseline
log "disk baseline in $WORK ($(df -P "$WORK" | awk 'NR==2{print $1" on "$6}'))"
measure disk disk --dir "$WORK/disk" --seconds "$SECS" --bytes "$LARGE"
rm -rf "$WORK/disk"

# ---------------------------------------------------------------- 4b. tarn
log "tarn"
PORT=$(free_port)
TARN_LOG=$LOGS/tarn.log
RUST_LOG=warn TARN_ROOT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID TARN_ROOT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
    "$TARN" serve --data-dir "$WORK/tarn" --listen "127.0.0.1:$PORT" >"$TARN_LOG" 2>&1 &
TPID=$!
PIDS+=("$TPID")
if wait_port "$PORT" "$TPID" tarn "$TARN_LOG"; then
    s3_suite tarn "http://127.0.0.1:$PORT"
    kill -0 "$TPID" 2>/dev/null || RAW+=("tarn: server died during the run (see $TARN_LOG)")
else
    RAW+=("tarn: failed to start (see $TARN_LOG)")
fi
stop_server "$TPID"
rm -rf "$WORK/tarn"
sync

# ---------------------------------------------------------------- 4c. s3s-fs
log "s3s-fs"
PORT=$(free_port)
S3SFS_LOG=$LOGS/s3s-fs.log
mkdir -p "$WORK/s3s-fs"
RUST_LOG=warn "$S3SFS" --host 127.0.0.1 --port "$PORT" \
    --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" "$WORK/s3s-fs" >"$S3SFS_LOG" 2>&1 &
SPID=$!
PIDS+=("$SPID")
if wait_port "$PORT" "$SPID" s3s-fs "$S3SFS_LOG"; then
    s3_suite s3s "http://127.0.0.1:$PORT"
else
    RAW+=("s3s-fs: failed to start (see $S3SFS_LOG)")
fi
stop_server "$SPID"
rm -rf "$WORK/s3s-fs"   # drops its dirty (never fsync'd) pages before the next phase
sync

# ---------------------------------------------------------------- 4d. nginx
log "nginx ($NGINX)"
PORT=$(free_port)
NG=$WORK/nginx
mkdir -p "$NG/html" "$NG/logs"
head -c 4096 /dev/urandom >"$NG/html/4k.bin"
chmod -R a+rX "$NG"
USER_LINE=""
[[ $(id -u) -eq 0 ]] && USER_LINE="user root;"
cat >"$NG/nginx.conf" <<EOF
$USER_LINE
worker_processes auto;
daemon off;
pid $NG/nginx.pid;
error_log $NG/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path $NG/client_body;
    proxy_temp_path $NG/proxy;
    fastcgi_temp_path $NG/fastcgi;
    uwsgi_temp_path $NG/uwsgi;
    scgi_temp_path $NG/scgi;
    server {
        listen 127.0.0.1:$PORT;
        root $NG/html;
    }
}
EOF
"$NGINX" -p "$NG" -c "$NG/nginx.conf" >"$LOGS/nginx.log" 2>&1 &
NPID=$!
PIDS+=("$NPID")
if wait_port "$PORT" "$NPID" nginx "$LOGS/nginx.log"; then
    measure nginx.get1 get-url --url "http://127.0.0.1:$PORT/4k.bin" --conns 1 --seconds "$SECS"
    measure nginx.get64 get-url --url "http://127.0.0.1:$PORT/4k.bin" --conns 64 --seconds "$SECS"
else
    RAW+=("nginx: failed to start (see $LOGS/nginx.log)")
fi
stop_server "$NPID"
cp "$NG/logs/error.log" "$LOGS/nginx-error.log" 2>/dev/null || true

# ---------------------------------------------------------------- 5. report
DISK_FSYNC=$(field disk fsync_4k_writes)
DISK_SEQ=$(field disk sequential_write)
num() { [[ -n $1 ]] && awk -v x="$1" 'BEGIN{ if (x >= 100) printf "%.0f", x; else printf "%.1f", x }' || echo "n/a"; }
ratio() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2fx", a / b; else print "n/a" }' || echo "n/a"; }
pct() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.0f%%", 100 * a / b; else print "n/a" }' || echo "n/a"; }
ge() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN{ exit !(a >= b) }'; }
verdict() { if [[ -z $1 ]]; then echo "n/a"; elif [[ $1 == 1 ]]; then echo "**met**"; else echo "**NOT met**"; fi; }
# cell KEY FIELD: the figure, flagged when requests failed
cell() {
    local v f
    v=$(num "$(field "$1" "$2")")
    f=$(failed "$1")
    if [[ -n $f && $f != 0 ]]; then v="$v ($f failed)"; fi
    echo "$v"
}

T_PUT64=$(field tarn.put64 rate)
S_PUT64=$(field s3s.put64 rate)
T_GET64=$(field tarn.get64 rate)
T_BIG=$(field tarn.bigput throughput)

ok_put=""
if [[ -n $T_PUT64 && -n $DISK_FSYNC ]]; then
    if ge "$T_PUT64" "$(awk -v d="$DISK_FSYNC" 'BEGIN{print 10*d}')" && { [[ -z $S_PUT64 ]] || ge "$T_PUT64" "$S_PUT64"; }; then ok_put=1; else ok_put=0; fi
fi
ok_get=""
[[ -n $T_GET64 ]] && { ge "$T_GET64" 10000 && ok_get=1 || ok_get=0; }
ok_big=""
[[ -n $T_BIG && -n $DISK_SEQ ]] && { ge "$T_BIG" "$(awk -v d="$DISK_SEQ" 'BEGIN{print 0.7*d}')" && ok_big=1 || ok_big=0; }

row() { # label key field ref_value ref_label target verdict
    local t s
    t=$(field "tarn.$2" "$3")
    s=$(field "s3s.$2" "$3")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(cell "tarn.$2" "$3")" "$(cell "s3s.$2" "$3")" \
        "$(ratio "$t" "$s")" "$5" "$(ratio "$t" "$4")" "$6" "$7"
}

ELAPSED=$(($(date +%s) - START_TS))
{
    echo "# tarn S3 benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${SECS}s per measurement)"
    echo
    echo "Baselines, same run: disk **$(num "$DISK_FSYNC") fsync'd 4 KiB writes/s**, **$(num "$DISK_SEQ") MB/s** sequential write;"
    echo "nginx static 4 KiB GET **$(cell nginx.get1 rate)/s** @1 conn, **$(cell nginx.get64 rate)/s** @64 conns."
    echo
    echo "| measurement | tarn | s3s-fs | tarn / s3s-fs | reference | tarn / reference | target | |"
    echo "|---|---:|---:|---:|---|---:|---|---|"
    row "4 KiB PUT @1 (req/s)" put1 rate "$DISK_FSYNC" "disk fsync/s $(num "$DISK_FSYNC")" "" ""
    row "4 KiB PUT @64 (req/s)" put64 rate "$DISK_FSYNC" "disk fsync/s $(num "$DISK_FSYNC")" \
        ">= 10x fsync/s and > s3s-fs" "$(verdict "$ok_put")"
    row "4 KiB GET @1 (req/s)" get1 rate "$(field nginx.get1 rate)" "nginx @1 $(num "$(field nginx.get1 rate)")" "" ""
    row "4 KiB GET @64 (req/s)" get64 rate "$(field nginx.get64 rate)" "nginx @64 $(num "$(field nginx.get64 rate)")" \
        ">= 10,000/s" "$(verdict "$ok_get")"
    row "${LARGE_MB} MiB PUT @1 (MB/s)" bigput throughput "$DISK_SEQ" "disk seq $(num "$DISK_SEQ") MB/s" \
        ">= 70% of disk seq ($(pct "$T_BIG" "$DISK_SEQ"))" "$(verdict "$ok_big")"
    row "${LARGE_MB} MiB GET @1 (MB/s)" bigget throughput "" "" "" ""
    echo
    echo "p50 / p99 latency (ms), tarn vs s3s-fs:"
    echo
    echo "| measurement | tarn p50 | tarn p99 | s3s-fs p50 | s3s-fs p99 |"
    echo "|---|---:|---:|---:|---:|"
    for k in put1 put64 get1 get64 bigput bigget; do
        printf '| %s | %s | %s | %s | %s |\n' "$k" "$(num "$(field "tarn.$k" p50)")" "$(num "$(field "tarn.$k" p99)")" \
            "$(num "$(field "s3s.$k" p50)")" "$(num "$(field "s3s.$k" p99)")"
    done
    echo
    echo "s3s-fs fsyncs its writes: $S3SFS_FSYNC."
    echo "s3s-fs $S3SFS_NODELAY."
    echo "tarn fsyncs every PUT (group commit) before answering."
    echo
    echo "Raw tarn-bench lines:"
    echo
    echo '```'
    printf '%s\n' "${RAW[@]}"
    echo '```'
    echo
    echo "Total run time: ${ELAPSED}s. Server logs: $LOGS/."
} | tee "$OUT"

# flag anything that failed, with the tarn log tail
ANY_FAILED=0
for k in "${!R[@]}"; do
    f=$(failed "$k")
    if [[ -z $f && $k != disk ]] || [[ -n $f && $f != 0 ]]; then ANY_FAILED=1; fi
done
if [[ $ANY_FAILED == 1 ]]; then
    echo >&2
    echo "WARNING: some measurements failed requests or produced no result; see the raw lines above." >&2
    if [[ -s $TARN_LOG ]]; then
        echo "tarn log tail ($TARN_LOG):" >&2
        tail -20 "$TARN_LOG" >&2
    fi
fi
