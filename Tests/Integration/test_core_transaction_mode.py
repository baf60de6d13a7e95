"""Core, transaction pooling: clients share one server; session parameters follow their client; extended protocol."""

import threading
import time
import uuid

import psycopg
import pytest

import support


def one_server_config(**settings):
    return support.sluice_config(pool_mode="transaction", pool_size=1, **settings)


def scalar(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


@pytest.mark.one_pool
def test_interleaved_transactions_share_one_server(sluice, pg):
    s = sluice(one_server_config())
    table = f"tx_{uuid.uuid4().hex[:8]}"
    pg.sql(f"create table {table} (client text, n int)", dbname="app")
    pg.sql(f"grant all on {table} to app", dbname="app")
    c1 = s.connect(autocommit=False)
    c2 = s.connect(autocommit=False)
    try:
        backends = set()
        for n in range(20):
            for name, conn in (("one", c1), ("two", c2)):
                with conn.cursor() as cur:
                    cur.execute(f"insert into {table} values (%s, %s)", (name, n))
                    cur.execute("select pg_backend_pid()")
                    backends.add(cur.fetchone()[0])
                conn.commit()
        assert pg.sql(f"select client, count(*) from {table} group by client order by client", dbname="app") == \
            [("one", 20), ("two", 20)]
        if not support.DIRECT:
            assert len(backends) == 1, f"pool_size = 1 but clients saw backends {backends}"
    finally:
        c1.close()
        c2.close()


@pytest.mark.one_pool
def test_second_client_waits_for_the_first_transaction(sluice):
    s = sluice(one_server_config())
    c1 = s.connect(autocommit=False)
    c2 = s.connect(autocommit=False)
    try:
        assert scalar(c1, "select 1") == 1          # c1 now holds the only server
        result = {}

        def second():
            started = time.monotonic()
            try:
                result["value"] = scalar(c2, "select 2")
                c2.commit()
            except Exception as exc:  # noqa: BLE001
                result["error"] = exc
            result["waited"] = time.monotonic() - started

        worker = threading.Thread(target=second)
        worker.start()
        time.sleep(0.7)
        assert scalar(c1, "select 3") == 3
        c1.commit()                                  # hands the server over
        worker.join(15)
        assert not worker.is_alive(), "second client never got the server"
        assert "error" not in result, result.get("error")
        assert result["value"] == 2
        if not support.DIRECT:
            assert result["waited"] >= 0.5, "second client ran while the first held the only server"
        assert scalar(c1, "select 4") == 4
        c1.commit()
    finally:
        c1.close()
        c2.close()


def show(conn, name):
    return scalar(conn, f"show {name}")


def test_session_parameters_follow_their_client(sluice):
    s = sluice(one_server_config())
    c1 = s.connect(application_name="client-one", options="-c search_path=foo")
    c2 = s.connect(application_name="client-two")
    try:
        for _ in range(3):
            assert show(c1, "application_name") == "client-one"
            assert show(c2, "application_name") == "client-two"
            assert show(c1, "search_path") == "foo"
            assert show(c2, "search_path") == '"$user", public'

        with c1.cursor() as cur:
            cur.execute("set application_name = 'client-one-b'")
            cur.execute("set search_path = bar, public")
        for _ in range(3):
            assert show(c2, "application_name") == "client-two"
            assert show(c2, "search_path") == '"$user", public'
            assert show(c1, "application_name") == "client-one-b"
            assert show(c1, "search_path") == "bar, public"

        # A third client, arriving after the others changed the server, sees the defaults.
        c3 = s.connect()
        try:
            assert show(c3, "application_name") == ""
            assert show(c3, "search_path") == '"$user", public'
        finally:
            c3.close()
        assert show(c1, "application_name") == "client-one-b"
    finally:
        c1.close()
        c2.close()


# ---------------------------------------------------------------- extended protocol (psycopg 3)

def connect3(endpoint, **kwargs):
    return psycopg.connect(endpoint.dsn(), prepare_threshold=None, autocommit=True, **kwargs)


def test_parameterized_queries(sluice, pg):
    s = sluice(one_server_config())
    table = f"ext_{uuid.uuid4().hex[:8]}"
    with connect3(s) as a, connect3(s) as b:
        a.execute(f"create table {table} (id int primary key, name text, score numeric, tags text[])")
        for i in range(1, 51):
            conn = a if i % 2 else b                         # alternate clients on the one server
            conn.execute(f"insert into {table} values (%s, %s, %s, %s)", (i, f"name-{i}", i / 4, [f"t{i}", "x"]))
        assert a.execute("select %s::int + %s::int, %s::text || 'y', %s::bool", (40, 2, "x", True)).fetchone() == \
            (42, "xy", True)
        assert b.execute(f"select count(*), sum(id) from {table} where name like %s", ("name-%",)).fetchone() == \
            (50, 1275)
        assert a.execute(f"select tags from {table} where id = %s", (7,)).fetchone() == (["t7", "x"],)
        with b.transaction():
            b.execute(f"update {table} set name = %s where id = %s", ("changed", 3))
            assert b.execute(f"select name from {table} where id = %s", (3,)).fetchone() == ("changed",)
        assert a.execute(f"select name from {table} where id = %s", (3,)).fetchone() == ("changed",)
        # An error in an extended-protocol query leaves the connection usable.
        with pytest.raises(psycopg.errors.DivisionByZero):
            a.execute("select 1 / %s::int", (0,))
        assert a.execute("select %s::int", (5,)).fetchone() == (5,)
        a.execute(f"drop table {table}")


def test_pipeline_returns_results_in_order(sluice):
    s = sluice(one_server_config())
    with connect3(s) as conn, connect3(s) as other:
        table = f"pipe_{uuid.uuid4().hex[:8]}"
        with conn.pipeline():
            conn.execute(f"create table {table} (n int)")
            cursors = [conn.execute("select %s::int as n, %s::text as label", (i, f"r{i}")) for i in range(10)]
            conn.execute(f"insert into {table} select generate_series(1, %s)", (100,))
            count = conn.execute(f"select count(*) from {table}")
        assert [c.fetchone() for c in cursors] == [(i, f"r{i}") for i in range(10)]
        assert count.fetchone() == (100,)
        # Another client is served between pipelines, and the next pipeline is in order too.
        assert other.execute("select %s::text", ("between",)).fetchone() == ("between",)
        with conn.pipeline() as p:
            first = conn.execute("select %s::int", (1,))
            p.sync()
            second = conn.execute("select %s::int", (2,))
            third = conn.execute(f"select sum(n) from {table}")
        assert (first.fetchone(), second.fetchone(), third.fetchone()) == ((1,), (2,), (5050,))
        conn.execute(f"drop table {table}")
