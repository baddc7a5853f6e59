#!/usr/bin/env bash
# Where one event's latency goes: the release daemon under `strace -f -tt` (every send, receive
# and wait on its sockets) while memlink-bench writes one event every 250 ms, so each event's
# path (NOTIFY, the relay's claim, XADD, XREADGROUP, the marker, the effects, XACK) can be read
# off the trace by its timestamps. See "Where the latency goes" in docs/benchmarks.md.
#   scripts/trace-latency.sh [trace file, default /tmp/memlink-trace.txt]
# Needs strace. Uses DATABASE_URL / REDIS_URL like scripts/bench.sh (local services if unset),
# and MEMLINK_BIN_DIR like it too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/services.sh
source scripts/services.sh
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
command -v strace >/dev/null || { echo "trace-latency: strace is not installed" >&2; exit 1; }
out="${1:-/tmp/memlink-trace.txt}"
bin="$(bench_bin_dir)"

suffix="$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
db="memlink_trace_${suffix}"
psql "$DATABASE_URL" -qc "CREATE DATABASE ${db}"
url="$(db_url_for "$DATABASE_URL" "$db")"
# A readable trace: no TLS on loopback unless the URL asks for it (the benchmarks' PostgreSQL
# has none either).
if [[ "$url" != *sslmode=* ]]; then
    if [[ "$url" == *\?* ]]; then url+="&sslmode=disable"; else url+="?sslmode=disable"; fi
fi
export MEMLINK_STREAM="memlink-trace:${suffix}:events" MEMLINK_GROUP="trace-${suffix}" MEMLINK_HTTP_ADDR=127.0.0.1:0
log="$(mktemp)"
cleanup() {
    # The daemon is strace's child, not this shell's: wait for strace, which ends with it.
    if [[ -n "${daemon_pid:-}" ]]; then kill "$daemon_pid" 2>/dev/null || true; fi
    if [[ -n "${strace_pid:-}" ]]; then wait "$strace_pid" 2>/dev/null || true; fi
    remove_run_data "$db" "$MEMLINK_STREAM"
    rm -f "$log"
}
trap cleanup EXIT
DATABASE_URL="$url" RUST_LOG=warn "$bin/memlink" migrate >/dev/null
DATABASE_URL="$url" RUST_LOG=warn,memlink::http=info strace -f -tt -o "$out" \
    -e trace=sendto,recvfrom,write,read,writev,epoll_wait "$bin/memlink" run 2>"$log" &
strace_pid=$!
addr="$(wait_http_addr "$log")" || { cat "$log" >&2; echo "trace-latency: the daemon did not start" >&2; exit 1; }
daemon_pid="$(pgrep -P "$strace_pid" | head -n 1)"
DATABASE_URL="$url" "$bin/memlink-bench" --daemon-pid "$daemon_pid" --http "$addr" --events 20 --chats 5 --rate 4
echo "trace-latency: trace in $out; each event starts where the listener reads 'memlink_outbox' (NOTIFY)" >&2
