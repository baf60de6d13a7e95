#!/usr/bin/env bash
# tls-storm.sh: new TLS connections per second, directly to PostgreSQL, through Sluice, through PgBouncer.
#
#   Benchmarks/tls-storm.sh [-T SECONDS] [-c CLIENTS] [-j THREADS]     defaults: -T 20 -c 10 -j 2
#
# Each target gets `pgbench -n -C -S -c 10 -j 2 -T 20 "host=… sslmode=require"`: every transaction
# opens a new connection (TCP, TLS handshake, SCRAM), runs one SELECT and closes it, so pgbench's
# tps is the connection rate. Targets:
#   direct     PostgreSQL with ssl = on (switched on here when it is off: a self-signed certificate
#              made by `openssl req -x509 … -subj /CN=localhost`, ALTER SYSTEM SET ssl_cert_file,
#              ssl_key_file, ssl = on, pg_reload_conf(); all RESET again on exit)
#   sluice     127.0.0.1:16462, client_tls = "require" with the same certificate, transaction mode
#   pgbouncer  127.0.0.1:16463, client_tls_sslmode = require with the same certificate
# The proxies reach PostgreSQL as PGURL says (sslmode=disable by default), so only the client side
# is TLS. Reported per target: connections/s, latency and connection time (pgbench), the proxy's
# CPU µs per connection (utime+stime from /proc/PID/stat) and PostgreSQL's (the postmaster and all
# its children, live ones' utime+stime and exited ones' cutime+cstime).
#
# Environment: PGURL, PGSUPERURL, SLUICE_BIN, KEEP_DIR (see Benchmarks/lib.sh), and
#   POOL       server connections per pool in both proxies (default 10)
#   CERT_KEY   openssl -newkey argument for the certificate (default rsa:2048)
set -euo pipefail
BENCH_NAME=tls-storm
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SLUICE_PORT=16462
PGBOUNCER_PORT=16463
POOL="${POOL:-10}"
CERT_KEY="${CERT_KEY:-rsa:2048}"
DURATION=20
CLIENTS=10
THREADS=2
ORIGINAL_ARGS=("$0" "$@")
while [ "$#" -gt 0 ]; do
  case "$1" in
    -T|--duration) DURATION="$2"; shift 2 ;;
    -c|--clients) CLIENTS="$2"; shift 2 ;;
    -j|--threads) THREADS="$2"; shift 2 ;;
    -h|--help) show_help ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
for value in "$DURATION" "$CLIENTS" "$THREADS" "$POOL"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || die "-T, -c, -j and POOL must be positive integers"
done

require_pg_tools
require_pgbouncer
require_sluice
command -v openssl >/dev/null || die "openssl is needed"
require_upstream
ensure_pgbench_tables
require_free_ports "$SLUICE_PORT" "$PGBOUNCER_PORT"
make_work_dir

printf '## tls-storm: pgbench -C over TLS, %s clients, %s threads, %s s per target\n\n' "$CLIENTS" "$THREADS" "$DURATION"
show_command "${ORIGINAL_ARGS[@]}"

# --- the certificate (PostgreSQL and PgBouncer run as postgres: it owns the files) ---
openssl req -x509 -newkey "$CERT_KEY" -nodes -days 2 -subj /CN=localhost \
  -keyout "$WORK/server.key" -out "$WORK/server.crt" >/dev/null 2>&1 || die "openssl req failed"
chown postgres "$WORK/server.key" "$WORK/server.crt"
chmod 600 "$WORK/server.key"

# --- TLS in PostgreSQL ---
DATA_DIR="$(psql "$PGSUPERURL" -qtAc 'SHOW data_directory')"
PG_PID="$(head -n1 "$DATA_DIR/postmaster.pid" 2>/dev/null || true)"
SSL_WAS_ON=0
reset_ssl() {
  [ "$SSL_WAS_ON" = 0 ] || return 0
  psql "$PGSUPERURL" -qtA >/dev/null 2>&1 <<'SQL' || log "could not reset ssl in PostgreSQL (ALTER SYSTEM RESET ssl, ssl_cert_file, ssl_key_file by hand)"
ALTER SYSTEM RESET ssl;
ALTER SYSTEM RESET ssl_cert_file;
ALTER SYSTEM RESET ssl_key_file;
SELECT pg_reload_conf();
SQL
  log "PostgreSQL: ssl reset"
}
if [ "$(psql "$PGSUPERURL" -qtAc 'SHOW ssl')" = on ]; then
  SSL_WAS_ON=1
  log "PostgreSQL already has ssl = on: using its certificate"
else
  BENCH_CLEANUPS+=(reset_ssl)
  psql "$PGSUPERURL" -qtA -v ON_ERROR_STOP=1 >/dev/null <<SQL || die "could not switch ssl on in PostgreSQL"
ALTER SYSTEM SET ssl_cert_file = '$WORK/server.crt';
ALTER SYSTEM SET ssl_key_file = '$WORK/server.key';
ALTER SYSTEM SET ssl = on;
SELECT pg_reload_conf();
SQL
  for _ in $(seq 50); do [ "$(psql "$PGSUPERURL" -qtAc 'SHOW ssl')" = on ] && break; sleep 0.1; done
  log "PostgreSQL: ssl = on with a self-signed certificate (reset on exit)"
fi
DIRECT_CONNINFO="host=$DB_HOST port=$DB_PORT dbname=$DB_NAME user=$DB_USER password=$DB_PASSWORD sslmode=require"

# --- the proxies ---
sluice_config "$SLUICE_PORT" "$POOL" "client_tls = \"require\"
client_tls_cert = \"$WORK/server.crt\"
client_tls_key = \"$WORK/server.key\"
max_client_conn = 1000" >"$WORK/sluice.toml"
chmod 600 "$WORK/sluice.toml"
start_sluice sluice "$SLUICE_PORT" "$WORK/sluice.toml"
start_pgbouncer pgbouncer "$PGBOUNCER_PORT" "$POOL" "client_tls_sslmode = require
client_tls_cert_file = $WORK/server.crt
client_tls_key_file = $WORK/server.key"
proxy_conninfo() { printf 'host=127.0.0.1 port=%s dbname=%s user=%s password=%s sslmode=require' "$1" "$DB_NAME" "$DB_USER" "$DB_PASSWORD"; }

# tls_of CONNINFO: the protocol and cipher psql reports, or why it could not connect.
tls_of() {
  local info
  info="$(psql "$1" -X -qc '\conninfo' 2>&1)" || { printf 'no connection: %s' "$(head -n1 <<<"$info")"; return 0; }
  sed -nE 's/.*SSL connection \(protocol: ([^,]+), cipher: ([^,]+),.*/\1 \2/p' <<<"$info" | sed -n 1p
}
# Sanity: a plaintext client must be refused by both proxies (client TLS required).
for port in "$SLUICE_PORT" "$PGBOUNCER_PORT"; do
  if psql "$(proxy_url "$port")" -X -qtAc 'SELECT 1' >/dev/null 2>&1; then
    log "warning: the proxy on port $port accepted a plaintext (sslmode=disable) client"
  fi
done

# postgres_ticks: PostgreSQL's CPU so far: the postmaster's own and its reaped children's
# (cutime+cstime: backends that exited), plus its live children's (utime+stime).
postgres_ticks() {
  [ -n "$PG_PID" ] && [ -r "/proc/$PG_PID/stat" ] || { echo ""; return 0; }
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v pm="$PG_PID" '
    { line = $0; pid = $1; sub(/^.*\) /, "", line); split(line, f, " ")
      if (pid == pm) total += f[12] + f[13] + f[14] + f[15]; else if (f[2] == pm) total += f[12] + f[13] }
    END { print total + 0 }' || true
}

rows=()
for target in direct sluice pgbouncer; do
  case "$target" in
    direct) conninfo="$DIRECT_CONNINFO"; pid="" ;;
    sluice) conninfo="$(proxy_conninfo "$SLUICE_PORT")"; pid="$SLUICE_PID" ;;
    pgbouncer) conninfo="$(proxy_conninfo "$PGBOUNCER_PORT")"; pid="$PGBOUNCER_PID" ;;
  esac
  tls="$(tls_of "$conninfo")"
  cmd=(pgbench -n -C -S -c "$CLIENTS" -j "$THREADS" -T "$DURATION" "$conninfo")
  show_command "${cmd[@]}"
  log "$target: ${tls:-no TLS?}"
  sleep 1
  before="$([ -n "$pid" ] && cpu_ticks "$pid" || echo 0)"
  pg_before="$(postgres_ticks)"
  out="$("${cmd[@]}" 2>&1)" || { redact "$(tail -n 5 <<<"$out")" >&2; log "pgbench failed against $target"; }
  after="$([ -n "$pid" ] && cpu_ticks "$pid" || echo 0)"
  pg_after="$(postgres_ticks)"
  printf '%s\n' "$out" >"$WORK/$target.pgbench"
  tps="$(pgbench_value "$out" 'tps = ')"
  latency="$(pgbench_value "$out" 'latency average = ')"
  conn_time="$(pgbench_value "$out" 'average connection time = ')"
  count="$(pgbench_value "$out" 'number of transactions actually processed: ')"
  failed="$(pgbench_value "$out" 'number of failed transactions: ')"
  errors="$(grep -c -iE 'error|fatal' <<<"$out" || true)"
  cpu="—"; pg_cpu="—"
  if [ -n "$count" ] && [ "$count" -gt 0 ]; then
    if [ -n "$pid" ]; then
      cpu="$(awk -v t="$((after - before))" -v hz="$CLK_TCK" -v n="$count" 'BEGIN { printf "%.0f", t * 1e6 / hz / n }')"
    fi
    if [ -n "$pg_before" ] && [ -n "$pg_after" ]; then
      pg_cpu="$(awk -v t="$((pg_after - pg_before))" -v hz="$CLK_TCK" -v n="$count" 'BEGIN { printf "%.0f", t * 1e6 / hz / n }')"
    fi
  fi
  [ -z "$tps" ] || tps="$(awk -v t="$tps" 'BEGIN { printf "%.1f", t }')"
  rows+=("| $target | ${tls:-—} | ${tps:-—} | ${latency:-—} | ${conn_time:-—} | ${count:-—} | ${failed:-—} | $errors | $cpu | $pg_cpu |")
done

printf '| target | TLS | connections/s | latency avg (ms) | connection time avg (ms) | connections | failed | error lines | proxy CPU µs/conn | PostgreSQL CPU µs/conn |\n'
printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
printf '%s\n' "${rows[@]}"
printf '\npgbench -C: tps is connections per second (each transaction is connect + TLS + SCRAM + SELECT + close); its "latency average" includes the connection time. PostgreSQL CPU: the postmaster and all its children (live and exited) over the run, so it includes the SELECTs and, for direct, the fork, TLS and SCRAM of every backend. Proxy certificate: `openssl req -x509 -newkey %s`. Upstream connections: sslmode=%s.\n' "$CERT_KEY" "$DB_SSLMODE"
