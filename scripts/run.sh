#!/usr/bin/env bash
# Run the daemon locally: services up, release build, then `memlink run` (migrates, then runs).
#   scripts/run.sh [args for `memlink run`...]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/services.sh
source scripts/services.sh

export RUST_LOG="${RUST_LOG:-info}"

cargo build --release --bin memlink

# exec so that Ctrl-C / SIGTERM reach the daemon itself and it can shut down cleanly.
exec "${CARGO_TARGET_DIR:-target}/release/memlink" run "$@"
