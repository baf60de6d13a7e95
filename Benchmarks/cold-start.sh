#!/usr/bin/env bash
# cold-start.sh: how long a client waits when it arrives while the upstream is down for D seconds.
#
#   Benchmarks/cold-start.sh [--outage "2 4 10 30"] [--bin PATH]...
#       defaults: --outage "2 4 10 30" --bin "$SLUICE_BIN"
#
# A throwaway PostgreSQL cluster of its own ('coldstart', 127.0.0.1:55510, plaintext) is created and
# stopped. Per outage D and binary: a fresh Sluice starts in front of the stopped cluster (Sluice's
# defaults: server_login_retry = 15 s, query_wait_timeout = 120 s, cold_start_notice_after = 5 s;
# pool 4, transaction mode); psql connects through it (sslmode=disable; Sluice → PostgreSQL
# plaintext too) and runs SELECT 1 — so its login itself waits for the first server; D seconds after
# the client arrived the cluster is started again (`pg_ctl -w` returns when it accepts connections)
# and stopped once the client is done. Prints, per run, the outage the client saw (from its arrival
# to the upstream accepting connections: D plus PostgreSQL's own start), the client's wait, the time
# from the upstream accepting to the client's answer, and the NOTICEs the client was sent.
# Target (issue 20): wait ≤ outage + 1 s.
#
# Environment: SLUICE_BIN, KEEP_DIR, SLUICE_ENV (see Benchmarks/lib.sh). The cluster is removed at
# the end unless KEEP_DIR=1.
set -euo pipefail
BENCH_NAME=cold-start
PG_PORT=55510
PGURL="postgresql://app:app-secret@127.0.0.1:$PG_PORT/app?sslmode=disable"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$BENCH_REPO/scripts/lib/common.sh"

PORT=16460
OUTAGES="2 4 10 30"
BINS=()
ORIGINAL_ARGS=("$0" "$@")
while [ "$#" -gt 0 ]; do
  case "$1" in
    --outage) OUTAGES="$2"; shift 2 ;;
    --bin) BINS+=("$2"); shift 2 ;;
    -h|--help) show_help ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
for value in $OUTAGES; do [[ "$value" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--outage takes seconds, e.g. \"2 4 10\""; done
[ "${#BINS[@]}" -gt 0 ] || BINS=("$SLUICE_BIN")
for bin in "${BINS[@]}"; do [ -x "$bin" ] || die "no executable at $bin"; done
require_pg_tools
require_free_ports "$PORT" "$PG_PORT"
make_work_dir

cluster=coldstart
sluice_pg_start "$cluster" "$PG_PORT" 2>/dev/null || die "could not create the PostgreSQL cluster on $PG_PORT"
data="$(sluice_pg_dir "$cluster")/data"
pg_ctl_as_postgres() { runuser -u postgres -- "$SLUICE_PG_BIN/pg_ctl" -D "$data" -l "$data/../log" -w -t 60 "$@" >/dev/null; }
cleanup_cluster() {
  sluice_pg_stop "$cluster" >/dev/null 2>&1 || true
  [ "${KEEP_DIR:-0}" = 1 ] || rm -rf "$(readlink -f "$(sluice_pg_dir "$cluster")")" "$(sluice_pg_dir "$cluster")"
}
trap 'cleanup_cluster; bench_cleanup' EXIT
pg_ctl_as_postgres stop -m fast

sluice_config "$PORT" 4 >"$WORK/sluice.toml"
chmod 600 "$WORK/sluice.toml"
url="$(proxy_url "$PORT")"
now() { date +%s.%N; }

printf '## cold start: a client arrives while the upstream is down for D seconds\n\n'
show_command "${ORIGINAL_ARGS[@]}"
printf '| D (s) | binary | outage seen by the client (s) | client wait (s) | after the upstream was back (s) | NOTICEs | wait ≤ outage + 1 s |\n|---:|---|---:|---:|---:|---:|---|\n'
for outage in $OUTAGES; do
  for bin in "${BINS[@]}"; do
    SLUICE_BIN="$bin"
    start_sluice sluice "$PORT" "$WORK/sluice.toml"
    arrived="$(now)"
    PGCONNECT_TIMEOUT=150 psql -X "$url" -Atc 'select 1' >"$WORK/client.out" 2>"$WORK/client.err" &
    client=$!
    sleep "$outage"
    pg_ctl_as_postgres start
    back="$(now)"
    wait "$client" || { cat "$WORK/client.err" >&2; die "the client failed (outage $outage s, $bin)"; }
    done_at="$(now)"
    [ "$(cat "$WORK/client.out")" = 1 ] || die "the client got $(cat "$WORK/client.out")"
    notices="$(grep -c 'to accept connections' "$WORK/client.err" || true)"
    stop_proxy "$SLUICE_PID"
    pg_ctl_as_postgres stop -m fast
    awk -v d="$outage" -v b="$bin" -v a="$arrived" -v k="$back" -v e="$done_at" -v n="$notices" 'BEGIN {
      outage = k - a; wait = e - a; after = e - k
      printf "| %s | `%s` | %.2f | %.2f | %.2f | %d | %s |\n", d, b, outage, wait, after, n, (wait <= outage + 1 ? "yes" : "no") }'
  done
done
