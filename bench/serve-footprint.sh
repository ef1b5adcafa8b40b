#!/usr/bin/env bash
# Time from process start to the first successful GET /readyz, and idle resident memory
# (VmRSS after ready plus a few requests), of `custodian serve` on SQLite.
#
#   bench/serve-footprint.sh            # 30 runs on fresh folders, then 30 restarts of one folder
#   RUNS=50 bench/serve-footprint.sh
#
# Targets (issue 2): median time to ready < 200 ms; idle RSS < 40 MB.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
RUNS=${RUNS:-30}
build_release
machine
echo "--- fresh folder each run (creates the database, runs migrations, writes the secret) ---"
"$BIN/serve-probe" "$BIN/custodian" --runs "$RUNS" | tail -n 1
echo "--- restart of an initialised folder ---"
"$BIN/serve-probe" "$BIN/custodian" --runs "$RUNS" --existing | tail -n 1
echo "binary: $(du -h "$BIN/custodian" | cut -f1)"
