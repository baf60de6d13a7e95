"""TLS toward clients (client_tls modes, direct TLS, reload) and toward the upstream (sslmode, verify-full, channel binding)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time

import asyncpg
import psycopg
import pytest

import support
import tls_support

REQUIRE_MESSAGE = tls_support.REQUIRE_MESSAGE


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    ca = tls_support.make_ca(d, "test-ca")
    other_ca = tls_support.make_ca(d, "other-ca")
    server = tls_support.make_cert(d, "server", ca, "localhost", "DNS:localhost,IP:127.0.0.1")
    replacement = tls_support.make_cert(d, "server2", ca, "localhost", "DNS:localhost,IP:127.0.0.1")
    pg_server = tls_support.make_cert(d, "pgserver", ca, "localhost", "DNS:localhost")
    return {"dir": d, "ca": ca, "other_ca": other_ca, "server": server, "replacement": replacement,
            "pg_server": pg_server}


@pytest.fixture(scope="module")
def ssl_pg(certs):
    pg = support.Postgres()
    tls_support.enable_server_ssl(pg, *certs["pg_server"])
    yield pg
    tls_support.disable_server_ssl(pg)


def tls_config(certs, mode: str, **settings):
    cert, key = certs["server"]
    return support.sluice_config(client_tls=mode, client_tls_cert=str(cert), client_tls_key=str(key), **settings)


def psql(endpoint, sslmode: str, certs, host: str = "localhost") -> subprocess.CompletedProcess:
    env = endpoint.libpq_env()
    env.update(PGSSLMODE=sslmode, PGSSLROOTCERT=str(certs["ca"][0]), PGHOST=host, PGCONNECT_TIMEOUT="5")
    return subprocess.run(["psql", "-XAtc", "select 'ok'"], env=env, capture_output=True, text=True, timeout=30)


EXPECTED = {
    # client_tls: {client sslmode: outcome}
    "disable": {"disable": "plain", "require": "no-ssl", "verify-full": "no-ssl"},
    "allow": {"disable": "plain", "require": "tls", "verify-full": "tls"},
    "prefer": {"disable": "plain", "require": "tls", "verify-full": "tls"},
    "require": {"disable": "refused", "require": "tls", "verify-full": "tls"},
}


@pytest.mark.sluice_only
@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", "require"])
def test_client_tls_matrix(sluice, certs, mode):
    """Every client_tls mode against psql with sslmode=disable|require|verify-full."""
    s = sluice(tls_config(certs, mode))
    for sslmode, outcome in EXPECTED[mode].items():
        result = psql(s, sslmode, certs)
        if outcome in ("plain", "tls"):
            assert result.returncode == 0 and result.stdout.strip() == "ok", (mode, sslmode, result.stderr)
            env_dsn = s.dsn(sslmode=sslmode, sslrootcert=str(certs["ca"][0]))
            with psycopg.connect(env_dsn) as conn:
                assert conn.pgconn.ssl_in_use == (outcome == "tls"), (mode, sslmode)
        elif outcome == "no-ssl":
            assert result.returncode != 0
            assert "server does not support SSL" in result.stderr, result.stderr
        else:
            assert result.returncode != 0
            assert REQUIRE_MESSAGE in result.stderr, result.stderr


@pytest.mark.sluice_only
def test_require_error_code_before_auth(sluice, certs):
    s = sluice(tls_config(certs, "require"))
    error = support.asyncpg_connect_error("127.0.0.1", s.port, "app", "wrong-password", "app")
    assert error is not None and error.sqlstate == "28000" and REQUIRE_MESSAGE in error.message, error


@pytest.mark.sluice_only
def test_per_database_client_tls(sluice, certs):
    config = tls_config(certs, "prefer", databases={
        "app": {"url": support.upstream_url("app", "app")},
        "fltr": {"url": support.upstream_url("fltr", "app"), "client_tls": "require"},
    })
    s = sluice(config)
    assert psql(s, "disable", certs).returncode == 0
    env = s.libpq_env(dbname="fltr")
    env.update(PGSSLMODE="disable")
    result = subprocess.run(["psql", "-XAtc", "select 1"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and 'database "fltr" (client_tls=require)' in result.stderr


@pytest.mark.sluice_only
def test_asyncpg_and_psycopg_with_sslmode_require(sluice, certs):
    s = sluice(tls_config(certs, "require"))

    async def run():
        conn = await asyncpg.connect(host="127.0.0.1", port=s.port, user="app", password="app-secret",
                                     database="app", ssl="require")
        try:
            return await conn.fetchval("select 40 + $1::int", 2)
        finally:
            await conn.close()

    assert asyncio.run(run()) == 42
    with psycopg.connect(s.dsn(sslmode="require")) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("select %s::text", ("tls",)).fetchone() == ("tls",)


@pytest.mark.sluice_only
def test_direct_tls_with_alpn(sluice, certs):
    s = sluice(tls_config(certs, "require"))
    answer = tls_support.direct_tls_probe(s.port, certs["ca"][0], alpn=["postgresql"])
    assert answer[:1] == b"R", answer  # AuthenticationSASL: the startup packet was read inside TLS
    assert tls_support.direct_tls_probe(s.port, certs["ca"][0], alpn=None) == b""


@pytest.mark.sluice_only
def test_certificate_reload_keeps_connected_clients(sluice, certs, tmp_path):
    cert, key = tmp_path / "live.crt", tmp_path / "live.key"
    shutil.copyfile(certs["server"][0], cert)
    shutil.copyfile(certs["server"][1], key)
    s = sluice(support.sluice_config(client_tls="require", client_tls_cert=str(cert), client_tls_key=str(key)))
    assert tls_support.served_certificate(s.port) == tls_support.fingerprint(certs["server"][0])
    with psycopg.connect(s.dsn(sslmode="require"), autocommit=True) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        # A broken file at reload keeps the old certificate.
        cert.write_text("not a certificate")
        s.reload()
        support.wait_until(lambda: "keeping the previous one" in s.log_text(), 5, message="reload refusal")
        assert tls_support.served_certificate(s.port) == tls_support.fingerprint(certs["server"][0])
        # A good replacement takes over for new connections; the connected client keeps working.
        shutil.copyfile(certs["replacement"][0], cert)
        shutil.copyfile(certs["replacement"][1], key)
        s.reload()
        support.wait_until(lambda: tls_support.served_certificate(s.port) == tls_support.fingerprint(certs["replacement"][0]),
                           5, message="new certificate served")
        assert conn.execute("select 2").fetchone() == (2,)


def upstream(sslmode: str, host: str = "localhost", **params) -> str:
    return support.make_url(host, support.PG_PORT, "app", "app", "app-secret", sslmode=sslmode, **params)


def upstream_ssl_in_use(pg) -> list:
    return pg.sql("select s.ssl, s.version from pg_stat_ssl s join pg_stat_activity a using (pid) "
                  "where a.usename = 'app' and a.pid <> pg_backend_pid()")


@pytest.mark.sluice_only
def test_upstream_verify_full_and_channel_binding(sluice, ssl_pg, certs):
    url = upstream("verify-full", sslrootcert=str(certs["ca"][0]), channel_binding="require")
    s = sluice(support.sluice_config(pool_size=1, databases={"app": {"url": url}}))
    with s.connect() as conn, conn.cursor() as cur:
        cur.execute("select ssl from pg_stat_ssl where pid = pg_backend_pid()")
        assert cur.fetchone() == (True,)
    assert "server login failed" not in s.log_text()


@pytest.mark.sluice_only
@pytest.mark.parametrize("case", ["wrong-host", "unknown-ca"])
def test_upstream_verification_failures(sluice, ssl_pg, certs, case):
    if case == "wrong-host":
        url = upstream("verify-full", host="127.0.0.1", sslrootcert=str(certs["ca"][0]))
        reason = "IP address mismatch"  # the certificate names localhost only
    else:
        url = upstream("verify-full", sslrootcert=str(certs["other_ca"][0]))
        reason = "unable to get local issuer certificate"
    s = sluice(support.sluice_config(databases={"app": {"url": url}}))
    started = time.monotonic()
    error = support.asyncpg_connect_error("127.0.0.1", s.port, "app", "app-secret", "app")
    assert time.monotonic() - started < 10, "waiting clients must fail fast, not hang"
    assert error is not None and error.sqlstate == "08006", error
    assert reason in error.message, error
    log = s.log_text()
    assert "server login failed" in log and "database=app" in log and reason in log


@pytest.mark.sluice_only
def test_upstream_require_and_prefer_use_tls(sluice, ssl_pg):
    for mode in ("require", "prefer"):
        s = sluice(support.sluice_config(pool_size=1, databases={"app": {"url": upstream(mode)}}))
        with s.connect() as conn, conn.cursor() as cur:
            cur.execute("select ssl from pg_stat_ssl where pid = pg_backend_pid()")
            assert cur.fetchone() == (True,), mode
        s.stop()


@pytest.mark.sluice_only
def test_stalled_handshake_is_cut_at_client_login_timeout(sluice, certs):
    import socket
    import struct
    s = sluice(tls_config(certs, "require", client_login_timeout=1))
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    sock.sendall(struct.pack("!II", 8, 80877103))
    assert sock.recv(1) == b"S"
    started = time.monotonic()
    # Send nothing: no ClientHello. Sluice must close the connection at client_login_timeout,
    # while other clients keep being served.
    with psycopg.connect(s.dsn(sslmode="require")) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    assert sock.recv(1) == b""
    assert 0.8 <= time.monotonic() - started < 4
    sock.close()
