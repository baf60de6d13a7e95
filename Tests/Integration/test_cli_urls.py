"""`sluice urls`: every printed connection setting actually connects, client by client, through sluice."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import support
import tls_support

pytestmark = pytest.mark.sluice_only

JDBC_JAR = Path("/usr/share/java/postgresql.jar")


def run_urls(process, *args: str) -> subprocess.CompletedProcess:
    support.require_binary()
    result = subprocess.run([support.SLUICE_BIN, "urls", "--config", str(process.config_path), *args],
                            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                            env=support.sluice_environment())
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def settings_of(process, database: str = "app", *args: str) -> dict:
    document = json.loads(run_urls(process, "--json", "--show-passwords", *args).stdout)
    return next(d for d in document["databases"] if d["database"] == database)


def text_block(text: str, label: str) -> list[str]:
    """The indented lines under `label` in the text output (indentation removed)."""
    lines = text.splitlines()
    start = lines.index(label) + 1
    block = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        block.append(line[2:])
    return block


@pytest.fixture
def plain(sluice):
    return sluice(support.sluice_config())


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    ca = tls_support.make_ca(d, "urls-ca")
    return {"ca": ca, "server": tls_support.make_cert(d, "server", ca, "localhost", "DNS:localhost,IP:127.0.0.1")}


@pytest.fixture
def with_tls(sluice, certs):
    cert, key = certs["server"]
    return sluice(support.sluice_config(client_tls="require", client_tls_cert=str(cert), client_tls_key=str(key)))


# ---------------------------------------------------------------- output

def test_passwords_hidden_unless_asked(plain):
    text = run_urls(plain).stdout
    data = run_urls(plain, "--json").stdout
    for output in (text, data):
        assert "app-secret" not in output
        assert "<password>" in output
    assert "app-secret" in run_urls(plain, "--show-passwords").stdout


def test_text_shows_every_json_value(plain):
    text = run_urls(plain, "--show-passwords").stdout
    settings = settings_of(plain)
    for key in ("libpq_url", "libpq_dsn", "node_postgres", "postgres_js", "prisma", "sqlalchemy_asyncpg",
                "sqlalchemy_psycopg", "jdbc"):
        assert settings[key] in text, key
    assert settings["asyncpg"]["code"] in text
    assert settings["sslmode"] == "disable"


def test_transaction_mode_advice(plain, sluice):
    settings = settings_of(plain)
    assert "pgbouncer=true" not in settings["prisma"]
    assert "connection_limit=" in settings["prisma"]
    assert any("pgbouncer=true" in note and "Prisma" in note for note in settings["notes"])
    assert settings["django"]["DISABLE_SERVER_SIDE_CURSORS"] is True
    session = sluice(support.sluice_config(pool_mode="session"))
    assert settings_of(session)["django"]["DISABLE_SERVER_SIDE_CURSORS"] is False


def test_host_and_port_options(plain):
    settings = settings_of(plain, "app", "--host", "pooler.example.internal", "--port", "7432")
    assert settings["libpq_url"].startswith("postgresql://app:app-secret@pooler.example.internal:7432/app?")
    assert settings["jdbc"].startswith("jdbc:postgresql://pooler.example.internal:7432/app?")


# ---------------------------------------------------------------- each client connects

def psql_select(url: str) -> str:
    result = subprocess.run(["psql", "-XAtc", "select 'ok'", url], capture_output=True, text=True, timeout=30,
                            env={k: v for k, v in os.environ.items() if not k.startswith("PG")})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def psycopg2_select(dsn: str):
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("select 1")
            return cur.fetchone()[0]
    finally:
        conn.close()


def psycopg3_select(dsn: str):
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(dsn) as conn:
        return conn.execute("select 1").fetchone()[0]


def asyncpg_select(dsn: str, ssl: str):
    asyncpg = pytest.importorskip("asyncpg")

    async def run():
        conn = await asyncpg.connect(dsn, ssl=ssl, timeout=10)
        try:
            return await conn.fetchval("select 1")
        finally:
            await conn.close()

    return asyncio.run(run())


def sqlalchemy_select(url: str):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sqlalchemy.text("select 1")).scalar()
    finally:
        engine.dispose()


def sqlalchemy_async_select(url: str):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("greenlet", reason="SQLAlchemy's asyncio needs greenlet (pip install 'sqlalchemy[asyncio]')")
    from sqlalchemy.ext.asyncio import create_async_engine

    async def run():
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(sqlalchemy.text("select 1"))).scalar()
        finally:
            await engine.dispose()

    return asyncio.run(run())


DJANGO_SCRIPT = textwrap.dedent("""
    import sys
    import django
    from django.conf import settings
    namespace = {}
    exec(sys.stdin.read(), namespace)
    settings.configure(DATABASES=namespace["DATABASES"], INSTALLED_APPS=[], USE_TZ=True)
    django.setup()
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("select 1")
        print(cursor.fetchone()[0])
    connection.close()
""")


def django_select(databases_python: str) -> str:
    pytest.importorskip("django")
    result = subprocess.run([sys.executable, "-c", DJANGO_SCRIPT], input=databases_python, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


JAVA_PROGRAM = textwrap.dedent("""
    import java.sql.*;

    public class SelectOne {
        public static void main(String[] args) throws Exception {
            try (Connection c = DriverManager.getConnection(args[0]);
                 Statement s = c.createStatement();
                 ResultSet r = s.executeQuery("select 1")) {
                r.next();
                System.out.println(r.getInt(1));
            }
        }
    }
""")


def ensure_jdbc():
    if not JDBC_JAR.exists() or shutil.which("java") is None:
        if os.geteuid() == 0 and shutil.which("apt-get"):
            subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "libpostgresql-jdbc-java",
                            "default-jre-headless"], capture_output=True, timeout=900,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if not JDBC_JAR.exists() or shutil.which("java") is None:
        pytest.skip("JDBC driver or java not installed (apt-get install libpostgresql-jdbc-java default-jre-headless)")


def jdbc_select(url: str, workdir: Path) -> str:
    ensure_jdbc()
    source = workdir / "SelectOne.java"
    source.write_text(JAVA_PROGRAM)
    if shutil.which("javac"):
        compiled = subprocess.run(["javac", "-cp", str(JDBC_JAR), "-d", str(workdir), str(source)],
                                  capture_output=True, text=True, timeout=120)
        assert compiled.returncode == 0, compiled.stderr
        command = ["java", "-cp", f"{JDBC_JAR}:{workdir}", "SelectOne", url]
    else:  # a JRE alone runs a single source file
        command = ["java", "-cp", str(JDBC_JAR), str(source), url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_psql_url(plain):
    assert psql_select(settings_of(plain)["libpq_url"]) == "ok"


def test_psycopg2_and_psycopg3_dsn(plain):
    dsn = settings_of(plain)["libpq_dsn"]
    assert psycopg2_select(dsn) == 1
    assert psycopg3_select(dsn) == 1


def test_asyncpg_url_and_ssl_argument(plain):
    asyncpg = settings_of(plain)["asyncpg"]
    assert asyncpg["ssl"] == "disable" and "sslmode" not in asyncpg["dsn"]
    assert asyncpg_select(asyncpg["dsn"], asyncpg["ssl"]) == 1


def test_sqlalchemy_psycopg(plain):
    settings = settings_of(plain)
    assert settings["sqlalchemy_psycopg"].startswith("postgresql+psycopg://")
    assert sqlalchemy_select(settings["sqlalchemy_psycopg"]) == 1


def test_sqlalchemy_asyncpg(plain):
    settings = settings_of(plain)
    assert settings["sqlalchemy_asyncpg"].startswith("postgresql+asyncpg://")
    assert sqlalchemy_async_select(settings["sqlalchemy_asyncpg"]) == 1


def test_django_settings_from_printed_dict(plain):
    text = run_urls(plain, "--show-passwords").stdout
    block = "\n".join(text_block(text, "Django (settings.py):"))
    assert '"ENGINE": "django.db.backends.postgresql"' in block
    assert '"DISABLE_SERVER_SIDE_CURSORS": True' in block
    assert django_select(block) == "1"


def test_jdbc_url(plain, tmp_path):
    url = settings_of(plain)["jdbc"]
    assert url.startswith("jdbc:postgresql://127.0.0.1:") and "sslmode=disable" in url
    assert jdbc_select(url, tmp_path) == "1"


# ---------------------------------------------------------------- with client TLS: sslmode=require everywhere

def test_tls_settings_say_require_and_connect(with_tls, tmp_path):
    settings = settings_of(with_tls)
    assert settings["sslmode"] == "require"
    assert settings["libpq_url"].endswith("sslmode=require")
    assert "sslmode=require" in settings["libpq_dsn"]
    assert settings["asyncpg"]["ssl"] == "require"
    assert settings["sqlalchemy_asyncpg"].endswith("?ssl=require")
    assert settings["sqlalchemy_psycopg"].endswith("?sslmode=require")
    assert settings["django"]["OPTIONS"] == {"sslmode": "require"}
    assert psql_select(settings["libpq_url"]) == "ok"
    assert psycopg2_select(settings["libpq_dsn"]) == 1
    assert asyncpg_select(settings["asyncpg"]["dsn"], settings["asyncpg"]["ssl"]) == 1
    assert sqlalchemy_select(settings["sqlalchemy_psycopg"]) == 1
    assert jdbc_select(settings["jdbc"], tmp_path) == "1"
    assert sqlalchemy_async_select(settings["sqlalchemy_asyncpg"]) == 1  # last: may skip without greenlet
