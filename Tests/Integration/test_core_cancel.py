"""Core: query cancellation through sluice (libpq's PQcancel from psycopg2, and psql on SIGINT)."""

import signal
import subprocess
import threading
import time

import psycopg2
import pytest

import support


def sleeping_backends(pg, seconds):
    return [a for a in pg.activity("app") if a["state"] == "active" and f"pg_sleep({seconds})" in (a["query"] or "")]


@pytest.mark.parametrize("pool_mode", ["transaction", "session"])
def test_cancel_from_psycopg2(sluice, pg, pool_mode):
    s = sluice(support.sluice_config(pool_mode=pool_mode, pool_size=2))
    conn = s.connect()
    bystander = s.connect()
    outcome = {}

    def run():
        try:
            with conn.cursor() as cur:
                cur.execute("select pg_sleep(30)")
            outcome["result"] = "finished"
        except psycopg2.Error as exc:
            outcome["error"] = exc
        outcome["at"] = time.monotonic()

    try:
        worker = threading.Thread(target=run)
        worker.start()
        time.sleep(1)
        support.wait_until(lambda: sleeping_backends(pg, 30), 5, message="pg_sleep(30) to be running")
        cancelled_at = time.monotonic()
        conn.cancel()
        worker.join(10)
        assert not worker.is_alive(), "query still running 10 s after cancel"
        assert "error" in outcome, f"query was not cancelled: {outcome}"
        assert outcome["error"].pgcode == "57014", outcome["error"]
        assert "canceling statement due to user request" in str(outcome["error"])
        assert outcome["at"] - cancelled_at < 2.0, f"cancel took {outcome['at'] - cancelled_at:.2f}s"
        # The cancelled client and the other client both work afterwards.
        with conn.cursor() as cur:
            cur.execute("select 1")
            assert cur.fetchone() == (1,)
        with bystander.cursor() as cur:
            cur.execute("select 2")
            assert cur.fetchone() == (2,)
        assert not sleeping_backends(pg, 30)
    finally:
        conn.close()
        bystander.close()


def test_cancel_from_psql_on_sigint(sluice, pg):
    s = sluice(support.sluice_config(pool_size=2))
    proc = subprocess.Popen(["psql", "-X", "-c", "select pg_sleep(30)", s.dsn()],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        support.wait_until(lambda: sleeping_backends(pg, 30) or proc.poll() is not None, 10,
                           message="psql's pg_sleep(30) to be running")
        assert proc.poll() is None, f"psql exited early: {proc.communicate()}"
        proc.send_signal(signal.SIGINT)
        try:
            stdout, stderr = proc.communicate(timeout=3)
        except subprocess.TimeoutExpired:
            pytest.fail("psql still running 3 s after SIGINT")
        assert "canceling statement due to user request" in stderr, (stdout, stderr)
        assert proc.returncode != 0
        support.wait_until(lambda: not sleeping_backends(pg, 30), 3, message="pg_sleep(30) to end upstream")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
