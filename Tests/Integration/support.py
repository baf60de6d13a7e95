"""Helpers for Sluice's integration suite: ports, DSNs, TOML, the sluice process, PostgreSQL.

Environment (set by scripts/test):
  SLUICE_BIN            the sluice executable (default: <repo>/.build/debug/sluice)
  SLUICE_TEST_PG_HOST   the test PostgreSQL's host (default 127.0.0.1)
  SLUICE_TEST_PG_PORT   ... and port (default 55432)
  SLUICE_TEST_DIRECT_PG=1  harness check only: the `sluice` fixture starts nothing and
                        hands out DSNs of PostgreSQL itself, so the test logic can be
                        validated without the proxy; tests marked `sluice_only` skip.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable

import psycopg2
import psycopg2.extras

REPO = Path(__file__).resolve().parents[2]
PG_HOST = os.environ.get("SLUICE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SLUICE_TEST_PG_PORT", "55432"))
SLUICE_BIN = os.environ.get("SLUICE_BIN", str(REPO / ".build" / "debug" / "sluice"))
DIRECT = os.environ.get("SLUICE_TEST_DIRECT_PG", "") not in ("", "0")

SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "postgres-secret"

# Roles and databases that scripts/lib/common.sh creates.
CREDENTIALS = {
    "postgres": "postgres-secret",
    "app": "app-secret",
    "other": "other-secret",
    "md5user": "md5-secret",
}

START_TIMEOUT = 10.0


# ---------------------------------------------------------------- small utilities

def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on host that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.1,
               message: str = "condition") -> Any:
    """Poll predicate until it returns something truthy; return it, or raise AssertionError."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {message} (last: {last!r})")
        time.sleep(interval)


def libpq_quote(value: Any) -> str:
    text = str(value)
    if text and re.fullmatch(r"[A-Za-z0-9_.\-/:@%+,]+", text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def make_dsn(host: str, port: int, dbname: str, user: str, password: str | None, **params: Any) -> str:
    """A libpq key=value connection string; sslmode=disable unless given."""
    fields: dict[str, Any] = {"host": host, "port": port, "dbname": dbname, "user": user}
    if password is not None:
        fields["password"] = password
    fields["sslmode"] = "disable"
    fields["connect_timeout"] = 10
    fields.update(params)
    return " ".join(f"{k}={libpq_quote(v)}" for k, v in fields.items() if v is not None)


def make_url(host: str, port: int, dbname: str, user: str, password: str | None, **params: Any) -> str:
    """A postgresql:// URL; sslmode=disable unless given."""
    auth = urllib.parse.quote(user, safe="")
    if password is not None:
        auth += ":" + urllib.parse.quote(password, safe="")
    query = {"sslmode": "disable"}
    query.update({k: str(v) for k, v in params.items() if v is not None})
    return f"postgresql://{auth}@{host}:{port}/{urllib.parse.quote(dbname, safe='')}?{urllib.parse.urlencode(query)}"


def upstream_url(dbname: str = "app", user: str = "app", password: str | None = None) -> str:
    """The URL of a database on the test PostgreSQL, as a [databases.*] url."""
    if password is None:
        password = CREDENTIALS[user]
    return make_url(PG_HOST, PG_PORT, dbname, user, password)


# ---------------------------------------------------------------- TOML

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a TOML value")


def to_toml(document: dict, _prefix: tuple[str, ...] = ()) -> str:
    """Write a dict of tables (nested dicts) as TOML."""
    lines: list[str] = []
    scalars = {k: v for k, v in document.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in document.items() if isinstance(v, dict)}
    if scalars:
        if _prefix:
            lines.append("[" + ".".join(_toml_key(p) for p in _prefix) + "]")
        for k, v in scalars.items():
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
        lines.append("")
    for k, v in tables.items():
        lines.append(to_toml(v, _prefix + (k,)))
    return "\n".join(lines)


def sluice_config(pool_mode: str = "transaction", pool_size: int = 5,
                  databases: dict[str, dict] | None = None,
                  users: dict[str, dict] | None = None, **settings: Any) -> dict:
    """A config dict: [sluice] with pool_mode and settings, [databases.*] (default: app), [users.*]."""
    if databases is None:
        databases = {"app": {"url": upstream_url("app", "app")}}
    config: dict[str, Any] = {"sluice": {"pool_mode": pool_mode, **settings}, "databases": {}}
    for name, db in databases.items():
        entry = dict(db)
        entry.setdefault("pool_size", pool_size)
        config["databases"][name] = entry
    if users:
        config["users"] = users
    return config


# ---------------------------------------------------------------- the sluice process

def sluice_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a sluice process: ours without SLUICE_* variables (sluice reads
    SLUICE_<KEY> as config overrides and refuses unknown ones, such as SLUICE_BIN), plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    # SLUICE_TEST_WORKERS=N runs every sluice of the suite with `workers = N`.
    if os.environ.get("SLUICE_TEST_WORKERS"):
        env["SLUICE_WORKERS"] = os.environ["SLUICE_TEST_WORKERS"]
    env.update(extra or {})
    return env


def require_binary() -> None:
    """Fail the test (not error out obscurely) when SLUICE_BIN is missing."""
    import pytest

    if not (os.path.isfile(SLUICE_BIN) and os.access(SLUICE_BIN, os.X_OK)):
        pytest.fail(f"sluice binary not found at {SLUICE_BIN} (run `swift build`)", pytrace=False)


class Endpoint:
    """What a client needs to reach a pooler (or, in direct mode, PostgreSQL itself)."""

    host = "127.0.0.1"
    port: int

    def _target(self, dbname: str) -> tuple[str, int, str]:
        return self.host, self.port, dbname

    def dsn(self, dbname: str = "app", user: str = "app", password: str | None = "app-secret", **params: Any) -> str:
        host, port, db = self._target(dbname)
        return make_dsn(host, port, db, user, password, **params)

    def url(self, dbname: str = "app", user: str = "app", password: str | None = "app-secret", **params: Any) -> str:
        host, port, db = self._target(dbname)
        return make_url(host, port, db, user, password, **params)

    def libpq_env(self, dbname: str = "app", user: str = "app", password: str | None = "app-secret") -> dict[str, str]:
        """os.environ plus PGHOST/PGPORT/... for command-line clients (pgbench, psql)."""
        host, port, db = self._target(dbname)
        env = dict(os.environ)
        env.update(PGHOST=host, PGPORT=str(port), PGDATABASE=db, PGUSER=user, PGSSLMODE="disable",
                   PGCONNECT_TIMEOUT="10")
        env.pop("PGPASSWORD", None)
        if password is not None:
            env["PGPASSWORD"] = password
        return env

    def connect(self, dbname: str = "app", user: str = "app", password: str | None = "app-secret",
                autocommit: bool = True, **params: Any):
        """A psycopg2 connection through this endpoint."""
        conn = psycopg2.connect(self.dsn(dbname, user, password, **params))
        conn.autocommit = autocommit
        return conn


class SluiceProcess(Endpoint):
    """A running `sluice --config FILE`; stop() or the fixture's teardown ends it by pid."""

    def __init__(self, config_text: str, workdir: Path, port: int, name: str = "sluice",
                 env: dict[str, str] | None = None):
        self.port = port
        self.start_failed = False
        self.workdir = workdir
        self.config_text = config_text
        self.config_path = workdir / f"{name}.toml"
        self.log_path = workdir / f"{name}.log"
        self.config_path.write_text(config_text)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [SLUICE_BIN, "--config", str(self.config_path)],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, cwd=str(workdir),
            env=sluice_environment(env),
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_listening(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SluiceStartError(
                    f"sluice exited with status {self.proc.returncode} before listening on "
                    f"127.0.0.1:{self.port}", self)
            if port_accepts(self.host, self.port, timeout=0.2):
                return
            time.sleep(0.05)
        raise SluiceStartError(f"sluice did not listen on 127.0.0.1:{self.port} within {timeout:.0f}s", self)

    def reload(self) -> None:
        """SIGHUP: re-read the config file (write config_path first to change it)."""
        os.kill(self.proc.pid, signal.SIGHUP)

    def write_config(self, config_text: str) -> None:
        self.config_text = config_text
        self.config_path.write_text(config_text)

    def upstream_ports(self) -> set[int]:
        """Local ports of sluice's current connections to the test PostgreSQL."""
        if self.proc.poll() is not None:
            return set()
        return upstream_client_ports(self.proc.pid)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to timeout, then SIGKILL. Returns the exit status."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        if not self._log.closed:
            self._log.close()
        return self.proc.returncode


class SluiceStartError(Exception):
    def __init__(self, message: str, process: SluiceProcess):
        super().__init__(f"{message}\n--- sluice log ({process.log_path}) ---\n{process.log_tail(60)}")
        self.process = process


class DirectPostgres(Endpoint):
    """Stand-in for SluiceProcess in SLUICE_TEST_DIRECT_PG=1 mode: PostgreSQL itself.

    Database names map through the config's [databases.NAME] url, as sluice would map them.
    """

    pid = None

    def __init__(self, config: dict | None):
        self.host = PG_HOST
        self.port = PG_PORT
        self.aliases: dict[str, str] = {}
        for name, db in ((config or {}).get("databases") or {}).items():
            url = db.get("url") if isinstance(db, dict) else None
            if url:
                self.aliases[name] = urllib.parse.unquote(urllib.parse.urlparse(url).path.lstrip("/")) or name

    def _target(self, dbname: str) -> tuple[str, int, str]:
        return self.host, self.port, self.aliases.get(dbname, dbname)

    def upstream_ports(self) -> set[int] | None:
        return None  # no proxy: every session is the client's own

    def log_text(self) -> str:
        return ""

    def log_tail(self, lines: int = 60) -> str:
        return ""

    def running(self) -> bool:
        return True

    def reload(self) -> None:
        pass

    def stop(self, timeout: float = 10.0) -> None:
        return None


def render_config(config: str | dict, port: int) -> str:
    """TOML text for a config given as text with {port}/{pg_port}/{pg_host} placeholders or a dict."""
    if isinstance(config, dict):
        config = {k: (dict(v) if isinstance(v, dict) else v) for k, v in config.items()}
        config.setdefault("sluice", {})
        config["sluice"].setdefault("listen", f"127.0.0.1:{port}")
        # Keep [sluice] first.
        config = {"sluice": config.pop("sluice"), **config}
        return to_toml(config)
    text = config.replace("{port}", str(port)).replace("{pg_port}", str(PG_PORT)).replace("{pg_host}", PG_HOST)
    if not re.search(r"^\s*listen\s*=", text, re.M):
        raise ValueError("a config given as text needs `listen = \"127.0.0.1:{port}\"` in [sluice]")
    return text


# ---------------------------------------------------------------- PostgreSQL as superuser

class Postgres:
    """The test PostgreSQL, reached directly as the superuser."""

    def __init__(self, host: str = PG_HOST, port: int = PG_PORT):
        self.host = host
        self.port = port

    def dsn(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None, **params: Any) -> str:
        if password is None:
            password = CREDENTIALS.get(user)
        return make_dsn(self.host, self.port, dbname, user, password, **params)

    @property
    def superuser_dsn(self) -> str:
        return self.dsn()

    def connect(self, dbname: str = "postgres", user: str = SUPERUSER, autocommit: bool = True):
        conn = psycopg2.connect(self.dsn(dbname, user))
        conn.autocommit = autocommit
        return conn

    def sql(self, query: str, params: Any = None, dbname: str = "postgres") -> list[tuple] | None:
        """Run one statement as superuser (autocommit); rows if it returns any."""
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall() if cur.description is not None else None
        finally:
            conn.close()

    def terminate_ports(self, client_ports: set[int]) -> None:
        """End the upstream sessions that came from these client ports."""
        if client_ports:
            self.sql("select pg_terminate_backend(pid) from pg_stat_activity where client_port = any(%s) "
                     "and pid <> pg_backend_pid()", (sorted(client_ports),))

    def scalar(self, query: str, params: Any = None, dbname: str = "postgres") -> Any:
        rows = self.sql(query, params, dbname)
        return rows[0][0] if rows else None

    def activity(self, usename: str = "app", dbname: str | None = None,
                 client_ports: set[int] | None = None) -> list[dict]:
        """Client backends of a user in pg_stat_activity (only those from client_ports, if given)."""
        query = ("select pid, datname, usename, state, query, application_name, client_addr::text, client_port "
                 "from pg_stat_activity where backend_type = 'client backend' and usename = %s")
        params: list[Any] = [usename]
        if client_ports is not None:
            query += " and client_port = any(%s)"
            params.append(sorted(client_ports))
        if dbname is not None:
            query += " and datname = %s"
            params.append(dbname)
        conn = self.connect()
        try:
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                cur.execute(query, params)
                return [dict(r) for r in cur.fetchall()]
        finally:
            conn.close()


# ---------------------------------------------------------------- a process's TCP connections

def upstream_client_ports(pid: int, remote_port: int = PG_PORT) -> set[int]:
    """Local ports of the TCP connections that process pid holds to remote_port (from /proc):
    matched against pg_stat_activity.client_port they pick out that process's upstream sessions."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return set()
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if len(fields) > 9 and fields[9] in inodes and int(fields[2].rsplit(":", 1)[1], 16) == remote_port:
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports


# ---------------------------------------------------------------- raw protocol probes

def _read_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def parse_error_fields(body: bytes) -> dict[str, str]:
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode(errors="replace")
    return fields


def first_auth_request(host: str, port: int, user: str, database: str, timeout: float = 5.0) -> int | dict:
    """Send a StartupMessage and return the first Authentication request code
    (0 ok, 3 cleartext, 5 md5, 10 SASL), or the ErrorResponse fields as a dict."""
    params = b"user\0" + user.encode() + b"\0database\0" + database.encode() + b"\0\0"
    packet = struct.pack("!ii", 8 + len(params), 196608) + params
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(packet)
        kind = _read_exact(sock, 1)
        (length,) = struct.unpack("!i", _read_exact(sock, 4))
        body = _read_exact(sock, length - 4)
        if kind == b"R":
            return struct.unpack("!i", body[:4])[0]
        if kind == b"E":
            return parse_error_fields(body)
        raise AssertionError(f"unexpected first message {kind!r} from 127.0.0.1:{port}")


def asyncpg_connect_error(host: str, port: int, user: str, password: str | None, database: str):
    """Try to connect with asyncpg (which reports SQLSTATE for startup errors).
    Returns the exception (asyncpg.PostgresError has .sqlstate and .message), or None if it connected."""
    import asyncio

    import asyncpg

    async def attempt():
        try:
            conn = await asyncpg.connect(host=host, port=port, user=user, password=password,
                                         database=database, ssl=False, timeout=10)
        except Exception as exc:  # noqa: BLE001 - the caller inspects it
            return exc
        await conn.close()
        return None

    return asyncio.run(attempt())
