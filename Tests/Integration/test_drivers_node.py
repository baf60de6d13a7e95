"""node-postgres (`pg`, Debian's node-pg 8.8.0) through Sluice, used the way Next.js apps use it.

Each test runs a small Node program from drivers/node/ (CommonJS, `require('pg')`, parameters as
JSON in argv, results as JSON on stdout) with NODE_PATH from SLUICE_TEST_NODE_PATH (scripts/test
sets it; without it the tests ask scripts/lib/common.sh's sluice_node_pg). When node or pg cannot
be loaded the tests fail: they never skip.

- pool_workload.js: one pg.Pool (max 10), 40 concurrent async tasks of named prepared statements
  ({name, text, values}) through pool.query, plus BEGIN/COMMIT/ROLLBACK on checked-out clients and
  errors inside transactions, through transaction mode with pool_size 3, so each pool client's
  named statements run on several servers. Results must equal the same workload run directly
  against PostgreSQL, both tables must hold exactly the rows the model expects, and at least one
  pool client must have run its named statement on more than one server.
- client_burst.js: 200 short-lived pg.Clients (connect, a named statement, a simple query, end), 50
  at a time, as serverless invocations do: no error, and no more servers than pool_size.
- two_databases.js: pools for `fltr` and `fltr_auth` through one Sluice, the same statement names
  and texts and the same table name in both: current_database() per connection, no mixing of rows.
- tls_connect.js: client TLS with the suite's test CA: verified with `ca` (and SHOW CLIENTS shows
  the connection's TLS version, the served certificate is Sluice's), refused without the CA (a
  certificate error), accepted with rejectUnauthorized: false, and a plaintext client of a
  client_tls = "require" Sluice gets Sluice's FATAL 28000 as err.code.
- error_codes.js: 22012, 23505, 42P01, 42601 (simple and named), 25P02 in a failed transaction,
  each followed by a working query on the same pool; compared with PostgreSQL itself.
- urls_pool.js: the node_postgres line of `sluice urls`, evaluated verbatim, without and with
  client TLS; and the TLS note's verify-full&sslrootcert advice for node-postgres.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import psycopg2
import pytest

import support
import tls_support

NODE_DIR = Path(__file__).resolve().parent / "drivers" / "node"
PASSWORD = support.CREDENTIALS["app"]
POOL_SIZE = 3
TASKS = 40
ITERATIONS = 10
WORKERS = int(os.environ.get("SLUICE_TEST_WORKERS") or 1)

pytestmark = pytest.mark.timeout(120)


# ---------------------------------------------------------------- running node

@pytest.fixture(scope="module")
def node_path() -> str:
    """NODE_PATH under which `require('pg')` works; fails the test when there is none."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found (scripts/test's sluice_node_pg installs Debian's nodejs)", pytrace=False)
    path = os.environ.get("SLUICE_TEST_NODE_PATH", "")
    if not path:
        done = subprocess.run(["bash", "-c", ". scripts/lib/common.sh && sluice_node_pg"], cwd=support.REPO,
                              capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            pytest.fail(f"sluice_node_pg failed ({done.returncode}):\n{done.stderr[-2000:]}", pytrace=False)
        path = lines[-1]
    check = subprocess.run([node, "-p", "require('pg/package.json').version"], env=node_environment(path),
                           capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        pytest.fail(f"node cannot load pg with NODE_PATH={path}:\n{check.stderr[-2000:]}", pytrace=False)
    return path


def node_environment(path: str) -> dict[str, str]:
    """Ours without PG* variables (node-postgres reads PGSSLMODE, PGHOST, ...) or extra CAs, plus NODE_PATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PG") and k not in ("NODE_EXTRA_CA_CERTS", "NODE_OPTIONS")}
    env["NODE_PATH"] = path
    return env


def run_node(node_path: str, program: str, params: dict, timeout: float = 60) -> dict:
    """`node drivers/node/PROGRAM params-as-JSON`; its JSON result. Fails on a non-zero exit."""
    params = {"timeoutMs": int(timeout * 1000) - 2000, **params}
    try:
        done = subprocess.run(["node", str(NODE_DIR / program), json.dumps(params)], env=node_environment(node_path),
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{program} still running after {timeout:.0f} s:\n{(exc.stderr or b'')[-2000:]!r}", pytrace=False)
    assert done.returncode == 0, f"{program} exited {done.returncode}:\n{done.stderr[-3000:]}\n{done.stdout[-1000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def conn_params(endpoint, dbname: str = "app", user: str = "app", password: str = PASSWORD) -> dict:
    host, port, database = endpoint._target(dbname)
    return {"host": host, "port": port, "user": user, "password": password, "database": database}


def direct_endpoint(config: dict | None = None) -> support.Endpoint:
    return support.DirectPostgres(config or support.sluice_config())


def transaction_config(pool_size: int = POOL_SIZE, **settings) -> dict:
    return support.sluice_config(pool_mode="transaction", pool_size=pool_size, max_client_conn=500, **settings)


def app_sql(statements: list[str], dbname: str = "app") -> list:
    """Run statements directly on PostgreSQL as role app (the table owner); the last one's rows."""
    conn = psycopg2.connect(support.make_dsn(support.PG_HOST, support.PG_PORT, dbname, "app", PASSWORD))
    conn.autocommit = True
    try:
        rows = []
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
                rows = cur.fetchall() if cur.description is not None else []
        return rows
    finally:
        conn.close()


def upstream_servers(process) -> int | None:
    ports = process.upstream_ports()
    return None if ports is None else len(ports)


# ---------------------------------------------------------------- 1: a pg.Pool with named statements

def workload_model(task: int, iterations: int = ITERATIONS) -> list[list]:
    """The rows [n, payload] task `task` of pool_workload.js leaves behind (ordered by n)."""
    rows = {}
    for i in range(iterations):
        bangs = sum(1 for j in range(iterations) if j >> 1 == i)
        rows[i] = f"p{task}.{i}" + ("+tx" if i % 3 == 1 else "") + "!" * bangs
        if i % 3 == 1:
            rows[1000 + i] = "tx"
    return [[n, payload] for n, payload in sorted(rows.items())]


def table_rows(table: str) -> dict[int, list[list]]:
    out: dict[int, list[list]] = {}
    for task, n, payload in app_sql([f"select task, n, payload from {table} order by task, n"]):
        out.setdefault(task, []).append([n, payload])
    return out


@pytest.mark.sluice_only
def test_pool_named_statements_match_postgres(sluice, node_path):
    s = sluice(transaction_config())
    prefix = f"node_pool_{uuid.uuid4().hex[:8]}"
    outcome = {}
    try:
        for where, endpoint in (("direct", direct_endpoint()), ("sluice", s)):
            table = f"{prefix}_{where[0]}"
            app_sql([f"create table {table} (id serial primary key, task int not null, n int not null, "
                     f"payload text not null)"])
            outcome[where] = run_node(node_path, "pool_workload.js", {
                "conn": conn_params(endpoint), "table": table, "tasks": TASKS, "iterations": ITERATIONS,
                "poolMax": 10})
            outcome[where]["table"] = table_rows(table)
    finally:
        for where in ("d", "s"):
            app_sql([f"drop table if exists {prefix}_{where}"])

    direct, through = outcome["direct"], outcome["sluice"]
    assert direct["poolErrors"] == [] and through["poolErrors"] == [], (direct["poolErrors"], through["poolErrors"])
    for task in range(TASKS):
        mine, theirs = through["results"][str(task)], direct["results"][str(task)]
        for k, (a, b) in enumerate(zip(mine, theirs)):
            assert a == b, f"task {task}, result #{k}: through sluice {a!r}, directly {b!r}"
        assert len(mine) == len(theirs), f"task {task}: {len(mine)} results through sluice, {len(theirs)} directly"
        for where in ("direct", "sluice"):
            assert outcome[where]["table"].get(task) == workload_model(task), \
                f"{where}: task {task}'s rows differ from the model (committed rows kept, rolled back ones gone)"
    assert sum(len(rows) for rows in through["table"].values()) == TASKS * (ITERATIONS + len(range(1, ITERATIONS, 3)))

    # The pool really held 10 connections to Sluice, which shared pool_size servers among them,
    # so a pool client's named statement `whoami` ran on more than one server. (More than pool_size
    # servers over the run is fine: pg-pool ends the client of a failed pool.query() right at the
    # ErrorResponse, and a server whose ReadyForQuery was still owed is then replaced.)
    assert through["totalCount"] == 10, through["totalCount"]
    servers_of: dict[int, set[int]] = {}
    for client, pid in through["checkouts"]:
        servers_of.setdefault(client, set()).add(pid)
    assert len(set().union(*servers_of.values())) > 1, servers_of
    assert max(len(pids) for pids in servers_of.values()) > 1, \
        f"no pool client's named statement ran on a second server: {servers_of}"
    servers = upstream_servers(s)
    assert servers is None or servers <= POOL_SIZE * WORKERS, f"{servers} servers for pool_size {POOL_SIZE}"
    direct_servers: dict[int, set[int]] = {}
    for client, pid in direct["checkouts"]:
        direct_servers.setdefault(client, set()).add(pid)
    assert all(len(pids) == 1 for pids in direct_servers.values()), "harness: a direct client changed backends"


# ---------------------------------------------------------------- 2: serverless bursts of pg.Client

def test_burst_of_short_lived_clients(sluice, node_path):
    s = sluice(transaction_config())
    result = run_node(node_path, "client_burst.js", {"conn": conn_params(s), "clients": 200, "concurrency": 50})
    assert result["errorCount"] == 0, f"{result['errorCount']} of 200 invocations failed; first: {result['errors']}"
    assert result["ok"] == 200
    assert result["databases"] == ["app"]
    servers = upstream_servers(s)
    assert servers is None or servers <= POOL_SIZE * WORKERS, f"{servers} servers for pool_size {POOL_SIZE}"
    # Sluice is still serving.
    with s.connect() as conn, conn.cursor() as cur:
        cur.execute("select 1")
        assert cur.fetchone() == (1,)


# ---------------------------------------------------------------- 3: two databases, one Sluice

def test_two_databases_do_not_mix(sluice, node_path):
    databases = ("fltr", "fltr_auth")
    config = support.sluice_config(pool_size=2, databases={db: {"url": support.upstream_url(db, "app")}
                                                           for db in databases})
    s = sluice(config)
    table = f"node_mix_{uuid.uuid4().hex[:8]}"
    for db in databases:
        app_sql([f"create table {table} (tag text not null, k int not null)",
                 f"insert into {table} values ('seed-{db}', -1)"], dbname=db)
    try:
        result = run_node(node_path, "two_databases.js", {
            "conn": {k: v for k, v in conn_params(s).items() if k != "database"},
            "databases": list(databases), "table": table, "tasks": 40})
        assert result["poolErrors"] == []
        assert sum(result["inserted"].values()) == 40
        for db in databases:
            upstream = direct_endpoint(config)._target(db)[2]
            assert result["seen"][db]["current"] == [upstream], (db, result["seen"][db])
            assert result["seen"][db]["tags"] == sorted([db, f"seed-{db}"]), (db, result["seen"][db])
            counts = dict(app_sql([f"select tag, count(*) from {table} group by tag"], dbname=db))
            assert counts == {f"seed-{db}": 1, db: result["inserted"][db]}, (db, counts)
    finally:
        for db in databases:
            app_sql([f"drop table if exists {table}"], dbname=db)


# ---------------------------------------------------------------- 4: client TLS

REQUIRE_MESSAGE = tls_support.REQUIRE_MESSAGE


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("node-certs")
    ca = tls_support.make_ca(d, "node-test-ca")
    return {"ca": ca, "server": tls_support.make_cert(d, "server", ca, "localhost", "DNS:localhost,IP:127.0.0.1")}


def tls_config(certs, mode: str) -> dict:
    cert, key = certs["server"]
    return support.sluice_config(client_tls=mode, client_tls_cert=str(cert), client_tls_key=str(key),
                                 admin_users=["app"])


def colon_hex(hex_digest: str) -> str:
    return ":".join(hex_digest[i:i + 2] for i in range(0, len(hex_digest), 2)).upper()


@pytest.mark.sluice_only
@pytest.mark.parametrize("client_tls,ssl", [("require", "verify-with-ca"), ("require", "no-verify"),
                                            ("prefer", "off")])
def test_tls_connects(sluice, node_path, certs, client_tls, ssl):
    """Connected, and SHOW CLIENTS (Sluice's view of this very connection) agrees on TLS or not."""
    s = sluice(tls_config(certs, client_tls))
    result = run_node(node_path, "tls_connect.js", {"conn": conn_params(s), "ssl": ssl, "ca": str(certs["ca"][0]),
                                                    "admin": True})
    assert result["connected"], result
    assert result["value"] == "over tls?"
    rows = result["showClients"]
    assert len(rows) == 1, f"SHOW CLIENTS has {len(rows)} rows for node's port {result['localPort']}: {rows}"
    assert rows[0]["database"] == "app" and rows[0]["application_name"] == "node-tls-probe", rows[0]
    if ssl == "off":
        assert result["encrypted"] is False
        assert rows[0]["tls"] == "", rows[0]
        return
    assert result["encrypted"] is True and result["protocol"] in ("TLSv1.2", "TLSv1.3"), result
    assert rows[0]["tls"] == result["protocol"], rows[0]
    assert result["fingerprint256"] == colon_hex(tls_support.fingerprint(certs["server"][0]))
    # Verified against the CA, or (rejectUnauthorized: false) encrypted without being verified.
    assert result["authorized"] is (ssl == "verify-with-ca"), result


@pytest.mark.sluice_only
def test_tls_without_ca_is_a_certificate_error(sluice, node_path, certs):
    s = sluice(tls_config(certs, "require"))
    result = run_node(node_path, "tls_connect.js", {"conn": conn_params(s), "ssl": "verify-system-cas"})
    assert not result["connected"], result
    assert result["error"]["code"] == "UNABLE_TO_VERIFY_LEAF_SIGNATURE", result["error"]
    assert "certificate" in result["error"]["message"], result["error"]


@pytest.mark.sluice_only
def test_plaintext_client_gets_sluice_require_error(sluice, node_path, certs):
    s = sluice(tls_config(certs, "require"))
    result = run_node(node_path, "tls_connect.js", {"conn": conn_params(s), "ssl": "off"})
    assert not result["connected"], result
    assert result["error"] == {"code": "28000", "severity": "FATAL", "message": REQUIRE_MESSAGE}, result["error"]


# ---------------------------------------------------------------- 5: error codes

EXPECTED_CODES = {
    "simple division by zero": "22012", "named division by zero": "22012",
    "simple unique violation": "23505", "named unique violation": "23505",
    "simple undefined table": "42P01", "named undefined table": "42P01",
    "simple syntax error": "42601", "named syntax error": "42601",
}


def test_error_codes_and_pool_still_usable(sluice, node_path):
    s = sluice(transaction_config(pool_size=2))
    table = f"node_err_{uuid.uuid4().hex[:8]}"
    tasks = 4
    app_sql([f"create table {table} (id int primary key)"])
    try:
        outcome = {}
        for where, endpoint in (("direct", direct_endpoint()), ("sluice", s)):
            app_sql([f"truncate {table}"])
            outcome[where] = run_node(node_path, "error_codes.js", {"conn": conn_params(endpoint), "table": table,
                                                                    "tasks": tasks, "poolMax": 4})
    finally:
        app_sql([f"drop table if exists {table}"])
    through, direct = outcome["sluice"], outcome["direct"]
    assert through["poolErrors"] == [], through["poolErrors"]
    for task in map(str, range(tasks)):
        steps = through["steps"][task]
        codes = {step["label"]: step.get("code") for step in steps if step["label"] in EXPECTED_CODES}
        assert codes == EXPECTED_CODES, f"task {task}: {codes}"
        for k, step in enumerate(s for s in steps if s["label"] in EXPECTED_CODES):
            assert step["severity"] == "ERROR" and step["after"] == k + 2, step
        assert {"label": "named division again", "value": 1} in steps
        transaction = next(step for step in steps if step["label"] == "transaction")
        assert transaction == {"label": "transaction", "first": "22012", "second": "25P02", "after": 1}, transaction
        assert steps == direct["steps"][task], f"task {task}: through sluice {steps}\ndirectly {direct['steps'][task]}"
    assert through["final"] == str(2 * tasks)  # id and id + 1 per task; the transaction's id + 2 rolled back


# ---------------------------------------------------------------- 6: `sluice urls`, verbatim

def printed_settings(process, database: str = "app") -> dict:
    support.require_binary()
    done = subprocess.run([support.SLUICE_BIN, "urls", "--config", str(process.config_path), "--json",
                           "--show-passwords"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                          env=support.sluice_environment())
    assert done.returncode == 0, done.stdout + done.stderr
    return next(d for d in json.loads(done.stdout)["databases"] if d["database"] == database)


@pytest.mark.sluice_only
@pytest.mark.parametrize("client_tls", ["disable", "require"])
def test_sluice_urls_node_postgres_line(sluice, node_path, certs, client_tls):
    s = sluice(tls_config(certs, client_tls) if client_tls != "disable" else support.sluice_config())
    settings = printed_settings(s)
    expression = settings["node_postgres"]
    result = run_node(node_path, "urls_pool.js", {"expression": expression})
    assert result["connected"], f"`sluice urls` printed {expression}\nnode-postgres: {result['error']}"
    assert (result["database"], result["user"], result["values"]) == ("app", "app", [0, 3, 6]), result
    assert result["encrypted"] is (client_tls == "require"), result
    if client_tls == "require":
        # The note's advice for a verified connection, in node-postgres's URL.
        advice = "sslmode=verify-full&sslrootcert="
        assert any(advice in note and "node-postgres" in note for note in settings["notes"]), settings["notes"]
        url = json.loads(expression[expression.index('"'):expression.rindex('"') + 1])
        verified = url.split("?", 1)[0] + "?" + advice + str(certs["ca"][0])
        expression = f"new pg.Pool({{ connectionString: {json.dumps(verified)} }})"
        result = run_node(node_path, "urls_pool.js", {"expression": expression})
        assert result["connected"] and result["encrypted"], result
