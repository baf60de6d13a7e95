"""`sluice doctor`: one row per database with a verdict and a fix — OK against the test PostgreSQL, AUTH for a
wrong password, TCP for a closed port, DNS for a name that does not resolve, TLS when TLS is required but absent."""

from __future__ import annotations

import json
import subprocess

import pytest

import support

pytestmark = pytest.mark.sluice_only


def url(password: str = "app-secret", host: str = support.PG_HOST, port: int = support.PG_PORT,
        sslmode: str = "disable") -> str:
    return f"postgresql://app:{password}@{host}:{port}/app?sslmode={sslmode}"


def write_config(tmp_path, databases: dict[str, str], pool_size: int = 5):
    lines = ['[sluice]', 'listen = "127.0.0.1:6432"', f"default_pool_size = {pool_size}"]
    for name, database_url in databases.items():
        lines += ["", f"[databases.{name}]", f'url = "{database_url}"']
    path = tmp_path / "doctor.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def doctor(path, *args: str) -> subprocess.CompletedProcess:
    support.require_binary()
    return subprocess.run([support.SLUICE_BIN, "doctor", "--config", str(path), "--timeout", "5", *args],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env=support.sluice_environment())


def rows(result) -> dict[str, dict]:
    return {row["database"]: row for row in json.loads(result.stdout)["rows"]}


def test_reachable_database_is_ok(tmp_path, pg):
    path = write_config(tmp_path, {"app": url()})
    result = doctor(path, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    row = rows(result)["app"]
    assert (row["dns"], row["tcp"], row["tls"], row["auth"], row["verdict"]) == ("ok", "ok", "off", "ok", "OK")
    assert row["first_connect_ms"] > 0 and row["second_connect_ms"] > 0 and row["rtt_ms"] >= 0
    assert row["server_version"].startswith(pg.scalar("show server_version").split()[0])
    assert row["max_connections"] == int(pg.scalar("show max_connections"))
    assert row["reserved_connections"] >= int(pg.scalar("show superuser_reserved_connections"))



def test_each_host_of_a_multi_host_url_gets_its_row(tmp_path, pg):
    dead = support.free_port()
    multi = f"postgresql://app:app-secret@{support.PG_HOST}:{support.PG_PORT},{support.PG_HOST}:{dead}/app?sslmode=disable"
    path = write_config(tmp_path, {"app": multi})
    result = doctor(path, "--json")
    hosts = {row["port"]: row for row in json.loads(result.stdout)["rows"]}
    assert set(hosts) == {support.PG_PORT, dead}, result.stdout
    assert hosts[support.PG_PORT]["verdict"] == "OK"
    assert hosts[dead]["tcp"] == "FAIL", hosts[dead]
    assert result.returncode != 0, "a host that cannot be reached is a failure"


def test_table_output(tmp_path, pg):
    result = doctor(write_config(tmp_path, {"app": url()}))
    assert result.returncode == 0, result.stdout + result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header[:6] == ["database", "host", "dns", "tcp", "tls", "auth"] and header[-1] == "verdict"
    assert result.stdout.splitlines()[1].split()[-1] == "OK"
    assert "All 1 database(s) reachable." in result.stdout


def test_failures_get_verdicts_and_fixes(tmp_path, pg):
    closed_port = support.free_port()
    path = write_config(tmp_path, {
        "app": url(),
        "wrong_password": url(password="not-the-password"),
        "closed_port": url(port=closed_port),
        "no_dns": url(host="nonexistent.invalid"),
        "tls_required": url(sslmode="require"),
    })
    result = doctor(path, "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    found = rows(result)
    assert found["app"]["verdict"] == "OK"

    auth = found["wrong_password"]
    assert (auth["tcp"], auth["auth"], auth["verdict"]) == ("ok", "FAIL", "AUTH")
    assert "password authentication failed" in auth["message"]
    assert "check the password in databases.wrong_password.url" in auth["fix"]

    tcp = found["closed_port"]
    assert (tcp["dns"], tcp["tcp"], tcp["verdict"]) == ("ok", "FAIL", "TCP")
    assert "refused" in tcp["message"].lower()

    dns = found["no_dns"]
    assert (dns["dns"], dns["tcp"], dns["verdict"]) == ("FAIL", "-", "DNS")
    assert "could not translate host name" in dns["message"]

    tls = found["tls_required"]
    assert (tls["tls"], tls["verdict"]) == ("FAIL", "TLS")
    assert "does not support SSL" in tls["message"]

    text = doctor(path).stdout
    assert "4 of 5 database(s) failed." in text
    for name in ("wrong_password", "closed_port", "no_dns", "tls_required"):
        assert f"{name}: {found[name]['verdict']}: " in text
    assert text.count("  fix: ") == 4


def test_capacity_warning_for_replicas(tmp_path, pg):
    max_connections = int(pg.scalar("show max_connections"))
    path = write_config(tmp_path, {"app": url(), "again": url()}, pool_size=10)
    fits = doctor(path, "--json", "--replicas", "2")
    assert {row["verdict"] for row in rows(fits).values()} == {"OK"}
    replicas = max_connections // 20 + 1
    result = doctor(path, "--json", "--replicas", str(replicas))
    assert result.returncode == 0, "a capacity warning does not fail the check"
    for row in rows(result).values():
        assert row["verdict"] == "WARN"
        assert f"total 20 (again, app) × {replicas} replica(s) = {20 * replicas} exceeds" in row["warnings"][0]
