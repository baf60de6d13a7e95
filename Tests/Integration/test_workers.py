"""`workers = 2`: two event loops, each with its own clients and its share of every pool.

Checked against the real PostgreSQL: traffic spreads over both workers with the process keeping to
pool_size upstream connections; the admin console and /metrics see one merged picture; client limits,
cancel requests, KILL_CLIENT, PAUSE/RESUME and RELOAD work whichever worker a client is on.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
import urllib.request

import psycopg2
import psycopg2.errors
import pytest

import support
from test_admin_console import command, show

pytestmark = pytest.mark.sluice_only


def workers_config(pool_size: int = 4, **settings) -> dict:
    settings.setdefault("admin_users", ["app"])
    return support.sluice_config(pool_size=pool_size, workers=2, **settings)


def connect(s, **kwargs):
    conn = psycopg2.connect(s.dsn(connect_timeout=10, **kwargs))
    conn.autocommit = True
    return conn


def backend_pid(conn) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return cur.fetchone()[0]


def test_traffic_spreads_over_both_workers_within_pool_size(sluice, pgbench_tables):
    s = sluice(workers_config(pool_size=4))
    result = subprocess.run(
        ["pgbench", "-n", "-S", "-c", "8", "-j", "2", "-t", "300", s.dsn()],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "number of failed transactions: 0" in result.stdout, result.stdout
    assert re.search(r"actually processed: 2400/2400", result.stdout), result.stdout
    # Both workers logged clients in, and their pools together stayed within pool_size = 4.
    log = s.log_text()
    assert "worker=0" in log and "worker=1" in log
    assert len(s.upstream_ports()) <= 4
    pools = {row["database"]: row for row in show(s, "POOLS")}
    assert pools["app"]["pool_size"] == "4", pools
    stats = {row["database"]: row for row in show(s, "STATS")}
    assert int(stats["app"]["total_xact_count"]) >= 2400, stats


def test_console_lists_clients_of_both_workers(sluice):
    s = sluice(workers_config())
    conns = [connect(s, application_name=f"w{i}") for i in range(4)]
    try:
        for conn in conns:
            backend_pid(conn)
        clients = [row for row in show(s, "CLIENTS") if row["database"] == "app"]
        names = sorted(row["application_name"] for row in clients)
        assert names == ["w0", "w1", "w2", "w3"], clients
        ids = [row["ptr"] for row in clients]
        assert len(set(ids)) == 4, "client ids are unique across workers"
        # The metrics endpoint merges the same way.
        counts = {row["state"] for row in clients}
        assert counts <= {"idle", "active"}
    finally:
        for conn in conns:
            conn.close()


def test_metrics_merge_both_workers(sluice):
    port = support.free_port()
    s = sluice(workers_config(admin_listen=f"127.0.0.1:{port}"))
    conns = [connect(s) for _ in range(4)]
    try:
        for conn in conns:
            backend_pid(conn)
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        idle = re.search(r'^sluice_clients\{database="app",state="idle",user="app"\} (\S+)$', body, re.M)
        assert idle and float(idle.group(1)) == 4.0, body[:2000]
        # Each client ran one transaction, two on each worker: the core's timers of both workers'
        # pools are one series per database.
        counts = re.findall(r'^sluice_transaction_duration_seconds_count\{database="app"\} (\S+)$', body, re.M)
        assert counts == ["4"], body
        inf = re.findall(r'^sluice_transaction_duration_seconds_bucket\{database="app",le="\+Inf"\} (\S+)$', body, re.M)
        assert inf == ["4"], body
        ready = urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=10)
        assert ready.status == 200
    finally:
        for conn in conns:
            conn.close()


def test_client_limit_holds_across_workers(sluice):
    s = sluice(workers_config(max_client_conn=3))
    held = [connect(s) for _ in range(3)]
    try:
        with pytest.raises(psycopg2.OperationalError) as info:
            connect(s)
        assert "no more connections allowed (max_client_conn=3)" in str(info.value)
        held.pop().close()
        # The freed place is usable whichever worker the next connection lands on.
        assert support.wait_until(lambda: _can_connect(s), timeout=10)
    finally:
        for conn in held:
            conn.close()


def _can_connect(s) -> bool:
    try:
        connect(s).close()
        return True
    except psycopg2.OperationalError:
        return False


def test_cancel_reaches_clients_on_either_worker(sluice):
    s = sluice(workers_config())
    conns = [connect(s) for _ in range(4)]
    try:
        for conn in conns:
            errors: list[Exception] = []

            def run(c=conn):
                try:
                    with c.cursor() as cur:
                        cur.execute("SELECT pg_sleep(20)")
                except Exception as exc:  # noqa: BLE001 - the test inspects it
                    errors.append(exc)

            thread = threading.Thread(target=run)
            started = time.monotonic()
            thread.start()
            time.sleep(0.5)
            conn.cancel()  # a new connection: it may land on the other worker
            thread.join(timeout=15)
            assert not thread.is_alive(), "the cancel did not reach the query"
            assert time.monotonic() - started < 10
            assert errors and isinstance(errors[0], psycopg2.errors.QueryCanceled), errors
            assert backend_pid(conn) > 0, "the client is still usable"
    finally:
        for conn in conns:
            conn.close()


def test_kill_client_on_each_worker(sluice):
    s = sluice(workers_config())
    conns = [connect(s, application_name=f"k{i}") for i in range(4)]
    for conn in conns:
        backend_pid(conn)
    clients = {row["application_name"]: row for row in show(s, "CLIENTS") if row["database"] == "app"}
    for i, conn in enumerate(conns):
        assert command(s, f"KILL_CLIENT {clients[f'k{i}']['ptr']}") == "KILL_CLIENT"
        with pytest.raises(psycopg2.OperationalError):
            backend_pid(conn)
        conn.close()
    assert [row for row in show(s, "CLIENTS") if row["database"] == "app"] == []


def test_pause_and_resume_hold_both_workers(sluice):
    s = sluice(workers_config())
    conns = [connect(s) for _ in range(2)]
    try:
        for conn in conns:
            backend_pid(conn)
        command(s, "PAUSE app")
        finished: list[int] = []
        threads = [threading.Thread(target=lambda c=c: finished.append(backend_pid(c))) for c in conns]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        assert finished == [], "queries ran while the pool was paused"
        command(s, "RESUME app")
        for thread in threads:
            thread.join(timeout=10)
        assert len(finished) == 2
    finally:
        for conn in conns:
            conn.close()


def test_reload_reaches_both_workers(sluice):
    s = sluice(workers_config(pool_size=4))
    assert {row["database"]: row for row in show(s, "POOLS")}["app"]["pool_size"] == "4"
    s.write_config(s.config_text.replace("pool_size = 4", "pool_size = 6"))
    s.reload()
    assert support.wait_until(
        lambda: {row["database"]: row for row in show(s, "POOLS")}["app"]["pool_size"] == "6", timeout=10)


def test_pool_size_below_workers_is_warned_about(sluice):
    # Every worker keeps at least one server of a database, so pool_size = 1 with two workers may
    # open two: Sluice says so at start (once, not once per worker), and not when the sizes fit.
    small = sluice(workers_config(pool_size=1))
    assert support.wait_until(lambda: "pool_size is below workers" in small.log_text(), timeout=10)
    lines = [line for line in small.log_text().splitlines() if "pool_size is below workers" in line]
    assert len(lines) == 1, lines
    assert "database=app" in lines[0] and "pool_size=1" in lines[0] and "workers=2" in lines[0], lines[0]
    fitting = sluice(workers_config(pool_size=4))
    conn = connect(fitting)
    try:
        backend_pid(conn)
    finally:
        conn.close()
    assert "pool_size is below workers" not in fitting.log_text()
