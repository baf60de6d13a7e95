"""Process lifecycle: SIGTERM lets running transactions finish (bounded by shutdown_timeout), SIGHUP reloads."""

from __future__ import annotations

import signal
import threading
import time

import psycopg2
import pytest

import support

pytestmark = pytest.mark.sluice_only


def test_sigterm_lets_running_transactions_finish(sluice):
    s = sluice(support.sluice_config(pool_size=2, shutdown_timeout=10))
    conn = psycopg2.connect(s.dsn())
    conn.autocommit = True
    result = {}

    def run():
        with conn.cursor() as cur:
            cur.execute("select pg_sleep(1.5), 'done'")
            result["row"] = cur.fetchone()

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.5)
    started = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert not support.port_accepts("127.0.0.1", s.port), "no new connections after SIGTERM"
    worker.join(10)
    assert result.get("row") == ("", "done")
    assert s.proc.wait(10) == 0
    assert time.monotonic() - started < 5
    assert "shutting down" in s.log_text()


def test_sigterm_gives_up_after_shutdown_timeout(sluice):
    s = sluice(support.sluice_config(pool_size=2, shutdown_timeout=1))
    conn = psycopg2.connect(s.dsn())
    conn.autocommit = True
    errors = []

    def run():
        try:
            with conn.cursor() as cur:
                cur.execute("select pg_sleep(20)")
        except psycopg2.Error as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.5)
    started = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(10) == 0
    assert 0.8 <= time.monotonic() - started < 5
    worker.join(10)
    assert errors, "the client whose query outlived shutdown_timeout is told"


def test_sighup_reload_keeps_clients_and_refuses_bad_files(sluice, pg):
    config = support.sluice_config(pool_size=2)
    s = sluice(config)
    config["sluice"]["listen"] = f"127.0.0.1:{s.port}"
    conn = psycopg2.connect(s.dsn())
    conn.autocommit = True
    # A broken file: the running configuration stays.
    s.write_config("[sluice]\nlisten = 12\n")
    s.reload()
    support.wait_until(lambda: "reload refused" in s.log_text(), 5, message="reload refused")
    with conn.cursor() as cur:
        cur.execute("select 1")
    # A good file adding a database: the connected client stays, the new database works.
    config["databases"]["fltr"] = {"url": support.upstream_url("fltr", "app"), "pool_size": 1}
    s.write_config(support.to_toml(config))
    s.reload()
    support.wait_until(lambda: "configuration reloaded" in s.log_text(), 5, message="reloaded")
    with psycopg2.connect(s.dsn(dbname="fltr")) as other, other.cursor() as cur:
        cur.execute("select current_database()")
        assert cur.fetchone() == ("fltr",)
    with conn.cursor() as cur:
        cur.execute("select 2")
        assert cur.fetchone() == (2,)
    conn.close()
