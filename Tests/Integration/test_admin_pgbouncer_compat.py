"""Exporter compatibility: Sluice's console answers with PgBouncer 1.18's column names and types.

pgbouncer_exporter and similar tools read SHOW STATS / POOLS / DATABASES / LISTS / CONFIG by
column name (and decode by type). Debian's pgbouncer runs next to Sluice, both in front of the
test PostgreSQL; every PgBouncer column must appear in Sluice's result under the same name with
the same type OID, in PgBouncer's order, Sluice's own columns only after them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest

import support

pytestmark = pytest.mark.sluice_only

PGBOUNCER = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None)


def describe(dsn: str, query: str) -> list[tuple[str, int]]:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            cur.fetchall()
            return [(column.name, column.type_code) for column in cur.description]
    finally:
        conn.close()


@pytest.fixture
def pgbouncer(pg):
    """PgBouncer 1.18 on 127.0.0.1, run as the postgres OS user; yields its port; stopped by pid."""
    if PGBOUNCER is None:
        pytest.skip("pgbouncer is not installed (apt-get install -y pgbouncer)")
    version = subprocess.run([PGBOUNCER, "--version"], capture_output=True, text=True).stdout
    if "1.18" not in version:
        pytest.skip(f"the column lists are PgBouncer 1.18's; found {version.strip()!r}")
    workdir = Path(tempfile.mkdtemp(prefix="sluice-pgbouncer-"))
    port = support.free_port()
    (workdir / "userlist.txt").write_text('"app" "app-secret"\n')
    (workdir / "pgbouncer.ini").write_text(f"""
[databases]
app = host={support.PG_HOST} port={support.PG_PORT} dbname=app user=app password=app-secret
reports = host={support.PG_HOST} port={support.PG_PORT} dbname=fltr user=app password=app-secret

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {workdir}/userlist.txt
admin_users = app
pool_mode = transaction
default_pool_size = 4
logfile = {workdir}/pgbouncer.log
pidfile =
""")
    run_as: dict = {}
    if os.geteuid() == 0:
        import pwd

        entry = pwd.getpwnam("postgres")
        os.chown(workdir, entry.pw_uid, entry.pw_gid)
        for name in ("userlist.txt", "pgbouncer.ini"):
            os.chown(workdir / name, entry.pw_uid, entry.pw_gid)
        run_as = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    proc = subprocess.Popen([PGBOUNCER, str(workdir / "pgbouncer.ini")], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd="/", **run_as)
    try:
        support.wait_until(lambda: proc.poll() is not None or support.port_accepts("127.0.0.1", port), 10,
                           message="pgbouncer listening")
        if proc.poll() is not None:
            log = (workdir / "pgbouncer.log").read_text(errors="replace") if (workdir / "pgbouncer.log").exists() else ""
            pytest.fail(f"pgbouncer exited with {proc.returncode}:\n{log}", pytrace=False)
        yield port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # PgBouncer's immediate shutdown
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def both(sluice, pgbouncer):
    """(pgbouncer console DSN, sluice console DSN), with the same databases behind each."""
    databases = {
        "app": {"url": support.upstream_url("app", "app"), "pool_size": 4},
        "reports": {"url": support.upstream_url("fltr", "app"), "pool_size": 4},
    }
    process = sluice(support.sluice_config(databases=databases, admin_users=["app"]))
    # Some traffic on each, so every pool exists and has numbers.
    for port in (pgbouncer, process.port):
        conn = psycopg2.connect(support.make_dsn("127.0.0.1", port, "app", "app", "app-secret"))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select 1")
        conn.close()
    return (support.make_dsn("127.0.0.1", pgbouncer, "pgbouncer", "app", "app-secret"),
            support.make_dsn("127.0.0.1", process.port, "pgbouncer", "app", "app-secret"))


@pytest.mark.parametrize("command", ["SHOW STATS", "SHOW POOLS", "SHOW DATABASES", "SHOW CLIENTS", "SHOW SERVERS"])
def test_columns_match_pgbouncer_by_name_type_and_order(both, command):
    bouncer_dsn, sluice_dsn = both
    theirs = describe(bouncer_dsn, command)
    ours = describe(sluice_dsn, command)
    assert ours[:len(theirs)] == theirs, (
        f"{command}: PgBouncer's columns must lead Sluice's result with the same names and type OIDs\n"
        f"  pgbouncer: {theirs}\n  sluice:    {ours}")


@pytest.mark.parametrize("command", ["SHOW CONFIG", "SHOW LISTS"])
def test_column_sets_match_pgbouncer(both, command):
    """Rows differ by design (other settings, other lists); the columns must not."""
    bouncer_dsn, sluice_dsn = both
    theirs = set(describe(bouncer_dsn, command))
    ours = set(describe(sluice_dsn, command))
    assert theirs <= ours, f"{command}: missing {sorted(theirs - ours)} (sluice has {sorted(ours)})"


def test_list_names_match_pgbouncer(both):
    """SHOW LISTS rows are what exporters key on: PgBouncer's list names must all be there."""
    bouncer_dsn, sluice_dsn = both
    names = []
    for dsn in (bouncer_dsn, sluice_dsn):
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SHOW LISTS")
            names.append({row[0] for row in cur.fetchall()})
        conn.close()
    assert names[0] <= names[1], f"missing lists: {sorted(names[0] - names[1])}"
