"""Per-client connection limits, fair queueing, reserve pool and clear refusals (SQLSTATE 53300 & co)."""

from __future__ import annotations

import socket
import struct
import subprocess
import threading
import time

import psycopg2
import pytest

import support

pytestmark = pytest.mark.sluice_only


def startup(sock: socket.socket, user: str = "app", database: str = "app") -> None:
    params = f"user\0{user}\0database\0{database}\0\0".encode()
    body = struct.pack("!I", 196608) + params
    sock.sendall(struct.pack("!I", len(body) + 4) + body)


def raw_client(port: int, source: str, send_startup: bool = True) -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    if send_startup:
        startup(sock)
    return sock


def first_message(sock: socket.socket) -> tuple[bytes, dict[str, str]]:
    """Type byte and (for ErrorResponse) fields of the first message the server sends."""
    header = support._read_exact(sock, 5)
    body = support._read_exact(sock, struct.unpack("!I", header[1:5])[0] - 4)
    return header[:1], (support.parse_error_fields(body) if header[:1] == b"E" else {})


def refused(s, **kwargs) -> psycopg2.Error:
    with pytest.raises(psycopg2.Error) as info:
        psycopg2.connect(s.dsn(**kwargs)).close()
    return info.value


def login_error(s, user="app", password="app-secret", dbname="app"):
    return support.asyncpg_connect_error("127.0.0.1", s.port, user, password, dbname)


def test_max_client_conn(sluice):
    s = sluice(support.sluice_config(max_client_conn=3))
    held = [connect_when_free(s) for _ in range(3)]
    try:
        error = login_error(s)
        assert error.sqlstate == "53300" and error.message == "no more connections allowed (max_client_conn=3)"
    finally:
        for c in held:
            c.close()
    # Closed connections free their places as soon as Sluice reads their Terminate.
    support.wait_until(lambda: login_error(s) is None, 5, message="places freed")


def connect_when_free(s):
    """Connects, retrying while Sluice has not yet processed an earlier close (the fixture's port probe)."""
    result = []
    def attempt():
        try:
            result.append(psycopg2.connect(s.dsn()))
            return True
        except psycopg2.OperationalError:
            return False
    support.wait_until(attempt, 5, message="a free place")
    return result[0]


def test_per_database_and_per_user_limits(sluice):
    config = support.sluice_config(
        max_user_client_connections=0,
        databases={"app": {"url": support.upstream_url("app", "app"), "max_db_client_connections": 2},
                   "fltr": {"url": support.upstream_url("fltr", "app")}},
        users={"alice": {"password": "alice-secret", "max_user_client_connections": 1}})
    s = sluice(config)
    held = [psycopg2.connect(s.dsn()) for _ in range(2)]
    alice = psycopg2.connect(s.dsn(dbname="fltr", user="alice", password="alice-secret"))
    try:
        error = login_error(s)
        assert error.sqlstate == "53300"
        assert error.message == 'too many connections for database "app" (max_db_client_connections=2)'
        error = login_error(s, user="alice", password="alice-secret", dbname="fltr")
        assert error.sqlstate == "53300"
        assert error.message == 'too many connections for user "alice" (max_user_client_connections=1)'
        # Clients under their limits keep working during the refusals.
        with psycopg2.connect(s.dsn(dbname="fltr")) as other, other.cursor() as cur:
            cur.execute("select 1")
        with held[0].cursor() as cur:
            cur.execute("select 2")
    finally:
        for c in held + [alice]:
            c.close()
    support.wait_until(lambda: "limit" in s.log_text(), 5, message="logged")


def test_per_address_limit_and_exemptions(sluice):
    s = sluice(support.sluice_config(max_client_conn_per_address=3, limit_exempt_addresses=["127.0.0.4/32"]))
    held = [raw_client(s.port, "127.0.0.2") for _ in range(3)]
    try:
        extra = raw_client(s.port, "127.0.0.2", send_startup=False)
        kind, fields = first_message(extra)
        assert kind == b"E" and fields["C"] == "53300"
        assert fields["M"] == "too many connections from 127.0.0.2 (max_client_conn_per_address=3)"
        extra.close()
        # Another address is unaffected, and an exempt one has no limit.
        other = raw_client(s.port, "127.0.0.3")
        assert first_message(other)[0] == b"R"
        exempt = [raw_client(s.port, "127.0.0.4") for _ in range(5)]
        assert all(first_message(c)[0] == b"R" for c in exempt)
        psycopg2.connect(s.dsn()).close()
        for c in exempt + [other]:
            c.close()
    finally:
        for c in held:
            c.close()


def test_failed_login_throttling_per_address(sluice):
    s = sluice(support.sluice_config(max_auth_failures=3, auth_failure_delay=0.2))
    for _ in range(3):
        started = time.monotonic()
        error = login_error(s, password="guess")
        assert error.sqlstate == "28P01"
        assert time.monotonic() - started >= 0.2, "auth_failure_delay slows guessing down"
    error = login_error(s, password="app-secret")
    assert error is not None and error.sqlstate == "28000" and "too many failed logins from 127.0.0.1" in error.message
    # Another address is unaffected.
    other = raw_client(s.port, "127.0.0.5")
    assert first_message(other)[0] == b"R"
    other.close()


def test_queue_is_first_come_first_served(sluice):
    s = sluice(support.sluice_config(pool_size=5, query_wait_timeout=60))
    clients = [psycopg2.connect(s.dsn()) for _ in range(200)]
    for c in clients:
        c.autocommit = True
    finished: list[tuple[float, int]] = []
    lock = threading.Lock()
    errors = []

    def run(i: int, conn) -> None:
        time.sleep(i * 0.005)  # arrival order = i
        try:
            with conn.cursor() as cur:
                cur.execute("select pg_sleep(0.02)")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        with lock:
            finished.append((time.monotonic(), i))

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in clients:
        c.close()
    assert errors == []
    order = [i for _, i in sorted(finished)]
    # With 5 servers and equal work, a client may finish at most a pool's width (plus thread
    # scheduling jitter) away from its arrival rank: tolerance 10 places.
    displacement = max(abs(rank - i) for rank, i in enumerate(order))
    assert displacement <= 10, f"served out of arrival order by {displacement} places"


@pytest.mark.one_pool
def test_query_wait_timeout_error(sluice):
    s = sluice(support.sluice_config(pool_size=1, query_wait_timeout=1))
    holder = psycopg2.connect(s.dsn())
    with holder.cursor() as cur:
        cur.execute("select 1")  # psycopg2 keeps the transaction (and the server) open
    started = time.monotonic()
    result = subprocess.run(["psql", "-XAtc", "select 1"], env=s.libpq_env(), capture_output=True, text=True, timeout=30)
    assert 0.9 <= time.monotonic() - started < 5
    assert result.returncode != 0
    # PgBouncer's wording and code: FATAL 08P01 "query_wait_timeout", then the connection closes.
    assert 'FATAL:  query_wait_timeout: no server connection of database "app" became free within 1 s (pool_size=1)' in result.stderr
    support.wait_until(lambda: "error=08P01 query_wait_timeout" in s.log_text(), 5, message="logged")
    holder.close()


@pytest.mark.one_pool
def test_reserve_pool_serves_long_waiters(sluice, pg):
    s = sluice(support.sluice_config(pool_size=1, reserve_pool_size=1, reserve_pool_timeout=0.5))
    holder = psycopg2.connect(s.dsn())
    with holder.cursor() as cur:
        cur.execute("select 1")
    waiter = psycopg2.connect(s.dsn())
    started = time.monotonic()
    with waiter.cursor() as cur:
        cur.execute("select 2")
        assert cur.fetchone() == (2,)
    waited = time.monotonic() - started
    assert 0.4 <= waited < 3, waited
    assert len(s.upstream_ports()) == 2
    waiter.close()
    holder.close()


def test_max_db_connections_caps_the_upstream(sluice, pg):
    s = sluice(support.sluice_config(pool_size=10, max_db_connections=3))
    peak = 0
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, len(s.upstream_ports()))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()

    def work():
        with psycopg2.connect(s.dsn()) as conn, conn.cursor() as cur:
            cur.execute("select pg_sleep(0.3)")

    threads = [threading.Thread(target=work) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    sampler.join()
    assert 1 <= peak <= 3, peak


@pytest.mark.one_pool
def test_max_queue_length(sluice):
    s = sluice(support.sluice_config(pool_size=1, max_queue_length=1, query_wait_timeout=10))
    holder = psycopg2.connect(s.dsn())
    with holder.cursor() as cur:
        cur.execute("select 1")
    first = psycopg2.connect(s.dsn())
    waiting = threading.Thread(target=lambda: first.cursor().execute("select 1"))
    waiting.start()
    time.sleep(1.5)  # let the first client reach the queue (slow under sanitizers)
    second = psycopg2.connect(s.dsn())
    with pytest.raises(psycopg2.Error) as info:
        second.cursor().execute("select 1")
    assert "max_queue_length=1" in str(info.value) or "closed" in str(info.value)
    # The refusal is logged just after the error is sent.
    support.wait_until(lambda: "reason=max_queue_length" in s.log_text(), 5, message="refusal logged")
    holder.close()
    waiting.join(10)
    first.close()


def test_limits_change_on_reload(sluice):
    config = support.sluice_config(max_client_conn=1)
    s = sluice(config)
    held = connect_when_free(s)
    assert login_error(s).sqlstate == "53300"
    config["sluice"]["max_client_conn"] = 5
    config["sluice"]["listen"] = f"127.0.0.1:{s.port}"
    s.write_config(support.to_toml(config))
    s.reload()
    support.wait_until(lambda: login_error(s) is None, 5, message="new limit in force")
    held.close()
