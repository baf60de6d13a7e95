#!/usr/bin/env bash
# prepared.sh: pgbench -M prepared and -M simple, directly, through Sluice and through PgBouncer
# (both in transaction mode, pool 20), in one run; prints a Markdown table.
#
#   Benchmarks/prepared.sh [-T SECONDS]     default: pgbench -S -c 20 -j 2 -T 20 -n
#
# Environment:
#   PGURL        upstream PostgreSQL (default postgresql://app:app-secret@127.0.0.1:55432/app?sslmode=disable)
#   PGSUPERURL   superuser URL to the same database, for pgbench -i and app's SCRAM verifier
#                (default postgresql://postgres:postgres-secret@127.0.0.1:55432/app?sslmode=disable)
#   SLUICE_BIN   Sluice binary (default .build/release/sluice)
#   KEEP_DIR=1   keep the temporary directory (configs, logs)
# Ports 16442 (Sluice) and 16443 (PgBouncer, run as the postgres OS user on 127.0.0.1 only) must be
# free. Both proxies are stopped by pid on exit.
#
# PgBouncer 1.18 (Debian's) does not support protocol-level prepared statements in transaction
# mode: with -M prepared its clients fail with `prepared statement "P0_1" does not exist` (or
# similar), which the table shows.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PGURL="${PGURL:-postgresql://app:app-secret@127.0.0.1:55432/app?sslmode=disable}"
PGSUPERURL="${PGSUPERURL:-postgresql://postgres:postgres-secret@127.0.0.1:55432/app?sslmode=disable}"
SLUICE_BIN="${SLUICE_BIN:-$REPO/.build/release/sluice}"
POOL=20
SLUICE_PORT=16442
PGBOUNCER_PORT=16443
DURATION=20

log() { printf '[prepared] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

while [ "$#" -gt 0 ]; do
  case "$1" in
    -T) DURATION="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (only -T SECONDS)" ;;
  esac
done
[[ "$DURATION" =~ ^[0-9]+$ ]] && [ "$DURATION" -ge 1 ] && [ "$DURATION" -le 20 ] || die "-T must be 1..20 seconds"
PGBENCH_OPTS=(-S -c 20 -j 2 -T "$DURATION" -n)

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
  made_policy=0  # keep the package from starting its own pooler on 6432
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1; fi
  apt-get install -y -q pgbouncer || { apt-get update -q && apt-get install -y -q pgbouncer; }
  [ "$made_policy" -eq 0 ] || rm -f /usr/sbin/policy-rc.d
fi
[ -x "$SLUICE_BIN" ] || die "no sluice binary at $SLUICE_BIN (swift build -c release --product sluice, or set SLUICE_BIN)"

# --- the upstream, its pgbench tables, app's verifier ---
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
  *) die "$DB_USER has no SCRAM-SHA-256 verifier in pg_authid" ;;
esac
for port in "$SLUICE_PORT" "$PGBOUNCER_PORT"; do
  ! port_open "$port" || die "port $port is already in use; stop whatever listens there first"
done

# --- start both proxies; stop them by pid on exit ---
WORK="$(mktemp -d /tmp/sluice-prepared.XXXXXX)"
chmod 755 "$WORK"
SLUICE_PID=""; PGBOUNCER_PID=""
cleanup() {
  local pid
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
max_client_conn = 1000
log_level = "warning"

[databases.$DB_NAME]
url = "$PGURL"
pool_size = $POOL
EOF
chmod 600 "$WORK/sluice.toml"
# Sluice reads SLUICE_* variables as config overrides and refuses unknown ones: start it without any.
unset_sluice_vars=()
for name in ${!SLUICE_*}; do unset_sluice_vars+=(-u "$name"); done
env "${unset_sluice_vars[@]}" "$SLUICE_BIN" --config "$WORK/sluice.toml" >"$WORK/sluice.log" 2>&1 &
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
max_client_conn = 1000
server_tls_sslmode = $DB_SSLMODE
ignore_startup_parameters = extra_float_digits,options
logfile = $WORK/pgbouncer.log
pidfile = $WORK/pgbouncer.pid
EOF
chown postgres "$WORK" "$WORK/userlist.txt" "$WORK/pgbouncer.ini"
chmod 600 "$WORK/userlist.txt"
runuser -u postgres -- pgbouncer -d "$WORK/pgbouncer.ini" >"$WORK/pgbouncer.out" 2>&1 \
  || { cat "$WORK/pgbouncer.out" "$WORK/pgbouncer.log" 2>/dev/null >&2; die "pgbouncer did not start"; }

wait_ready() { # NAME PORT PID-OR-PIDFILE LOG
  local name="$1" port="$2" pid="$3" log_file="$4"
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
    tps="$(awk -F'= ' '/^tps = /{ split($2, a, " "); print a[1] }' <<<"$out")"
    latency="$(awk -F'= ' '/^latency average = /{ split($2, a, " "); print a[1] }' <<<"$out")"
    count="$(awk -F': ' '/^number of transactions actually processed: /{ split($2, a, "/"); print a[1] }' <<<"$out")"
    failed="$(awk -F': ' '/^number of failed transactions: /{ split($2, a, " "); print a[1] }' <<<"$out")"
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
