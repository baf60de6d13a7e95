"""Replicas: multi-host upstream URLs with libpq's target_session_attrs, against the test cluster and
its streaming standby (scripts/test starts both; the standby's port is SLUICE_TEST_PG_STANDBY_PORT)."""

import os
import time
import uuid

import psycopg2
import pytest

import support
from test_admin_console import show

STANDBY_PORT = int(os.environ.get("SLUICE_TEST_PG_STANDBY_PORT") or 0)

pytestmark = [
    pytest.mark.sluice_only,
    pytest.mark.skipif(not STANDBY_PORT, reason="scripts/test starts the standby and sets SLUICE_TEST_PG_STANDBY_PORT"),
]

PRIMARY = f"127.0.0.1:{support.PG_PORT}"
STANDBY = f"127.0.0.1:{STANDBY_PORT}"


def url(hosts: str, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"sslmode": "disable", **params}.items())
    return f"postgresql://app:app-secret@{hosts}/app?{query}"


def scalar(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def start(sluice, databases: dict, **settings):
    return sluice(support.sluice_config(pool_mode="transaction", pool_size=2, databases=databases,
                                        admin_users=["app"], **settings))


def wait_replayed(pg, standby: support.Postgres, timeout: float = 10) -> None:
    """Until the standby has replayed everything the primary wrote so far."""
    lsn = pg.scalar("select pg_current_wal_lsn()::text")
    support.wait_until(lambda: standby.scalar("select pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)), timeout,
                       message="standby replay")


def test_read_write_skips_the_standby_and_reads_go_to_it(sluice, pg):
    standby = support.Postgres(port=STANDBY_PORT)
    assert standby.scalar("select pg_is_in_recovery()") is True, "the test standby is not in recovery"
    table = f"rw_{uuid.uuid4().hex[:8]}"
    pg.sql(f"create table {table} (v text)", dbname="app")
    pg.sql(f"grant all on {table} to app", dbname="app")
    process = start(sluice, {
        # The standby is listed first: read-write must pass it by.
        "app": {"url": url(f"{STANDBY},{PRIMARY}", target_session_attrs="read-write")},
        "app_ro": {"url": url(f"{PRIMARY},{STANDBY}", target_session_attrs="prefer-standby")},
    })
    writer = process.connect("app")
    for n in range(5):
        with writer.cursor() as cur:
            cur.execute(f"insert into {table} values (%s)", (f"row {n}",))
    assert scalar(writer, "select pg_is_in_recovery()") is False
    wait_replayed(pg, standby)
    reader = process.connect("app_ro")
    assert scalar(reader, "select pg_is_in_recovery()") is True
    assert scalar(reader, f"select count(*) from {table}") == 5
    with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
        with reader.cursor() as cur:
            cur.execute(f"insert into {table} values ('no')")
    servers = {(row["database"], row["port"], row["role"]) for row in show(process, "SERVERS")}
    assert ("app", str(support.PG_PORT), "primary") in servers
    assert ("app_ro", str(STANDBY_PORT), "standby") in servers
    assert not any(db == "app" and role == "standby" for db, _, role in servers)
    writer.close()
    reader.close()
    pg.sql(f"drop table {table}", dbname="app")


@pytest.mark.parametrize("attrs,expected_recovery", [
    ("primary", False), ("read-write", False), ("standby", True), ("read-only", True), ("any", False),
])
def test_each_target_session_attrs(sluice, attrs, expected_recovery):
    process = start(sluice, {"app": {"url": url(f"{PRIMARY},{STANDBY}", target_session_attrs=attrs)}})
    conn = process.connect()
    assert scalar(conn, "select pg_is_in_recovery()") is expected_recovery
    conn.close()


def test_keyword_value_url_and_an_unreachable_first_host(sluice):
    dead = support.free_port()
    keywords = (f"host=127.0.0.1,127.0.0.1 port={dead},{support.PG_PORT} dbname=app user=app "
                f"password=app-secret sslmode=disable")
    process = start(sluice, {"app": {"url": keywords}})
    conn = process.connect()
    assert scalar(conn, "select inet_server_port()") == support.PG_PORT
    conn.close()


def test_no_fitting_host_is_a_clear_error(sluice):
    """Only the primary is listed but a standby is wanted: clients get 08006 naming why, at query_wait_timeout."""
    process = start(sluice, {"app": {"url": url(PRIMARY, target_session_attrs="standby")}}, query_wait_timeout=2)
    started = time.monotonic()
    with pytest.raises(psycopg2.OperationalError) as failure:
        process.connect()
    message = str(failure.value)
    assert "no standby server among the host" in message, message
    assert f"{PRIMARY}: is primary" in message, message
    assert time.monotonic() - started < 15


@pytest.fixture(scope="module")
def second_standby():
    """Another standby of the test cluster, next to the first (torn down after the module)."""
    import subprocess
    port = STANDBY_PORT + 1
    name = f"test-standby2-{port}"
    common = support.REPO / "scripts" / "lib" / "common.sh"
    subprocess.run(["bash", "-c", f". '{common}' && sluice_pg_standby {name} {port} primary {support.PG_PORT}"],
                   check=True, capture_output=True, timeout=120)
    try:
        yield port
    finally:
        subprocess.run(["bash", "-c", f". '{common}' && sluice_pg_stop {name}"], capture_output=True, timeout=60)


def test_reads_spread_over_standbys_and_metrics_show_hosts(sluice, second_standby):
    from test_metrics_endpoint import scrape, start as start_with_admin
    hosts = f"{STANDBY},127.0.0.1:{second_standby}"
    process, admin = start_with_admin(sluice, pool_mode="transaction", pool_size=12, databases={
        "app_ro": {"url": url(hosts, target_session_attrs="standby", load_balance_hosts="random")},
        "app": {"url": url(f"{STANDBY},{PRIMARY}", target_session_attrs="read-write")},
    })
    # 12 transactions at once: 12 servers, each on a host chosen at random (all on one: p = 2^-11).
    conns = [process.connect("app_ro", autocommit=False) for _ in range(12)]
    ports = set()
    for conn in conns:
        with conn.cursor() as cur:
            cur.execute("select inet_server_port(), pg_is_in_recovery()")
            port, recovery = cur.fetchone()
            assert recovery is True
            ports.add(port)
    assert ports == {STANDBY_PORT, second_standby}, ports
    for conn in conns:
        conn.rollback()
        conn.close()
    writer = process.connect("app")
    assert scalar(writer, "select pg_is_in_recovery()") is False
    writer.close()
    metrics = scrape(admin)
    by_host = {(labels["host"], labels["role"]): value for (name, labels_t), value in metrics.samples.items()
               if name == "sluice_servers_by_host" and (labels := dict(labels_t))["database"] == "app_ro"}
    assert by_host.get((STANDBY, "standby"), 0) >= 1 and by_host.get((f"127.0.0.1:{second_standby}", "standby"), 0) >= 1, by_host
    assert sum(by_host.values()) == 12
    assert metrics.value("sluice_upstream_hosts_passed_over_total", database="app", host=STANDBY, reason="wrong_role") >= 1


def test_lagging_standby_gets_no_new_transactions_until_it_catches_up(sluice, pg):
    """pg_wal_replay_pause() on the standby past max_replica_lag: reads move to the primary
    (prefer-standby); after pg_wal_replay_resume() they come back to the standby."""
    from test_metrics_endpoint import scrape, start as start_with_admin
    standby = support.Postgres(port=STANDBY_PORT)
    process, admin = start_with_admin(
        sluice, pool_mode="transaction", pool_size=2, max_replica_lag=1, replica_lag_check_interval=0.3,
        databases={"app_ro": {"url": url(f"{STANDBY},{PRIMARY}", target_session_attrs="prefer-standby")}})
    reader = process.connect("app_ro")

    def on_standby() -> bool:
        return scalar(reader, "select pg_is_in_recovery()")

    assert on_standby()
    table = f"lag_{uuid.uuid4().hex[:8]}"
    try:
        standby.sql("select pg_wal_replay_pause()")
        time.sleep(1.2)  # the last transaction the standby replayed is now older than max_replica_lag
        pg.sql(f"create table {table} (v int)", dbname="app")  # WAL the standby receives but does not replay
        assert support.wait_until(lambda: not on_standby(), 10, message="reads leave the lagging standby")
        for _ in range(10):
            assert not on_standby(), "a transaction went to the standby while it lagged"
            time.sleep(0.1)
        metrics = scrape(admin)
        assert metrics.value("sluice_replica_lag_seconds", database="app_ro", host=STANDBY) > 1
        assert metrics.value("sluice_replica_lag_exclusions_total", database="app_ro") >= 1
        assert metrics.value("sluice_upstream_hosts_passed_over_total", database="app_ro", host=STANDBY, reason="lagging") >= 1
    finally:
        standby.sql("select pg_wal_replay_resume()")
    assert support.wait_until(on_standby, 15, message="reads come back to the standby once it caught up")
    assert scrape(admin).value("sluice_replica_lag_seconds", database="app_ro", host=STANDBY) <= 1
    reader.close()
    pg.sql(f"drop table if exists {table}", dbname="app")
