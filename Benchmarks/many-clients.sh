#!/usr/bin/env bash
# many-clients.sh: thousands of busy clients sharing a small pool, through Sluice and PgBouncer.
#
#   Benchmarks/many-clients.sh [--clients N] [--duration S] [--warmup S] [--pool N]
#                              defaults: 2000 clients, 60 s measured after a 10 s warm-up, pool 20
#
# `sluice-bench --workload select --clients 2000 --threads 2` (every client runs pgbench -S
# transactions back to back, so nearly all of a transaction's latency is the wait for one of the
# pool's 20 server connections) against
#   Sluice    127.0.0.1:16464, transaction mode, pool_size = 20, max_client_conn = 5000,
#             admin_listen = 127.0.0.1:16466 (its /metrics is scraped)
#   PgBouncer 127.0.0.1:16465, as the postgres OS user, transaction mode, default_pool_size = 20,
#             max_client_conn = 5000
# one after the other (each proxy runs only during its own measurement). Reported per proxy:
# errors (measured window and warm-up; should be 0), tps, latency p50/p99/max, the proxy's CPU
# µs/tx, its peak RSS (sampled every 200 ms during the run, and VmHWM), and for Sluice the queue
# wait p50/p99 from the sluice_pool_wait_seconds histogram on /metrics (the change between a scrape
# at the start of the measured window and one at its end; linear within a bucket, as Prometheus'
# histogram_quantile).
#
# Environment: PGURL, PGSUPERURL, SLUICE_BIN, BENCH_BIN, PYTHON, KEEP_DIR (see Benchmarks/lib.sh), and
#   CONNECT_TIMEOUT   sluice-bench --connect-timeout (default 30: the login storm at the start is slow)
# The open-files limit is raised to its hard limit (needs clients + 200).
set -euo pipefail
BENCH_NAME=many-clients
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SLUICE_PORT=16464
PGBOUNCER_PORT=16465
ADMIN_PORT=16466
CLIENTS=2000
DURATION=60
WARMUP=10
POOL=20
CONNECT_TIMEOUT="${CONNECT_TIMEOUT:-30}"
ORIGINAL_ARGS=("$0" "$@")
while [ "$#" -gt 0 ]; do
  case "$1" in
    --clients) CLIENTS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --pool) POOL="$2"; shift 2 ;;
    -h|--help) show_help ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
for value in "$CLIENTS" "$DURATION" "$POOL" "$CONNECT_TIMEOUT"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || die "--clients, --duration, --pool and CONNECT_TIMEOUT must be positive integers"
done
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "--warmup must be a whole number of seconds"
MAX_CLIENT_CONN=$(( CLIENTS + 100 > 5000 ? CLIENTS + 100 : 5000 ))

require_pg_tools
require_pgbouncer
require_sluice
require_bench
require_python
command -v curl >/dev/null || die "curl is needed to scrape /metrics"
require_upstream
ensure_pgbench_tables
require_free_ports "$SLUICE_PORT" "$PGBOUNCER_PORT" "$ADMIN_PORT"
raise_nofile $((CLIENTS + 200))
make_work_dir

printf '## many-clients: %s clients on a pool of %s, %s s measured after %s s of warm-up\n\n' \
  "$CLIENTS" "$POOL" "$DURATION" "$WARMUP"
show_command "${ORIGINAL_ARGS[@]}"

scrape() {  # FILE: /metrics into FILE (three tries), or an empty FILE
  local try
  for try in 1 2 3; do curl -sf -m 10 "http://127.0.0.1:$ADMIN_PORT/metrics" >"$1" && return 0; sleep 0.5; done
  log "warning: could not scrape /metrics"; : >"$1"
}

# run_bench NAME PORT PID: sluice-bench against the proxy; for Sluice, scrapes /metrics when the
# measured window starts (first progress line after the warm-up) and when the run ends.
run_bench() {
  local name="$1" port="$2" pid="$3" bench_pid scraped=0 rc=0
  local cmd=("$BENCH_BIN" --workload select --clients "$CLIENTS" --threads 2 --duration "$DURATION"
             --warmup "$WARMUP" --connect-timeout "$CONNECT_TIMEOUT" --url "$(proxy_url "$port")"
             --proxy-pid "$pid" --json "$WORK/$name.json")
  show_command "${cmd[@]}"
  "${cmd[@]}" >"$WORK/$name.md" 2>"$WORK/$name.err" &
  bench_pid=$!
  BENCH_PIDS+=("$bench_pid")
  while kill -0 "$bench_pid" 2>/dev/null; do
    if [ "$name" = sluice ] && [ "$scraped" = 0 ] && grep -qE '^\[run\] [0-9]+s ' "$WORK/$name.err"; then
      scrape "$WORK/metrics.start"; scraped=1
      log "sluice: /metrics scraped at the start of the measured window ($(grep -c '^sluice_pool_wait_seconds_bucket' "$WORK/metrics.start" || true) wait buckets)"
    fi
    sleep 0.2
  done
  wait "$bench_pid" || rc=$?
  forget_pid "$bench_pid"
  if [ "$name" = sluice ]; then
    scrape "$WORK/metrics.end"
    [ "$scraped" = 1 ] || : >"$WORK/metrics.start"
  fi
  grep -vE '^\[run\] (warmup|[0-9]+s) ' "$WORK/$name.err" >&2 || true
  [ "$rc" = 0 ] || die "sluice-bench failed against $name (exit $rc)"
  HWM["$name"]="$(hwm_kib "$pid")"
}
declare -A HWM

# --- Sluice ---
sluice_config "$SLUICE_PORT" "$POOL" "max_client_conn = $MAX_CLIENT_CONN
admin_listen = \"127.0.0.1:$ADMIN_PORT\"" >"$WORK/sluice.toml"
chmod 600 "$WORK/sluice.toml"
start_sluice sluice "$SLUICE_PORT" "$WORK/sluice.toml"
run_bench sluice "$SLUICE_PORT" "$SLUICE_PID"
stop_proxy "$SLUICE_PID"
sleep 1

# --- PgBouncer ---
PGBOUNCER_MAX_CLIENT_CONN="$MAX_CLIENT_CONN" start_pgbouncer pgbouncer "$PGBOUNCER_PORT" "$POOL"
run_bench pgbouncer "$PGBOUNCER_PORT" "$PGBOUNCER_PID"
stop_proxy "$PGBOUNCER_PID"

# --- the table ---
"$PYTHON" - "$WORK" "${HWM[sluice]}" "${HWM[pgbouncer]}" <<'PY'
import json, re, sys
work, hwm = sys.argv[1], {"sluice": sys.argv[2], "pgbouncer": sys.argv[3]}

def histogram(path):
    """{le: cumulative count} of sluice_pool_wait_seconds, summed over all label sets."""
    buckets, total = {}, 0.0
    try:
        text = open(path).read()
    except OSError:
        return buckets
    for line in text.splitlines():
        m = re.match(r'^sluice_pool_wait_seconds_bucket\{(.*)\}\s+([0-9.eE+-]+)', line)
        if m:
            le = re.search(r'le="([^"]+)"', m.group(1)).group(1)
            bound = float("inf") if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0.0) + float(m.group(2))
    return buckets

def quantile(q, buckets):
    """(interpolated value, bucket's lower bound, bucket's upper bound) in seconds, or None."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                return (lower, lower, bound)  # beyond the last finite bucket
            value = lower + (bound - lower) * ((rank - below) / (count - below) if count > below else 1)
            return (value, lower, bound)
        lower, below = bound, count
    return None

def sums(path):
    """(sum, count) of sluice_pool_wait_seconds over all label sets."""
    total = count = 0.0
    try:
        text = open(path).read()
    except OSError:
        return total, count
    for line in text.splitlines():
        m = re.match(r'^sluice_pool_wait_seconds_(sum|count)(\{.*\})?\s+([0-9.eE+-]+)', line)
        if m:
            if m.group(1) == "sum":
                total += float(m.group(3))
            else:
                count += float(m.group(3))
    return total, count

start, end = histogram(f"{work}/metrics.start"), histogram(f"{work}/metrics.end")
delta = {b: end[b] - start.get(b, 0.0) for b in end}
def ms(v):
    if v is None:
        return "—"
    value, lower, upper = v
    upper_text = "∞" if upper == float("inf") else f"{upper * 1000:g}"
    return f"{value * 1000:.1f} ({lower * 1000:g}–{upper_text})"
(sum0, n0), (sum1, n1) = sums(f"{work}/metrics.start"), sums(f"{work}/metrics.end")
mean_wait = (sum1 - sum0) / (n1 - n0) if n1 > n0 else None
waits = max(delta.values(), default=0)  # the +Inf bucket
wait = {"sluice": (quantile(0.5, delta), quantile(0.99, delta))}

def errors_in_progress(name):
    total = 0
    for line in open(f"{work}/{name}.err"):
        m = re.search(r' errors=(\d+)', line)
        if m and re.match(r'^\[run\] (warmup|\d+s) ', line):
            total += int(m.group(1))
    return total

rows = []
samples = []
for name in ("sluice", "pgbouncer"):
    run = json.load(open(f"{work}/{name}.json"))["runs"][0]
    lat, proxy = run["latency_ms"], run.get("proxy") or {}
    peak = proxy.get("rss_peak_kilobytes")
    q50, q99 = wait.get(name, (None, None))
    errors = ", ".join(f"{code} ×{count}" for code, count in sorted(run["errors"].items())) or "0"
    cpu = proxy.get("cpu_microseconds_per_transaction")
    rows.append(f"| {name} | {errors} | {errors_in_progress(name)} | {run['tps']:.0f} | {lat['p50']:.1f} | {lat['p99']:.1f} "
                f"| {lat['max']:.1f} | {'—' if cpu is None else f'{cpu:.1f}'} "
                f"| {'—' if peak is None else f'{peak / 1024:.1f}'} | {int(hwm[name]) / 1024:.1f} "
                f"| {ms(q50) if name == 'sluice' else '—'} | {ms(q99) if name == 'sluice' else '—'} "
                f"| {'—' if name != 'sluice' or mean_wait is None else f'{mean_wait * 1000:.1f}'} |")
    for code, message in run.get("error_samples", {}).items():
        samples.append(f"- {name} `{code}`: {message}")
print("| proxy | errors (measured) | errors (whole run, incl. warm-up) | tps | latency p50 (ms) | p99 (ms) | max (ms) "
      "| proxy CPU µs/tx | peak RSS sampled (MiB) | VmHWM (MiB) | queue wait p50 (ms, bucket) | queue wait p99 (ms, bucket) "
      "| queue wait mean (ms) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
print("\n".join(rows))
if delta and not start:
    print("\nThe scrape at the start of the measured window failed: the queue wait includes the warm-up.")
if delta:
    print(f"\nSluice queue wait: {int(waits)} waits in sluice_pool_wait_seconds between the two scrapes "
          "(buckets 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500 ms, 1 s … 60 s; a quantile is "
          "interpolated linearly inside its bucket, shown in parentheses, so it can exceed the measured "
          "transaction latency; the mean is exact: _sum/_count).")
else:
    print("\nSluice queue wait: no sluice_pool_wait_seconds histogram on /metrics.")
if samples:
    print("\nFirst message of each error code:\n\n" + "\n".join(samples))
PY
