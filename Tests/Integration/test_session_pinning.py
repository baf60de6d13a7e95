"""Transaction mode: session state (temp tables, advisory locks, WITH HOLD cursors, SET ROLE, SQL
PREPARE, set_config) pins its client to its server, never crosses to another client, and the server is
reset (DISCARD ALL) before anyone else gets it. Counted in /metrics and shown in SHOW CLIENTS."""

import threading
import time
import uuid

import psycopg
import psycopg2
import psycopg2.errors
import pytest

import support
from test_admin_console import show
from test_metrics_endpoint import scrape, start

pytestmark = [pytest.mark.sluice_only, pytest.mark.one_pool]


def scalar(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def pinned_column(process) -> dict[str, str]:
    """SHOW CLIENTS: the pinned column of each app client, by its port."""
    return {row["port"]: row["pinned"] for row in show(process, "CLIENTS") if row["database"] == "app"}


def own_port(conn) -> str:
    """The client's own TCP port (psycopg2 exposes the socket's file descriptor)."""
    import socket
    sock = socket.socket(fileno=conn.fileno())
    try:
        return str(sock.getsockname()[1])
    finally:
        sock.detach()


def test_temp_table_pins_and_never_reaches_another_client(sluice):
    """The issue's scenario: A's temp table is invisible to B, during A's session and after it (pool_size 1)."""
    process, admin = start(sluice, pool_mode="transaction", pool_size=1)
    a = process.connect()
    scalar(a, "create temp table secret_t(v text); insert into secret_t values ('client A secret'); select 1")
    assert pinned_column(process)[own_port(a)] == "temp_table"
    # B waits for the only server while A is pinned to it: pool_size 1 and the server is A's.
    result = {}

    def b_client():
        b = process.connect()
        try:
            with b.cursor() as cur:
                cur.execute("select * from secret_t")
                result["rows"] = cur.fetchall()
        except psycopg2.Error as exc:
            result["error"] = exc
        finally:
            b.close()

    thread = threading.Thread(target=b_client, daemon=True)
    thread.start()
    time.sleep(1.0)
    assert thread.is_alive(), f"B ran while A was pinned to the only server: {result}"
    # A's temp table lives across its transactions (it keeps its server).
    for _ in range(5):
        assert scalar(a, "select v from secret_t") == "client A secret"
    a.close()
    thread.join(15)
    assert not thread.is_alive()
    assert "rows" not in result, f"client B read client A's temp table: {result['rows']}"
    assert isinstance(result["error"], psycopg2.errors.UndefinedTable), result
    metrics = scrape(admin)
    assert metrics.value("sluice_client_pins_total", database="app", reason="temp_table") == 1
    assert metrics.value("sluice_client_pins_total", database="app", reason="advisory_lock") == 0
    assert metrics.value("sluice_server_resets_total", database="app", reason="pinned_client_left") == 1
    assert metrics.value("sluice_clients_pinned", database="app") == 0


def test_temp_table_on_commit_drop_does_not_pin(sluice):
    process, admin = start(sluice, pool_mode="transaction", pool_size=1)
    a = process.connect(autocommit=False)
    with a.cursor() as cur:
        cur.execute("create temp table scratch(v int) on commit drop")
        cur.execute("insert into scratch values (1)")
    a.commit()
    assert pinned_column(process)[own_port(a)] == ""
    b = process.connect()
    assert scalar(b, "select 1") == 1   # the server went back at once
    a.close()
    b.close()
    assert scrape(admin).value("sluice_client_pins_total", database="app", reason="temp_table") == 0


def test_advisory_lock_keeps_mutual_exclusion(sluice):
    """A's session lock excludes B until A unlocks all or leaves; extended protocol (psycopg 3) too.
    B probes with the transaction-level lock, which conflicts with session locks and pins nothing."""
    process, admin = start(sluice, pool_mode="transaction", pool_size=2)
    a = psycopg.connect(process.url(), autocommit=True)
    b = process.connect()
    key = 4200 + uuid.uuid4().int % 1000
    probe = "select pg_try_advisory_xact_lock(%s)"
    a.execute("select pg_advisory_lock(%s)", (key,))  # a Parse with parameters: extended protocol
    assert scalar(b, probe, (key,)) is False
    # A keeps the lock across transactions; B still cannot take it.
    for _ in range(3):
        a.execute("select 1")
        assert scalar(b, probe, (key,)) is False
    assert sorted(pinned_column(process).values()) == ["", "advisory_lock"]
    a.execute("select pg_advisory_unlock_all()")
    assert sorted(pinned_column(process).values()) == ["", ""]
    assert scalar(b, probe, (key,)) is True
    # Locked again, then A leaves: the server is reset (DISCARD ALL releases session locks).
    a.execute("select pg_advisory_lock(%s)", (key,))
    a.execute("select pg_advisory_lock(%s)", (key + 1,))
    assert scalar(b, probe, (key,)) is False
    a.close()
    assert support.wait_until(lambda: scalar(b, probe, (key,)) and scalar(b, probe, (key + 1,)), 10)
    b.close()
    metrics = scrape(admin)
    # Once per pin: A pinned twice (before and after unlock_all), each lock kind counted per pin.
    assert metrics.value("sluice_client_pins_total", database="app", reason="advisory_lock") == 2
    assert metrics.value("sluice_server_resets_total", database="app", reason="pinned_client_left") == 1


def test_cursor_with_hold_follows_its_client_and_closing_it_unpins(sluice):
    process, _ = start(sluice, pool_mode="transaction", pool_size=2)
    a = process.connect(autocommit=False)
    b = process.connect(autocommit=False)
    with a.cursor() as cur:
        cur.execute("declare held cursor with hold for select g from generate_series(1, 10) g")
    a.commit()
    seen = []
    for _ in range(5):
        # B's transactions in between: without the pin A could land on another server.
        assert scalar(b, "select 1") == 1
        b.commit()
        with a.cursor() as cur:
            cur.execute("fetch 2 from held")
            seen += [row[0] for row in cur.fetchall()]
        a.commit()
    assert seen == list(range(1, 11))
    with pytest.raises(psycopg2.errors.InvalidCursorName):
        with b.cursor() as cur:
            cur.execute("fetch 1 from held")
    b.rollback()
    assert pinned_column(process)[own_port(a)] == "cursor_with_hold"
    with a.cursor() as cur:
        cur.execute("close held")
    a.commit()
    assert pinned_column(process)[own_port(a)] == ""
    a.close()
    b.close()


def test_set_role_stays_with_its_client(sluice, pg):
    role = f"pin_reader_{uuid.uuid4().hex[:6]}"
    pg.sql(f"create role {role}")
    pg.sql(f"grant {role} to app")
    try:
        process, admin = start(sluice, pool_mode="transaction", pool_size=1)
        a = process.connect()
        scalar(a, f"set role {role}; select 1")
        for _ in range(3):
            assert scalar(a, "select current_user") == role
        a.close()
        b = process.connect()
        assert scalar(b, "select current_user") == "app"      # the server was reset before B got it
        assert scalar(b, "select session_user") == "app"
        b.close()
        assert scrape(admin).value("sluice_client_pins_total", database="app", reason="set_role") == 1
        # RESET ROLE unpins.
        c = process.connect()
        scalar(c, f"set role {role}; select 1")
        scalar(c, "reset role; select 1")
        assert pinned_column(process)[own_port(c)] == ""
        c.close()
    finally:
        pg.sql(f"drop role {role}")


def test_sql_prepare_and_set_config(sluice):
    process, admin = start(sluice, pool_mode="transaction", pool_size=2)
    a = process.connect()
    b = process.connect()
    with a.cursor() as cur:
        cur.execute("prepare pinned_stmt(int) as select $1 * 2")
    for n in range(3):
        assert scalar(b, "select 1") == 1
        assert scalar(a, f"execute pinned_stmt({n})") == n * 2
    with a.cursor() as cur:
        cur.execute("deallocate pinned_stmt")
    assert pinned_column(process)[own_port(a)] == ""
    # set_config(..., false) is session state; (..., true) is not.
    assert scalar(a, "select set_config('pin.local', 'x', true)") == "x"
    assert pinned_column(process)[own_port(a)] == ""
    assert scalar(a, "select set_config('pin.session', 'a-secret', false)") == "a-secret"
    assert pinned_column(process)[own_port(a)] == "set_config"
    assert scalar(b, "select coalesce(current_setting('pin.session', true), '')") == ""
    a.close()
    b.close()
    metrics = scrape(admin)
    assert metrics.value("sluice_client_pins_total", database="app", reason="sql_prepare") == 1
    assert metrics.value("sluice_client_pins_total", database="app", reason="set_config") == 1
    assert metrics.value("sluice_server_resets_total", database="app", reason="pinned_client_left") == 1


def test_pin_is_logged_once_with_its_reason(sluice):
    process, _ = start(sluice, pool_mode="transaction", pool_size=1)
    a = process.connect()
    for _ in range(3):
        scalar(a, "select pg_advisory_lock(7); select 1")
    a.close()
    lines = [line for line in process.log_text().splitlines() if "client made session state" in line]
    assert len(lines) == 1, lines
    assert "advisory_lock" in lines[0]


def test_server_reset_query_always_covers_what_cannot_be_seen(sluice, pg):
    """State made inside a function is not seen; server_reset_query_always cleans it after every transaction."""
    fn = f"leak_{uuid.uuid4().hex[:6]}"
    pg.sql(f"create function public.{fn}() returns text language sql as "
           f"'select set_config(''pin.hidden'', ''leaked'', false)'", dbname="app")
    pg.sql(f"grant execute on function public.{fn}() to app", dbname="app")
    try:
        for always, expected in ((False, "leaked"), (True, "")):
            process, admin = start(sluice, pool_mode="transaction", pool_size=1, server_reset_query_always=always)
            a = process.connect()
            assert scalar(a, f"select public.{fn}()") == "leaked"
            assert pinned_column(process)[own_port(a)] == ""   # not seen: the text is a string literal
            b = process.connect()
            assert scalar(b, "select coalesce(current_setting('pin.hidden', true), '')") == expected
            a.close()
            b.close()
            resets = scrape(admin).value("sluice_server_resets_total", database="app", reason="reset_query_always")
            assert (resets >= 2) if always else (resets == 0)
            process.stop()
    finally:
        pg.sql(f"drop function public.{fn}()", dbname="app")


def test_server_lost_under_pinned_client_closes_it(sluice, pg):
    """A pinned client's state cannot be rebuilt on another server: it is closed, like PostgreSQL would."""
    process, _ = start(sluice, pool_mode="transaction", pool_size=2)
    a = process.connect()
    pid = scalar(a, "create temp table t_lost(v int); select pg_backend_pid()")
    pg.sql("select pg_terminate_backend(%s)", (pid,))
    with pytest.raises(psycopg2.OperationalError):
        scalar(a, "select * from t_lost")
    # An unpinned client in the same situation keeps going (the existing recovery).
    b = process.connect()
    pid = scalar(b, "select pg_backend_pid()")
    pg.sql("select pg_terminate_backend(%s)", (pid,))

    def b_runs():
        try:
            return scalar(b, "select 1") == 1
        except psycopg2.errors.ConnectionFailure:  # an ERROR if the loss is noticed under the query: b stays
            return False

    assert support.wait_until(b_runs, 5)
    assert b.closed == 0
    b.close()


def test_prepared_statement_run_again_after_unpin_pins_again(sluice):
    """asyncpg caches statements: the second lock is a Bind of the statement prepared for the first
    (no Parse to read), and must pin again after pg_advisory_unlock_all() unpinned the client."""
    import asyncio
    import asyncpg

    process, admin = start(sluice, pool_mode="transaction", pool_size=2)
    key = 5200 + uuid.uuid4().int % 1000
    b = process.connect()
    probe = "select pg_try_advisory_xact_lock(%s)"

    async def scenario():
        a = await asyncpg.connect(host="127.0.0.1", port=process.port, user="app", password="app-secret",
                                  database="app", ssl=False)
        try:
            await a.fetchval("select pg_advisory_lock($1)", key)
            assert "advisory_lock" in pinned_column(process).values()
            await a.fetchval("select pg_advisory_unlock_all()")
            assert "advisory_lock" not in pinned_column(process).values()
            assert scalar(b, probe, (key,)) is True
            await a.fetchval("select pg_advisory_lock($1)", key)   # the cached statement: Bind + Execute
            assert "advisory_lock" in pinned_column(process).values()
            for _ in range(3):
                await a.fetchval("select 1")
                assert scalar(b, probe, (key,)) is False, "A's lock went with its server to another client"
        finally:
            await a.close()

    asyncio.run(scenario())
    assert support.wait_until(lambda: scalar(b, probe, (key,)), 10)
    b.close()
    assert scrape(admin).value("sluice_client_pins_total", database="app", reason="advisory_lock") == 2
