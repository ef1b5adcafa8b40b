# Shared helpers for bench/*.sh (sourced, not run).
# Every process started here is recorded in BENCH_PIDS and stopped on exit, by its pid.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# BIN=DIR runs the binaries in DIR instead (e.g. an older build kept for a comparison).
BIN="${BIN:-$ROOT/target/release}"
BENCH_PIDS=()
# Benchmarks load the consent path from one client on purpose: its per-client limit is off.
export CUSTODIAN_CONSENT_LIMIT_PER_CLIENT=0

bench_cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${BENCH_PIDS[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  BENCH_PIDS=()
}
trap bench_cleanup EXIT INT TERM

# Builds the release binaries; SKIP_BUILD=1 uses the ones in target/release as they are. If the
# build fails (another change in progress) and binaries exist, says so and uses them.
build_release() {
  if [ -z "${SKIP_BUILD:-}" ]; then
    if ! (cd "$ROOT" && cargo build --release -q -p custodian -p custodian-bench) >"${TMPDIR:-/tmp}/bench-build.log" 2>&1; then
      [ -x "$BIN/custodian" ] && [ -x "$BIN/raw-inserts" ] || { cat "${TMPDIR:-/tmp}/bench-build.log" >&2; exit 1; }
      echo "WARNING: release build failed (see ${TMPDIR:-/tmp}/bench-build.log); using existing binaries" >&2
    fi
  fi
  echo "binaries: custodian built $(date -r "$BIN/custodian" '+%F %T'), git $(cd "$ROOT" && git rev-parse --short HEAD)"
}

machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
  echo "load average before the run: $(cut -d" " -f1-3 /proc/loadavg)"
}

# start_server NAME LOGDIR CMD... : starts CMD in the background (cwd unchanged), waits (up to
# 30 s) for a first stdout line "... listening on http://ADDR", sets SERVER_PID and SERVER_ADDR.
start_server() {
  local name=$1 logdir=$2; shift 2
  "$@" >"$logdir/$name.out" 2>"$logdir/$name.err" &
  SERVER_PID=$!
  BENCH_PIDS+=("$SERVER_PID")
  local i
  for i in $(seq 1 300); do
    if grep -q 'listening on http://' "$logdir/$name.out" 2>/dev/null; then
      SERVER_ADDR=$(grep -m1 -o 'http://[^ ]*' "$logdir/$name.out" | sed 's#http://##')
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "$name exited before it was ready:" >&2; cat "$logdir/$name.err" >&2; return 1
    fi
    sleep 0.1
  done
  echo "$name not ready after 30 s" >&2; return 1
}

stop_server() {
  local pid=$1
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local kept=() p
  for p in "${BENCH_PIDS[@]:-}"; do [ "$p" != "$pid" ] && [ -n "$p" ] && kept+=("$p"); done
  BENCH_PIDS=("${kept[@]:-}")
}

# bench_json FILE: the JSON our wrk scripts print on their BENCH_JSON line.
# wait_quiet PID: waits (at most 30 s) until the process's CPU time stands still for half a
# second. After consent writes, the SQLite writer folds the ledger's tail into the current
# state once its queue is quiet (`store/src/consent/fold.rs`): that work belongs to the writes.
wait_quiet() {
  local before after i
  after=$(awk '{print $14 + $15}' "/proc/$1/stat")
  for i in $(seq 1 60); do
    before=$after; sleep 0.5; after=$(awk '{print $14 + $15}' "/proc/$1/stat")
    [[ $after == "$before" ]] && return 0
  done
  echo "process $1 never went quiet" >&2
}

bench_json() { grep -m1 '^BENCH_JSON ' "$1" | sed 's/^BENCH_JSON //'; }
