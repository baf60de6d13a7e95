# lib.sh: shared helpers of the benchmark scripts in this folder (run-compare.sh, workers.sh, prepared.sh,
# metrics-overhead.sh, chaos.sh, tls-storm.sh, many-clients.sh, idle-clients.sh).
# Source it after setting BENCH_NAME; it defines functions and the common settings, and runs nothing
# but the URL parsing.
#
# Environment (every script):
#   SLUICE_ENV   NAME=VALUE words added to Sluice's environment (e.g. SLUICE_LOOP_LINGER_MS=0)
#   SLUICE_SETSID=0  start Sluice in the script's session instead of its own (see start_sluice)
#   PGURL        upstream PostgreSQL, the role clients use
#                (default postgresql://app:app-secret@127.0.0.1:55500/app?sslmode=disable)
#   PGSUPERURL   superuser URL to the same database (pgbench -i, SCRAM verifier, pg_stat_activity)
#                (default postgresql://postgres:postgres-secret@127.0.0.1:55500/app?sslmode=disable)
#   SLUICE_BIN   Sluice binary (default .build-benchmarks/release/sluice; built if missing)
#   BENCH_BIN    sluice-bench binary (default .build-benchmarks/release/sluice-bench; built if missing)
#   PYTHON       Python with psycopg2 (default .venv/bin/python; the venv is made if missing)
#   KEEP_DIR=1   keep the temporary directory (configs, logs) after the run
# Every process a script starts is stopped by pid on exit (TERM, then KILL after 5 s).

BENCH_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PGURL="${PGURL:-postgresql://app:app-secret@127.0.0.1:55500/app?sslmode=disable}"
PGSUPERURL="${PGSUPERURL:-postgresql://postgres:postgres-secret@127.0.0.1:55500/app?sslmode=disable}"
SLUICE_BIN="${SLUICE_BIN:-$BENCH_REPO/.build-benchmarks/release/sluice}"
BENCH_BIN="${BENCH_BIN:-$BENCH_REPO/.build-benchmarks/release/sluice-bench}"
PYTHON="${PYTHON:-$BENCH_REPO/.venv/bin/python}"
BENCH_NAME="${BENCH_NAME:-bench}"

log() { printf '[%s] %s\n' "$BENCH_NAME" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- the upstream URL's parts (postgres[ql]://user:password@host[:port]/db[?params], no %-escapes) ---
_url_re='^postgres(ql)?://([^:@/]+):([^@]*)@([^:/?]+)(:([0-9]+))?/([^?]+)(\?(.*))?$'
[[ "$PGURL" =~ $_url_re ]] || die "PGURL must look like postgresql://user:password@host:port/db[?sslmode=…]"
DB_USER="${BASH_REMATCH[2]}"; DB_PASSWORD="${BASH_REMATCH[3]}"; DB_HOST="${BASH_REMATCH[4]}"
DB_PORT="${BASH_REMATCH[6]:-5432}"; DB_NAME="${BASH_REMATCH[7]}"; DB_QUERY="${BASH_REMATCH[9]:-}"
DB_SSLMODE=disable
if [[ "&$DB_QUERY&" =~ \&sslmode=([a-z-]+)\& ]]; then DB_SSLMODE="${BASH_REMATCH[1]}"; fi

# proxy_url PORT [SSLMODE]: the URL clients use to reach a proxy on 127.0.0.1:PORT.
proxy_url() { printf 'postgresql://%s:%s@127.0.0.1:%s/%s?sslmode=%s' "$DB_USER" "$DB_PASSWORD" "$1" "$DB_NAME" "${2:-disable}"; }

# redact TEXT: hides passwords in URLs, conninfo strings and --password arguments.
redact() { sed -E "s#(://[^:/@]+):[^@]*@#\\1:****@#g; s#(password=)[^ ']*#\\1****#g; s#(--password )[^ ']*#\\1****#g" <<<"$*"; }

# show_command ARG...: prints the exact command line (shell-quoted, passwords hidden) to stdout.
show_command() {
  local out="" arg
  for arg in "$@"; do
    if [[ "$arg" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then out+="$arg "; else out+="'${arg//\'/\'\\\'\'}' "; fi
  done
  printf '```\n%s\n```\n\n' "$(redact "${out% }")"
}

# show_help: prints the calling script's header comment (its usage) and exits 0.
show_help() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0; }

# pgbench_value OUTPUT PREFIX: the number that follows PREFIX at the start of a line of pgbench's
# summary (the last such line), e.g. pgbench_value "$out" 'tps = '; nothing if there is none.
pgbench_value() {
  awk -v prefix="$2" 'index($0, prefix) == 1 { rest = substr($0, length(prefix) + 1); split(rest, a, /[ \/]/); value = a[1] }
                      END { if (value != "") print value }' <<<"$1"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
require_free_ports() { local p; for p in "$@"; do ! port_open "$p" || die "port $p is already in use; stop whatever listens there first"; done; }

# --- tools and binaries ---
require_pg_tools() {
  command -v psql >/dev/null && command -v pgbench >/dev/null && command -v pg_isready >/dev/null \
    || die "psql, pgbench and pg_isready are needed (apt-get install postgresql-client)"
}
require_pgbouncer() {
  command -v pgbouncer >/dev/null && return 0
  log "installing pgbouncer"
  export DEBIAN_FRONTEND=noninteractive
  local made_policy=0  # keep the package from starting its own pooler on 6432
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1; fi
  apt-get install -y -q pgbouncer || { apt-get update -q && apt-get install -y -q pgbouncer; }
  [ "$made_policy" -eq 0 ] || rm -f /usr/sbin/policy-rc.d
  command -v pgbouncer >/dev/null || die "pgbouncer is not installed"
}
require_binary() {  # PATH PRODUCT
  [ -x "$1" ] && return 0
  log "$1 missing: building $2 (release, scratch path .build-benchmarks)"
  (cd "$BENCH_REPO" && swift build -c release --scratch-path .build-benchmarks --product "$2") >&2 \
    || die "could not build $2"
  [ -x "$1" ] || die "$1 is still missing after the build (set SLUICE_BIN / BENCH_BIN)"
}
require_sluice() { require_binary "$SLUICE_BIN" sluice; }
require_bench() { require_binary "$BENCH_BIN" sluice-bench; }
require_python() {  # MODULE...
  if [ ! -x "$PYTHON" ]; then
    log "no Python at $PYTHON: making $BENCH_REPO/.venv"
    # shellcheck source=/dev/null
    (source "$BENCH_REPO/scripts/lib/common.sh" && sluice_venv) >&2 || die "could not make the venv"
    PYTHON="$BENCH_REPO/.venv/bin/python"
  fi
  local module
  for module in "$@"; do
    "$PYTHON" -c "import $module" 2>/dev/null || die "$PYTHON cannot import $module (pip install it, or set PYTHON)"
  done
}

# --- the upstream ---
require_upstream() {
  psql "$PGURL" -qtAc 'SELECT 1' >/dev/null || die "PostgreSQL at $DB_HOST:$DB_PORT/$DB_NAME is not reachable as $DB_USER"
  [ "$(psql "$PGSUPERURL" -qtAc 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user')" = t ] \
    || die "PGSUPERURL does not log in as a superuser"
}
ensure_pgbench_tables() {
  if [ "$(psql "$PGURL" -qtAc "SELECT to_regclass('pgbench_accounts') IS NOT NULL")" != t ]; then
    log "pgbench tables missing: pgbench -i -s 10 (as superuser)"
    pgbench -i -s 10 -q "$PGSUPERURL" >/dev/null 2>&1 || die "pgbench -i failed"
    psql "$PGSUPERURL" -qtAc "GRANT ALL ON pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history TO \"$DB_USER\"" >/dev/null
  fi
}
# scram_verifier: prints the role's verifier for PgBouncer's userlist (or the plaintext password).
scram_verifier() {
  local verifier
  verifier="$(psql "$PGSUPERURL" -qtAc "SELECT rolpassword FROM pg_authid WHERE rolname = '$DB_USER'")" \
    || die "could not read $DB_USER's password verifier with PGSUPERURL"
  case "$verifier" in
    SCRAM-SHA-256\$*) printf '%s' "$verifier" ;;
    *) log "$DB_USER has no SCRAM verifier; giving PgBouncer the plaintext password"; printf '%s' "$DB_PASSWORD" ;;
  esac
}

# --- the work directory and the processes to stop on exit ---
WORK=""
BENCH_PIDS=()        # stopped with TERM, then KILL
BENCH_PIDFILES=()    # daemons (pgbouncer): their pid is read from the file at exit
BENCH_CLEANUPS=()    # functions to run first on exit (e.g. restoring a server setting)
make_work_dir() {
  WORK="$(mktemp -d "/tmp/sluice-$BENCH_NAME.XXXXXX")"
  chmod 755 "$WORK"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}
stop_pid() {  # PID: TERM, wait up to 5 s, KILL
  local pid="$1" i
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
forget_pid() {  # PID: after stopping it ourselves
  local kept=() pid
  for pid in "${BENCH_PIDS[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
  BENCH_PIDS=("${kept[@]}")
}
bench_cleanup() {
  local rc=$? fn pid file
  trap - EXIT
  for fn in "${BENCH_CLEANUPS[@]}"; do "$fn" || true; done
  for file in "${BENCH_PIDFILES[@]}"; do  # a daemon that died before we read its pidfile
    pid="$(cat "$file" 2>/dev/null || true)"
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = pgbouncer ]; then BENCH_PIDS+=("$pid"); fi
  done
  for pid in "${BENCH_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${BENCH_PIDS[@]}"; do stop_pid "$pid"; done
  if [ -n "$WORK" ]; then
    if [ "${KEEP_DIR:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  fi
  exit "$rc"
}

# --- file descriptors ---
# raise_nofile WANTED: soft limit to the hard one (and the hard one up, when allowed); dies when
# the result is below WANTED. Child processes (the proxies, the clients) inherit it.
raise_nofile() {
  local wanted="$1" hard
  if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$wanted" ]; then
    ulimit -Hn "$wanted" 2>/dev/null || true
  fi
  hard="$(ulimit -Hn)"
  ulimit -Sn "$hard" 2>/dev/null || true
  if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$wanted" ]; then
    die "open-files limit is $(ulimit -n) (hard $hard); this run needs $wanted per process (raise the hard limit, e.g. docker --ulimit nofile=65536)"
  fi
}

# --- /proc measurements ---
stat_ticks() { awk '{ sub(/^.*\) /, ""); print $12, $13 }' "/proc/$1/stat"; }  # "utime stime" (fails if gone)
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }  # utime+stime
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
CLK_TCK="$(getconf CLK_TCK)"

# --- starting the proxies ---
wait_listening() {  # NAME PORT PID LOG
  local i
  for i in $(seq 150); do
    port_open "$2" && return 0
    kill -0 "$3" 2>/dev/null || break
    sleep 0.2
  done
  tail -n 20 "$4" >&2 || true
  die "$1 did not start listening on 127.0.0.1:$2 (log above)"
}

# start_sluice NAME PORT CONFIG: runs Sluice with every SLUICE_* variable removed from its
# environment (Sluice reads them as overrides and refuses unknown ones, e.g. SLUICE_BIN; a
# measurement knob can be passed as SLUICE_ENV="SLUICE_LOOP_LINGER_MS=0"), in a session of its own;
# sets SLUICE_PID.
#
# The session matters (Benchmarks/RESULTS.md, issue 9 "Third pass"): with kernel.sched_autogroup_enabled
# every session is one scheduling group, PostgreSQL's backends each call setsid() and PgBouncer -d
# daemonizes, so a Sluice left in this script's session would share one group with the load
# generator's threads and be measured, and scheduled, unlike the others (and unlike a service).
start_sluice() {
  local name="$1" port="$2" config="$3" unset_vars=() var session=setsid
  for var in ${!SLUICE_*}; do unset_vars+=(-u "$var"); done
  [ "${SLUICE_SETSID:-1}" = 1 ] || session=  # SLUICE_SETSID=0: the script's session (to reproduce that)
  # shellcheck disable=SC2086  # SLUICE_ENV is a list of NAME=VALUE words
  env "${unset_vars[@]}" ${SLUICE_ENV:-} $session "$SLUICE_BIN" run --config "$config" >"$WORK/$name.log" 2>&1 </dev/null &
  SLUICE_PID=$!  # env and setsid exec themselves away (setsid forks only for a group leader)
  BENCH_PIDS+=("$SLUICE_PID")
  wait_listening "$name" "$port" "$SLUICE_PID" "$WORK/$name.log"
  log "$name: sluice pid $SLUICE_PID on 127.0.0.1:$port"
}

# sluice_config PORT POOL [EXTRA-[sluice]-LINES]: prints a transaction-mode config for the upstream.
sluice_config() {
  cat <<EOF
[sluice]
listen = "127.0.0.1:$1"
pool_mode = "transaction"
log_level = "warning"
${3:-}

[databases."$DB_NAME"]
url = "$PGURL"
pool_size = $2
EOF
}

# start_pgbouncer NAME PORT POOL [EXTRA-[pgbouncer]-LINES]: PgBouncer as the postgres OS user on
# 127.0.0.1 only, transaction mode, SCRAM with the role's verifier; sets PGBOUNCER_PID.
# max_client_conn is $PGBOUNCER_MAX_CLIENT_CONN (default 10000).
start_pgbouncer() {
  local name="$1" port="$2" pool="$3" extra="${4:-}" i
  printf '"%s" "%s"\n' "$DB_USER" "$(scram_verifier)" >"$WORK/$name.userlist"
  cat >"$WORK/$name.ini" <<EOF
[databases]
$DB_NAME = host=$DB_HOST port=$DB_PORT dbname=$DB_NAME

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $WORK/$name.userlist
pool_mode = transaction
default_pool_size = $pool
max_client_conn = ${PGBOUNCER_MAX_CLIENT_CONN:-10000}
server_tls_sslmode = $DB_SSLMODE
ignore_startup_parameters = extra_float_digits,options
logfile = $WORK/$name.log
pidfile = $WORK/$name.pid
$extra
EOF
  chown postgres "$WORK" "$WORK/$name.userlist" "$WORK/$name.ini"
  chmod 600 "$WORK/$name.userlist"
  BENCH_PIDFILES+=("$WORK/$name.pid")
  (cd / && runuser -u postgres -- pgbouncer -d "$WORK/$name.ini") >"$WORK/$name.out" 2>&1 \
    || { cat "$WORK/$name.out" "$WORK/$name.log" 2>/dev/null >&2; die "pgbouncer did not start"; }
  for i in $(seq 50); do [ -s "$WORK/$name.pid" ] && break; sleep 0.1; done
  PGBOUNCER_PID="$(cat "$WORK/$name.pid" 2>/dev/null || true)"
  [ -n "$PGBOUNCER_PID" ] || die "pgbouncer wrote no pidfile"
  # runuser applies the postgres user's PAM limits (often nofile 1024): give pgbouncer ours.
  prlimit --pid "$PGBOUNCER_PID" --nofile="$(ulimit -Sn):$(ulimit -Hn)" 2>/dev/null || true
  BENCH_PIDS+=("$PGBOUNCER_PID")
  wait_listening "$name" "$port" "$PGBOUNCER_PID" "$WORK/$name.log"
  log "$name: pgbouncer pid $PGBOUNCER_PID on 127.0.0.1:$port"
}

# stop_proxy PID: stops one proxy now (between runs), by pid.
stop_proxy() {
  local kept=() file
  stop_pid "$1"; forget_pid "$1"
  for file in "${BENCH_PIDFILES[@]}"; do [ "$(cat "$file" 2>/dev/null)" = "$1" ] || kept+=("$file"); done
  BENCH_PIDFILES=("${kept[@]}")
}
