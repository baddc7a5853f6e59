#!/usr/bin/env bash
# Run every test in the workspace against real PostgreSQL and Redis.
#   scripts/test.sh [args for `cargo test`...]    e.g. scripts/test.sh -p memlink-actors
#                                                  or   scripts/test.sh -- --nocapture
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/services.sh
source scripts/services.sh
# The admin console's browser tests (tests/console_browser.rs) need Chromium and chromedriver.
scripts/services.sh browser

export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

# --locked: a test run must never quietly resolve different dependency versions than the
# ones committed; without a lock file there is nothing to hold it to.
locked=()
if [[ -f Cargo.lock ]]; then locked=(--locked); fi

# One invocation covers lib, bins, integration tests and doc tests, and keeps extra args
# (filters, -p, -- --nocapture) meaningful; its exit code is ours.
exec cargo test --workspace "${locked[@]}" "$@"
