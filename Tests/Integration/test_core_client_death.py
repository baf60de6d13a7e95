"""Core: a client killed in the middle of a transaction leaves nothing behind upstream."""

import signal
import subprocess
import uuid

import pytest

import support


def sessions(pg, s, predicate):
    """This sluice's upstream sessions of app for which predicate(row) holds."""
    return [a for a in pg.activity("app", client_ports=s.upstream_ports()) if predicate(a)]


def sleeping(a):
    return a["state"] == "active" and "pg_sleep(60)" in (a["query"] or "")


def in_transaction(a):
    return (a["state"] or "").startswith("idle in transaction")


@pytest.fixture
def victim_table(pg):
    table = f"killed_{uuid.uuid4().hex[:8]}"
    pg.sql(f"create table {table} (n int)", dbname="app")
    pg.sql(f"grant all on {table} to app", dbname="app")
    yield table
    pg.sql(f"set lock_timeout = '10s'; drop table if exists {table}", dbname="app")


def check_cleaned_up(pg, s, table, backend_pids):
    """The backends that served the killed client are gone, or idle outside a transaction."""
    def still_busy():
        rows = pg.sql("select pid, state, query from pg_stat_activity where pid = any(%s)", (backend_pids,))
        return [r for r in rows if r[1] != "idle"]

    try:
        support.wait_until(lambda: not still_busy(), 5,
                           message="upstream to drop the killed client's transaction")
    finally:
        pg.sql("select pg_terminate_backend(pid) from pg_stat_activity where pid = any(%s) and state <> 'idle'",
               (backend_pids,))
    assert pg.scalar(f"select count(*) from {table}", dbname="app") == 0, "the killed client's insert was committed"
    conn = s.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"insert into {table} values (2)")
            cur.execute(f"select count(*) from {table}")
            assert cur.fetchone() == (1,)
    finally:
        conn.close()


def kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(5)


@pytest.mark.parametrize("pool_mode", ["transaction", "session"])
def test_client_killed_while_query_runs(victim_table, sluice, pg, pool_mode):
    s = sluice(support.sluice_config(pool_mode=pool_mode, pool_size=1))
    # PostgreSQL alone notices a dead client during pg_sleep only if told to poll for it;
    # sluice must notice by itself (the client's socket closes) and clean up upstream.
    direct_options = {"options": "-c client_connection_check_interval=200"} if support.DIRECT else {}
    proc = subprocess.Popen(["psql", "-X", "-v", "ON_ERROR_STOP=1",
                             "-c", "BEGIN", "-c", f"INSERT INTO {victim_table} VALUES (1)",
                             "-c", "SELECT pg_sleep(60)", s.dsn(**direct_options)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        busy = support.wait_until(lambda: sessions(pg, s, sleeping) or proc.poll() is not None, 10,
                                  message="psql's pg_sleep(60) to be running")
        assert proc.poll() is None, proc.stderr.read()
        kill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check_cleaned_up(pg, s, victim_table, [a["pid"] for a in busy])


@pytest.mark.parametrize("pool_mode", ["transaction", "session"])
def test_client_killed_while_idle_in_transaction(victim_table, sluice, pg, pool_mode):
    s = sluice(support.sluice_config(pool_mode=pool_mode, pool_size=1))
    proc = subprocess.Popen(["psql", "-X", "-q", s.dsn()], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(f"BEGIN;\nINSERT INTO {victim_table} VALUES (1);\n".encode())
        proc.stdin.flush()
        busy = support.wait_until(lambda: sessions(pg, s, in_transaction) or proc.poll() is not None, 10,
                                  message="psql to be idle in transaction")
        assert proc.poll() is None, proc.stderr.read()
        kill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
    check_cleaned_up(pg, s, victim_table, [a["pid"] for a in busy])
