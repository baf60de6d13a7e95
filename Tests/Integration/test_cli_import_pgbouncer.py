"""`sluice import-pgbouncer`: a realistic pgbouncer.ini + userlist.txt becomes a config that check-config
accepts and that sluice serves, with every setting left behind listed and explained."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import subprocess
import tomllib

import pytest

import support

pytestmark = pytest.mark.sluice_only


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """A SCRAM-SHA-256 verifier as PostgreSQL stores it (pg_authid.rolpassword)."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(hashlib.sha256(client_key).digest())}:{b64(server_key)}"


def write_pgbouncer_files(directory):
    pg = f"host={support.PG_HOST} port={support.PG_PORT}"
    (directory / "pgbouncer.ini").write_text(f"""\
;; PgBouncer for the app cluster (production copy)
[databases]
app = {pg} dbname=app user=app pool_size=4
fltr = {pg} dbname=fltr user=app pool_mode=session timezone=Asia/Tokyo application_name=imported
reports = {pg} dbname=app user=other
* = {pg}
%include databases-extra.ini

[pgbouncer]
logfile = /var/log/postgresql/pgbouncer.log
pidfile = /var/run/postgresql/pgbouncer.pid
listen_addr = 127.0.0.1
listen_port = 6432
unix_socket_dir = /var/run/postgresql
auth_type = scram-sha-256
auth_file = userlist.txt
admin_users = postgres
stats_users = other
pool_mode = transaction
server_reset_query = DISCARD ALL
ignore_startup_parameters = extra_float_digits
max_client_conn = 400
default_pool_size = 10
min_pool_size = 1
server_lifetime = 1800
server_idle_timeout = 300
server_connect_timeout = 5
server_login_retry = 3
query_wait_timeout = 45
client_login_timeout = 30
max_packet_size = 2147483647
verbose = 1
server_tls_sslmode = disable
server_round_robin = 1
so_reuseport = 1
auth_query = SELECT usename, passwd FROM pgbouncer.get_auth($1)
reserve_pool_size = 5
tcp_keepalive = 1
made_up_setting = 42

[users]
other = pool_mode=session
""")
    (directory / "databases-extra.ini").write_text(
        "legacy = host=/var/run/postgresql dbname=legacy user=app reserve_pool=2\n")
    (directory / "userlist.txt").write_text(
        '"app" "app-secret"\n'
        f'"other" "{scram_verifier("other-secret")}"\n'
        '"postgres" "postgres-secret"\n'
        '"old_md5" "md5d41d8cd98f00b204e9800998ecf8427e"\n')


def run_import(directory, *args):
    support.require_binary()
    return subprocess.run([support.SLUICE_BIN, "import-pgbouncer", *args], capture_output=True, text=True,
                          timeout=30, cwd=directory, stdin=subprocess.DEVNULL, env=support.sluice_environment())


def check_config(path):
    return subprocess.run([support.SLUICE_BIN, "check-config", "--config", str(path)], capture_output=True, text=True,
                          timeout=30, env=support.sluice_environment())


@pytest.fixture
def imported(tmp_path):
    write_pgbouncer_files(tmp_path)
    output = tmp_path / "sluice.toml"
    result = run_import(tmp_path, str(tmp_path / "pgbouncer.ini"), "--output", str(output))
    assert result.returncode == 0, result.stdout + result.stderr
    return output, result.stdout


def test_generated_file_passes_check_config(imported):
    output, _ = imported
    result = check_config(output)
    assert result.returncode == 0, result.stdout + result.stderr + output.read_text()


def test_settings_carried_over(imported):
    output, _ = imported
    config = tomllib.loads(output.read_text())
    general = config["sluice"]
    assert general["listen"] == "127.0.0.1:6432"
    assert general["pool_mode"] == "transaction"
    assert general["client_auth"] == "scram-sha-256"
    assert general["admin_users"] == ["postgres"] and general["stats_users"] == ["other"]
    assert (general["max_client_conn"], general["default_pool_size"], general["min_pool_size"]) == (400, 10, 1)
    assert (general["server_lifetime"], general["server_idle_timeout"], general["server_connect_timeout"]) == (1800, 300, 5)
    assert (general["server_login_retry"], general["query_wait_timeout"], general["client_login_timeout"]) == (3, 45, 30)
    assert general["server_reset_query"] == "DISCARD ALL"
    assert general["max_packet_size"] == 1 << 30
    assert general["log_level"] == "debug"
    databases = config["databases"]
    assert set(databases) == {"app", "fltr", "reports", "legacy"}
    assert databases["app"]["url"] == f"postgresql://app:app-secret@{support.PG_HOST}:{support.PG_PORT}/app?sslmode=disable"
    assert databases["app"]["pool_size"] == 4
    assert databases["fltr"]["pool_mode"] == "session"
    assert "options=-c%20TimeZone%3DAsia%2FTokyo" in databases["fltr"]["url"]
    assert "application_name=imported" in databases["fltr"]["url"]
    assert databases["reports"]["url"].startswith("postgresql://other@"), "a verifier cannot log in upstream"
    assert config["users"]["other"]["password"].startswith("SCRAM-SHA-256$")
    assert "old_md5" not in config.get("users", {})


def test_report_lists_what_was_left_behind(imported):
    _, report = imported
    expected = {
        "ignore_startup_parameters": "every startup parameter",
        "auth_query": "[users]",
        "server_round_robin": "",
        "so_reuseport": "",
        "unix_socket_dir": "TCP",
        "logfile": "standard error",
        "reserve_pool_size": "reserve pool",
        "made_up_setting": "unknown",
        "databases.*": "catch-all",
        "databases.legacy.reserve_pool": "reserve pool",
        "other": "per-user settings",
        "users.old_md5": "md5",
        "max_packet_size": "1073741824",
    }
    for key, reason in expected.items():
        lines = [line for line in report.splitlines() if re.search(rf": {re.escape(key)}: ", line)]
        assert lines, f"{key} missing from the report:\n{report}"
        assert reason in lines[0], lines[0]
    assert re.search(r"databases-extra\.ini:1: databases\.legacy\.reserve_pool", report), "locations name the file"
    fill = report.split("Fill in before use:")[1].split("Not carried over")[0]
    assert "databases.reports.url" in fill and "verifier" in fill
    assert "databases.legacy.url" in fill and "Unix socket" in fill


def test_stdout_mode_and_explicit_userlist(tmp_path):
    write_pgbouncer_files(tmp_path)
    (tmp_path / "other-userlist.txt").write_text('"app" "from-the-other-file"\n')
    result = run_import(tmp_path, "pgbouncer.ini", "other-userlist.txt")
    assert result.returncode == 0, result.stderr
    config = tomllib.loads(result.stdout)
    assert "from-the-other-file" in config["databases"]["app"]["url"]
    assert "Not carried over" in result.stderr and "Not carried over" not in result.stdout.split("# Not carried")[0]


def test_sluice_serves_the_imported_config(imported, sluice, pg):
    """The app user's plaintext password went into its URL; `other` logs in with its SCRAM verifier from
    [users] and runs upstream as the database URL's user."""
    output, _ = imported
    text = output.read_text().replace('listen = "127.0.0.1:6432"', 'listen = "127.0.0.1:{port}"')
    text = re.sub(r'^admin_listen = .*$', "", text, flags=re.M)
    process = sluice(text)
    with process.connect("app", "app", "app-secret") as conn, conn.cursor() as cur:
        cur.execute("select current_user, current_database()")
        assert cur.fetchone() == ("app", "app")
    conn.close()
    conn = process.connect("app", "other", "other-secret")
    try:
        with conn.cursor() as cur:
            cur.execute("select current_user")
            assert cur.fetchone() == ("app",)
    finally:
        conn.close()
    conn = process.connect("fltr", "app", "app-secret")
    try:
        with conn.cursor() as cur:
            cur.execute("show timezone")
            assert cur.fetchone() == ("Asia/Tokyo",)
    finally:
        conn.close()
