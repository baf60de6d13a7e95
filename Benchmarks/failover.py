#!/usr/bin/env python3
"""Failover under load: N writers through Sluice (target_session_attrs=read-write over a primary and
its streaming standby), the primary stopped, the standby promoted with pg_ctl promote.

Reports the writers' errors (by SQLSTATE, and whether any came before the primary stopped), the
rows they saw committed against the rows present on the new primary (lost / in doubt), idle
clients' errors, and the time from the promotion to the first successful write.

    .venv/bin/python Benchmarks/failover.py --sluice .build/release/sluice [--writers 50]

Runs its own primary and standby (scripts/lib/common.sh, ports --port and --port+1; needs root like
scripts/test) and its own Sluice; everything on 127.0.0.1, plaintext on both hops (sslmode=disable).
The integration suite runs the same scenario (Tests/Integration/test_failover.py) with fewer writers.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg2

REPO = Path(__file__).resolve().parent.parent


def shell(command: str) -> str:
    """Runs a scripts/lib/common.sh function (as scripts/test does)."""
    result = subprocess.run(["bash", "-c", f". '{REPO}/scripts/lib/common.sh' && {command}"],
                            capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        raise RuntimeError(f"{command}: {result.stderr.strip()}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def superuser(port: int, dbname: str = "app"):
    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", password="postgres-secret",
                            dbname=dbname, sslmode="disable", connect_timeout=10)
    conn.autocommit = True
    return conn


def wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


class Writer(threading.Thread):
    """Inserts (writer, n) rows one autocommit statement at a time; keeps what it saw."""

    def __init__(self, index: int, dsn: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.index, self.dsn, self.stop = index, dsn, stop
        self.committed: set[int] = set()
        self.attempted: set[int] = set()
        self.errors: list[tuple[float, str]] = []
        self.successes: list[float] = []
        self.reconnects = 0

    def run(self) -> None:
        conn = None
        n = 0
        while not self.stop.is_set():
            try:
                if conn is None or conn.closed:
                    if conn is not None:
                        self.reconnects += 1
                    conn = psycopg2.connect(self.dsn)
                    conn.autocommit = True
                n += 1
                self.attempted.add(n)
                with conn.cursor() as cur:
                    cur.execute("insert into failover_rows (writer, n) values (%s, %s)", (self.index, n))
                self.committed.add(n)
                self.successes.append(time.monotonic())
            except psycopg2.Error as exc:
                self.errors.append((time.monotonic(), exc.pgcode or f"closed:{type(exc).__name__}"))
                time.sleep(0.01)
        if conn is not None:
            conn.close()


def run(sluice_bin: str, writers: int = 50, port: int = 55520, warmup: float = 3.0, outage: float = 1.0,
        after: float = 5.0, pool_size: int = 10) -> dict:
    primary, standby = f"failover-{port}", f"failover-{port + 1}"
    workdir = Path(tempfile.mkdtemp(prefix="sluice-failover-"))
    sluice = None
    try:
        shell(f"sluice_pg_start {primary} {port}")
        shell(f"sluice_pg_standby {standby} {port + 1} {primary} {port}")
        with superuser(port) as conn, conn.cursor() as cur:
            cur.execute("create table failover_rows (writer int, n int, primary key (writer, n))")
            cur.execute("grant all on failover_rows to app")
        listen = free_port()
        config = workdir / "sluice.toml"
        config.write_text(f"""
[sluice]
listen = "127.0.0.1:{listen}"
pool_mode = "transaction"
query_wait_timeout = 60

[databases.app]
url = "postgresql://app:app-secret@127.0.0.1:{port},127.0.0.1:{port + 1}/app?sslmode=disable&target_session_attrs=read-write"
pool_size = {pool_size}

[databases.app_ro]
url = "postgresql://app:app-secret@127.0.0.1:{port + 1},127.0.0.1:{port}/app?sslmode=disable&target_session_attrs=prefer-standby"
pool_size = 2
""")
        log = open(workdir / "sluice.log", "wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
        sluice = subprocess.Popen([sluice_bin, "--config", str(config)], stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_port(listen)
        dsn = f"host=127.0.0.1 port={listen} dbname=app user=app password=app-secret sslmode=disable"
        idle = []
        for _ in range(5):
            conn = psycopg2.connect(dsn)
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("select 1")
            idle.append(conn)
        # A reader on the standby (prefer-standby): after the promotion its server is no standby
        # any more, is retired, and the reader goes on on the new primary.
        reader = psycopg2.connect(dsn.replace("dbname=app", "dbname=app_ro"))
        reader.autocommit = True
        with reader.cursor() as cur:
            cur.execute("select pg_is_in_recovery()")
            reader_before = cur.fetchone()[0]
        stop = threading.Event()
        threads = [Writer(i, dsn, stop) for i in range(writers)]
        for t in threads:
            t.start()
        time.sleep(warmup)
        stopped_at = time.monotonic()
        shell(f"sluice_pg_stop {primary}")           # pg_ctl stop -m fast: WAL reaches the standby first
        time.sleep(outage)
        promoted_at = time.monotonic()
        shell(f"sluice_pg_promote {standby}")
        promotion_took = time.monotonic() - promoted_at
        time.sleep(after)
        stop.set()
        for t in threads:
            t.join(30)
        reader_after = None
        try:
            with reader.cursor() as cur:
                cur.execute("select pg_is_in_recovery()")
                reader_after = cur.fetchone()[0]
        except psycopg2.Error as exc:
            reader_after = f"error {exc.pgcode}"
        reader.close()
        idle_errors = 0
        for conn in idle:
            try:
                with conn.cursor() as cur:
                    cur.execute("select 1")
            except psycopg2.Error:
                idle_errors += 1
            conn.close()
        with superuser(port + 1) as conn, conn.cursor() as cur:
            cur.execute("select writer, n from failover_rows")
            present = set(cur.fetchall())
        committed = {(t.index, n) for t in threads for n in t.committed}
        attempted = {(t.index, n) for t in threads for n in t.attempted}
        errors: dict[str, int] = {}
        for t in threads:
            for _, code in t.errors:
                errors[code] = errors.get(code, 0) + 1
        first_after = min((s for t in threads for s in t.successes if s > promoted_at), default=None)
        return {
            "writers": writers,
            "pool_size": pool_size,
            "writes_committed": len(committed),
            "rows_present": len(present),
            "rows_lost": len(committed - present),
            "rows_in_doubt": len(present - committed),   # committed, but the writer saw an error
            "rows_unexpected": len(present - attempted),
            "errors": errors,
            "errors_before_stop": sum(1 for t in threads for at, _ in t.errors if at < stopped_at),
            "reconnects": sum(t.reconnects for t in threads),
            "idle_client_errors": idle_errors,
            "first_write_after_promotion_s": None if first_after is None else round(first_after - promoted_at, 3),
            "outage_s": outage,
            "reader_in_recovery_before": reader_before,
            "reader_in_recovery_after": reader_after,
            "role_changes_logged": (workdir / "sluice.log").read_text(errors="replace").count("server changed role"),
            "promotion_s": round(promotion_took, 3),   # pg_ctl promote -w, from its start to the standby accepting writes
        }
    finally:
        if sluice is not None and sluice.poll() is None:
            sluice.send_signal(signal.SIGTERM)
            try:
                sluice.wait(15)
            except subprocess.TimeoutExpired:
                sluice.kill()
        for name in (standby, primary):
            try:
                shell(f"sluice_pg_stop {name}")
            except RuntimeError:
                pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sluice", default=str(REPO / ".build" / "release" / "sluice"))
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--port", type=int, default=55520)
    parser.add_argument("--outage", type=float, default=1.0, help="seconds between stopping the primary and promoting")
    args = parser.parse_args()
    result = run(args.sluice, writers=args.writers, port=args.port, outage=args.outage)
    print(json.dumps(result, indent=2))
    return 0 if result["rows_lost"] == 0 and result["errors_before_stop"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
