"""Core, session pooling: session state lasts for the client's session and is reset for the next; LISTEN/NOTIFY; NOTICE."""

import select
import time

import psycopg2
import psycopg2.errorcodes
import pytest

import support


def scalar(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


@pytest.mark.one_pool
def test_session_state_survives_transactions_and_is_reset_after_disconnect(sluice):
    s = sluice(support.sluice_config(pool_mode="session", pool_size=1))
    c1 = s.connect(autocommit=False)
    with c1.cursor() as cur:
        cur.execute("create temp table session_tmp (n int)")
    c1.commit()
    with c1.cursor() as cur:
        cur.execute("insert into session_tmp values (1), (2)")
    c1.commit()
    with c1.cursor() as cur:
        cur.execute("insert into session_tmp values (3)")
    c1.rollback()
    assert scalar(c1, "select count(*) from session_tmp") == 2
    c1.commit()
    with c1.cursor() as cur:
        cur.execute("prepare session_stmt as select 41 + 1")
        cur.execute("set application_name = 'leaky'")
    c1.commit()
    assert scalar(c1, "execute session_stmt") == 42
    first_backend = scalar(c1, "select pg_backend_pid()")
    c1.commit()
    c1.close()

    c2 = s.connect()
    try:
        if not support.DIRECT:
            # pool_size = 1: the same server, after server_reset_query (DISCARD ALL).
            assert scalar(c2, "select pg_backend_pid()") == first_backend
        with pytest.raises(psycopg2.errors.UndefinedTable):
            scalar(c2, "select count(*) from session_tmp")
        with pytest.raises(psycopg2.Error) as info:
            scalar(c2, "execute session_stmt")
        assert info.value.pgcode == psycopg2.errorcodes.INVALID_SQL_STATEMENT_NAME  # 26000
        assert scalar(c2, "show application_name") != "leaky"
    finally:
        c2.close()


def test_listen_notify_in_session_mode(sluice):
    s = sluice(support.sluice_config(pool_mode="session", pool_size=2))
    listener = s.connect()
    sender = s.connect()
    try:
        with listener.cursor() as cur:
            cur.execute("listen sluice_channel")
        with sender.cursor() as cur:
            cur.execute("notify sluice_channel, 'from another client'")
            cur.execute("select pg_notify('sluice_channel', 'second')")
        deadline = time.monotonic() + 5
        received = []
        while len(received) < 2 and time.monotonic() < deadline:
            if select.select([listener], [], [], 0.5)[0]:
                listener.poll()
                while listener.notifies:
                    received.append(listener.notifies.pop(0))
        assert [(n.channel, n.payload) for n in received] == [
            ("sluice_channel", "from another client"), ("sluice_channel", "second")]
        assert received[0].pid == scalar(sender, "select pg_backend_pid()")
    finally:
        listener.close()
        sender.close()


@pytest.mark.parametrize("pool_mode", ["transaction", "session"])
def test_notice_reaches_the_client(sluice, pool_mode):
    s = sluice(support.sluice_config(pool_mode=pool_mode, pool_size=1))
    conn = s.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("DO $$ BEGIN RAISE NOTICE 'hi'; END $$")
            cur.execute("DO $$ BEGIN RAISE WARNING 'careful: %', 42; END $$")
        assert conn.notices == ["NOTICE:  hi\n", "WARNING:  careful: 42\n"]
        assert scalar(conn, "select 1") == 1
    finally:
        conn.close()
