#!/usr/bin/env bash
# workers.sh: Sluice with `workers = 1` against Sluice with `workers = 2`, same pool size, same run.
#
#   Benchmarks/workers.sh [-T SECONDS] [-c CLIENTS] [-r ROUNDS]     defaults: -T 15 -c 20 -r 2
#
# Starts two Sluices on 127.0.0.1 (16470: workers = 1, 16471: workers = 2; transaction mode,
# pool_size = POOL in both, so the two-worker one gives each worker POOL/2 servers) and runs, ROUNDS
# times alternating, sluice-bench --compare on:
#   select   pgbench -S's statement, simple protocol, CLIENTS clients
#   large    SELECT repeat('x', 1 MiB), 4 clients (relay CPU: copying big results)
# and prints sluice-bench's tables (tps, latency percentiles, errors, proxy CPU µs/tx and RSS).
#
# Environment: PGURL, PGSUPERURL, SLUICE_BIN, BENCH_BIN, KEEP_DIR (see Benchmarks/lib.sh), and
#   POOL   server connections per database in each Sluice (default 20)
set -euo pipefail
BENCH_NAME=workers
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ONE_PORT=16470
TWO_PORT=16471
POOL="${POOL:-20}"
DURATION=15
CLIENTS=20
ROUNDS=2
ORIGINAL_ARGS=("$0" "$@")
while [ "$#" -gt 0 ]; do
  case "$1" in
    -T|--duration) DURATION="$2"; shift 2 ;;
    -c|--clients) CLIENTS="$2"; shift 2 ;;
    -r|--rounds) ROUNDS="$2"; shift 2 ;;
    -h|--help) show_help ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
for value in "$DURATION" "$CLIENTS" "$ROUNDS" "$POOL"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || die "-T, -c, -r and POOL must be positive integers"
done

require_pg_tools
require_sluice
require_bench
require_upstream
ensure_pgbench_tables
require_free_ports "$ONE_PORT" "$TWO_PORT"
make_work_dir

printf '## workers: workers = 1 vs workers = 2, pool_size %s, %s s per target, %s rounds\n\n' "$POOL" "$DURATION" "$ROUNDS"
show_command "${ORIGINAL_ARGS[@]}"

sluice_config "$ONE_PORT" "$POOL" "workers = 1
max_client_conn = 10000" >"$WORK/one.toml"
sluice_config "$TWO_PORT" "$POOL" "workers = 2
max_client_conn = 10000" >"$WORK/two.toml"
chmod 600 "$WORK/one.toml" "$WORK/two.toml"
start_sluice one "$ONE_PORT" "$WORK/one.toml"
ONE_PID="$SLUICE_PID"
start_sluice two "$TWO_PORT" "$WORK/two.toml"
TWO_PID="$SLUICE_PID"

for round in $(seq "$ROUNDS"); do
  for workload in select large; do
    case "$workload" in
      select) args=(--workload select --clients "$CLIENTS") ;;
      large) args=(--workload large --clients 4 --row-bytes 1048576) ;;
    esac
    # Alternate which one goes first, so neither always runs on a warmer machine.
    if [ $((round % 2)) = 1 ]; then
      order=(--compare "workers1=$(proxy_url "$ONE_PORT")@$ONE_PID" --compare "workers2=$(proxy_url "$TWO_PORT")@$TWO_PID")
    else
      order=(--compare "workers2=$(proxy_url "$TWO_PORT")@$TWO_PID" --compare "workers1=$(proxy_url "$ONE_PORT")@$ONE_PID")
    fi
    cmd=("$BENCH_BIN" "${args[@]}" --duration "$DURATION" "${order[@]}")
    printf '### round %s: %s\n\n' "$round" "$workload"
    show_command "${cmd[@]}"
    "${cmd[@]}" 2>"$WORK/bench-$round-$workload.err" || { cat "$WORK/bench-$round-$workload.err" >&2; die "sluice-bench failed"; }
    printf '\n'
  done
done
