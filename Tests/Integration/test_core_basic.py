"""Core: psql through sluice in both pool modes, routing to the URL's database and user, two databases at once."""

import subprocess
import uuid

import pytest

import support


def psql(endpoint, sql, dbname="app", user="app", password="app-secret", timeout=30):
    result = subprocess.run(
        ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, endpoint.dsn(dbname, user, password)],
        capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"psql failed ({result.returncode}): {result.stderr}"
    return result.stdout.strip()


@pytest.mark.parametrize("pool_mode", ["transaction", "session"])
def test_psql_select_1(sluice, pool_mode):
    s = sluice(support.sluice_config(pool_mode=pool_mode, pool_size=2))
    assert psql(s, "select 1") == "1"
    assert psql(s, "select current_database(), current_user") == "app|app"


@pytest.mark.parametrize("pool_mode", ["transaction", "session"])
def test_database_and_user_come_from_the_url(sluice, pool_mode):
    # The client-facing name `reports` routes to the upstream database fltr.
    s = sluice(support.sluice_config(pool_mode=pool_mode, pool_size=2, databases={
        "app": {"url": support.upstream_url("app", "app")},
        "reports": {"url": support.upstream_url("fltr", "app")},
        "owned_by_other": {"url": support.upstream_url("other", "other")},
    }))
    assert psql(s, "select current_database(), current_user") == "app|app"
    assert psql(s, "select current_database(), current_user", dbname="reports") == "fltr|app"
    assert psql(s, "select current_database(), current_user", dbname="owned_by_other",
                user="other", password="other-secret") == "other|other"


def test_two_databases_at_once(sluice, pg):
    s = sluice(support.sluice_config(pool_size=2, databases={
        "fltr": {"url": support.upstream_url("fltr", "app")},
        "fltr_auth": {"url": support.upstream_url("fltr_auth", "app")},
    }))
    suffix = uuid.uuid4().hex[:8]
    mine = {"fltr": f"only_in_fltr_{suffix}", "fltr_auth": f"only_in_fltr_auth_{suffix}"}
    conns = {db: s.connect(dbname=db) for db in mine}
    try:
        # Interleave the two clients.
        for db, table in mine.items():
            with conns[db].cursor() as cur:
                cur.execute(f"create table {table} (id int primary key, note text)")
                cur.execute(f"insert into {table} values (1, %s)", (db,))
        for db, table in mine.items():
            with conns[db].cursor() as cur:
                cur.execute("select current_database()")
                assert cur.fetchone()[0] == db
                cur.execute("select tablename from pg_tables where schemaname = 'public' and tablename like %s",
                            (f"only_in_%_{suffix}",))
                assert [r[0] for r in cur.fetchall()] == [table]
                cur.execute(f"select note from {table}")
                assert cur.fetchall() == [(db,)]
    finally:
        for db, conn in conns.items():
            conn.close()
    # And the tables really live in the upstream databases they were routed to.
    for db, table in mine.items():
        assert pg.scalar("select count(*) from pg_tables where tablename = %s", (table,), dbname=db) == 1
        other = [t for d, t in mine.items() if d != db][0]
        assert pg.scalar("select count(*) from pg_tables where tablename = %s", (other,), dbname=db) == 0


@pytest.mark.sluice_only
def test_listens_on_ipv6_loopback(sluice):
    import socket
    probe = socket.socket(socket.AF_INET6)
    try:
        probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    finally:
        probe.close()
    config = support.sluice_config(listen="127.0.0.1:{port}, [::1]:{port}")
    s = sluice(support.to_toml(config))  # text: the fixture fills in {port}
    result = subprocess.run(["psql", "-XAtc", "select inet_client_addr() is not null"],
                            env={**s.libpq_env(), "PGHOST": "::1", "PGPORT": str(s.port)},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "[::1]" in s.log_text()
