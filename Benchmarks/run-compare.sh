#!/usr/bin/env bash
# run-compare.sh: direct PostgreSQL vs Sluice vs PgBouncer on this machine, measured by sluice-bench or pgbench.
#
#   Benchmarks/run-compare.sh [sluice-bench options]     e.g. --workload select --duration 10 --clients 20
#   Benchmarks/run-compare.sh --pgbench [pgbench options] default: -S -c 20 -j 2 -T 20 -n
#
# Environment: PGURL, PGSUPERURL, SLUICE_BIN, BENCH_BIN, KEEP_DIR, SLUICE_ENV (see Benchmarks/lib.sh), and
#   POOL         server connections per pool in both proxies (default 20)
#   WORKERS      Sluice's `workers` (event loops; default 1; the pool is divided between them)
#   TARGETS      sluice-bench mode: targets in order, ratios are to the first (default "direct sluice pgbouncer")
#   REPORT_DIR   sluice-bench mode without --json/--markdown/--report: where compare-DATE.{json,md,html} go
#                (default: the current directory)
#   BENCH_SLUICE_PORT, BENCH_PGBOUNCER_PORT   ports of the two proxies (default 16432, 16433); must be free
# Both proxies are stopped by pid on exit.
set -euo pipefail
BENCH_NAME=run-compare
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POOL="${POOL:-20}"
WORKERS="${WORKERS:-1}"
SLUICE_PORT="${BENCH_SLUICE_PORT:-16432}"
PGBOUNCER_PORT="${BENCH_PGBOUNCER_PORT:-16433}"
TARGETS="${TARGETS:-direct sluice pgbouncer}"

MODE=bench
if [ "${1:-}" = "--pgbench" ]; then MODE=pgbench; shift; fi
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then show_help; fi
for value in "$POOL" "$WORKERS" "$SLUICE_PORT" "$PGBOUNCER_PORT"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || die "POOL, WORKERS, BENCH_SLUICE_PORT and BENCH_PGBOUNCER_PORT must be positive integers"
done
for target in $TARGETS; do
  case "$target" in direct|sluice|pgbouncer) ;; *) die "TARGETS may name direct, sluice and pgbouncer, not '$target'" ;; esac
done

require_pg_tools
require_pgbouncer
require_sluice
[ "$MODE" = pgbench ] || require_bench
require_upstream
ensure_pgbench_tables
require_free_ports "$SLUICE_PORT" "$PGBOUNCER_PORT"
make_work_dir

sluice_config "$SLUICE_PORT" "$POOL" "max_client_conn = 10000
workers = $WORKERS" >"$WORK/sluice.toml"
chmod 600 "$WORK/sluice.toml"
start_sluice sluice "$SLUICE_PORT" "$WORK/sluice.toml"
start_pgbouncer pgbouncer "$PGBOUNCER_PORT" "$POOL"
SLUICE_URL="$(proxy_url "$SLUICE_PORT")"
PGBOUNCER_URL="$(proxy_url "$PGBOUNCER_PORT")"

# --- measure ---
if [ "$MODE" = bench ]; then
  compare=()
  for target in $TARGETS; do
    case "$target" in
      direct) compare+=(--compare "direct=$PGURL") ;;
      sluice) compare+=(--compare "sluice=$SLUICE_URL@$SLUICE_PID") ;;
      pgbouncer) compare+=(--compare "pgbouncer=$PGBOUNCER_URL@$PGBOUNCER_PID") ;;
    esac
  done
  outputs=()
  case " $* " in
    *" --json "*|*" --markdown "*|*" --report "*|*" --json="*|*" --markdown="*|*" --report="*) ;;
    *) base="${REPORT_DIR:-$PWD}/compare-$(date +%Y%m%d-%H%M%S)"
       outputs=(--json "$base.json" --markdown "$base.md")   # the HTML report goes next to them (.html)
       log "results: $base.json, $base.md, $base.html" ;;
  esac
  "$BENCH_BIN" "${compare[@]}" "${outputs[@]}" "$@"
  exit $?
fi

[ "$#" -gt 0 ] || set -- -S -c 20 -j 2 -T 20 -n
rows=()
for target in direct sluice pgbouncer; do
  case "$target" in
    direct) url="$PGURL"; pid="" ;;
    sluice) url="$SLUICE_URL"; pid="$SLUICE_PID" ;;
    pgbouncer) url="$PGBOUNCER_URL"; pid="$PGBOUNCER_PID" ;;
  esac
  log "pgbench $* against $target"
  before=0; [ -z "$pid" ] || before="$(cpu_ticks "$pid")"
  out="$(pgbench "$@" "$url" 2>&1)" || { printf '%s\n' "$out" | tail -n 5 >&2; log "pgbench failed against $target"; }
  after=0; [ -z "$pid" ] || after="$(cpu_ticks "$pid")"
  tps="$(pgbench_value "$out" 'tps = ')"
  latency="$(pgbench_value "$out" 'latency average = ')"
  count="$(pgbench_value "$out" 'number of transactions actually processed: ')"
  failed="$(pgbench_value "$out" 'number of failed transactions: ')"
  cpu="—"
  if [ -n "$pid" ] && [ -n "$count" ] && [ "$count" -gt 0 ]; then
    cpu="$(awk -v t="$((after - before))" -v hz="$CLK_TCK" -v n="$count" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')"
  fi
  rows+=("| $target | ${tps:-—} | ${latency:-—} | ${count:-—} | ${failed:-—} | $cpu |")
done
printf '**pgbench** %s (pool size %s, Sluice workers %s)\n\n' "$*" "$POOL" "$WORKERS"
printf '| target | tps | latency avg (ms) | transactions | failed | proxy CPU µs/tx |\n|---|---:|---:|---:|---:|---:|\n'
printf '%s\n' "${rows[@]}"
