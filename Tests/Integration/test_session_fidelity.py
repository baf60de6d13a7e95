"""Session mode that looks like the server: real backend pids, canonical ParameterStatus values, server_loss.

Against the real PostgreSQL, with real drivers:
- the backend pid a driver learns at login (BackendKeyData) is `pg_backend_pid()` in session mode,
  with psycopg 3, asyncpg, JDBC and node-postgres; each driver's cancel of `pg_sleep(10)` arrives
  within a second and cancels nothing else (another session on another backend keeps running); a
  CancelRequest with that pid and a wrong secret cancels nothing, and neither does Sluice's key sent
  to PostgreSQL itself (the secret is Sluice's, not the server's); `workers = 2` routes cancels too;
- settings written in the client's spelling (`client_encoding=utf8`, `DateStyle=iso, dmy`,
  `TimeZone=europe/berlin`, `IntervalStyle=SQL_Standard`, a 70-byte `application_name`) are reported
  back as PostgreSQL reports them, in session and transaction mode (a second login in transaction
  mode answered from the pool's learnt spellings); invalid values get PostgreSQL's own FATAL 22023;
- `server_loss = "close"`: pg_terminate_backend of a client's backend closes that client with the
  server's FATAL 57P01, and psycopg_pool's check_connection discards it; `recover` hides it, and a
  cancel then still reaches the client's new backend.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import asyncpg
import psycopg
import psycopg.errors
import pytest

import support

pytestmark = [pytest.mark.sluice_only, pytest.mark.timeout(120)]

PASSWORD = support.CREDENTIALS["app"]
DRIVERS_DIR = Path(__file__).resolve().parent / "drivers"
JDBC_JAR = "/usr/share/java/postgresql.jar"
LONG_NAME = "fidelity-" + "x" * 61  # 70 bytes: PostgreSQL keeps 63
SETTINGS = {"client_encoding": "utf8", "DateStyle": "iso, dmy", "TimeZone": "europe/berlin",
            "IntervalStyle": "SQL_Standard", "application_name": LONG_NAME}
REPORTED = ["client_encoding", "DateStyle", "TimeZone", "IntervalStyle", "application_name"]


def session_config(pool_size: int = 3, **settings) -> dict:
    return support.sluice_config(pool_mode="session", pool_size=pool_size, **settings)


def connect3(endpoint, **params) -> psycopg.Connection:
    return psycopg.connect(endpoint.dsn(**params), autocommit=True)


def backend_pid(conn) -> int:
    return conn.execute("select pg_backend_pid()").fetchone()[0]


def options(settings: dict) -> str:
    """libpq `options` for settings other than client_encoding and application_name."""
    return " ".join(f"-c {name}={value.replace(' ', chr(92) + ' ')}" for name, value in settings.items()
                    if name not in ("client_encoding", "application_name"))


def settings_dsn(endpoint, settings: dict = SETTINGS) -> str:
    return endpoint.dsn(client_encoding=settings["client_encoding"], application_name=settings["application_name"],
                        options=options(settings))


def reported(conn) -> dict:
    return {name: conn.info.parameter_status(name) for name in REPORTED}


def run_in_thread(conn, sql: str) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run():
        try:
            conn.execute(sql)
            outcome["error"] = None
        except psycopg.Error as exc:
            outcome["error"] = exc
        outcome["at"] = time.monotonic()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def sleeping(pg, pid: int) -> bool:
    return bool(pg.scalar("select count(*) from pg_stat_activity where pid = %s and state = 'active' "
                          "and query like 'select pg_sleep%%'", (pid,)))


def send_cancel_request(endpoint_host: str, port: int, pid: int, secret: int) -> None:
    """A raw CancelRequest (code 80877102) with this key."""
    with socket.create_connection((endpoint_host, port), timeout=5) as sock:
        sock.sendall(struct.pack("!iiiI", 16, 80877102, pid, secret & 0xFFFFFFFF))  # asyncpg keeps it signed
        sock.settimeout(5)
        try:
            sock.recv(1)  # the server closes without a reply
        except OSError:
            pass


# ---------------------------------------------------------------- 1. real backend pid, cancel

def test_psycopg3_backend_pid_and_cancel_reach_only_its_own_backend(sluice, pg):
    s = sluice(session_config())
    conn = connect3(s)
    bystander = connect3(s)
    try:
        pid = backend_pid(conn)
        assert conn.info.backend_pid == pid, "the driver's pid is pg_backend_pid()"
        other = backend_pid(bystander)
        assert bystander.info.backend_pid == other and other != pid
        # The bystander runs a statement on its own backend meanwhile: it must not be cancelled.
        other_thread, other_outcome = run_in_thread(bystander, "select pg_sleep(3)")
        thread, outcome = run_in_thread(conn, "select pg_sleep(10)")
        support.wait_until(lambda: sleeping(pg, pid) and sleeping(pg, other), 5, message="both pg_sleeps to run")
        # A CancelRequest with the real pid and a wrong secret cancels nothing.
        send_cancel_request(s.host, s.port, pid, 0x12345678)
        time.sleep(0.5)
        assert thread.is_alive() and sleeping(pg, pid), "a wrong secret cancelled the query"
        cancelled_at = time.monotonic()
        conn.cancel()
        thread.join(5)
        assert not thread.is_alive(), "still running 5 s after the cancel"
        assert isinstance(outcome["error"], psycopg.errors.QueryCanceled), outcome
        assert outcome["at"] - cancelled_at < 1.0, f"the cancel took {outcome['at'] - cancelled_at:.2f} s"
        other_thread.join(10)
        assert other_outcome["error"] is None, f"the other session was cancelled: {other_outcome}"
        assert conn.execute("select 1").fetchone() == (1,)
        assert backend_pid(conn) == pid, "session mode keeps its server"
    finally:
        conn.close()
        bystander.close()


def test_asyncpg_server_pid_settings_and_timeout_cancel(sluice, pg):
    s = sluice(session_config())

    async def main():
        conn = await asyncpg.connect(host=s.host, port=s.port, user="app", password=PASSWORD, database="app",
                                     ssl=False, server_settings={"DateStyle": "iso, dmy", "TimeZone": "utc"})
        try:
            pid = await conn.fetchval("select pg_backend_pid()")
            settings = conn.get_settings()
            secret = conn._protocol.backend_secret  # asyncpg keeps the key it was given
            started = time.monotonic()
            with pytest.raises(asyncio.TimeoutError):
                await conn.fetch("select pg_sleep(10)", timeout=0.5)
            # asyncpg cancels on timeout and waits for the query's end before the next one.
            one = await conn.fetchval("select 1")
            return pid, conn.get_server_pid(), settings, secret, time.monotonic() - started, one
        finally:
            await conn.close()

    pid, driver_pid, settings, secret, elapsed, one = asyncio.run(main())
    assert driver_pid == pid
    assert (settings.client_encoding, settings.DateStyle, settings.TimeZone) == ("UTF8", "ISO, DMY", "UTC")
    assert one == 1 and elapsed < 1.5, f"the cancelled query ended after {elapsed:.2f} s"
    assert not sleeping(pg, pid)
    # Sluice's key is its own: sent to PostgreSQL itself it cancels nothing there.
    conn = psycopg.connect(support.make_dsn(support.PG_HOST, support.PG_PORT, "app", "app", PASSWORD), autocommit=True)
    try:
        direct_pid = backend_pid(conn)
        thread, outcome = run_in_thread(conn, "select pg_sleep(2)")
        support.wait_until(lambda: sleeping(pg, direct_pid), 5, message="pg_sleep(2) to run")
        send_cancel_request(support.PG_HOST, support.PG_PORT, direct_pid, secret)
        thread.join(10)
        assert outcome["error"] is None, "a key of Sluice's cancelled a query on PostgreSQL"
    finally:
        conn.close()


@pytest.fixture(scope="module")
def fidelity_classes(tmp_path_factory):
    if not (os.path.exists(JDBC_JAR) and shutil.which("javac") and shutil.which("java")):
        pytest.fail(f"needs {JDBC_JAR}, javac and java (scripts/lib/common.sh installs them)", pytrace=False)
    out = tmp_path_factory.mktemp("fidelity-jdbc")
    done = subprocess.run(["javac", "-cp", JDBC_JAR, "-d", str(out), str(DRIVERS_DIR / "SessionFidelity.java")],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return out


def test_jdbc_backend_pid_and_statement_cancel(sluice, fidelity_classes):
    s = sluice(session_config())
    url = f"jdbc:postgresql://{s.host}:{s.port}/app?sslmode=disable"
    done = subprocess.run(["java", "-cp", f"{JDBC_JAR}:{fidelity_classes}", "SessionFidelity", url, "app", PASSWORD],
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    driver_pid, server_pid = lines["pid"].split()
    assert driver_pid == server_pid, lines
    assert lines["client_encoding"] == "UTF8"
    state, ms = lines["cancel"].split()
    assert state == "57014", lines
    assert int(ms) < 1000, f"the cancel took {ms} ms"
    assert lines["after"] == "1"


def test_node_postgres_process_id_and_cancel(sluice):
    s = sluice(session_config())
    path = os.environ.get("SLUICE_TEST_NODE_PATH", "")
    if not path:
        done = subprocess.run(["bash", "-c", ". scripts/lib/common.sh && sluice_node_pg"], cwd=support.REPO,
                              capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
        path = done.stdout.strip().splitlines()[-1] if done.returncode == 0 and done.stdout.strip() else ""
    assert path and shutil.which("node"), "node and node-postgres are needed (scripts/test sets SLUICE_TEST_NODE_PATH)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["NODE_PATH"] = path
    params = {"connection": {"host": s.host, "port": s.port, "user": "app", "password": PASSWORD, "database": "app"},
              "cancelAfterMs": 1000, "timeoutMs": 40000}
    done = subprocess.run(["node", str(DRIVERS_DIR / "node" / "session_fidelity.js"), json.dumps(params)], env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["processID"] == result["backendPid"], result
    assert result["cancel"]["error"] and result["cancel"]["error"]["code"] == "57014", result
    assert result["cancel"]["ms"] < 1000, result
    assert result["after"] == 1


def test_cancel_with_two_workers(sluice, pg):
    s = sluice(session_config(pool_size=4, workers=2))
    conns = [connect3(s) for _ in range(4)]  # handed to the workers in turn
    try:
        for conn in conns:
            pid = backend_pid(conn)
            assert conn.info.backend_pid == pid
            thread, outcome = run_in_thread(conn, "select pg_sleep(10)")
            support.wait_until(lambda: sleeping(pg, pid), 5, message="pg_sleep(10) to run")
            cancelled_at = time.monotonic()
            conn.cancel()
            thread.join(5)
            assert isinstance(outcome.get("error"), psycopg.errors.QueryCanceled), outcome
            assert outcome["at"] - cancelled_at < 1.0
        log = s.log_text()
        assert "worker=0" in log and "worker=1" in log
    finally:
        for conn in conns:
            conn.close()


# ---------------------------------------------------------------- 2. canonical ParameterStatus

@pytest.mark.parametrize("pool_mode", ["session", "transaction"])
def test_parameter_status_is_spelled_as_postgresql_spells_it(sluice, pool_mode):
    s = sluice(support.sluice_config(pool_mode=pool_mode, pool_size=2))
    direct = support.DirectPostgres(None)
    with psycopg.connect(settings_dsn(direct), autocommit=True) as conn:
        expected = reported(conn)
    assert expected == {"client_encoding": "UTF8", "DateStyle": "ISO, DMY", "TimeZone": "Europe/Berlin",
                        "IntervalStyle": "sql_standard", "application_name": LONG_NAME[:63]}
    # Twice: in transaction mode the second login is answered from what the first one learnt.
    for _ in range(2):
        with psycopg.connect(settings_dsn(s), autocommit=True) as conn:
            assert reported(conn) == expected
            row = conn.execute("select current_setting('DateStyle'), current_setting('TimeZone'), "
                               "current_setting('application_name'), '2024-03-01'::date::text").fetchone()
            assert row == ("ISO, DMY", "Europe/Berlin", LONG_NAME[:63], "2024-03-01")
    # Another spelling of the same values, and the plain spelling, are told the same way.
    other = dict(SETTINGS, client_encoding="UTF-8", DateStyle="ISO,DMY", TimeZone="Europe/Berlin")
    with psycopg.connect(settings_dsn(s, other), autocommit=True) as conn:
        assert reported(conn) == expected


@pytest.mark.one_pool  # with two workers the login may land on a worker whose share of the pool is free
def test_transaction_mode_login_is_not_held_up_by_a_busy_pool_and_learns_later(sluice, pg):
    s = sluice(support.sluice_config(pool_mode="transaction", pool_size=1))
    holder = connect3(s)
    try:
        thread, outcome = run_in_thread(holder, "select pg_sleep(3)")
        support.wait_until(lambda: pg.scalar("select count(*) from pg_stat_activity where query = 'select pg_sleep(3)' "
                                             "and state = 'active'"), 5, message="pg_sleep(3) to hold the only server")
        # The only server is busy: a login with a spelling the pool has not learnt is answered at
        # once (its own spelling), not after the running transaction.
        started = time.monotonic()
        conn = psycopg.connect(s.dsn(options="-c TimeZone=europe/berlin"), autocommit=True)
        assert time.monotonic() - started < 1.5
        assert conn.info.parameter_status("TimeZone") == "europe/berlin"
        # Its first transaction applies the setting and the pool learns the server's spelling ...
        assert conn.execute("show timezone").fetchone() == ("Europe/Berlin",)
        thread.join(10)
        assert outcome["error"] is None
        conn.close()
        # ... which the next login with that spelling is told.
        with psycopg.connect(s.dsn(options="-c TimeZone=europe/berlin"), autocommit=True) as again:
            assert again.info.parameter_status("TimeZone") == "Europe/Berlin"
    finally:
        holder.close()


@pytest.mark.parametrize("pool_mode", ["session", "transaction"])
def test_asyncpg_settings_in_both_modes(sluice, pool_mode):
    s = sluice(support.sluice_config(pool_mode=pool_mode, pool_size=2))

    async def main():
        conn = await asyncpg.connect(host=s.host, port=s.port, user="app", password=PASSWORD, database="app", ssl=False,
                                     server_settings={"DateStyle": "iso, dmy", "TimeZone": "utc"})
        try:
            settings = conn.get_settings()
            return settings.client_encoding, settings.DateStyle, settings.TimeZone, await conn.fetchval("show timezone")
        finally:
            await conn.close()

    assert asyncio.run(main()) == ("UTF8", "ISO, DMY", "UTC", "UTC")


@pytest.mark.parametrize("pool_mode", ["session", "transaction"])
@pytest.mark.parametrize("name,value", [("client_encoding", "nonsense"), ("TimeZone", "Mars/Base")])
def test_invalid_values_get_postgresqls_error_at_login(sluice, pool_mode, name, value):
    s = sluice(support.sluice_config(pool_mode=pool_mode, pool_size=2))
    direct = support.DirectPostgres(None)

    def failure(endpoint) -> psycopg.OperationalError:
        params = {"client_encoding": value} if name == "client_encoding" else {"options": f"-c {name}={value}"}
        with pytest.raises(psycopg.OperationalError) as info:
            psycopg.connect(endpoint.dsn(**params))
        return info.value

    expected = failure(direct)
    got = failure(s)
    assert f'invalid value for parameter "{name}": "{value}"' in str(expected)
    assert f'FATAL:  invalid value for parameter "{name}": "{value}"' in str(got), str(got)
    # asyncpg reports the SQLSTATE of a failed login: PostgreSQL's own 22023.
    exc = asyncio.run(_asyncpg_login_error(s, {name: value}))
    assert isinstance(exc, asyncpg.PostgresError) and exc.sqlstate == "22023", repr(exc)
    # A good login afterwards works (the bad value was not learnt, nor left on a server).
    with psycopg.connect(s.dsn(), autocommit=True) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


async def _asyncpg_login_error(endpoint, settings: dict):
    if "client_encoding" in settings:
        # asyncpg insists on UTF8 itself; send the bad value through options instead.
        settings = {"options": "-c client_encoding=" + settings["client_encoding"]}
    try:
        conn = await asyncpg.connect(host=endpoint.host, port=endpoint.port, user="app", password=PASSWORD,
                                     database="app", ssl=False, server_settings=settings, timeout=10)
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        return exc
    await conn.close()
    return None


# ---------------------------------------------------------------- 3. server_loss

def test_server_loss_close_gives_the_clients_the_servers_fatal(sluice, pg):
    s = sluice(session_config(server_loss="close"))
    conn = connect3(s)
    try:
        pid = backend_pid(conn)
        assert pg.scalar("select pg_terminate_backend(%s)", (pid,)) is True
        time.sleep(0.5)
        with pytest.raises(psycopg.OperationalError) as info:
            conn.execute("select 1")
        assert "terminating connection due to administrator command" in str(info.value), str(info.value)
        assert getattr(info.value, "sqlstate", None) in ("57P01", None)
        assert conn.closed or conn.broken
    finally:
        conn.close()
    # Sluice itself is fine: a new client gets a new server.
    with connect3(s) as again:
        assert backend_pid(again) != pid


def test_server_loss_close_in_flight_in_transaction_mode(sluice, pg):
    s = sluice(support.sluice_config(pool_mode="transaction", pool_size=2, server_loss="close"))
    conn = connect3(s)
    try:
        thread, outcome = run_in_thread(conn, "select pg_sleep(10)")
        support.wait_until(lambda: pg.scalar("select pid from pg_stat_activity where query = 'select pg_sleep(10)' "
                                             "and state = 'active' and usename = 'app'"), 5, message="pg_sleep(10)")
        pid = pg.scalar("select pid from pg_stat_activity where query = 'select pg_sleep(10)' and state = 'active' "
                        "and usename = 'app'")
        pg.sql("select pg_terminate_backend(%s)", (pid,))
        thread.join(5)
        assert isinstance(outcome.get("error"), psycopg.OperationalError), outcome
        assert "terminating connection due to administrator command" in str(outcome["error"])
        assert conn.closed or conn.broken
    finally:
        conn.close()


def test_psycopg_pool_check_connection_discards_a_closed_connection(sluice, pg):
    from psycopg_pool import ConnectionPool

    s = sluice(session_config(server_loss="close"))
    with ConnectionPool(s.dsn(), min_size=1, max_size=1, open=True, check=ConnectionPool.check_connection,
                        kwargs={"autocommit": True}) as pool:
        with pool.connection() as conn:
            first = conn
            pid = backend_pid(conn)
        pg.sql("select pg_terminate_backend(%s)", (pid,))
        time.sleep(0.5)
        with pool.connection(timeout=10) as conn:
            assert conn is not first, "check_connection kept the connection whose backend was terminated"
            assert conn.info.backend_pid == backend_pid(conn) != pid
        assert first.closed or first.broken


def test_server_loss_recover_hides_the_loss_and_cancel_follows_the_new_backend(sluice, pg):
    s = sluice(session_config())  # recover is the default
    conn = connect3(s)
    try:
        pid = backend_pid(conn)
        pg.sql("select pg_terminate_backend(%s)", (pid,))
        time.sleep(0.5)
        new_pid = backend_pid(conn)  # no error: a new server, settings replayed
        assert new_pid != pid
        assert conn.info.backend_pid == pid, "the driver keeps the pid it was given at login"
        thread, outcome = run_in_thread(conn, "select pg_sleep(10)")
        support.wait_until(lambda: sleeping(pg, new_pid), 5, message="pg_sleep(10) on the new backend")
        cancelled_at = time.monotonic()
        conn.cancel()
        thread.join(5)
        assert isinstance(outcome.get("error"), psycopg.errors.QueryCanceled), outcome
        assert outcome["at"] - cancelled_at < 1.0
    finally:
        conn.close()
