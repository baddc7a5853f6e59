#!/usr/bin/env bash
# Benchmark: a fresh database and stream, a release daemon, memlink-bench against it.
#   scripts/bench.sh [args for memlink-bench...]   e.g. scripts/bench.sh --events 20000 --chats 1000
#                                                       scripts/bench.sh --events 15000 --rate 500
#                                                       scripts/bench.sh --history 20 --round 5000
#                                                       scripts/bench.sh --ingest --connections 8
#   MEMLINK_STREAM_RETENTION_SECS=30 MEMLINK_RETENTION_SECS=60 scripts/bench.sh --soak --minutes 10
# The daemon's own settings pass through the environment (MEMLINK_WORKERS=2 scripts/bench.sh ...).
# MEMLINK_BIN_DIR=dir runs the memlink and memlink-bench found there instead of building them
# (A/B runs of two builds, e.g. with farm-bench).
# BENCH_PRE_SQL='...' runs that SQL on the migrated bench database before the daemon starts: a
# schema experiment measured against the same command without it (docs/benchmarks.md).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/services.sh
source scripts/services.sh
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh

bin="$(bench_bin_dir)"

suffix="$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
db="memlink_bench_${suffix}"
psql "$DATABASE_URL" -qc "CREATE DATABASE ${db}"
bench_url="$(db_url_for "$DATABASE_URL" "$db")"
stream="memlink-bench:${suffix}:events"

cleanup() {
    [[ -n "${daemon_pid:-}" ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    remove_run_data "$db" "$stream"
}
trap cleanup EXIT

export MEMLINK_STREAM="$stream" MEMLINK_GROUP="bench-${suffix}" MEMLINK_HTTP_ADDR=127.0.0.1:0
if [[ -n "${BENCH_PRE_SQL:-}" ]]; then
    DATABASE_URL="$bench_url" RUST_LOG=warn "$bin/memlink" migrate >/dev/null
    psql "$bench_url" -qX -v ON_ERROR_STOP=1 -c "$BENCH_PRE_SQL"
fi
# Throughput, measured as the peer's harness does: every event preloaded, then the daemon
# started, timed from its start to the last event processed.
case " $* " in
  *" --rate "*|*" --history "*|*" --ingest "*|*" --soak "*) ;;
  *)
    DATABASE_URL="$bench_url" RUST_LOG=warn "$bin/memlink" migrate >/dev/null
    DATABASE_URL="$bench_url" RUST_LOG=warn "$bin/memlink-bench" --spawn-daemon "$bin/memlink" "$@"
    exit 0 ;;
esac
log="$(mktemp)"
DATABASE_URL="$bench_url" MEMLINK_STREAM="$stream" MEMLINK_GROUP="bench-${suffix}" \
    MEMLINK_HTTP_ADDR=127.0.0.1:0 RUST_LOG=warn,memlink::http=info "$bin/memlink" run 2>"$log" &
daemon_pid=$!
addr="$(wait_http_addr "$log")" || { cat "$log" >&2; echo "bench: the daemon did not start" >&2; exit 1; }
DATABASE_URL="$bench_url" "$bin/memlink-bench" --daemon-pid "$daemon_pid" --http "$addr" "$@"
grep -E ' (WARN|ERROR) ' "$log" >&2 || true
rm -f "$log"
