#!/usr/bin/env bash
# chaos.sh: Sluice and PgBouncer while their server connections are killed and the upstream restarts.
#
#   Benchmarks/chaos.sh [--duration S] [--clients N] [--kill-every S] [--restart-at S]
#                                        defaults: 60 s, 50 clients, a kill every 2 s, restart at S/2
#
# Runs Benchmarks/chaos.py (see its --help) through
#   Sluice    (127.0.0.1:16460, transaction mode, pool_size = $POOL), then through
#   PgBouncer (127.0.0.1:16461, as the postgres OS user, transaction mode, default_pool_size = $POOL,
#              server_login_retry = 1, server_connect_timeout = 5),
# one after the other, each started just before its run and stopped by pid after it, and prints
# both results side by side (Markdown): transactions attempted, ok, failed in flight (on a killed
# backend or during the restart), failed otherwise, reconnects, and the failure codes.
# The upstream is restarted once per run (pg_ctl restart -m fast, as the data directory's owner),
# so run this against a throwaway cluster only.
#
# Environment: PGURL, PGSUPERURL, SLUICE_BIN, PYTHON, KEEP_DIR (see Benchmarks/lib.sh), and
#   POOL           server connections per pool in both proxies (default 10)
#   SLUICE_EXTRA   more lines for Sluice's [sluice] table (e.g. 'server_login_retry = 1')
# Needs root (or the postgres user) for pg_ctl and /proc/PID/fd of both proxies.
set -euo pipefail
BENCH_NAME=chaos
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SLUICE_PORT=16460
PGBOUNCER_PORT=16461
POOL="${POOL:-10}"
DURATION=60
CLIENTS=50
KILL_EVERY=2
RESTART_AT=""
ORIGINAL_ARGS=("$0" "$@")
while [ "$#" -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --kill-every) KILL_EVERY="$2"; shift 2 ;;
    --restart-at) RESTART_AT="$2"; shift 2 ;;
    -h|--help) show_help ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ "$DURATION" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--duration must be a number of seconds"
[[ "$CLIENTS" =~ ^[1-9][0-9]*$ ]] || die "--clients must be a positive integer"
[[ "$POOL" =~ ^[1-9][0-9]*$ ]] || die "POOL must be a positive integer"

require_pg_tools
require_pgbouncer
require_sluice
require_python psycopg2
require_upstream
ensure_pgbench_tables
require_free_ports "$SLUICE_PORT" "$PGBOUNCER_PORT"
make_work_dir

CHAOS_ARGS=(--clients "$CLIENTS" --duration "$DURATION" --kill-every "$KILL_EVERY" --super-url "$PGSUPERURL")
[ -z "$RESTART_AT" ] || CHAOS_ARGS+=(--restart-at "$RESTART_AT")

printf '## chaos: %s clients, %s s, a proxy backend killed every %s s, one upstream restart\n\n' \
  "$CLIENTS" "$DURATION" "$KILL_EVERY"
show_command "${ORIGINAL_ARGS[@]}"

# wait_upstream: the previous run restarted the upstream; pg_ctl -w returned, but be sure.
wait_upstream() {
  local i
  for i in $(seq 100); do psql "$PGSUPERURL" -qtAc 'SELECT 1' >/dev/null 2>&1 && return 0; sleep 0.2; done
  die "the upstream does not answer after the restart"
}

# --- Sluice ---
sluice_config "$SLUICE_PORT" "$POOL" "max_client_conn = 1000
${SLUICE_EXTRA:-}" >"$WORK/sluice.toml"
chmod 600 "$WORK/sluice.toml"
start_sluice sluice "$SLUICE_PORT" "$WORK/sluice.toml"
printf 'Sluice config (`[sluice]` table):\n\n```toml\n%s\n```\n\n' "$(sed -n '/^\[sluice\]/,/^$/p' "$WORK/sluice.toml" | sed '/^$/d')"
cmd=("$PYTHON" "$BENCH_REPO/Benchmarks/chaos.py" --name sluice --url "$(proxy_url "$SLUICE_PORT")"
     --proxy-pid "$SLUICE_PID" "${CHAOS_ARGS[@]}" --json "$WORK/sluice.json")
show_command "${cmd[@]}"
"${cmd[@]}" >/dev/null || die "chaos.py failed against Sluice"
stop_proxy "$SLUICE_PID"
wait_upstream
sleep 1

# --- PgBouncer ---
start_pgbouncer pgbouncer "$PGBOUNCER_PORT" "$POOL" "server_login_retry = 1
server_connect_timeout = 5"
printf 'PgBouncer config (`[pgbouncer]` table, paths left out):\n\n```ini\n%s\n```\n\n' \
  "$(sed -n '/^\[pgbouncer\]/,$p' "$WORK/pgbouncer.ini" | grep -v -e '^logfile' -e '^pidfile' -e '^auth_file' -e '^$')"
cmd=("$PYTHON" "$BENCH_REPO/Benchmarks/chaos.py" --name pgbouncer --url "$(proxy_url "$PGBOUNCER_PORT")"
     --proxy-pid "$PGBOUNCER_PID" "${CHAOS_ARGS[@]}" --json "$WORK/pgbouncer.json")
show_command "${cmd[@]}"
"${cmd[@]}" >/dev/null || die "chaos.py failed against PgBouncer"
stop_proxy "$PGBOUNCER_PID"
wait_upstream

# --- side by side ---
"$PYTHON" "$BENCH_REPO/Benchmarks/chaos.py" --combine "$WORK/sluice.json" "$WORK/pgbouncer.json"
if grep -qiE 'warning|error|critical|fatal' "$WORK/sluice.log" 2>/dev/null; then
  printf '\nSluice log, warnings and errors by count (timestamps dropped):\n\n```\n%s\n```\n' \
    "$(grep -iE 'warning|error|critical|fatal' "$WORK/sluice.log" | sed -E 's/^[0-9T:+-]+ //' | sort | uniq -c | sort -rn | sed -n 1,10p)"
fi
