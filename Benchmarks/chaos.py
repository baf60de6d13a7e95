#!/usr/bin/env python3
"""chaos.py: short transactions through a pooler while its server connections are killed.

    chaos.py --url URL --super-url URL --proxy-pid PID [--name NAME] [--duration 60] [--clients 50]
             [--kill-every 2] [--restart-at SECONDS] [--window 1] [--json FILE]
    chaos.py --combine A.json B.json ...      side-by-side Markdown table of earlier runs

--clients threads (psycopg2, autocommit off) each loop
    BEGIN; UPDATE pgbench_accounts SET abalance = abalance + d WHERE aid = a; SELECT abalance …; COMMIT
with a random aid, for --duration seconds, against --url (the proxy). Meanwhile a chaos thread
  - every --kill-every seconds terminates (pg_terminate_backend, as --super-url) one random backend
    of the proxy: a pg_stat_activity row whose client_port is the local port of one of the proxy's
    TCP connections to the upstream port (found from /proc/PID/fd socket inodes and
    /proc/PID/net/tcp{,6});
  - once, at --restart-at seconds (default: half the duration; 0: never), restarts the upstream:
    `pg_ctl restart -m fast -w` on its data directory (SHOW data_directory), as the directory's
    owner (runuser when running as root), with its output appended to --pg-log (default: the
    file `log` beside the data directory when there is one, else DATA/chaos-restart.log).
A client whose connection is broken reconnects (after 100 ms when the attempt fails).

Every transaction (first statement sent) counts once:
  ok                 committed;
  failed in flight   a connection failure (SQLSTATE class 08, 57P01/57P02/57P03, or the connection
                     lost without a SQLSTATE) of a transaction that overlaps an event or the
                     --window seconds after it (a kill: the pg_terminate_backend call; the
                     restart: from pg_ctl's start until it returned); split by when the
                     transaction began: before the event (it was on the killed backend), during
                     it (the upstream was restarting) or after it (the proxy still failed it);
  failed otherwise   everything else: another SQLSTATE, or a connection failure farther from any
                     event (e.g. a dead server handed out later).
Exit status 0 when the run completed (whatever failed), 2 on bad arguments or no connection.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter

CONNECTION_CODES = {"57P01", "57P02", "57P03"}


def redact(url: str) -> str:
    return re.sub(r"password=\S*", "password=****", re.sub(r"(://[^:/@]+):[^@]*@", r"\1:****@", url))


def is_connection_failure(code: str | None, lost: bool) -> bool:
    if code:
        return code.startswith("08") or code in CONNECTION_CODES
    return lost


# --- the proxy's upstream connections ---------------------------------------------------------

def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(f"{fd_dir}/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def upstream_local_ports(pid: int, upstream_port: int) -> list[int]:
    """Local ports of the established TCP connections of process `pid` to port `upstream_port`."""
    inodes = socket_inodes(pid)
    ports = []
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
                    if state != "01" or inode not in inodes:  # 01: ESTABLISHED
                        continue
                    if int(remote.rsplit(":", 1)[1], 16) == upstream_port:
                        ports.append(int(local.rsplit(":", 1)[1], 16))
        except FileNotFoundError:
            pass
    return ports


# --- the run ----------------------------------------------------------------------------------

class Run:
    def __init__(self, args, psycopg2):
        self.args = args
        self.pg = psycopg2
        self.lock = threading.Lock()
        self.start = 0.0
        self.end = 0.0
        self.attempted = 0
        self.ok = 0
        self.failures: list[tuple[float, float, str | None, bool, str]] = []  # start, end, code, lost, msg
        self.reconnects = 0
        self.connect_failures = 0
        self.connect_failure_codes: Counter = Counter()
        self.events: list[tuple[str, float, float]] = []  # kind, start, end
        self.kills = 0
        self.kill_misses = 0       # no backend of the proxy found at that moment
        self.restart: dict | None = None
        self.chaos_errors: list[str] = []
        self.stuck_clients = 0

    # one client thread
    def client(self, index: int):
        rng = random.Random(index * 7919 + int(time.time()))
        accounts = self.args.scale * 100_000
        conn = None
        connected_before = False
        try:
            while time.monotonic() < self.end:
                if conn is None:
                    try:
                        conn = self.pg.connect(self.args.url, connect_timeout=self.args.connect_timeout)
                        conn.autocommit = False
                    except self.pg.Error as error:
                        with self.lock:
                            self.connect_failures += 1
                            self.connect_failure_codes[getattr(error, "pgcode", None) or "connection"] += 1
                        conn = None
                        time.sleep(0.1)
                        continue
                    if connected_before:
                        with self.lock:
                            self.reconnects += 1
                    connected_before = True
                aid = rng.randint(1, accounts)
                delta = rng.randint(-5000, 5000)
                began = time.monotonic()
                with self.lock:
                    self.attempted += 1
                try:
                    with conn.cursor() as cur:
                        cur.execute("UPDATE pgbench_accounts SET abalance = abalance + %s WHERE aid = %s", (delta, aid))
                        cur.execute("SELECT abalance FROM pgbench_accounts WHERE aid = %s", (aid,))
                        cur.fetchone()
                    conn.commit()
                    with self.lock:
                        self.ok += 1
                except self.pg.Error as error:
                    failed = time.monotonic()
                    lost = conn.closed != 0
                    code = getattr(error, "pgcode", None)
                    message = (str(error).strip().splitlines() or [type(error).__name__])[0]
                    if not lost:
                        try:
                            conn.rollback()
                        except self.pg.Error:
                            lost = True
                    with self.lock:
                        self.failures.append((began, failed, code, lost, message))
                    if lost:
                        try:
                            conn.close()
                        except Exception:
                            pass
                        conn = None
        finally:
            if conn is not None:
                try:
                    conn.close()
                except Exception:
                    pass

    # the chaos thread
    def super_connect(self):
        conn = self.pg.connect(self.args.super_url, connect_timeout=5)
        conn.autocommit = True
        return conn

    def chaos(self, data_dir: str, bin_dir: str):
        conn = None
        next_kill = self.start + self.args.kill_every
        restart_at = self.start + self.args.restart_at if self.args.restart_at > 0 else None
        while True:
            now = time.monotonic()
            if now >= self.end - 0.2:
                break
            if restart_at is not None and now >= restart_at:
                restart_at = None
                self.restart_upstream(data_dir, bin_dir)
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        pass
                    conn = None
                next_kill = time.monotonic() + self.args.kill_every
                continue
            wake = next_kill if restart_at is None else min(next_kill, restart_at)
            if now < wake:
                time.sleep(min(wake - now, 0.2))
                continue
            next_kill += self.args.kill_every
            try:
                if conn is None or conn.closed:
                    conn = self.super_connect()
                ports = upstream_local_ports(self.args.proxy_pid, self.args.upstream_port)
                with conn.cursor() as cur:
                    cur.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
                                "AND client_port = ANY(%s) AND pid <> pg_backend_pid()", (ports,))
                    backends = [row[0] for row in cur.fetchall()]
                    if not backends:
                        self.kill_misses += 1
                        continue
                    victim = random.choice(backends)
                    began = time.monotonic()
                    cur.execute("SELECT pg_terminate_backend(%s)", (victim,))
                    done = time.monotonic()
                self.events.append(("kill", began, done))
                self.kills += 1
            except (self.pg.Error, OSError) as error:
                self.chaos_errors.append(f"kill: {str(error).strip().splitlines()[0] if str(error).strip() else error}")
                try:
                    if conn is not None:
                        conn.close()
                except Exception:
                    pass
                conn = None
        if conn is not None:
            conn.close()

    def restart_upstream(self, data_dir: str, bin_dir: str):
        owner = pwd.getpwuid(os.stat(data_dir).st_uid).pw_name
        log_file = self.args.pg_log
        if not log_file:
            beside = os.path.join(os.path.dirname(data_dir.rstrip("/")), "log")
            log_file = beside if os.path.isfile(beside) else os.path.join(data_dir, "chaos-restart.log")
        command = [os.path.join(bin_dir, "pg_ctl"), "restart", "-D", data_dir, "-m", "fast", "-w", "-t", "60",
                   "-l", log_file]
        if os.geteuid() == 0 and owner != "root":
            command = ["runuser", "-u", owner, "--"] + command
        elif pwd.getpwuid(os.geteuid()).pw_name != owner:
            self.chaos_errors.append(f"restart: skipped, the data directory belongs to {owner}")
            return
        print(f"[chaos] restarting the upstream: {' '.join(command)}", file=sys.stderr, flush=True)
        began = time.monotonic()
        result = subprocess.run(command, cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        done = time.monotonic()
        self.events.append(("restart", began, done))
        self.restart = {"at_seconds": round(began - self.start, 2), "seconds": round(done - began, 2),
                        "exit_status": result.returncode}
        if result.returncode != 0:
            self.chaos_errors.append(f"restart: pg_ctl exit status {result.returncode}: {result.stdout.strip()[-300:]}")

    # classification
    def in_flight(self, began: float, failed: float) -> str | None:
        """For a connection failure: None when no event is near, else when the transaction began
        relative to the nearest event: "before" (it was running when the event hit), "during"
        (it began while the event went on: the restart) or "after" (it began after the event, within
        the window: the proxy was still failing transactions)."""
        best = None
        for kind, start, end in self.events:
            if failed >= start and began <= end + self.args.window:
                phase = "before" if began < start else ("during" if began <= end else "after")
                if best is None or ["before", "during", "after"].index(phase) < ["before", "during", "after"].index(best):
                    best = phase
        return best

    def report(self) -> dict:
        in_flight = 0
        phases: Counter = Counter()
        codes_in_flight: Counter = Counter()
        codes_otherwise: Counter = Counter()
        messages: dict[str, str] = {}
        other_sample: list[dict] = []
        for began, failed, code, lost, message in self.failures:
            key = code or ("connection lost" if lost else "no SQLSTATE")
            messages.setdefault(key, message)
            phase = self.in_flight(began, failed) if is_connection_failure(code, lost) else None
            if phase:
                in_flight += 1
                phases[phase] += 1
                codes_in_flight[key] += 1
            else:
                codes_otherwise[key] += 1
                if len(other_sample) < 100:
                    other_sample.append({"began": round(began - self.start, 3), "failed": round(failed - self.start, 3),
                                         "code": key, "message": message})
        elapsed = self.end - self.start
        return {
            "name": self.args.name,
            "url": redact(self.args.url),
            "clients": self.args.clients,
            "duration_seconds": round(elapsed, 2),
            "attempted": self.attempted,
            "ok": self.ok,
            "ok_per_second": round(self.ok / elapsed, 1) if elapsed > 0 else None,
            "failed_in_flight": in_flight,
            "failed_in_flight_began_before_event": phases["before"],
            "failed_in_flight_began_during_event": phases["during"],
            "failed_in_flight_began_after_event": phases["after"],
            "failed_otherwise": len(self.failures) - in_flight,
            "unfinished": self.attempted - self.ok - len(self.failures),
            "reconnects": self.reconnects,
            "connect_failures": self.connect_failures,
            "connect_failure_codes": dict(self.connect_failure_codes),
            "kills": self.kills,
            "kill_attempts_without_backend": self.kill_misses,
            "restart": self.restart,
            "chaos_errors": self.chaos_errors,
            "stuck_clients": self.stuck_clients,
            "codes_in_flight": dict(codes_in_flight),
            "codes_otherwise": dict(codes_otherwise),
            "messages": messages,
            "window_seconds": self.args.window,
            "events": [{"kind": kind, "start": round(start - self.start, 3), "end": round(end - self.start, 3)}
                       for kind, start, end in self.events],
            "failures_otherwise_sample": other_sample,
        }

    def execute(self, data_dir: str, bin_dir: str) -> dict:
        self.start = time.monotonic()
        self.end = self.start + self.args.duration
        clients = [threading.Thread(target=self.client, args=(i,), daemon=True, name=f"client-{i}")
                   for i in range(self.args.clients)]
        chaos = threading.Thread(target=self.chaos, args=(data_dir, bin_dir), daemon=True, name="chaos")
        for thread in clients:
            thread.start()
        chaos.start()
        last, last_ok = self.start, 0
        while time.monotonic() < self.end:
            time.sleep(min(5.0, max(0.05, self.end - time.monotonic())))
            now = time.monotonic()
            with self.lock:
                ok, failed, attempted = self.ok, len(self.failures), self.attempted
            print(f"[{self.args.name}] {now - self.start:5.1f}s  ok/s={(ok - last_ok) / (now - last):.0f}  "
                  f"attempted={attempted} ok={ok} failed={failed} reconnects={self.reconnects} kills={self.kills}",
                  file=sys.stderr, flush=True)
            last, last_ok = now, ok
        chaos.join(timeout=90)
        deadline = time.monotonic() + 30
        for thread in clients:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.stuck_clients = sum(thread.is_alive() for thread in clients)
        with self.lock:
            return self.report()


# --- output -----------------------------------------------------------------------------------

ROWS = [
    ("attempted", "transactions attempted"),
    ("ok", "ok"),
    ("failed_in_flight", "failed in flight (connection failure ≤ window after a kill/restart)"),
    ("failed_in_flight_began_before_event", "… began before the event (was on the killed backend)"),
    ("failed_in_flight_began_during_event", "… began during the event (upstream restarting)"),
    ("failed_in_flight_began_after_event", "… began after the event was over"),
    ("failed_otherwise", "**failed otherwise**"),
    ("unfinished", "unfinished (stuck at the end)"),
    ("reconnects", "reconnects"),
    ("connect_failures", "failed connection attempts"),
    ("ok_per_second", "ok/s"),
    ("kills", "backends terminated"),
    ("kill_attempts_without_backend", "kill rounds with no proxy backend"),
]


def restart_cell(run: dict) -> str:
    restart = run.get("restart")
    if not restart:
        return "—"
    return f"at {restart['at_seconds']} s, took {restart['seconds']} s (exit {restart['exit_status']})"


def codes_cell(codes: dict) -> str:
    return ", ".join(f"{code} ×{count}" for code, count in sorted(codes.items(), key=lambda kv: -kv[1])) or "—"


def markdown(runs: list[dict]) -> str:
    lines = ["| | " + " | ".join(run["name"] for run in runs) + " |",
             "|---|" + "---:|" * len(runs)]
    for key, label in ROWS:
        lines.append(f"| {label} | " + " | ".join(str(run.get(key, "—")) for run in runs) + " |")
    lines.append("| upstream restart | " + " | ".join(restart_cell(run) for run in runs) + " |")
    lines.append("| in-flight failures by code | " + " | ".join(codes_cell(run["codes_in_flight"]) for run in runs) + " |")
    lines.append("| other failures by code | " + " | ".join(codes_cell(run["codes_otherwise"]) for run in runs) + " |")
    lines.append("| connection attempts failed by code | "
                 + " | ".join(codes_cell(run["connect_failure_codes"]) for run in runs) + " |")
    out = "\n".join(lines) + "\n"
    notes = []
    for run in runs:
        for code, message in run["messages"].items():
            notes.append(f"- {run['name']} `{code}`: {message}")
        for error in run["chaos_errors"]:
            notes.append(f"- {run['name']} chaos: {error}")
        if run.get("stuck_clients"):
            notes.append(f"- {run['name']}: {run['stuck_clients']} client threads still blocked 30 s after the end")
    if notes:
        out += "\nFirst message of each failure code:\n\n" + "\n".join(notes) + "\n"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="target (the proxy) URL or conninfo")
    parser.add_argument("--super-url", help="superuser URL of the upstream (pg_stat_activity, pg_terminate_backend)")
    parser.add_argument("--proxy-pid", type=int, help="pid of the proxy whose upstream connections are killed")
    parser.add_argument("--upstream-port", type=int, help="the upstream's port (default: from --super-url)")
    parser.add_argument("--name", default="target")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--kill-every", type=float, default=2)
    parser.add_argument("--restart-at", type=float, help="seconds into the run (default: duration/2; 0: no restart)")
    parser.add_argument("--window", type=float, default=1.0, help="seconds after an event that still count as in flight")
    parser.add_argument("--connect-timeout", type=int, default=10)
    parser.add_argument("--scale", type=int, help="pgbench scale (default: rows of pgbench_branches)")
    parser.add_argument("--pg-log", help="log file for pg_ctl restart")
    parser.add_argument("--json", help="write the result as JSON here")
    parser.add_argument("--combine", nargs="+", metavar="JSON", help="print earlier results side by side")
    args = parser.parse_args()

    if args.combine:
        runs = []
        for path in args.combine:
            with open(path) as f:
                runs.append(json.load(f))
        print(markdown(runs), end="")
        return 0

    if not args.url or not args.super_url or not args.proxy_pid:
        parser.error("--url, --super-url and --proxy-pid are needed")
    if args.clients < 1 or args.duration <= 0 or args.kill_every <= 0:
        parser.error("--clients, --duration and --kill-every must be positive")
    if args.restart_at is None:
        args.restart_at = args.duration / 2
    try:
        import psycopg2
        import psycopg2.extensions
    except ImportError:
        print("chaos.py: psycopg2 is needed (pip install psycopg2-binary)", file=sys.stderr)
        return 2
    if not os.path.exists(f"/proc/{args.proxy_pid}"):
        print(f"chaos.py: no process {args.proxy_pid}", file=sys.stderr)
        return 2
    try:
        upstream_local_ports(args.proxy_pid, 0)
    except PermissionError:
        print(f"chaos.py: cannot read /proc/{args.proxy_pid}/fd (run as root or as the proxy's user)", file=sys.stderr)
        return 2
    try:
        with psycopg2.connect(args.super_url, connect_timeout=5) as conn, conn.cursor() as cur:
            dsn = conn.get_dsn_parameters()
            cur.execute("SHOW data_directory")
            data_dir = cur.fetchone()[0]
            cur.execute("SELECT setting FROM pg_config WHERE name = 'BINDIR'")
            bin_dir = cur.fetchone()[0]
            if args.scale is None:
                cur.execute("SELECT count(*) FROM pgbench_branches")
                args.scale = cur.fetchone()[0]
        conn.close()
        if args.upstream_port is None:
            args.upstream_port = int(dsn.get("port") or 5432)
        psycopg2.connect(args.url, connect_timeout=args.connect_timeout).close()
    except psycopg2.Error as error:
        print(f"chaos.py: {redact(str(error)).strip()}", file=sys.stderr)
        return 2
    if args.scale < 1:
        print("chaos.py: pgbench_branches is empty (run pgbench -i)", file=sys.stderr)
        return 2

    print(f"[{args.name}] {args.clients} clients for {args.duration:g} s against {redact(args.url)}; "
          f"a backend of pid {args.proxy_pid} (upstream port {args.upstream_port}) killed every {args.kill_every:g} s"
          + (f", upstream restart at {args.restart_at:g} s" if args.restart_at > 0 else ""), file=sys.stderr, flush=True)
    run = Run(args, psycopg2)
    result = run.execute(data_dir, bin_dir)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    print(markdown([result]), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
