#!/usr/bin/env bash
# The console's queue page: GET /console/requests (a page of 50 of 1,000 open requests, from
# the store through the templates), in process on SQLite. Issue 14's goal: under 20 ms.
# Usage: bench/console.sh [--profile dev]   (release by default; see docs/benchmarks.md)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p custodian-server --bench console "$@" -- --warm-up-time 2 --measurement-time 10
