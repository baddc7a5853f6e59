#!/usr/bin/env bash
# memlink against the Node 20 + BullMQ peer, alternately, on the same private PostgreSQL and
# Redis (the peer's, started by its own scripts), and the ratio of the medians.
#   scripts/bench-vs-peer.sh [throughput|latency|ingest] [reps]
#     throughput: 20,000 preloaded events over 1,000 chats (peer.sh e2e vs scripts/bench.sh)
#     latency:    a steady 500 events/s (peer.sh latency vs scripts/bench.sh --rate 500)
#     ingest:     chat API POSTs at 2 and 8 connections vs pgbench's producer at the same
#                 concurrency (scripts/bench.sh --ingest), daemon processing meanwhile
# The peer lives in ../shared/bench (PEER_BENCH to override); see its README.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mode=${1:-throughput}
reps=${2:-3}
peer=${PEER_BENCH:-../shared/bench}
[[ -x "$peer/peer.sh" ]] || { echo "bench-vs-peer: no peer at $peer (set PEER_BENCH)" >&2; exit 1; }
"$peer/env-up.sh" >/dev/null
export DATABASE_URL=postgres://postgres@127.0.0.1:55432/postgres
export REDIS_URL=redis://127.0.0.1:56379/0
cargo build --release --locked --bin memlink --bin memlink-bench >&2

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" | head -n 1; }

case "$mode" in
  throughput)
    ours=(); theirs=()
    for i in $(seq "$reps"); do
        p=$("$peer/peer.sh" e2e | field peer_events_per_sec)
        m=$(scripts/bench.sh --events 20000 --chats 1000 | tee -a /dev/stderr | field events_per_sec)
        echo "rep=$i peer_events_per_sec=$p memlink_events_per_sec=$m"
        theirs+=("$p"); ours+=("$m")
    done
    p=$(printf '%s\n' "${theirs[@]}" | median); m=$(printf '%s\n' "${ours[@]}" | median)
    echo "throughput median peer=$p memlink=$m ratio=$(awk -v a="$m" -v b="$p" 'BEGIN{printf "%.2f", a/b}')"
    ;;
  latency)
    for i in $(seq "$reps"); do
        "$peer/peer.sh" latency | sed "s/^/rep=$i /"
        scripts/bench.sh --events 10000 --chats 1000 --rate 500 | grep -E 'latency_|events_per_sec' | sed "s/^/rep=$i memlink /"
    done
    ;;
  ingest)
    for c in 2 8; do
        scripts/bench.sh --ingest --connections "$c" --seconds 10 | sed "s/^/connections=$c /"
    done
    ;;
  *) sed -n 2,12p "$0"; exit 2 ;;
esac
