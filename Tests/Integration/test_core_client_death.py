"""Core: a client killed in the middle of a transaction leaves nothing behind upstream."""

import signal
import subprocess
import uuid

import pytest

import support


def leftover_backends(pg):
    """app's upstream sessions that are still in a transaction or still sleeping."""
    return [a for a in pg.activity("app")
            if (a["state"] or "").startswith("idle in transaction")
            or (a["state"] == "active" and "pg_sleep" in (a["query"] or ""))]


@pytest.fixture
def victim_table(pg):
    table = f"killed_{uuid.uuid4().hex[:8]}"
    pg.sql(f"create table {table} (n int)", dbname="app")
    pg.sql(f"grant all on {table} to app", dbname="app")
    yield table
    # A failed test may leave the killed client's transaction holding a lock on the table.
    pg.sql("select pg_terminate_backend(pid) from pg_stat_activity where usename = 'app'")
    pg.sql(f"set lock_timeout = '5s'; drop table if exists {table}", dbname="app")


def check_cleaned_up(pg, s, table):
    support.wait_until(lambda: not leftover_backends(pg), 5,
                       message="upstream to drop the killed client's transaction")
    assert pg.scalar(f"select count(*) from {table}", dbname="app") == 0, "the killed client's insert was committed"
    conn = s.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"insert into {table} values (2)")
            cur.execute(f"select count(*) from {table}")
            assert cur.fetchone() == (1,)
    finally:
        conn.close()


@pytest.mark.parametrize("pool_mode", ["transaction", "session"])
def test_client_killed_while_query_runs(sluice, pg, victim_table, pool_mode):
    s = sluice(support.sluice_config(pool_mode=pool_mode, pool_size=1))
    # PostgreSQL alone notices a dead client during pg_sleep only if told to poll for it;
    # sluice must notice by itself (the client's socket closes) and clean up upstream.
    direct_options = {"options": "-c client_connection_check_interval=200"} if support.DIRECT else {}
    proc = subprocess.Popen(["psql", "-X", "-v", "ON_ERROR_STOP=1",
                             "-c", "BEGIN", "-c", f"INSERT INTO {victim_table} VALUES (1)",
                             "-c", "SELECT pg_sleep(60)", s.dsn(**direct_options)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        support.wait_until(lambda: [a for a in pg.activity("app") if "pg_sleep(60)" in (a["query"] or "")
                                    and a["state"] == "active"] or proc.poll() is not None,
                           10, message="psql's pg_sleep(60) to be running")
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check_cleaned_up(pg, s, victim_table)


@pytest.mark.parametrize("pool_mode", ["transaction", "session"])
def test_client_killed_while_idle_in_transaction(sluice, pg, victim_table, pool_mode):
    s = sluice(support.sluice_config(pool_mode=pool_mode, pool_size=1))
    proc = subprocess.Popen(["psql", "-X", "-q", s.dsn()], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(f"BEGIN;\nINSERT INTO {victim_table} VALUES (1);\n".encode())
        proc.stdin.flush()
        support.wait_until(lambda: [a for a in pg.activity("app")
                                    if (a["state"] or "").startswith("idle in transaction")]
                           or proc.poll() is not None, 10, message="psql to be idle in transaction")
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
    check_cleaned_up(pg, s, victim_table)
