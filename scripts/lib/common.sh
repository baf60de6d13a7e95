# Shared helpers for Sluice's scripts: dependencies, throwaway PostgreSQL clusters, the Python venv.
# Source it (". scripts/lib/common.sh"); it defines functions and SLUICE_REPO, and runs nothing.

SLUICE_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SLUICE_PG_BIN="${SLUICE_PG_BIN:-/usr/lib/postgresql/15/bin}"

# Debian packages the build, the tests and the benchmarks need, each with the reason it is here
# (printed when it is installed). Order is the order of installation.
SLUICE_APT_PACKAGES=(
  postgresql-15 postgresql-client-15 postgresql-contrib libpq-dev libssl-dev
  pgbouncer libpostgresql-jdbc-java default-jre-headless pkg-config python3-venv tmux chromium
  prometheus
)
declare -A SLUICE_APT_WHY=(
  [postgresql-15]="the throwaway PostgreSQL server behind the tests and the quickstart"
  [postgresql-client-15]="psql and pgbench, the tests' and benchmarks' clients"
  [postgresql-contrib]="pg_stat_statements and friends, used by some tests"
  [libpq-dev]="libpq headers: the CLibpq module (sluice doctor, load generator)"
  [libssl-dev]="OpenSSL headers: TLS and SCRAM crypto (COpenSSL module)"
  [pgbouncer]="the side-by-side benchmarks and the PgBouncer-compatibility tests"
  [libpostgresql-jdbc-java]="the PostgreSQL JDBC driver of the Java client tests"
  [default-jre-headless]="the Java runtime that runs the JDBC tests"
  [pkg-config]="finds OpenSSL and libpq for swift build"
  [python3-venv]="the virtualenv of the Python driver tests"
  [tmux]="runs sluice top in an 80x24 terminal and reads its screen (test_cli_top.py)"
  [chromium]="renders sluice-bench's HTML report headless to a PNG screenshot (test_bench_report.py)"
  [prometheus]="promtool (checks the alert rules and /metrics) and a Prometheus server that scrapes a test Sluice and runs the dashboard's and alerts' queries"
)
# Services some of these packages start at install; the tests run their own instances on free ports.
# (Not postgresql: its unit is the umbrella of every cluster on the machine, other versions' too;
# policy-rc.d keeps the new cluster from starting.)
SLUICE_APT_SERVICES=(pgbouncer prometheus)
# Debian's node-postgres and the node-* packages it needs at run time. They are unpacked into
# .node/ (not installed: Debian's node-pg conflicts with this machine's Node.js build).
# node-libpq (pg-native) is left out: it is built for Debian's own Node.js ABI.
SLUICE_NODE_DEBS=(
  node-pg node-async node-inherits node-isarray node-core-util-is node-process-nextick-args
  node-readable-stream node-safe-buffer node-split2 node-string-decoder node-through2
  node-util-deprecate node-xtend
)
# Python packages of the integration suite (pip requirement specifiers).
SLUICE_PY_PACKAGES=(
  pytest pytest-timeout psycopg2-binary "psycopg[binary]" psycopg-pool asyncpg sqlalchemy django prometheus_client pyyaml greenlet
  pillow
)

sluice_log() { printf '[sluice] %s\n' "$*" >&2; }

# sluice_section TITLE: a header that stands out in CI logs.
sluice_section() {
  printf '\n==================== %s ====================\n' "$*"
}

# Pipelines here never end in a reader that stops early (grep -q, head): under `set -o pipefail`
# the writer then dies of SIGPIPE and the pipeline fails although the reader found its match.
# Output is captured whole into a variable and parsed from there.

# sluice_pkg_installed PKG: whether dpkg has PKG installed.
sluice_pkg_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# sluice_apt_candidate PKG: prints the version apt would install (installed packages have one
# from dpkg's status even without package lists), or nothing when there is none.
sluice_apt_candidate() {
  local policy candidate
  policy="$(apt-cache policy "$1" 2>/dev/null)" || return 0
  candidate="$(awk '$1 == "Candidate:" { print $2 }' <<<"$policy")"
  [ "$candidate" = "(none)" ] || printf '%s' "$candidate"
}

_SLUICE_APT_UPDATED=0
_sluice_apt_update() {
  [ "$_SLUICE_APT_UPDATED" -eq 0 ] || return 0
  sluice_log "apt-get update (package lists for what follows)"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  _SLUICE_APT_UPDATED=1
}

# sluice_check_installable: every listed package, installed or not, must have an apt candidate.
# Runs on every call of sluice_install_deps, so a broken check fails on warm machines (CI's) too,
# not only on new ones. Fetches package lists once when a missing package has no candidate yet.
sluice_check_installable() {
  local pkg no_candidate=()
  for pkg in "${SLUICE_APT_PACKAGES[@]}"; do
    [ -n "$(sluice_apt_candidate "$pkg")" ] || no_candidate+=("$pkg")
  done
  if [ "${#no_candidate[@]}" -gt 0 ] && [ "$(id -u)" -eq 0 ]; then
    _sluice_apt_update
    local retry=("${no_candidate[@]}")
    no_candidate=()
    for pkg in "${retry[@]}"; do
      [ -n "$(sluice_apt_candidate "$pkg")" ] || no_candidate+=("$pkg")
    done
  fi
  for pkg in "${no_candidate[@]}"; do
    # python3 may be a pyenv build that has venv built in.
    if [ "$pkg" = python3-venv ] && python3 -c 'import venv, ensurepip' 2>/dev/null; then
      sluice_log "python3-venv: no apt candidate; python3 has venv and ensurepip built in, using that"
      continue
    fi
    sluice_log "apt has no candidate for package $pkg (needed for: ${SLUICE_APT_WHY[$pkg]:-?})"
    return 1
  done
  sluice_log "apt packages: all ${#SLUICE_APT_PACKAGES[@]} installable"
}

# sluice_install_deps: apt-get install whatever of SLUICE_APT_PACKAGES is missing, saying what
# and why. A warm machine only runs the installability check.
sluice_install_deps() {
  sluice_check_installable || return 1
  local missing=() pkg
  for pkg in "${SLUICE_APT_PACKAGES[@]}"; do
    sluice_pkg_installed "$pkg" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    sluice_log "apt packages: all ${#SLUICE_APT_PACKAGES[@]} present"
    return 0
  fi
  local installable=()
  for pkg in "${missing[@]}"; do
    if [ -z "$(sluice_apt_candidate "$pkg")" ]; then
      continue   # python3-venv on a python3 with venv built in (checked above)
    fi
    installable+=("$pkg")
  done
  [ "${#installable[@]}" -gt 0 ] || return 0
  for pkg in "${installable[@]}"; do
    sluice_log "to install: $pkg $(sluice_apt_candidate "$pkg") — ${SLUICE_APT_WHY[$pkg]:-}"
  done
  if [ "$(id -u)" -ne 0 ]; then
    sluice_log "not root: cannot apt-get install ${installable[*]}; install them, then run this again"
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  _sluice_apt_update
  # Keep package scripts from starting services (the postgresql, pgbouncer and prometheus
  # packages would start a cluster on 5432, a pooler on 6432 and a server on 9090).
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    made_policy=1
  fi
  local rc=0
  apt-get install -y -q --no-install-recommends "${installable[@]}" >&2 || rc=$?
  [ "$made_policy" -eq 0 ] || rm -f "$policy"
  if [ "$rc" -ne 0 ]; then
    sluice_log "apt-get install failed (exit $rc) for: ${installable[*]}"
    return "$rc"
  fi
  _sluice_stop_services "${installable[@]}"
  for pkg in "${installable[@]}"; do
    sluice_pkg_installed "$pkg" || { sluice_log "$pkg is still not installed after apt-get install"; return 1; }
  done
  sluice_log "installed: ${installable[*]}"
}

# _sluice_stop_services PKG...: a policy-rc.d that was already there may allow starting services;
# stop and disable those of SLUICE_APT_SERVICES that the just-installed packages brought along.
_sluice_stop_services() {
  local pkg service
  for pkg in "$@"; do
    for service in "${SLUICE_APT_SERVICES[@]}"; do
      [ "$pkg" = "$service" ] || continue
      if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now "$service" >/dev/null 2>&1 || true
      elif [ -x "/etc/init.d/$service" ]; then
        "/etc/init.d/$service" stop >/dev/null 2>&1 || true
        update-rc.d "$service" disable >/dev/null 2>&1 || true
      fi
    done
  done
}

# sluice_node_pg: Debian's node-postgres unpacked into $SLUICE_REPO/.node, for the Node.js client
# tests. Prints the NODE_PATH to use. Needs `node` (this machine kind ships Node.js 20; elsewhere
# Debian's nodejs is installed).
sluice_node_pg() {
  local root="$SLUICE_REPO/.node" path
  path="$root/usr/share/nodejs"
  if ! command -v node >/dev/null 2>&1; then
    sluice_log "node not found: installing Debian's nodejs (runs the node-postgres tests)"
    _sluice_apt_update
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs >&2 || return 1
  fi
  if [ -f "$root/.complete" ] && NODE_PATH="$path" node -e 'require("pg")' 2>/dev/null; then
    sluice_log "node-postgres: present in ${root#$SLUICE_REPO/}"
    printf '%s\n' "$path"
    return 0
  fi
  sluice_log "node-postgres: apt-get download ${SLUICE_NODE_DEBS[*]} and unpack into ${root#$SLUICE_REPO/}"
  rm -rf "$root"
  local debs
  debs="$(mktemp -d /tmp/sluice-node-debs.XXXXXX)"
  chmod 755 "$debs"
  # A download needs package lists; without them (a new machine) fetch them once and retry.
  local download=(apt-get download -q -o APT::Sandbox::User=root "${SLUICE_NODE_DEBS[@]}")
  if ! (cd "$debs" && "${download[@]}" >&2); then
    _sluice_apt_update
    (cd "$debs" && "${download[@]}" >&2) \
      || { rm -rf "$debs"; sluice_log "apt-get download of node-postgres failed"; return 1; }
  fi
  local deb
  for deb in "$debs"/*.deb; do
    dpkg-deb -x "$deb" "$root" || { rm -rf "$debs"; return 1; }
  done
  rm -rf "$debs"
  NODE_PATH="$path" node -e 'require("pg")' >&2 || { sluice_log "node cannot load the unpacked pg"; return 1; }
  : >"$root/.complete"
  sluice_log "node-postgres $(NODE_PATH="$path" node -p 'require("pg/package.json").version') ready (node $(node --version))"
  printf '%s\n' "$path"
}

# sluice_pg_dir NAME: the cluster's directory, through the symlink if it has one.
sluice_pg_dir() {
  readlink -f "$SLUICE_REPO/.pg/$1" 2>/dev/null || echo "$SLUICE_REPO/.pg/$1"
}

# sluice_pg_pid NAME: prints the postmaster pid of cluster NAME, if it has one.
sluice_pg_pid() {
  local dir
  dir="$(sluice_pg_dir "$1")"
  if [ -s "$dir/data/postmaster.pid" ]; then
    head -n1 "$dir/data/postmaster.pid"
  elif [ -s "$dir/postmaster.pid.saved" ]; then
    cat "$dir/postmaster.pid.saved"
  fi
}

# Run a command as the postgres OS user, from / (the caller's directory may be closed to it).
_sluice_as_postgres() {
  if [ "$(id -un)" = postgres ]; then (cd / && "$@"); else (cd / && runuser -u postgres -- "$@"); fi
}

# sluice_pg_stop NAME: stop the cluster (fast shutdown, then kill its postmaster).
sluice_pg_stop() {
  local name="$1" dir pid
  dir="$(sluice_pg_dir "$name")"
  pid="$(sluice_pg_pid "$name" || true)"
  if [ -d "$dir/data" ] && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    if ! _sluice_as_postgres "$SLUICE_PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1; then
      sluice_log "pg_ctl stop failed for cluster $name; killing postmaster $pid"
      kill -TERM "$pid" 2>/dev/null || true
      local i
      for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/postmaster.pid.saved"
}

# sluice_pg_start NAME PORT: a fresh throwaway cluster in $SLUICE_REPO/.pg/NAME on
# 127.0.0.1:PORT with the roles and databases the tests use. Wipes any leftover.
# Sets SLUICE_PG_PID to the postmaster pid.
sluice_pg_start() {
  local name="$1" port="$2"
  local dir="$SLUICE_REPO/.pg/$name"
  sluice_pg_stop "$name" || true
  if [ -L "$dir/socket" ]; then rm -rf "$(readlink -f "$dir/socket")"; fi
  if [ -L "$dir" ]; then rm -rf "$(readlink -f "$dir")"; fi
  rm -rf "$dir"
  mkdir -p "$dir"
  chown postgres:postgres "$dir"
  if ! _sluice_as_postgres test -w "$dir"; then
    # The repo sits where the postgres user cannot reach (e.g. under /root):
    # keep the cluster in /tmp and leave a symlink at the usual place.
    local real
    real="$(mktemp -d "/tmp/sluice-pg-$name.XXXXXX")"
    chown postgres:postgres "$real"
    rmdir "$dir"
    ln -s "$real" "$dir"
    dir="$real"
  fi

  # A Unix socket path must fit in 107 bytes; a deep checkout gets its socket in /tmp.
  local socket_dir="$dir"
  if [ "${#dir}" -gt 80 ]; then
    socket_dir="$(mktemp -d "/tmp/sluice-pgsock-$name.XXXXXX")"
    chown postgres:postgres "$socket_dir"
    ln -s "$socket_dir" "$dir/socket"
  fi

  local pwfile="$dir/pwfile"
  printf 'postgres-secret\n' >"$pwfile"
  chown postgres:postgres "$pwfile"
  chmod 600 "$pwfile"
  _sluice_as_postgres "$SLUICE_PG_BIN/initdb" -D "$dir/data" -U postgres --pwfile="$pwfile" \
    -E UTF8 --locale=C --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; return 1; }
  rm -f "$pwfile"

  cat >>"$dir/data/postgresql.conf" <<CONF

# --- sluice test cluster ---
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$socket_dir'
password_encryption = 'scram-sha-256'
max_connections = 300
ssl = off
fsync = off
synchronous_commit = off
full_page_writes = off
log_line_prefix = '%m [%p] %q%u@%d '
CONF
  cat >"$dir/data/pg_hba.conf" <<HBA
# TYPE  DATABASE    USER      ADDRESS        METHOD
local   all         postgres                 trust
host    fltr_plain  all       127.0.0.1/32   password
host    md5db       all       127.0.0.1/32   md5
host    all         all       127.0.0.1/32   scram-sha-256
host    all         all       ::1/128        scram-sha-256
host    replication postgres  127.0.0.1/32   scram-sha-256
HBA
  chown postgres:postgres "$dir/data/postgresql.conf" "$dir/data/pg_hba.conf"

  _sluice_as_postgres "$SLUICE_PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start >/dev/null \
    || { tail -n 30 "$dir/log" >&2; return 1; }
  SLUICE_PG_PID="$(head -n1 "$dir/data/postmaster.pid")"
  echo "$SLUICE_PG_PID" >"$dir/postmaster.pid.saved"

  "$SLUICE_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$socket_dir" -p "$port" -U postgres -d postgres >/dev/null <<'SQL'
SET password_encryption = 'scram-sha-256';
CREATE ROLE app LOGIN PASSWORD 'app-secret';
CREATE ROLE other LOGIN PASSWORD 'other-secret';
SET password_encryption = 'md5';
CREATE ROLE md5user LOGIN PASSWORD 'md5-secret';
RESET password_encryption;
CREATE DATABASE app OWNER app;
CREATE DATABASE fltr OWNER app;
CREATE DATABASE fltr_auth OWNER app;
CREATE DATABASE fltr_plain OWNER app;
CREATE DATABASE other OWNER other;
CREATE DATABASE md5db OWNER md5user;
SQL
  sluice_log "PostgreSQL cluster '$name' on 127.0.0.1:$port (pid $SLUICE_PG_PID, dir $dir)"
}

# sluice_pg_standby NAME PORT PRIMARY_NAME PRIMARY_PORT: a streaming-replication standby of a
# cluster made by sluice_pg_start (pg_basebackup -R), on 127.0.0.1:PORT in $SLUICE_REPO/.pg/NAME.
# Stopped with sluice_pg_stop NAME. Sets SLUICE_PG_PID to its postmaster pid.
sluice_pg_standby() {
  local name="$1" port="$2" primary="$3" primary_port="$4"
  local dir="$SLUICE_REPO/.pg/$name"
  sluice_pg_stop "$name" || true
  if [ -L "$dir/socket" ]; then rm -rf "$(readlink -f "$dir/socket")"; fi
  if [ -L "$dir" ]; then rm -rf "$(readlink -f "$dir")"; fi
  rm -rf "$dir"
  mkdir -p "$dir"
  chown postgres:postgres "$dir"
  if ! _sluice_as_postgres test -w "$dir"; then
    local real
    real="$(mktemp -d "/tmp/sluice-pg-$name.XXXXXX")"
    chown postgres:postgres "$real"
    rmdir "$dir"
    ln -s "$real" "$dir"
    dir="$real"
  fi
  local socket_dir="$dir"
  if [ "${#dir}" -gt 80 ]; then
    socket_dir="$(mktemp -d "/tmp/sluice-pgsock-$name.XXXXXX")"
    chown postgres:postgres "$socket_dir"
    ln -s "$socket_dir" "$dir/socket"
  fi
  _sluice_as_postgres env PGPASSWORD=postgres-secret "$SLUICE_PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$primary_port" \
    -U postgres -D "$dir/data" -R -X stream -c fast >"$dir/basebackup.log" 2>&1 \
    || { cat "$dir/basebackup.log" >&2; return 1; }
  # The copy carries the primary's port and socket directory: this cluster's own come last.
  cat >>"$dir/data/postgresql.conf" <<CONF

# --- sluice test standby of $primary ---
port = $port
unix_socket_directories = '$socket_dir'
hot_standby = on
hot_standby_feedback = on
CONF
  _sluice_as_postgres "$SLUICE_PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start >/dev/null \
    || { tail -n 30 "$dir/log" >&2; return 1; }
  SLUICE_PG_PID="$(head -n1 "$dir/data/postmaster.pid")"
  echo "$SLUICE_PG_PID" >"$dir/postmaster.pid.saved"
  sluice_log "PostgreSQL standby '$name' of '$primary' on 127.0.0.1:$port (pid $SLUICE_PG_PID, dir $dir)"
}

# sluice_pg_promote NAME: promotes standby NAME (pg_ctl promote, waiting until it accepts writes).
sluice_pg_promote() {
  _sluice_as_postgres "$SLUICE_PG_BIN/pg_ctl" -D "$(sluice_pg_dir "$1")/data" -w -t 60 promote >/dev/null
}

# sluice_venv: $SLUICE_REPO/.venv with the integration suite's Python packages.
sluice_venv() {
  local venv="$SLUICE_REPO/.venv"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  local missing
  missing="$("$venv/bin/python" - "${SLUICE_PY_PACKAGES[@]}" <<'PY'
import re, sys
from importlib import metadata
out = []
for spec in sys.argv[1:]:
    name = re.split(r"[\[<>=!~ ]", spec, 1)[0]
    extra = re.search(r"\[(.*)\]", spec)
    names = [name] + ([f"{name}-{e}" for e in extra.group(1).split(",")] if extra else [])
    try:
        for n in names:
            metadata.version(n)
    except metadata.PackageNotFoundError:
        out.append(spec)
print("\n".join(out))
PY
)"
  if [ -z "$missing" ]; then
    sluice_log "venv: all Python packages present"
    return 0
  fi
  local specs=()
  mapfile -t specs <<<"$missing"
  sluice_log "venv: installing ${specs[*]}"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${specs[@]}"
}
