#!/usr/bin/env bash
# prepared.sh: pgbench -M prepared and -M simple, directly, through Sluice and through PgBouncer
# (both in transaction mode, pool 20), in one run; prints a Markdown table.
#
#   Benchmarks/prepared.sh [-T SECONDS]     default: pgbench -S -c 20 -j 2 -T 20 -n
#
# Environment: PGURL, PGSUPERURL, SLUICE_BIN, KEEP_DIR, SLUICE_ENV (see Benchmarks/lib.sh)
# Ports 16442 (Sluice) and 16443 (PgBouncer, run as the postgres OS user on 127.0.0.1 only) must be
# free. Both proxies are stopped by pid on exit.
#
# PgBouncer 1.18 (Debian's) does not support protocol-level prepared statements in transaction
# mode: with -M prepared its clients fail with `prepared statement "P0_1" does not exist` (or
# similar), which the table shows.
set -euo pipefail
BENCH_NAME=prepared
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POOL=20
SLUICE_PORT=16442
PGBOUNCER_PORT=16443
DURATION=20

while [ "$#" -gt 0 ]; do
  case "$1" in
    -T) DURATION="$2"; shift 2 ;;
    -h|--help) show_help ;;
    *) die "unknown argument $1 (only -T SECONDS)" ;;
  esac
done
{ [[ "$DURATION" =~ ^[0-9]+$ ]] && [ "$DURATION" -ge 1 ] && [ "$DURATION" -le 20 ]; } || die "-T must be 1..20 seconds"
PGBENCH_OPTS=(-S -c 20 -j 2 -T "$DURATION" -n)

require_pg_tools
require_pgbouncer
require_sluice
require_upstream
ensure_pgbench_tables
require_free_ports "$SLUICE_PORT" "$PGBOUNCER_PORT"
make_work_dir

# --- start both proxies (stopped by pid on exit) ---
sluice_config "$SLUICE_PORT" "$POOL" "max_client_conn = 1000" >"$WORK/sluice.toml"
chmod 600 "$WORK/sluice.toml"
start_sluice sluice "$SLUICE_PORT" "$WORK/sluice.toml"
PGBOUNCER_MAX_CLIENT_CONN=1000 start_pgbouncer pgbouncer "$PGBOUNCER_PORT" "$POOL"
SLUICE_URL="$(proxy_url "$SLUICE_PORT")"
PGBOUNCER_URL="$(proxy_url "$PGBOUNCER_PORT")"

# --- measure ---
rows=()
for target in direct sluice pgbouncer; do
  case "$target" in
    direct) url="$PGURL" ;;
    sluice) url="$SLUICE_URL" ;;
    pgbouncer) url="$PGBOUNCER_URL" ;;
  esac
  for mode in simple prepared; do
    log "pgbench -M $mode ${PGBENCH_OPTS[*]} against $target"
    status=0
    out="$(pgbench -M "$mode" "${PGBENCH_OPTS[@]}" "$url" 2>&1)" || status=$?
    tps="$(pgbench_value "$out" 'tps = ')"
    latency="$(pgbench_value "$out" 'latency average = ')"
    count="$(pgbench_value "$out" 'number of transactions actually processed: ')"
    failed="$(pgbench_value "$out" 'number of failed transactions: ')"
    aborted="$(grep -c 'aborted in command' <<<"$out" || true)"
    # The first server error pgbench reports (e.g. pgbouncer's "prepared statement ... does not exist").
    error="$(grep -m1 -oE '(ERROR|FATAL|error): .*' <<<"$out" | sed 's/|/\\|/g' | cut -c1-120 || true)"
    [ "$status" -eq 0 ] || [ -n "$error" ] || error="pgbench exited with status $status"
    rows+=("| $target | $mode | ${tps:-—} | ${latency:-—} | ${count:-—} | ${failed:-—} | ${aborted:-0} | ${error:-} |")
  done
done
if ! kill -0 "$SLUICE_PID" 2>/dev/null; then log "sluice exited during the run: $(tail -n 3 "$WORK/sluice.log")"; fi
printf '**pgbench** -M simple|prepared %s, transaction mode, pool size %s\n\n' "${PGBENCH_OPTS[*]}" "$POOL"
printf '| target | -M | tps | latency avg (ms) | transactions | failed | clients aborted | first error |\n'
printf '|---|---|---:|---:|---:|---:|---:|---|\n'
printf '%s\n' "${rows[@]}"
