#!/usr/bin/env bash
# run-compare.sh: direct PostgreSQL vs Sluice vs PgBouncer on this machine, measured by sluice-bench or pgbench.
#
#   Benchmarks/run-compare.sh [sluice-bench options]     e.g. --workload select --duration 10 --clients 20
#   Benchmarks/run-compare.sh --pgbench [pgbench options] default: -S -c 20 -j 2 -T 20 -n
#
# Environment:
#   PGURL        upstream PostgreSQL (default postgresql://app:app-secret@127.0.0.1:55432/app?sslmode=disable)
#   PGSUPERURL   superuser URL to the same database, for pgbench -i and the SCRAM verifier
#                (default postgresql://postgres:postgres-secret@127.0.0.1:55432/app?sslmode=disable)
#   POOL         server connections per pool in both proxies (default 20)
#   SLUICE_BIN   Sluice binary (default .build/release/sluice; built if missing)
#   BENCH_BIN    sluice-bench binary (default .build/release/sluice-bench; built if missing)
#   KEEP_DIR=1   keep the temporary directory (configs, proxy logs) after the run
# Ports 16432 (Sluice) and 16433 (PgBouncer) must be free. Both proxies are stopped by pid on exit.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PGURL="${PGURL:-postgresql://app:app-secret@127.0.0.1:55432/app?sslmode=disable}"
PGSUPERURL="${PGSUPERURL:-postgresql://postgres:postgres-secret@127.0.0.1:55432/app?sslmode=disable}"
POOL="${POOL:-20}"
SLUICE_BIN="${SLUICE_BIN:-$REPO/.build/release/sluice}"
BENCH_BIN="${BENCH_BIN:-$REPO/.build/release/sluice-bench}"
SLUICE_PORT=16432
PGBOUNCER_PORT=16433

log() { printf '[run-compare] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

MODE=bench
if [ "${1:-}" = "--pgbench" ]; then MODE=pgbench; shift; fi
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi

# --- the upstream URL's parts (postgres[ql]://user:password@host[:port]/db[?params], no %-escapes) ---
url_re='^postgres(ql)?://([^:@/]+):([^@]*)@([^:/?]+)(:([0-9]+))?/([^?]+)(\?(.*))?$'
[[ "$PGURL" =~ $url_re ]] || die "PGURL must look like postgresql://user:password@host:port/db[?sslmode=…]"
DB_USER="${BASH_REMATCH[2]}"; DB_PASSWORD="${BASH_REMATCH[3]}"; DB_HOST="${BASH_REMATCH[4]}"
DB_PORT="${BASH_REMATCH[6]:-5432}"; DB_NAME="${BASH_REMATCH[7]}"; DB_QUERY="${BASH_REMATCH[9]:-}"
DB_SSLMODE=disable
if [[ "&$DB_QUERY&" =~ \&sslmode=([a-z-]+)\& ]]; then DB_SSLMODE="${BASH_REMATCH[1]}"; fi
SLUICE_URL="postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$SLUICE_PORT/$DB_NAME?sslmode=disable"
PGBOUNCER_URL="postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$PGBOUNCER_PORT/$DB_NAME?sslmode=disable"

port_open() { pg_isready -q -h 127.0.0.1 -p "$1" -t 1 >/dev/null 2>&1 || [ $? -eq 1 ]; }

# --- tools ---
command -v psql >/dev/null && command -v pgbench >/dev/null && command -v pg_isready >/dev/null \
  || die "psql, pgbench and pg_isready are needed (apt-get install postgresql-client)"
if ! command -v pgbouncer >/dev/null; then
  log "installing pgbouncer"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the package from starting its own pooler on 6432.
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1; fi
  apt-get install -y -q pgbouncer || { apt-get update -q && apt-get install -y -q pgbouncer; }
  [ "$made_policy" -eq 0 ] || rm -f /usr/sbin/policy-rc.d
fi
if [ ! -x "$SLUICE_BIN" ]; then
  log "building sluice (release)"; (cd "$REPO" && swift build -c release --product sluice)
fi
if [ "$MODE" = bench ] && [ ! -x "$BENCH_BIN" ]; then
  log "building sluice-bench (release)"; (cd "$REPO" && swift build -c release --product sluice-bench)
fi

# --- the upstream and its pgbench tables ---
psql "$PGURL" -qtAc 'SELECT 1' >/dev/null || die "PostgreSQL at $DB_HOST:$DB_PORT/$DB_NAME is not reachable as $DB_USER"
if [ "$(psql "$PGURL" -qtAc "SELECT to_regclass('pgbench_accounts') IS NOT NULL")" != t ]; then
  log "pgbench tables missing: pgbench -i -s 10 (as superuser)"
  pgbench -i -s 10 -q "$PGSUPERURL"
  psql "$PGSUPERURL" -qtAc "GRANT ALL ON pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history TO \"$DB_USER\"" >/dev/null
fi
VERIFIER="$(psql "$PGSUPERURL" -qtAc "SELECT rolpassword FROM pg_authid WHERE rolname = '$DB_USER'")" \
  || die "could not read $DB_USER's password verifier with PGSUPERURL"
case "$VERIFIER" in
  SCRAM-SHA-256\$*) ;;
  *) log "$DB_USER has no SCRAM verifier; giving PgBouncer the plaintext password"; VERIFIER="$DB_PASSWORD" ;;
esac

for port in "$SLUICE_PORT" "$PGBOUNCER_PORT"; do
  ! port_open "$port" || die "port $port is already in use; stop whatever listens there first"
done

# --- start both proxies; stop them by pid on exit ---
WORK="$(mktemp -d /tmp/sluice-compare.XXXXXX)"
chmod 755 "$WORK"
SLUICE_PID=""; PGBOUNCER_PID=""
cleanup() {
  local pid
  # pgbouncer daemonizes: its pid is in the pidfile even if we died before reading it.
  [ -n "$PGBOUNCER_PID" ] || PGBOUNCER_PID="$(cat "$WORK/pgbouncer.pid" 2>/dev/null || true)"
  for pid in $SLUICE_PID $PGBOUNCER_PID; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $SLUICE_PID $PGBOUNCER_PID; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "${KEEP_DIR:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$WORK/sluice.toml" <<EOF
[sluice]
listen = "127.0.0.1:$SLUICE_PORT"
pool_mode = "transaction"
max_client_conn = 10000
log_level = "warning"

[databases.$DB_NAME]
url = "$PGURL"
pool_size = $POOL
EOF
chmod 600 "$WORK/sluice.toml"
# Sluice reads SLUICE_* variables as config overrides and refuses unknown ones (SLUICE_BIN is
# ours): start it without any, so the file above is the whole configuration.
unset_sluice_vars=()
for name in ${!SLUICE_*}; do unset_sluice_vars+=(-u "$name"); done
env "${unset_sluice_vars[@]}" "$SLUICE_BIN" run --config "$WORK/sluice.toml" >"$WORK/sluice.log" 2>&1 &
SLUICE_PID=$!

printf '"%s" "%s"\n' "$DB_USER" "$VERIFIER" >"$WORK/userlist.txt"
cat >"$WORK/pgbouncer.ini" <<EOF
[databases]
$DB_NAME = host=$DB_HOST port=$DB_PORT dbname=$DB_NAME

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $WORK/userlist.txt
pool_mode = transaction
default_pool_size = $POOL
max_client_conn = 10000
server_tls_sslmode = $DB_SSLMODE
ignore_startup_parameters = extra_float_digits,options
logfile = $WORK/pgbouncer.log
pidfile = $WORK/pgbouncer.pid
EOF
chown postgres "$WORK" "$WORK/userlist.txt" "$WORK/pgbouncer.ini"
chmod 600 "$WORK/userlist.txt"
runuser -u postgres -- pgbouncer -d "$WORK/pgbouncer.ini" >"$WORK/pgbouncer.out" 2>&1 \
  || { cat "$WORK/pgbouncer.out" "$WORK/pgbouncer.log" 2>/dev/null >&2; die "pgbouncer did not start"; }

wait_ready() { # NAME PORT PIDFILE-OR-PID LOG
  local name="$1" port="$2" log_file="$4" pid="$3"
  for _ in $(seq 100); do
    if [ -f "$pid" ]; then pid="$(cat "$pid")"; fi
    if port_open "$port"; then return 0; fi
    if [[ "$pid" =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.2
  done
  tail -n 20 "$log_file" >&2 || true
  die "$name did not start listening on 127.0.0.1:$port (log above)"
}
wait_ready sluice "$SLUICE_PORT" "$SLUICE_PID" "$WORK/sluice.log"
wait_ready pgbouncer "$PGBOUNCER_PORT" "$WORK/pgbouncer.pid" "$WORK/pgbouncer.log"
PGBOUNCER_PID="$(cat "$WORK/pgbouncer.pid")"
log "sluice pid $SLUICE_PID on :$SLUICE_PORT, pgbouncer pid $PGBOUNCER_PID on :$PGBOUNCER_PORT, pool size $POOL"

# --- measure ---
if [ "$MODE" = bench ]; then
  "$BENCH_BIN" --compare "direct=$PGURL" --compare "sluice=$SLUICE_URL@$SLUICE_PID" \
    --compare "pgbouncer=$PGBOUNCER_URL@$PGBOUNCER_PID" "$@"
  exit $?
fi

[ "$#" -gt 0 ] || set -- -S -c 20 -j 2 -T 20 -n
TICKS="$(getconf CLK_TCK)"
cpu_ticks() { [ -n "$1" ] && awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" || echo 0; }
rows=()
for target in direct sluice pgbouncer; do
  case "$target" in
    direct) url="$PGURL"; pid="" ;;
    sluice) url="$SLUICE_URL"; pid="$SLUICE_PID" ;;
    pgbouncer) url="$PGBOUNCER_URL"; pid="$PGBOUNCER_PID" ;;
  esac
  log "pgbench $* against $target"
  before="$(cpu_ticks "$pid")"
  out="$(pgbench "$@" "$url" 2>&1)" || { printf '%s\n' "$out" | tail -n 5 >&2; log "pgbench failed against $target"; }
  after="$(cpu_ticks "$pid")"
  tps="$(awk -F'= ' '/^tps = /{ split($2, a, " "); print a[1] }' <<<"$out")"
  latency="$(awk -F'= ' '/^latency average = /{ split($2, a, " "); print a[1] }' <<<"$out")"
  count="$(awk -F': ' '/^number of transactions actually processed: /{ split($2, a, "/"); print a[1] }' <<<"$out")"
  failed="$(awk -F': ' '/^number of failed transactions: /{ split($2, a, " "); print a[1] }' <<<"$out")"
  cpu="—"
  if [ -n "$pid" ] && [ -n "$count" ] && [ "$count" -gt 0 ]; then
    cpu="$(awk -v t="$((after - before))" -v hz="$TICKS" -v n="$count" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')"
  fi
  rows+=("| $target | ${tps:-—} | ${latency:-—} | ${count:-—} | ${failed:-—} | $cpu |")
done
printf '**pgbench** %s (pool size %s)\n\n' "$*" "$POOL"
printf '| target | tps | latency avg (ms) | transactions | failed | proxy CPU µs/tx |\n|---|---:|---:|---:|---:|---:|\n'
printf '%s\n' "${rows[@]}"
