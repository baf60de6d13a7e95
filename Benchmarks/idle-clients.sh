#!/usr/bin/env bash
# idle-clients.sh: memory per idle, logged-in client connection, in Sluice and in PgBouncer.
#
#   Benchmarks/idle-clients.sh [--clients N] [--settle S] [--concurrency C] [--proxies LIST]
#                              defaults: 10000 clients, 5 s settle, 200 logins at a time,
#                              proxies "sluice pgbouncer" (either alone: --proxies sluice)
#
# For each proxy in turn (each running only during its own measurement):
#   Sluice    127.0.0.1:16467, transaction mode, pool_size = 10, max_client_conn = N + 100
#   PgBouncer 127.0.0.1:16468, as the postgres OS user, transaction mode, default_pool_size = 10,
#             max_client_conn = N + 100
# it starts the proxy, runs one query through it (so its pool and first server connection exist),
# waits 2 s and reads its RSS (VmRSS); then a Python asyncio client (standard library only; it
# speaks the protocol itself: startup, SCRAM-SHA-256/MD5/password, ReadyForQuery) opens N
# connections, C logins at a time, and keeps them open and idle. After the last login and S more
# seconds the proxy's RSS is read again; KiB per idle client = (RSS after − RSS before) / clients
# held. Finally the client disconnects everything and the RSS is read a third time (how much
# memory the proxy gives back). The client is written from this script into the temporary
# directory (idle_client.py; KEEP_DIR=1 keeps it) and its command line is printed.
#
# Environment: PGURL, PGSUPERURL, SLUICE_BIN, PYTHON, KEEP_DIR (see Benchmarks/lib.sh).
# The client and each proxy hold N sockets each: the open-files limit is raised to its hard limit
# and must reach N + 200 (a 10000-client run needs ≥ 10200 per process; 25000 leaves room).
set -euo pipefail
BENCH_NAME=idle-clients
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SLUICE_PORT=16467
PGBOUNCER_PORT=16468
POOL=10
CLIENTS=10000
SETTLE=5
CONCURRENCY=200
ORIGINAL_ARGS=("$0" "$@")
PROXIES="sluice pgbouncer"
while [ "$#" -gt 0 ]; do
  case "$1" in
    --clients) CLIENTS="$2"; shift 2 ;;
    --settle) SETTLE="$2"; shift 2 ;;
    --concurrency) CONCURRENCY="$2"; shift 2 ;;
    --proxies) PROXIES="$2"; shift 2 ;;
    -h|--help) show_help ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
for value in "$CLIENTS" "$CONCURRENCY"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || die "--clients and --concurrency must be positive integers"
done
[[ "$SETTLE" =~ ^[0-9]+$ ]] || die "--settle must be a whole number of seconds"
for proxy in $PROXIES; do
  case "$proxy" in sluice|pgbouncer) ;; *) die "--proxies takes sluice and/or pgbouncer, not $proxy" ;; esac
done
wants() { [[ " $PROXIES " == *" $1 "* ]]; }
MAX_CLIENT_CONN=$((CLIENTS + 100))

require_pg_tools
! wants pgbouncer || require_pgbouncer
require_sluice
require_python
require_upstream
require_free_ports "$SLUICE_PORT" "$PGBOUNCER_PORT"
raise_nofile $((CLIENTS + 200))
make_work_dir
if [ "$((CLIENTS + 20))" -gt "$(($(cut -f2 /proc/sys/net/ipv4/ip_local_port_range) - $(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)))" ]; then
  die "net.ipv4.ip_local_port_range has fewer ports than --clients"
fi

printf '## idle-clients: %s idle, logged-in clients per proxy\n\n' "$CLIENTS"
show_command "${ORIGINAL_ARGS[@]}"

# --- the client: N connections, logged in, then idle until SIGTERM ---
cat >"$WORK/idle_client.py" <<'PY'
"""Opens --count PostgreSQL connections (startup + authentication), holds them idle until SIGTERM.
Writes "opened=… failed=… alive=… done=0|1 login_ms=…" to --status every 0.5 s; first error messages to stderr."""
import argparse, asyncio, base64, hashlib, hmac, os, signal, struct, sys

parser = argparse.ArgumentParser()
for name in ("host", "user", "password", "database", "status"):
    parser.add_argument(f"--{name}", required=True)
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--count", type=int, required=True)
parser.add_argument("--concurrency", type=int, default=200)
args = parser.parse_args()

salted_cache = {}
opened = failed = alive = 0
errors = {}
writers = []

async def read_message(reader):
    header = await reader.readexactly(5)
    kind, length = header[:1], struct.unpack("!i", header[1:])[0]
    return kind, await reader.readexactly(length - 4)

def message(kind, body):
    return kind + struct.pack("!i", len(body) + 4) + body

def error_text(body):
    fields = dict((f[:1], f[1:].decode(errors="replace")) for f in body.split(b"\0") if f)
    return f"{fields.get(b'C', '?')}: {fields.get(b'M', '')}"

async def login():
    reader, writer = await asyncio.open_connection(args.host, args.port)
    params = b"user\0" + args.user.encode() + b"\0database\0" + args.database.encode() + b"\0application_name\0idle-clients\0\0"
    body = struct.pack("!i", 196608) + params
    writer.write(struct.pack("!i", len(body) + 4) + body)
    password = args.password.encode()
    scram = None
    while True:
        kind, body = await read_message(reader)
        if kind == b"E":
            writer.close()
            raise RuntimeError(error_text(body))
        if kind == b"Z":
            return reader, writer
        if kind != b"R":
            continue  # ParameterStatus, BackendKeyData, NoticeResponse
        code = struct.unpack("!i", body[:4])[0]
        if code == 0:
            continue
        if code == 3:  # cleartext
            writer.write(message(b"p", password + b"\0"))
        elif code == 5:  # md5
            inner = hashlib.md5(password + args.user.encode()).hexdigest().encode()
            writer.write(message(b"p", b"md5" + hashlib.md5(inner + body[4:8]).hexdigest().encode() + b"\0"))
        elif code == 10:  # SASL
            if b"SCRAM-SHA-256\0" not in body[4:]:
                raise RuntimeError(f"no SCRAM-SHA-256 among {body[4:]!r}")
            nonce = base64.b64encode(os.urandom(18)).decode()
            bare = f"n=,r={nonce}"
            first = ("n,," + bare).encode()
            scram = {"bare": bare, "nonce": nonce}
            writer.write(message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first))
        elif code == 11:  # SASL continue: server-first-message
            server_first = body[4:].decode()
            attrs = dict(item.split("=", 1) for item in server_first.split(","))
            if not attrs["r"].startswith(scram["nonce"]):
                raise RuntimeError("SCRAM: server nonce does not extend ours")
            salt, iterations = base64.b64decode(attrs["s"]), int(attrs["i"])
            key = (salt, iterations)
            if key not in salted_cache:
                salted_cache[key] = hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
            salted = salted_cache[key]
            client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
            stored_key = hashlib.sha256(client_key).digest()
            without_proof = f"c=biws,r={attrs['r']}"
            auth_message = f"{scram['bare']},{server_first},{without_proof}".encode()
            signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
            proof = bytes(a ^ b for a, b in zip(client_key, signature))
            writer.write(message(b"p", f"{without_proof},p={base64.b64encode(proof).decode()}".encode()))
        elif code == 12:  # SASL final
            continue
        else:
            raise RuntimeError(f"unsupported authentication request {code}")

async def hold(reader):
    global alive
    try:
        while await reader.read(4096):
            pass  # ParameterStatus / notices while idle
    except (OSError, asyncio.IncompleteReadError):
        pass
    alive -= 1

async def one(gate):
    global opened, failed, alive
    async with gate:
        try:
            reader, writer = await asyncio.wait_for(login(), 60)
        except Exception as error:  # noqa: BLE001 - every failure is counted and reported
            failed += 1
            text = str(error) or type(error).__name__
            if text not in errors and len(errors) < 10:
                print(f"idle_client: {text}", file=sys.stderr, flush=True)
            errors[text] = errors.get(text, 0) + 1
            return
    opened += 1
    alive += 1
    writers.append(writer)
    await hold(reader)

started = finished = None

async def report(done):
    loop = asyncio.get_running_loop()
    while True:
        tmp = args.status + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"opened={opened} failed={failed} alive={alive} done={int(done.is_set())} "
                    f"login_ms={int(1000 * ((finished or loop.time()) - started))}\n")
        os.replace(tmp, args.status)
        await asyncio.sleep(0.5)

async def main():
    global started
    stop, done = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    started = loop.time()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    reporter = asyncio.create_task(report(done))
    gate = asyncio.Semaphore(args.concurrency)
    tasks = [asyncio.create_task(one(gate)) for _ in range(args.count)]
    async def watch_logins():
        global finished
        while opened + failed < args.count:
            await asyncio.sleep(0.01)
        finished = loop.time()
        done.set()
    asyncio.create_task(watch_logins())
    await stop.wait()
    for writer in writers:
        try:
            writer.write(message(b"X", b""))
            writer.close()
        except Exception:  # noqa: BLE001
            pass
    await asyncio.sleep(0.5)
    for task in tasks:
        task.cancel()
    reporter.cancel()

asyncio.run(main())
PY

status_field() { sed -nE "s/.*\\b$2=([0-9]+).*/\\1/p" "$1" 2>/dev/null; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# measure NAME PORT PID: prints one table row.
measure() {
  local name="$1" port="$2" pid="$3" before after closed client_pid status i
  status="$WORK/$name.status"
  local fds_before fds_after threads_before threads_after opened failed alive
  psql "$(proxy_url "$port")" -X -qtAc 'SELECT 1' >/dev/null || die "$name: a first query failed"
  sleep 2
  before="$(rss_kib "$pid")"; fds_before="$(fd_count "$pid")"
  threads_before="$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status")"
  local cmd=("$PYTHON" "$WORK/idle_client.py" --host 127.0.0.1 --port "$port" --user "$DB_USER"
             --password "$DB_PASSWORD" --database "$DB_NAME" --count "$CLIENTS"
             --concurrency "$CONCURRENCY" --status "$status")
  show_command "${cmd[@]}"
  "${cmd[@]}" 2>"$WORK/$name.client.err" &
  client_pid=$!
  BENCH_PIDS+=("$client_pid")
  for i in $(seq $((CLIENTS * 20 + 1200))); do  # up to 1 s per 10 clients + 2 minutes
    [ "$(status_field "$status" done)" = 1 ] && break
    kill -0 "$client_pid" 2>/dev/null || break
    kill -0 "$pid" 2>/dev/null || die "$name exited while clients logged in"
    sleep 0.05
  done
  [ "$(status_field "$status" done)" = 1 ] || { cat "$WORK/$name.client.err" >&2; die "$name: the client did not finish its logins"; }
  log "$name: $(cat "$status"); settling ${SETTLE} s"
  sleep "$SETTLE"
  after="$(rss_kib "$pid")"; fds_after="$(fd_count "$pid")"
  threads_after="$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status")"
  opened="$(status_field "$status" opened)"; failed="$(status_field "$status" failed)"; alive="$(status_field "$status" alive)"
  stop_pid "$client_pid"; forget_pid "$client_pid"
  sleep 3
  closed="$(rss_kib "$pid")"
  local per="—"
  if [ "${alive:-0}" -gt 0 ]; then per="$(awk -v a="$after" -v b="$before" -v n="$alive" 'BEGIN { printf "%.2f", (a - b) / n }')"; fi
  local login_ms rate="—"
  login_ms="$(status_field "$status" login_ms)"
  if [ "${login_ms:-0}" -gt 0 ]; then rate="$(awk -v ms="$login_ms" -v n="$opened" 'BEGIN { printf "%.0f", n * 1000 / ms }')"; fi
  ROWS+=("| $name | $opened | $failed | $alive | $((fds_after - fds_before)) | $rate | $(mib "$before") | $(mib "$after") | **$per** | $(mib "$closed") | $threads_before → $threads_after | $(mib "$(hwm_kib "$pid")") |")
  if [ -s "$WORK/$name.client.err" ]; then
    NOTES+=("$(sed -n "1,5s/^/- $name: /p" "$WORK/$name.client.err")")
  fi
}
ROWS=(); NOTES=()

# --- Sluice ---
if wants sluice; then
  sluice_config "$SLUICE_PORT" "$POOL" "max_client_conn = $MAX_CLIENT_CONN" >"$WORK/sluice.toml"
  chmod 600 "$WORK/sluice.toml"
  start_sluice sluice "$SLUICE_PORT" "$WORK/sluice.toml"
  measure sluice "$SLUICE_PORT" "$SLUICE_PID"
  stop_proxy "$SLUICE_PID"
  log "sluice row: ${ROWS[-1]}"  # on stderr at once: a stuck PgBouncer run does not lose it
fi

# --- PgBouncer ---
if wants pgbouncer; then
  PGBOUNCER_MAX_CLIENT_CONN="$MAX_CLIENT_CONN" start_pgbouncer pgbouncer "$PGBOUNCER_PORT" "$POOL"
  measure pgbouncer "$PGBOUNCER_PORT" "$PGBOUNCER_PID"
  stop_proxy "$PGBOUNCER_PID"
fi

printf '| proxy | logins ok | logins failed | held at the end | proxy fds added | logins/s | RSS before (MiB) | RSS with clients (MiB) | KiB per idle client | RSS after they left (MiB) | threads | VmHWM (MiB) |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n'
printf '%s\n' "${ROWS[@]}"
printf '\nRSS before: after one query and 2 s idle; with clients: %s s after the last login; after they left: 3 s after the client disconnected all. KiB per idle client = (RSS with clients − RSS before) / connections held.\n' "$SETTLE"
if [ "${#NOTES[@]}" -gt 0 ]; then printf '\nClient errors (first of each):\n\n%s\n' "$(printf '%s\n' "${NOTES[@]}")"; fi
