"""LISTEN/NOTIFY in transaction mode: Sluice's notification relay (README, "LISTEN/NOTIFY in
transaction mode").

A client's `LISTEN`/`UNLISTEN` simple query is answered by Sluice; one listener connection per
pool (application_name `sluice-listener`) LISTENs to every subscribed channel, and each
notification it gets goes to every subscribed client: at once to a client holding no server,
after its transaction to one inside a transaction. The pools here are small (1-2 servers), so a
client that kept a server while it waited for notifications would block the others.

- psycopg 3 `conn.notifies()`, node-postgres's 'notification' event, asyncpg's listener callbacks;
- 40 listeners on 2 servers, each gets every notification once, in order, payloads intact;
- LISTEN/UNLISTEN inside transactions (COMMIT, ROLLBACK, an aborted transaction's 25P02);
- UNLISTEN, clients leaving (the metrics drop), the channel limit;
- the listener backend killed with pg_terminate_backend: reconnected, notifications flow again;
- a subscriber whose queue overflows is closed with 54000 (and the drops are counted);
- notify_relay = false (globally or per database) and session mode keep LISTEN on the client's server.
"""

from __future__ import annotations

import asyncio
import os
import time
import urllib.request

import asyncpg
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

import support
from test_drivers_node import conn_params, node_path, run_node  # noqa: F401 - node_path is a fixture

pytestmark = [pytest.mark.sluice_only, pytest.mark.timeout(120)]

WORKERS = int(os.environ.get("SLUICE_TEST_WORKERS") or 1)
LISTENER_NAME = "sluice-listener"


# ---------------------------------------------------------------- helpers

def start(sluice, pool_size: int = 1, pool_mode: str = "transaction", **settings):
    """A Sluice with /metrics; returns (process, admin port)."""
    admin_port = support.free_port()
    config = support.sluice_config(pool_mode=pool_mode, pool_size=pool_size, admin_listen=f"127.0.0.1:{admin_port}",
                                   **settings)
    process = sluice(config)
    support.wait_until(lambda: support.port_accepts("127.0.0.1", admin_port), 10, message="admin_listen")
    return process, admin_port


def connect(process, **params) -> psycopg.Connection:
    return psycopg.connect(process.dsn("app", **params), autocommit=True)


def receive(conn: psycopg.Connection, count: int, timeout: float = 10) -> list[tuple[str, str, int]]:
    """Up to `count` notifications as (channel, payload, pid), waiting at most `timeout` seconds."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for n in conn.notifies(timeout=left, stop_after=count - len(got)):
            got.append((n.channel, n.payload, n.pid))
    return got


def nothing_arrives(conn: psycopg.Connection, wait: float = 0.5) -> list[str]:
    """Payloads that arrive within `wait` seconds (expected: none)."""
    return [payload for _, payload, _ in receive(conn, 1000, timeout=wait)]


def metrics(port: int) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def metric(port: int, name: str, database: str = "app") -> float:
    return metrics(port).get((name, (("database", database),)), 0.0)


def listener_backends(pg, process) -> list[tuple[int, str, str]]:
    """(pid, state, last query) of this Sluice's listener connections."""
    ports = sorted(process.upstream_ports())
    if not ports:
        return []
    return pg.sql("select pid, state, query from pg_stat_activity where application_name = %s "
                  "and client_port = any(%s) order by pid", (LISTENER_NAME, ports)) or []


# ---------------------------------------------------------------- delivery

def test_psycopg_listener_holding_no_server_gets_every_notification_in_order(sluice, pg):
    process, admin = start(sluice, pool_size=1)
    listener = connect(process, application_name="waits")
    notifier = connect(process)
    try:
        listener.execute("LISTEN orders")
        assert listener.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        # The only pool server never saw the LISTEN (it ran nowhere but on the listener connection),
        # and the listener is a backend of its own, named so that an admin can tell it.
        assert notifier.execute("select pg_listening_channels()").fetchall() == []
        backends = listener_backends(pg, process)
        assert 1 <= len(backends) <= WORKERS, backends
        assert any(query == 'LISTEN "orders"' for _, _, query in backends), backends

        big = "x" * 7000 + "é✓"
        payloads = [f"m{i}" for i in range(20)] + ["héllo ✓ 'quoted' \"double\"", "", big]
        for payload in payloads:
            notifier.execute("select pg_notify('orders', %s)", (payload,))
        pid = notifier.execute("select pg_backend_pid(), pg_notify('orders', 'with pid')").fetchone()[0]
        got = receive(listener, len(payloads) + 1)
        assert [p for _, p, _ in got] == payloads + ["with pid"]
        assert {c for c, _, _ in got} == {"orders"}
        assert got[-1][2] == pid, "the pid is the notifying backend's, as PostgreSQL sends it"
        assert nothing_arrives(listener) == [], "each notification once"

        # Still a working connection, and still subscribed after its own queries.
        assert listener.execute("select 41 + 1").fetchone() == (42,)
        notifier.execute("NOTIFY orders, 'again'")
        assert [p for _, p, _ in receive(listener, 1)] == ["again"]
        assert metric(admin, "sluice_notify_channels") == 1
        assert metric(admin, "sluice_notify_subscribers") == 1
        assert metric(admin, "sluice_notify_listener_connections") >= 1
        assert metric(admin, "sluice_notifications_delivered_total") == len(payloads) + 2
        assert metric(admin, "sluice_notifications_received_total") == len(payloads) + 2
    finally:
        listener.close()
        notifier.close()


def test_many_listeners_on_two_servers_each_get_every_notification_once_in_order(sluice, pg):
    process, admin = start(sluice, pool_size=2)
    listeners = [connect(process) for _ in range(40)]
    notifier = connect(process)
    try:
        channels_of = []
        for k, conn in enumerate(listeners):
            # Unquoted names fold to lower case (news = NEWS); a quoted one keeps its case.
            conn.execute("LISTEN news" if k % 2 == 0 else "LISTEN NEWS")
            channels_of.append({"news"})
            if k % 4 == 1:
                conn.execute('LISTEN "Audit"')
                channels_of[k].add("Audit")
        sent = []
        for i in range(30):
            for item in [("news", f"n{i:02d}")] + ([("Audit", f"a{i}")] if i % 10 == 0 else []):
                notifier.execute("select pg_notify(%s, %s)", item)
                sent.append(item)
        for k, conn in enumerate(listeners):
            expected = [payload for channel, payload in sent if channel in channels_of[k]]
            got = [p for _, p, _ in receive(conn, len(expected))]
            assert got == expected, f"listener {k}"
        for k, conn in enumerate(listeners[:4]):
            assert nothing_arrives(conn, 0.2) == [], f"listener {k} got a notification twice"
        # 40 subscribers, yet no more pool servers than pool_size, plus the listener(s).
        servers = process.upstream_ports()
        assert len(servers) <= 2 * WORKERS + WORKERS, servers
        assert metric(admin, "sluice_notify_subscribers") == 40
        assert 2 <= metric(admin, "sluice_notify_channels") <= 2 * WORKERS
    finally:
        for conn in listeners:
            conn.close()
        notifier.close()


def test_node_postgres_notification_event(sluice, node_path):  # noqa: F811 - the imported fixture
    process, _ = start(sluice, pool_size=1)
    result = run_node(node_path, "notify_listen.js", {"conn": conn_params(process), "channel": "node_events", "count": 15})
    assert result["listenTag"] == "LISTEN" and result["unlistenTag"] == "UNLISTEN"
    assert [n["payload"] for n in result["received"]] == [f"n{i} ✓" for i in range(15)]
    assert {n["channel"] for n in result["received"]} == {"node_events"}
    assert [n["processId"] for n in result["received"]] == result["notifierPids"]
    assert result["afterUnlisten"] == []


async def _asyncpg_relay_listeners(dsn: str, count: int) -> tuple[list, list]:
    """asyncpg connections whose LISTEN is a simple query (`execute`): their listener callbacks get
    what the relay sends. (asyncpg's own `add_listener` sends LISTEN through the extended protocol,
    which the relay does not take: see test_asyncpg_add_listener.)"""
    listeners = [await asyncpg.connect(dsn) for _ in range(3)]
    notifier = await asyncpg.connect(dsn)
    got: list[list[str]] = [[] for _ in listeners]
    try:
        for k, conn in enumerate(listeners):
            def callback(_conn, _pid, _channel, payload, k=k):
                got[k].append(payload)
            await conn.execute('LISTEN "asyncpg_ch"')
            # Register the callback the way add_listener does, without its extended-protocol LISTEN.
            conn._listeners.setdefault("asyncpg_ch", set()).add(asyncpg.connection._Callback.from_callable(callback))
        for i in range(count):
            await notifier.execute(f"NOTIFY asyncpg_ch, 'p{i}'")
        deadline = time.monotonic() + 10
        while any(len(g) < count for g in got) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        values = [await conn.fetchval("select 7") for conn in listeners]  # still usable
        return got, values
    finally:
        for conn in listeners + [notifier]:
            await conn.close()


def test_asyncpg_connections_get_relayed_notifications(sluice):
    process, _ = start(sluice, pool_size=1)
    got, values = asyncio.run(_asyncpg_relay_listeners(process.url("app"), 12))
    assert got == [[f"p{i}" for i in range(12)]] * 3
    assert values == [7, 7, 7]


def test_asyncpg_add_listener(sluice):
    """asyncpg's add_listener sends LISTEN as Parse/Bind/Execute (extended protocol), which the
    relay does not take: the client is pinned to its server and gets its notifications there."""
    process, _ = start(sluice, pool_size=2)

    async def scenario():
        listener = await asyncpg.connect(process.url("app"))
        notifier = await asyncpg.connect(process.url("app"))
        got: list[str] = []
        try:
            await listener.add_listener("asyncpg_add", lambda *args: got.append(args[3]))
            await notifier.execute("NOTIFY asyncpg_add, 'one'")
            deadline = time.monotonic() + 3
            while not got and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return got
        finally:
            await listener.close()
            await notifier.close()

    assert asyncio.run(scenario()) == ["one"]


# ---------------------------------------------------------------- transactions

def test_listen_in_a_transaction_takes_effect_at_commit_only(sluice):
    process, admin = start(sluice, pool_size=2 * WORKERS)
    client = connect(process)
    notifier = connect(process)
    try:
        # Rolled back: no effect.
        client.execute("BEGIN")
        client.execute("LISTEN rolled")
        assert client.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        client.execute("ROLLBACK")
        notifier.execute("NOTIFY rolled, 'no'")
        # COMMIT of an aborted transaction is a rollback too (its tag is ROLLBACK).
        client.execute("BEGIN")
        client.execute("LISTEN aborted_commit")
        with pytest.raises(psycopg.errors.DivisionByZero):
            client.execute("select 1/0")
        # In a failed transaction PostgreSQL refuses the statement; so does Sluice.
        with pytest.raises(psycopg.errors.InFailedSqlTransaction, match="current transaction is aborted"):
            client.execute("LISTEN aborted")
        assert client.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        client.execute("COMMIT")
        notifier.execute("NOTIFY aborted_commit, 'no'")
        notifier.execute("NOTIFY aborted, 'no'")
        assert nothing_arrives(client) == []

        # Committed: in effect from the COMMIT on; a notification before it is not the client's.
        client.execute("BEGIN")
        client.execute("LISTEN committed; LISTEN second")
        client.execute("select 1")
        received = metric(admin, "sluice_notifications_received_total")
        notifier.execute("NOTIFY committed, 'before commit'")
        # The listener has it before the COMMIT (Sluice decides by what it sees first: a
        # notification it reads after the COMMIT's answer goes to the client too).
        support.wait_until(lambda: metric(admin, "sluice_notifications_received_total") > received, 10,
                           message="the listener got the notification")
        client.execute("COMMIT")
        notifier.execute("NOTIFY committed, 'after commit'")
        notifier.execute("NOTIFY second, 'second'")
        assert [p for _, p, _ in receive(client, 2)] == ["after commit", "second"]
        assert nothing_arrives(client) == []

        # psycopg's own transaction block (BEGIN ... COMMIT), UNLISTEN rolled back keeps the channel.
        with client.transaction():
            client.execute("LISTEN via_block")
        client.execute("BEGIN")
        client.execute("UNLISTEN *")
        client.execute("ROLLBACK")
        notifier.execute("NOTIFY via_block, 'block'")
        notifier.execute("NOTIFY committed, 'kept'")
        assert sorted(p for _, p, _ in receive(client, 2)) == ["block", "kept"]
    finally:
        client.close()
        notifier.close()


def test_notifications_wait_for_the_end_of_the_subscribers_transaction(sluice):
    process, _ = start(sluice, pool_size=2 * WORKERS)
    client = connect(process)
    notifier = connect(process)
    try:
        client.execute("LISTEN queued")
        client.execute("BEGIN")
        client.execute("select 1")  # holds a server, inside a transaction
        for i in range(3):
            notifier.execute(f"NOTIFY queued, 'q{i}'")
        notifier.execute("select 1")
        time.sleep(0.3)
        assert nothing_arrives(client, 0.3) == [], "PostgreSQL delivers between transactions only"
        assert client.execute("select 2").fetchone() == (2,)
        client.execute("COMMIT")
        assert [p for _, p, _ in receive(client, 3)] == ["q0", "q1", "q2"]
    finally:
        client.close()
        notifier.close()


def test_a_client_keeping_its_server_gets_notifications_between_transactions(sluice, pg):
    """A client pinned to its server (session state, a temp table here) holds it between
    transactions: notifications go to it there, never inside a transaction."""
    process, admin = start(sluice, pool_size=2 * WORKERS)
    client = connect(process)
    notifier = connect(process)
    try:
        client.execute("create temp table notify_pinned (x int)")
        client.execute("LISTEN pinned_ch")
        support.wait_until(lambda: any(state == "idle" and query == 'LISTEN "pinned_ch"'
                                       for _, state, query in listener_backends(pg, process)), 10,
                           message="the listener LISTENs")
        notifier.execute("NOTIFY pinned_ch, 'p1'")
        assert [p for _, p, _ in receive(client, 1)] == ["p1"]
        client.execute("BEGIN")
        client.execute("select 1")
        notifier.execute("NOTIFY pinned_ch, 'p2'")
        assert nothing_arrives(client, 0.3) == []
        client.execute("COMMIT")
        assert [p for _, p, _ in receive(client, 1)] == ["p2"]
        assert client.execute("select count(*) from notify_pinned").fetchone() == (0,), "still on its server"
    finally:
        client.close()
        notifier.close()


# ---------------------------------------------------------------- unsubscribing

def test_unlisten_and_leaving_unsubscribe(sluice, pg):
    process, admin = start(sluice, pool_size=1)
    client = connect(process)
    other = connect(process)
    notifier = connect(process)
    try:
        client.execute("LISTEN x; LISTEN y")
        notifier.execute("NOTIFY x, 'x1'")
        assert [p for _, p, _ in receive(client, 1)] == ["x1"]
        client.execute("UNLISTEN x")
        notifier.execute("NOTIFY x, 'x2'")
        notifier.execute("NOTIFY y, 'y2'")
        assert [p for _, p, _ in receive(client, 1)] == ["y2"]
        assert nothing_arrives(client) == []
        client.execute("UNLISTEN *")
        notifier.execute("NOTIFY y, 'y3'")
        assert nothing_arrives(client) == []
        assert metric(admin, "sluice_notify_subscribers") == 0
        assert metric(admin, "sluice_notify_channels") == 0

        other.execute("LISTEN z")
        assert metric(admin, "sluice_notify_subscribers") == 1
        assert metric(admin, "sluice_notify_channels") == 1
        other.close()
        support.wait_until(lambda: metric(admin, "sluice_notify_subscribers") == 0, 10, message="subscriber gone")
        assert metric(admin, "sluice_notify_channels") == 0
        # The channel nobody wants is UNLISTENed on the listener.
        support.wait_until(lambda: any(q == 'UNLISTEN "z"' for _, _, q in listener_backends(pg, process)), 10,
                           message="UNLISTEN on the listener")
    finally:
        client.close()
        other.close()
        notifier.close()


def test_channel_limit_refuses_a_new_channel(sluice):
    process, _ = start(sluice, pool_size=1, notify_max_channels=2)
    client = connect(process)
    try:
        client.execute("LISTEN a; LISTEN b")
        with pytest.raises(psycopg.errors.ProgramLimitExceeded, match="notify_max_channels=2"):
            client.execute("LISTEN c")
        client.execute("LISTEN a")  # a channel already listened to is fine
        client.execute("UNLISTEN b")
        client.execute("LISTEN c")
    finally:
        client.close()


# ---------------------------------------------------------------- failures

def test_killed_listener_reconnects_and_listens_again(sluice, pg):
    process, admin = start(sluice, pool_size=1)
    client = connect(process)
    notifier = connect(process)
    try:
        client.execute("LISTEN survives")
        before = listener_backends(pg, process)
        assert before, "no listener backend"
        pg.sql("select pg_terminate_backend(pid) from pg_stat_activity where pid = any(%s)", ([pid for pid, _, _ in before],))
        old = {pid for pid, _, _ in before}
        support.wait_until(lambda: metric(admin, "sluice_notify_listener_reconnects_total") >= 1, 10,
                           message="a reconnect counted")
        support.wait_until(lambda: [b for b in listener_backends(pg, process)
                                    if b[0] not in old and b[1] == "idle" and b[2] == 'LISTEN "survives"'], 10,
                           message="a new listener LISTENing again")
        notifier.execute("NOTIFY survives, 'after the kill'")
        assert [p for _, p, _ in receive(client, 1)] == ["after the kill"]
        assert client.execute("select 1").fetchone() == (1,)
        assert metric(admin, "sluice_notify_listener_connections") >= 1
    finally:
        client.close()
        notifier.close()


def test_overflowing_subscriber_is_closed_and_its_drops_counted(sluice):
    process, admin = start(sluice, pool_size=2 * WORKERS, notify_queue_limit=5)
    slow = connect(process)
    reader = connect(process)
    notifier = connect(process)
    try:
        slow.execute("LISTEN flood")
        reader.execute("LISTEN flood")
        slow.execute("BEGIN")
        slow.execute("select 1")  # inside a transaction: notifications wait for it
        for i in range(6):
            notifier.execute(f"NOTIFY flood, 'f{i}'")
        assert [p for _, p, _ in receive(reader, 6)] == [f"f{i}" for i in range(6)]
        support.wait_until(lambda: metric(admin, "sluice_notify_queue_overflows_total") == 1, 10, message="an overflow")
        with pytest.raises(psycopg.OperationalError, match="notify_queue_limit=5"):
            slow.execute("select 1")
        assert metric(admin, "sluice_notifications_dropped_total") == 6
        closed = metrics(admin).get(("sluice_client_connections_closed_total", (("reason", "notify_queue_overflow"),)))
        assert closed == 1
        # The server it held was rolled back and serves others.
        assert notifier.execute("select 3").fetchone() == (3,)
    finally:
        slow.close()
        reader.close()
        notifier.close()


# ---------------------------------------------------------------- what the relay does not take

def test_relay_off_and_session_mode_keep_listen_on_the_clients_server(sluice, pg):
    for settings, databases in (({"notify_relay": False}, None),
                                ({}, {"app": {"url": support.upstream_url("app", "app"), "notify_relay": False}})):
        process, _ = start(sluice, pool_size=1, databases=databases, **settings)
        client = connect(process)
        try:
            client.execute("LISTEN on_server")
            # Today's behaviour: the LISTEN ran on the pool's (only) server.
            assert client.execute("select pg_listening_channels()").fetchall() == [("on_server",)]
            assert listener_backends(pg, process) == []
            client.execute("UNLISTEN *")
        finally:
            client.close()
            process.stop()

    process, _ = start(sluice, pool_size=2 * WORKERS, pool_mode="session")
    client = connect(process)
    notifier = connect(process)
    try:
        client.execute("LISTEN session_ch")
        assert client.execute("select pg_listening_channels()").fetchall() == [("session_ch",)]
        pid = notifier.execute("select pg_backend_pid(), pg_notify('session_ch', 's')").fetchone()[0]
        assert receive(client, 1) == [("session_ch", "s", pid)]
        assert listener_backends(pg, process) == []
    finally:
        client.close()
        notifier.close()


def test_listen_mixed_with_other_statements_is_not_taken(sluice, pg):
    """`LISTEN a; SELECT 1` runs on the server as it always did (see README: what is not intercepted)."""
    process, _ = start(sluice, pool_size=1)
    client = connect(process)
    try:
        client.execute("LISTEN mixed; SELECT 1")
        assert client.execute("select pg_listening_channels()").fetchall() == [("mixed",)]
        assert listener_backends(pg, process) == []
        client.execute("UNLISTEN *; SELECT 1")
    finally:
        client.close()
