#!/usr/bin/env bash
# floor.sh: what a proxy costs at the least — pgbench -S through floor/relay.c (a bare epoll byte
# copier: no parsing, no pooling), through floor/relay_uring.c (the same copier on io_uring; only
# where liburing is installed: apt-get install liburing-dev), through Sluice and through PgBouncer,
# in one run.
#
#   Benchmarks/floor.sh [-T SECONDS] [-r ROUNDS]     defaults: -T 15 -r 2 (pgbench -S -c 20 -j 2 -n)
#
# Prints, per round and target: tps, the proxy's CPU per transaction (user, system, total, from
# /proc/PID/stat) and its context switches per transaction (/proc/PID/task/*/status). All the
# proxies run in sessions of their own; the relays give each client its own PostgreSQL
# connection, Sluice and PgBouncer a pool of 20 (transaction mode), so all keep 20 backends busy.
#
# Environment: PGURL, PGSUPERURL, SLUICE_BIN, KEEP_DIR, SLUICE_ENV (see Benchmarks/lib.sh).
# Ports 16450 (relay), 16453 (io_uring relay), 16451 (Sluice), 16452 (PgBouncer) must be free; all are stopped by pid on exit.
set -euo pipefail
BENCH_NAME=floor
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RELAY_PORT=16450
URING_PORT=16453
SLUICE_PORT=16451
PGBOUNCER_PORT=16452
DURATION=15
ROUNDS=2
ORIGINAL_ARGS=("$0" "$@")
while [ "$#" -gt 0 ]; do
  case "$1" in
    -T) DURATION="$2"; shift 2 ;;
    -r) ROUNDS="$2"; shift 2 ;;
    -h|--help) show_help ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
for value in "$DURATION" "$ROUNDS"; do [[ "$value" =~ ^[1-9][0-9]*$ ]] || die "-T and -r must be positive integers"; done
[ "$DB_HOST" = 127.0.0.1 ] || [ "$DB_HOST" = localhost ] || die "the relay only forwards to 127.0.0.1 (PGURL host is $DB_HOST)"
command -v cc >/dev/null || die "cc is needed to build floor/relay.c (apt-get install gcc)"

require_pg_tools
require_pgbouncer
require_sluice
require_upstream
ensure_pgbench_tables
require_free_ports "$RELAY_PORT" "$URING_PORT" "$SLUICE_PORT" "$PGBOUNCER_PORT"
make_work_dir

cc -O2 -Wall -o "$WORK/relay" "$(dirname "${BASH_SOURCE[0]}")/floor/relay.c" || die "could not build floor/relay.c"
setsid "$WORK/relay" "$RELAY_PORT" "$DB_PORT" >"$WORK/relay.log" 2>&1 </dev/null &
RELAY_PID=$!
BENCH_PIDS+=("$RELAY_PID")
wait_listening relay "$RELAY_PORT" "$RELAY_PID" "$WORK/relay.log"
TARGETS=(relay)
if cc -O2 -Wall -o "$WORK/relay_uring" "$(dirname "${BASH_SOURCE[0]}")/floor/relay_uring.c" -luring 2>"$WORK/uring-build.log"; then
  setsid "$WORK/relay_uring" "$URING_PORT" "$DB_PORT" >"$WORK/relay_uring.log" 2>&1 </dev/null &
  URING_PID=$!
  BENCH_PIDS+=("$URING_PID")
  wait_listening relay_uring "$URING_PORT" "$URING_PID" "$WORK/relay_uring.log"
  TARGETS+=(uring-relay)
else
  log "floor/relay_uring.c not built (liburing missing? apt-get install liburing-dev): measuring without it"
fi
TARGETS+=(sluice pgbouncer)
sluice_config "$SLUICE_PORT" 20 "max_client_conn = 10000" >"$WORK/sluice.toml"
chmod 600 "$WORK/sluice.toml"
start_sluice sluice "$SLUICE_PORT" "$WORK/sluice.toml"
start_pgbouncer pgbouncer "$PGBOUNCER_PORT" 20

printf '## floor: pgbench -S -c 20 -j 2 -T %s -n through a bare relay, Sluice and PgBouncer, %s rounds\n\n' "$DURATION" "$ROUNDS"
show_command "${ORIGINAL_ARGS[@]}"
switches() { cat "/proc/$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'; }
user_system() { awk '{ sub(/^.*\) /, ""); print $12, $13 }' "/proc/$1/stat"; }
printf '| round | target | tps | CPU µs/tx (user + system) | context switches/tx |\n|---|---|---:|---:|---:|\n'
for round in $(seq "$ROUNDS"); do
  for target in "${TARGETS[@]}"; do
    case "$target" in
      relay) port="$RELAY_PORT"; pid="$RELAY_PID" ;;
      uring-relay) port="$URING_PORT"; pid="$URING_PID" ;;
      sluice) port="$SLUICE_PORT"; pid="$SLUICE_PID" ;;
      pgbouncer) port="$PGBOUNCER_PORT"; pid="$PGBOUNCER_PID" ;;
    esac
    url="$(proxy_url "$port")"
    pgbench -S -c 20 -j 2 -T 2 -n "$url" >/dev/null 2>&1 || true  # warm-up: connections, caches
    read -r user0 system0 < <(user_system "$pid"); switches0="$(switches "$pid")"
    out="$(pgbench -S -c 20 -j 2 -T "$DURATION" -n "$url" 2>&1)" || { printf '%s\n' "$out" | tail -n 5 >&2; die "pgbench failed against $target"; }
    read -r user1 system1 < <(user_system "$pid"); switches1="$(switches "$pid")"
    count="$(pgbench_value "$out" 'number of transactions actually processed: ')"
    tps="$(pgbench_value "$out" 'tps = ')"
    awk -v r="$round" -v t="$target" -v tps="$tps" -v n="$count" -v hz="$CLK_TCK" \
        -v u="$((user1 - user0))" -v s="$((system1 - system0))" -v c="$((switches1 - switches0))" \
        'BEGIN { printf "| %s | %s | %d | %.1f (%.1f + %.1f) | %.2f |\n", r, t, tps, (u + s) * 1e6 / hz / n, u * 1e6 / hz / n, s * 1e6 / hz / n, c / n }'
  done
done
