"""The admin console (virtual databases `sluice` and `pgbouncer`) driven with psql, as an operator would.

Every SHOW command is checked against what the test has running; PAUSE/RESUME/KILL/KILL_CLIENT/
RELOAD are checked by their effect; privileges (admin_users, stats_users, anyone else) by SQLSTATE.
SHUTDOWN is the last test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time

import psycopg2
import psycopg2.errors
import pytest

import support

pytestmark = pytest.mark.sluice_only

PSQL = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"


# ---------------------------------------------------------------- helpers

def run_psql(process, command: str, user: str = "app", password: str = "app-secret", dbname: str = "sluice"):
    """`psql -h 127.0.0.1 -p PORT -U user dbname -c command` with PGPASSWORD; unaligned, tab-separated."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGPASSWORD=password, PGSSLMODE="disable", PGCONNECT_TIMEOUT="10")
    return subprocess.run(
        [PSQL, "-X", "-h", "127.0.0.1", "-p", str(process.port), "-U", user, dbname, "-c", command,
         "-A", "-F", "\t", "-P", "footer=off", "-v", "ON_ERROR_STOP=1"],
        env=env, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


def show(process, what: str, **kwargs) -> list[dict[str, str]]:
    """Rows of `SHOW what` as dicts of text (NULL reads as '')."""
    result = run_psql(process, f"SHOW {what}", **kwargs)
    assert result.returncode == 0, f"SHOW {what}: {result.stderr}"
    lines = result.stdout.splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


def command(process, text: str, **kwargs) -> str:
    result = run_psql(process, text, **kwargs)
    assert result.returncode == 0, f"{text}: {result.stderr}"
    return result.stdout.strip()


def by(rows: list[dict], key: str) -> dict[str, dict]:
    return {row[key]: row for row in rows}


def local_port(conn) -> int:
    with socket.fromfd(conn.fileno(), socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.getsockname()[1]


class Worker(threading.Thread):
    def __init__(self, process, query: str, dbname: str, application_name: str):
        super().__init__(daemon=True)
        self.conn = process.connect(dbname, application_name=application_name)
        self.query = query
        self.error: BaseException | None = None

    def run(self):
        try:
            with self.conn.cursor() as cur:
                cur.execute(self.query)
        except BaseException as exc:  # noqa: BLE001 - checked by the test
            self.error = exc

    def finish(self, timeout: float = 30):
        self.join(timeout)
        assert not self.is_alive()
        self.conn.close()


def config(app_pool_size: int = 4, **settings) -> dict:
    databases = {
        "app": {"url": support.upstream_url("app", "app"), "pool_size": app_pool_size},
        "reports": {"url": support.upstream_url("fltr", "app"), "pool_size": 1},
    }
    settings.setdefault("leak_detection_threshold", 1)
    return support.sluice_config(
        databases=databases, admin_users=["app"], stats_users=["stats"],
        users={"stats": {"password": "stats-secret"}, "other": {"password": "other-secret"}}, **settings)


# ---------------------------------------------------------------- SHOW, against a known workload

@pytest.mark.one_pool
def test_show_commands_agree_with_what_runs(sluice, pg):
    process = sluice(config())
    in_tx = process.connect("app", autocommit=False, application_name="in-tx")
    with in_tx.cursor() as cur:
        cur.execute("select 1")
    idle = process.connect("app", application_name="idler")
    with idle.cursor() as cur:
        cur.execute("select 1")
    app_sleeper = Worker(process, "select pg_sleep(6)", "app", "app-sleeper")
    reports_sleeper = Worker(process, "select pg_sleep(6)", "reports", "reports-sleeper")
    app_sleeper.start()
    reports_sleeper.start()
    support.wait_until(lambda: by(show(process, "POOLS"), "database").get("reports", {}).get("sv_active") == "1",
                       10, message="the reports sleeper running")
    reports_waiter = Worker(process, "select 1", "reports", "reports-waiter")
    reports_waiter.start()
    support.wait_until(lambda: by(show(process, "POOLS"), "database")["reports"]["cl_waiting"] == "1",
                       10, message="a waiting reports client")
    time.sleep(1.3)  # past leak_detection_threshold = 1

    pools = by(show(process, "POOLS"), "database")
    assert set(pools) == {"app", "reports"}
    app, reports = pools["app"], pools["reports"]
    # cl_active counts every client linked to a server (the idle transaction too).
    assert (app["cl_active"], app["cl_waiting"], app["cl_idle"], app["cl_idle_in_transaction"]) == ("2", "0", "1", "1")
    assert (app["sv_active"], app["sv_login"], app["pool_size"], app["pool_mode"]) == ("2", "0", "4", "transaction")
    assert app["user"] == "app" and app["maxwait"] == "0" and app["maxwait_us"] == "0"
    assert (reports["cl_active"], reports["cl_waiting"], reports["cl_idle"]) == ("1", "1", "0")
    assert (reports["sv_active"], reports["sv_idle"], reports["pool_size"]) == ("1", "0", "1")
    assert int(reports["maxwait"]) >= 1

    clients = show(process, "CLIENTS")
    mine = [c for c in clients if c["database"] in ("app", "reports")]
    assert len(mine) == 5
    consoles = [c for c in clients if c["database"] == "sluice"]
    assert len(consoles) == 1 and consoles[0]["application_name"] == "psql" and consoles[0]["user"] == "app"
    clients_by_app = by(mine, "application_name")
    assert {a: c["state"] for a, c in clients_by_app.items()} == {
        "in-tx": "idle_in_transaction", "idler": "idle", "app-sleeper": "active",
        "reports-sleeper": "active", "reports-waiter": "waiting"}
    assert {a: c["tx_state"] for a, c in clients_by_app.items()} == {
        "in-tx": "T", "idler": "", "app-sleeper": "I", "reports-sleeper": "I", "reports-waiter": ""}
    assert clients_by_app["in-tx"]["port"] == str(local_port(in_tx))
    assert clients_by_app["idler"]["port"] == str(local_port(idle))
    assert all(c["type"] == "C" and c["addr"] == "127.0.0.1" and c["user"] == "app" for c in mine)
    assert all(c["local_port"] == str(process.port) for c in clients)
    assert float(clients_by_app["in-tx"]["held_for_s"]) >= 1.3
    assert int(clients_by_app["reports-waiter"]["wait"]) >= 1

    servers = show(process, "SERVERS")
    assert all(s["type"] == "S" and s["port"] == str(support.PG_PORT) for s in servers)
    linked = {s["link"]: s for s in servers if s["link"]}
    for name in ("in-tx", "app-sleeper", "reports-sleeper"):
        client = clients_by_app[name]
        server = linked[client["ptr"]]
        assert client["link"] == server["ptr"]
        assert server["state"] == "active" and server["application_name"] == name
        assert server["database"] == client["database"]
    assert len(linked) == 3
    backends = {str(row["pid"]) for row in pg.activity("app")}
    assert {s["remote_pid"] for s in servers} <= backends

    leaks = show(process, "LEAKS")
    assert sorted(l["application_name"] for l in leaks) == ["app-sleeper", "in-tx", "reports-sleeper"]
    assert all(l["state"] in ("active", "idle_in_transaction") and l["user"] == "app" for l in leaks)
    held = [float(l["held_for_s"]) for l in leaks]
    assert held == sorted(held, reverse=True) and min(held) >= 1.0
    assert by(leaks, "application_name")["in-tx"]["tx_state"] == "T"
    assert by(leaks, "application_name")["in-tx"]["port"] == str(local_port(in_tx))

    databases = by(show(process, "DATABASES"), "name")
    assert set(databases) == {"app", "reports", "pgbouncer", "sluice"}
    assert databases["app"]["host"] == support.PG_HOST and databases["app"]["port"] == str(support.PG_PORT)
    assert (databases["app"]["database"], databases["app"]["force_user"], databases["app"]["pool_size"]) == ("app", "app", "4")
    assert (databases["reports"]["database"], databases["reports"]["pool_size"]) == ("fltr", "1")
    for name in ("app", "reports"):
        assert databases[name]["current_connections"] == str(sum(1 for s in servers if s["database"] == name))
        assert databases[name]["paused"] == "0"
    assert databases["sluice"]["host"] == "" and databases["sluice"]["port"] == str(process.port)

    lists = {row["list"]: int(row["items"]) for row in show(process, "LISTS")}
    assert lists["databases"] == 4 and lists["pools"] == 2
    assert lists["used_clients"] == 6  # five clients and this psql
    assert lists["used_servers"] == len(servers)
    assert lists["login_clients"] == 0
    assert lists["users"] == 3  # [users] stats and other, the upstream user app

    cfg = {row["key"]: row for row in show(process, "CONFIG")}
    assert cfg["listen"]["value"] == f"127.0.0.1:{process.port}" and cfg["listen"]["changeable"] == "no"
    assert cfg["pool_mode"]["value"] == "transaction"
    assert cfg["admin_users"]["value"] == "app" and cfg["stats_users"]["value"] == "stats"
    assert cfg["leak_detection_threshold"]["value"] == "1" and cfg["leak_detection_threshold"]["default"] == "60"
    assert cfg["log_leak_queries"]["value"] == "false"
    assert list(cfg) == sorted(cfg)

    version = show(process, "VERSION")
    assert len(version) == 1 and version[0]["version"].startswith("Sluice ")

    in_tx.commit()
    for worker in (app_sleeper, reports_sleeper, reports_waiter):
        worker.finish()
        assert worker.error is None
    support.wait_until(lambda: show(process, "LEAKS") == [], 5, message="no leak suspects")
    in_tx.close()
    idle.close()


def test_show_stats_counts_transactions_and_queries(sluice):
    process = sluice(config())
    conn = process.connect("app", autocommit=False)
    before = by(show(process, "STATS"), "database")
    for _ in range(4):
        with conn.cursor() as cur:  # BEGIN, select, COMMIT
            cur.execute("select pg_sleep(0.05)")
        conn.commit()
    after = by(show(process, "STATS"), "database")
    delta = {k: int(after["app"][k]) - int(before["app"][k]) for k in after["app"] if k.startswith("total_")}
    assert delta["total_xact_count"] == 4
    assert delta["total_query_count"] == 12
    assert delta["total_received"] > 0 and delta["total_sent"] > 0
    assert delta["total_xact_time"] >= 4 * 50_000  # microseconds
    assert after["reports"]["total_xact_count"] == "0"
    # Averages cover the interval since the previous SHOW STATS of any session (one handler per process).
    assert int(after["app"]["avg_xact_count"]) >= 1
    assert int(after["app"]["avg_xact_time"]) >= 50_000
    conn.close()


def test_show_stats_query_time(sluice):
    process = sluice(config())
    conn = process.connect("app")
    with conn.cursor() as cur:
        cur.execute("select pg_sleep(0.2)")
    conn.close()
    stats = by(show(process, "STATS"), "database")["app"]
    assert int(stats["total_query_time"]) >= 200_000


def test_show_stats_averages_within_one_session(sluice):
    process = sluice(config())
    console = process.connect("sluice")
    conn = process.connect("app")
    with console.cursor() as cur:
        cur.execute("SHOW STATS")
    for _ in range(10):
        with conn.cursor() as cur:
            cur.execute("select pg_sleep(0.1)")
    with console.cursor() as cur:
        cur.execute("SHOW STATS")
        columns = [d.name for d in cur.description]
        app = [dict(zip(columns, row)) for row in cur.fetchall() if row[0] == "app"][0]
    assert 3 <= int(app["avg_xact_count"]) <= 10  # ten transactions in a little over a second
    assert 100_000 <= int(app["avg_xact_time"]) < 200_000
    console.close()
    conn.close()


# ---------------------------------------------------------------- actions

def test_pause_and_resume(sluice):
    process = sluice(config())
    conn = process.connect("app")
    with conn.cursor() as cur:
        cur.execute("select 1")
    assert command(process, "PAUSE") == "PAUSE"
    databases = by(show(process, "DATABASES"), "name")
    assert databases["app"]["paused"] == "1" and databases["reports"]["paused"] == "1"
    blocked = Worker(process, "select 42", "app", "blocked")
    blocked.start()
    support.wait_until(lambda: by(show(process, "POOLS"), "database")["app"]["cl_waiting"] == "1", 5,
                       message="a client waiting while paused")
    time.sleep(0.5)
    assert blocked.is_alive()
    assert command(process, "RESUME") == "RESUME"
    blocked.finish(10)
    assert blocked.error is None
    assert by(show(process, "DATABASES"), "name")["app"]["paused"] == "0"

    # One database only.
    assert command(process, "PAUSE reports") == "PAUSE"
    databases = by(show(process, "DATABASES"), "name")
    assert (databases["app"]["paused"], databases["reports"]["paused"]) == ("0", "1")
    with conn.cursor() as cur:
        cur.execute("select 2")
        assert cur.fetchone() == (2,)
    assert command(process, "RESUME reports") == "RESUME"
    assert by(show(process, "DATABASES"), "name")["reports"]["paused"] == "0"
    conn.close()


def test_kill_closes_that_database_clients_only(sluice):
    process = sluice(config())
    victims = [process.connect("reports", application_name="victim") for _ in range(2)]
    with victims[0].cursor() as cur:
        cur.execute("select 1")
    survivor = process.connect("app", application_name="survivor")
    with survivor.cursor() as cur:
        cur.execute("select 1")
    assert command(process, "KILL reports") == "KILL"
    support.wait_until(lambda: not [c for c in show(process, "CLIENTS") if c["database"] == "reports"], 5,
                       message="reports clients gone")
    assert not [s for s in show(process, "SERVERS") if s["database"] == "reports"]
    for victim in victims:
        with pytest.raises(psycopg2.OperationalError):
            with victim.cursor() as cur:
                cur.execute("select 1")
        victim.close()
    with survivor.cursor() as cur:
        cur.execute("select 3")
        assert cur.fetchone() == (3,)
    # The database is still configured: new clients get in.
    again = process.connect("reports")
    with again.cursor() as cur:
        cur.execute("select 4")
        assert cur.fetchone() == (4,)
    again.close()

    # KILL_CLIENT takes the ptr of SHOW CLIENTS.
    ptr = by([c for c in show(process, "CLIENTS") if c["database"] == "app"], "application_name")["survivor"]["ptr"]
    assert command(process, f"KILL_CLIENT {ptr}") == "KILL_CLIENT"
    with pytest.raises(psycopg2.OperationalError):
        with survivor.cursor() as cur:
            cur.execute("select 1")
    survivor.close()


def test_reload_applies_a_changed_pool_size(sluice):
    process = sluice(config(app_pool_size=4))
    assert by(show(process, "DATABASES"), "name")["app"]["pool_size"] == "4"
    process.write_config(support.render_config(config(app_pool_size=7), process.port))
    assert command(process, "RELOAD") == "RELOAD"
    support.wait_until(lambda: by(show(process, "DATABASES"), "name")["app"]["pool_size"] == "7", 5,
                       message="pool_size 7 after RELOAD")
    assert by(show(process, "POOLS"), "database")["app"]["pool_size"] == "7"
    assert by(show(process, "DATABASES"), "name")["reports"]["pool_size"] == "1"
    assert "configuration reloaded" in process.log_text()


def test_errors_of_bad_commands(sluice):
    process = sluice(config())
    conn = process.connect("pgbouncer")  # the PgBouncer name of the console works too
    cases = [("SHOW NOPE", "42601"), ("PAUSE nosuchdb", "3D000"), ("KILL", "42601"),
             ("KILL_CLIENT 0x999999", "42704"), ("SHOW POOLS extra", "42601")]
    for text, code in cases:
        with pytest.raises(psycopg2.Error) as caught:
            with conn.cursor() as cur:
                cur.execute(text)
        assert caught.value.pgcode == code, (text, caught.value.pgerror)
    with conn.cursor() as cur:  # the session survives its errors
        cur.execute("SHOW VERSION")
        assert cur.fetchone()[0].startswith("Sluice")
    conn.close()


# ---------------------------------------------------------------- privileges

def test_a_user_outside_admin_and_stats_users_is_refused_with_42501(sluice):
    process = sluice(config())
    error = support.asyncpg_connect_error("127.0.0.1", process.port, "other", "other-secret", "sluice")
    assert error is not None and getattr(error, "sqlstate", None) == "42501", repr(error)
    error = support.asyncpg_connect_error("127.0.0.1", process.port, "other", "other-secret", "pgbouncer")
    assert getattr(error, "sqlstate", None) == "42501", repr(error)
    result = run_psql(process, "SHOW POOLS", user="other", password="other-secret")
    assert result.returncode != 0 and "not allowed to use the admin console" in result.stderr


def test_a_stats_user_can_show_but_not_act(sluice):
    process = sluice(config())
    assert {row["database"] for row in show(process, "POOLS", user="stats", password="stats-secret")} == {"app", "reports"}
    for what in ("CLIENTS", "SERVERS", "STATS", "DATABASES", "CONFIG", "LISTS", "VERSION", "LEAKS"):
        assert run_psql(process, f"SHOW {what}", user="stats", password="stats-secret").returncode == 0, what
    conn = process.connect("sluice", user="stats", password="stats-secret")
    for text in ("PAUSE", "RESUME", "RELOAD", "KILL app", "SHUTDOWN"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege) as caught:
            with conn.cursor() as cur:
                cur.execute(text)
        assert caught.value.pgcode == "42501"
    conn.close()
    assert by(show(process, "DATABASES"), "name")["app"]["paused"] == "0"
    assert process.running()
    result = run_psql(process, "PAUSE", user="stats", password="stats-secret")
    assert result.returncode != 0 and "requires admin privilege" in result.stderr


# ---------------------------------------------------------------- SHUTDOWN (last)

def test_shutdown_stops_the_process_with_status_0(sluice):
    process = sluice(config())
    conn = process.connect("app")
    with conn.cursor() as cur:
        cur.execute("select 1")
    assert command(process, "SHUTDOWN") == "SHUTDOWN"
    assert process.proc.wait(timeout=15) == 0
    assert not support.port_accepts("127.0.0.1", process.port)
    conn.close()
