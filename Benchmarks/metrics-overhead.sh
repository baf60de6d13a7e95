#!/usr/bin/env bash
# metrics-overhead.sh: what /metrics scraping and leak detection cost in throughput.
#
#   Benchmarks/metrics-overhead.sh [pgbench options]     default: -S -c 20 -j 2 -T 20 -n (yours are appended)
#
# Two Sluice processes in front of the same PostgreSQL, measured with pgbench in turn, A/B/A/B…:
#   A (port 16444): admin_listen on 127.0.0.1:16446, leak_detection_threshold = 60, and a loop
#                   scraping /metrics once a second while pgbench runs;
#   B (port 16445): no admin_listen, leak_detection_threshold = 0.
# A 3 s warm-up run on each comes first and is not counted; alternating spreads machine noise over both. Prints the tps of every run, the mean of each side
# and A's difference from B in %.
#
# Environment: PGURL, PGSUPERURL, SLUICE_BIN, KEEP_DIR, SLUICE_ENV (see Benchmarks/lib.sh), and
#   POOL         server connections per pool (default 20)
#   ROUNDS       A/B pairs (default 2)
# Ports 16444, 16445 and 16446 must be free. Everything started here is stopped by pid on exit.
set -euo pipefail
BENCH_NAME=metrics-overhead
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POOL="${POOL:-20}"
ROUNDS="${ROUNDS:-2}"
PORT_A=16444
PORT_B=16445
ADMIN_PORT_A=16446

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then show_help; fi
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ "$POOL" =~ ^[1-9][0-9]*$ ]] || die "POOL must be a positive integer"

require_pg_tools
command -v curl >/dev/null || die "curl is needed to scrape /metrics"
require_sluice
require_upstream
ensure_pgbench_tables
require_free_ports "$PORT_A" "$PORT_B" "$ADMIN_PORT_A"
make_work_dir

# The scraper (a background subshell) is stopped before the proxies on exit.
SCRAPER_PID=""
stop_scraper() { [ -z "$SCRAPER_PID" ] || kill -TERM "$SCRAPER_PID" 2>/dev/null || true; }
BENCH_CLEANUPS+=(stop_scraper)

sluice_config "$PORT_A" "$POOL" "admin_listen = \"127.0.0.1:$ADMIN_PORT_A\"
leak_detection_threshold = 60" >"$WORK/A.toml"
sluice_config "$PORT_B" "$POOL" "leak_detection_threshold = 0" >"$WORK/B.toml"
chmod 600 "$WORK/A.toml" "$WORK/B.toml"
start_sluice A "$PORT_A" "$WORK/A.toml"
start_sluice B "$PORT_B" "$WORK/B.toml"
curl -sf -o /dev/null "http://127.0.0.1:$ADMIN_PORT_A/metrics" || die "A's /metrics does not answer"

# scrape_loop: GET /metrics once a second until killed; counts answers and failures.
scrape_loop() {
  local ok=0 failed=0
  trap 'echo "$ok $failed" >"$WORK/scrapes"; exit 0' TERM
  while true; do
    if curl -sf -m 5 -o /dev/null "http://127.0.0.1:$ADMIN_PORT_A/metrics"; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
    sleep 1 & wait $!
  done
}

# run_pgbench NAME PORT: prints the tps of one run.
run_pgbench() {
  local out tps
  out="$(PGPASSWORD="$DB_PASSWORD" pgbench -S -c 20 -j 2 -T 20 -n "${PGBENCH_ARGS[@]}" \
    -h 127.0.0.1 -p "$2" -U "$DB_USER" "$DB_NAME" 2>&1)" || { printf '%s\n' "$out" | tail -n 5 >&2; die "pgbench failed against $1"; }
  tps="$(pgbench_value "$out" 'tps = ')"
  [ -n "$tps" ] || die "no tps in pgbench's output for $1"
  printf '%s\n' "$tps"
}

# Warm-up, not counted: both proxies open their server connections, PostgreSQL fills its cache.
PGBENCH_ARGS=(-T 3)
run_pgbench A $PORT_A >/dev/null
run_pgbench B $PORT_B >/dev/null

PGBENCH_ARGS=("$@")
log "pgbench -S -c 20 -j 2 -T 20 -n ${PGBENCH_ARGS[*]}, $ROUNDS rounds of A/B, pool size $POOL"
TPS_A=()
TPS_B=()
SCRAPES_OK=0
SCRAPES_FAILED=0
for round in $(seq "$ROUNDS"); do
  scrape_loop &
  SCRAPER_PID=$!
  tps="$(run_pgbench A $PORT_A)"
  kill -TERM "$SCRAPER_PID"; wait "$SCRAPER_PID" 2>/dev/null || true; SCRAPER_PID=""
  read -r ok failed <"$WORK/scrapes"
  SCRAPES_OK=$((SCRAPES_OK + ok)); SCRAPES_FAILED=$((SCRAPES_FAILED + failed))
  TPS_A+=("$tps")
  printf 'round %d  A (metrics scraped, leak detection 60 s)  tps %10.1f  (%d scrapes)\n' "$round" "$tps" "$ok"
  tps="$(run_pgbench B $PORT_B)"
  TPS_B+=("$tps")
  printf 'round %d  B (no admin_listen, no leak detection)   tps %10.1f\n' "$round" "$tps"
done

mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.1f", s / NR }'; }
MEAN_A="$(mean "${TPS_A[@]}")"
MEAN_B="$(mean "${TPS_B[@]}")"
printf '\nA mean tps %10.1f   (%s)\n' "$MEAN_A" "${TPS_A[*]}"
printf 'B mean tps %10.1f   (%s)\n' "$MEAN_B" "${TPS_B[*]}"
awk -v a="$MEAN_A" -v b="$MEAN_B" 'BEGIN { printf "difference A vs B: %+.2f%% (negative: metrics and leak detection cost throughput)\n", (a - b) / b * 100 }'
printf '/metrics scrapes during A: %d answered, %d failed\n' "$SCRAPES_OK" "$SCRAPES_FAILED"
[ "$SCRAPES_FAILED" -eq 0 ] || log "warning: some scrapes failed"
for name in A B; do
  if grep -qiE ' (error|critical) ' "$WORK/$name.log"; then log "sluice $name logged errors:"; grep -iE ' (error|critical) ' "$WORK/$name.log" | tail -n 5 >&2; fi
done
