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
# Environment:
#   PGURL        upstream PostgreSQL (default postgresql://app:app-secret@127.0.0.1:55432/app?sslmode=disable);
#                its pgbench tables are created with `pgbench -i -s 10` when missing
#   SLUICE_BIN   Sluice binary (default .build/release/sluice; built if missing). Sluice is started
#                with every SLUICE_* variable removed from its environment.
#   POOL         server connections per pool (default 20)
#   ROUNDS       A/B pairs (default 2)
#   KEEP_DIR=1   keep the temporary directory (configs, logs) after the run
# Ports 16444, 16445 and 16446 must be free. Everything started here is stopped by pid on exit.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PGURL="${PGURL:-postgresql://app:app-secret@127.0.0.1:55432/app?sslmode=disable}"
SLUICE_BIN="${SLUICE_BIN:-$REPO/.build/release/sluice}"
POOL="${POOL:-20}"
ROUNDS="${ROUNDS:-2}"
PORT_A=16444
PORT_B=16445
ADMIN_PORT_A=16446

log() { printf '[metrics-overhead] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"

url_re='^postgres(ql)?://([^:@/]+):([^@]*)@([^:/?]+)(:([0-9]+))?/([^?]+)(\?(.*))?$'
[[ "$PGURL" =~ $url_re ]] || die "PGURL must look like postgresql://user:password@host:port/db[?sslmode=…]"
DB_USER="${BASH_REMATCH[2]}"; DB_PASSWORD="${BASH_REMATCH[3]}"; DB_NAME="${BASH_REMATCH[7]}"

command -v psql >/dev/null && command -v pgbench >/dev/null && command -v pg_isready >/dev/null \
  || die "psql, pgbench and pg_isready are needed (apt-get install postgresql-client)"
command -v curl >/dev/null || die "curl is needed to scrape /metrics"
if [ ! -x "$SLUICE_BIN" ]; then
  log "building sluice (release)"; (cd "$REPO" && swift build -c release --product sluice)
fi
for port in $PORT_A $PORT_B $ADMIN_PORT_A; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "port $port is in use"; fi
done

# --- pgbench tables ---
if [ "$(psql "$PGURL" -qtAc "SELECT to_regclass('pgbench_accounts') IS NOT NULL")" != t ]; then
  log "pgbench tables missing: pgbench -i -s 10"
  pgbench -i -s 10 -q "$PGURL" >/dev/null 2>&1 || die "pgbench -i failed on $PGURL"
fi

WORK="$(mktemp -d /tmp/sluice-metrics-overhead.XXXXXX)"
PIDS=()
SCRAPER_PID=""
cleanup() {
  local pid
  if [ -n "$SCRAPER_PID" ]; then kill -TERM "$SCRAPER_PID" 2>/dev/null || true; fi
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "${KEEP_DIR:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# write_config NAME PORT EXTRA: a Sluice config with one database named like the upstream's.
write_config() {
  cat >"$WORK/$1.toml" <<TOML
[sluice]
listen = "127.0.0.1:$2"
pool_mode = "transaction"
log_level = "warning"
$3

[databases."$DB_NAME"]
url = "$PGURL"
pool_size = $POOL
TOML
}
write_config A $PORT_A "admin_listen = \"127.0.0.1:$ADMIN_PORT_A\"
leak_detection_threshold = 60"
write_config B $PORT_B "leak_detection_threshold = 0"

start_sluice() {  # NAME PORT
  env $(env | awk -F= '/^SLUICE_/{ print "-u " $1 }') "$SLUICE_BIN" --config "$WORK/$1.toml" \
    >"$WORK/$1.log" 2>&1 </dev/null &
  PIDS+=("$!")
  local pid=$! i
  for i in $(seq 100); do
    pg_isready -q -h 127.0.0.1 -p "$2" -t 1 >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$WORK/$1.log" >&2; die "sluice $1 exited"; }
    sleep 0.1
  done
  die "sluice $1 is not listening on 127.0.0.1:$2"
}
start_sluice A $PORT_A
start_sluice B $PORT_B
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
  tps="$(awk -F'= ' '/^tps = /{ split($2, a, " "); print a[1] }' <<<"$out" | tail -n 1)"
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
