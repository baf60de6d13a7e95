#!/usr/bin/env bash
# profile.sh: where Sluice's CPU goes under pgbench -S -c 20 — the user-space share of its samples
# and its top user-space functions, for one or more Sluice binaries (A/B runs of a change).
#
#   Benchmarks/profile.sh [-T SECONDS] [-r ROUNDS] [--top N] [--bin PATH]...
#       defaults: -T 8 (seconds recorded) -r 2 --top 15 --bin "$SLUICE_BIN"
#
# Per round and binary (alternating, so drift hits each alike): Sluice starts in a session of its
# own (pool 20, transaction mode), pgbench -S -c 20 -j 2 runs for SECONDS + 5 s, and
# `perf record -F 4000 -g -p PID` samples SECONDS of it after a 3 s warm-up. Prints pgbench's tps,
# the share of Sluice's samples spent outside the kernel (Sluice, the Swift runtime, libc) and,
# for the last round of each binary, its top user-space symbols. The user-space share is the
# figure to compare: this machine has no hardware counters and valgrind cannot run Swift's
# Dispatch, so it is the steadiest measure of the proxy's own code we have; tps moves ±5 % here.
#
# --cpu-only: no perf. Each round runs pgbench for SECONDS and reads Sluice's CPU time from
# /proc/PID/stat before and after it: the table then gives CPU microseconds per transaction (user,
# system, total; clock ticks are 10 ms, so use SECONDS ≥ 20) — the figure without perf's own cost.
#
# Needs perf (apt-get install linux-perf) unless --cpu-only. Environment: PGURL, PGSUPERURL, SLUICE_BIN, KEEP_DIR,
# SLUICE_ENV (see Benchmarks/lib.sh).
set -euo pipefail
BENCH_NAME=profile
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT=16455
DURATION=8
ROUNDS=2
TOP=15
CPU_ONLY=0
BINS=()
ORIGINAL_ARGS=("$0" "$@")
while [ "$#" -gt 0 ]; do
  case "$1" in
    -T) DURATION="$2"; shift 2 ;;
    -r) ROUNDS="$2"; shift 2 ;;
    --top) TOP="$2"; shift 2 ;;
    --bin) BINS+=("$2"); shift 2 ;;
    --cpu-only) CPU_ONLY=1; shift ;;
    -h|--help) show_help ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
for value in "$DURATION" "$ROUNDS" "$TOP"; do [[ "$value" =~ ^[1-9][0-9]*$ ]] || die "-T, -r and --top must be positive integers"; done
[ "${#BINS[@]}" -gt 0 ] || BINS=("$SLUICE_BIN")
for bin in "${BINS[@]}"; do [ -x "$bin" ] || die "no executable at $bin"; done
[ "$CPU_ONLY" = 1 ] || command -v perf >/dev/null || die "perf is needed (apt-get install linux-perf)"

require_pg_tools
require_upstream
ensure_pgbench_tables
require_free_ports "$PORT"
make_work_dir
sluice_config "$PORT" 20 "max_client_conn = 10000" >"$WORK/sluice.toml"
chmod 600 "$WORK/sluice.toml"
url="$(proxy_url "$PORT")"
# user_space_rows PERF-DATA SORT-KEYS: perf report's rows outside the kernel (Sluice, Swift runtime, libc).
user_space_rows() { perf report -i "$1" --no-children --sort "$2" -g none 2>/dev/null | awk '!/^#/ && /%/ && !/kernel/'; }

if [ "$CPU_ONLY" = 1 ]; then
  hz="$(getconf CLK_TCK)"
  printf '## profile --cpu-only: Sluice CPU time per transaction under pgbench -S -c 20 -j 2, %s s per run, %s rounds\n\n' "$DURATION" "$ROUNDS"
  show_command "${ORIGINAL_ARGS[@]}"
  printf '| round | binary | tps | transactions | user µs/tx | system µs/tx | total µs/tx | user share |\n|---|---|---:|---:|---:|---:|---:|---:|\n'
  for round in $(seq "$ROUNDS"); do
    for index in "${!BINS[@]}"; do
      SLUICE_BIN="${BINS[$index]}"
      start_sluice "sluice$index" "$PORT" "$WORK/sluice.toml"
      read -r user0 system0 < <(stat_ticks "$SLUICE_PID")
      pgbench -S -c 20 -j 2 -T "$DURATION" -n "$url" >"$WORK/pgbench.out" 2>&1 || { tail -n 5 "$WORK/pgbench.out" >&2; die "pgbench failed"; }
      read -r user1 system1 < <(stat_ticks "$SLUICE_PID")
      stop_proxy "$SLUICE_PID"
      tps="$(pgbench_value "$(cat "$WORK/pgbench.out")" 'tps = ')"
      transactions="$(pgbench_value "$(cat "$WORK/pgbench.out")" 'number of transactions actually processed: ')"
      [ -n "$transactions" ] && [ "$transactions" -gt 0 ] || die "pgbench reported no transactions"
      awk -v r="$round" -v b="${BINS[$index]}" -v tps="$tps" -v n="$transactions" -v hz="$hz" \
          -v u="$((user1 - user0))" -v s="$((system1 - system0))" 'BEGIN {
        us = 1e6 / hz / n
        printf "| %s | `%s` | %.0f | %d | %.1f | %.1f | %.1f | %.1f %% |\n", r, b, tps, n, u * us, s * us, (u + s) * us, ((u + s) > 0 ? 100 * u / (u + s) : 0) }'
    done
  done
  exit 0
fi

printf '## profile: perf record of Sluice under pgbench -S -c 20 -j 2, %s s recorded, %s rounds\n\n' "$DURATION" "$ROUNDS"
show_command "${ORIGINAL_ARGS[@]}"
printf '| round | binary | tps | user-space share of samples |\n|---|---|---:|---:|\n'
for round in $(seq "$ROUNDS"); do
  for index in "${!BINS[@]}"; do
    SLUICE_BIN="${BINS[$index]}"
    start_sluice "sluice$index" "$PORT" "$WORK/sluice.toml"
    pgbench -S -c 20 -j 2 -T "$((DURATION + 5))" -n "$url" >"$WORK/pgbench.out" 2>&1 &
    load=$!
    sleep 3
    perf record -F 4000 -g -p "$SLUICE_PID" -o "$WORK/perf$index.data" -- sleep "$DURATION" >/dev/null 2>&1 \
      || die "perf record failed (perf_event_paranoid? run as root)"
    wait "$load" || { tail -n 5 "$WORK/pgbench.out" >&2; die "pgbench failed"; }
    stop_proxy "$SLUICE_PID"
    tps="$(pgbench_value "$(cat "$WORK/pgbench.out")" 'tps = ')"
    share="$(user_space_rows "$WORK/perf$index.data" dso | awk '{ sub(/%/, "", $1); s += $1 } END { printf "%.2f %%", s }')"
    printf '| %s | `%s` | %.0f | %s |\n' "$round" "${BINS[$index]}" "$tps" "$share"
  done
done
for index in "${!BINS[@]}"; do
  printf '\nTop user-space symbols of `%s` (last round; %% of all its samples):\n\n```\n' "${BINS[$index]}"
  user_space_rows "$WORK/perf$index.data" dso,sym | sed -n "1,${TOP}p"   # sed reads to the end: no SIGPIPE under pipefail
  printf '```\n'
done
