"""Drivers: real client libraries, each with its default prepared-statement settings, through
Sluice's transaction mode (pool of 5, 50 concurrent clients, so named statements move between
servers), each workload compared with the same workload run directly against PostgreSQL.

The workload (`make_plans`): every client owns rows of one table (`drv_<driver>_<uuid>`) and, for ~30
iterations, inserts, reads its own rows back in order, updates, runs a rotating set of > 5 distinct
statements (so the drivers' statement caches fill and switch to named statements), some of it in
explicit transactions, and now and then hits a deliberate error (division by zero through a
parameter) followed by a rollback and a fresh statement. Every result is recorded as a string; the
Sluice run and the direct run must record the same strings, and both tables must hold exactly the
rows the model expects.

Helper programs live in drivers/: DrvWorkload.java (JDBC) and django_workload.py (Django, in a
subprocess so psycopg 3 can be hidden from it for the psycopg2 case).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import psycopg2
import pytest

import support

CLIENTS = 50
ITERATIONS = 30
POOL_SIZE = 5
DRIVERS_DIR = Path(__file__).resolve().parent / "drivers"
PASSWORD = support.CREDENTIALS["app"]

pytestmark = pytest.mark.timeout(300)


# ---------------------------------------------------------------- the workload

class Plan:
    """One client's blocks: {"tx": bool, "error": bool, "ops": [op]}; op: {"kind": exec|query|batch,
    "sql" (with $n), "params" (list) or "rows" (list of lists, batch), "core": tag for SQLAlchemy Core}."""

    def __init__(self, table: str, client: int):
        self.table = table
        self.client = client
        self.blocks: list[dict] = []
        self.insert_sql = f"insert into {table} (client, n, payload) values ($1, $2, $3)"


def statements(table: str) -> dict[str, str]:
    t = table
    return {
        "insert": f"insert into {t} (client, n, payload) values ($1, $2, $3)",
        "select_own": f"select n, payload from {t} where client = $1 order by n",
        "update": f"update {t} set payload = payload || $3 where client = $1 and n = $2",
        "count": f"select count(*) from {t} where client = $1",
        "error": "select 1 / CAST($1 AS int)",
        "plus_one": "select CAST($1 AS int) + 1",
        "reads": [
            f"select coalesce(sum(n), 0) from {t} where client = $1",
            f"select max(n) from {t} where client = $1 and n < $2",
            f"select min(n) from {t} where client = $1 and n > $2",
            f"select payload from {t} where client = $1 and n = $2",
            "select CAST($1 AS int) * 2",
            "select CAST($1 AS text) || '-' || CAST($2 AS text)",
        ],
    }


def make_plans(table: str, clients: int = CLIENTS, iterations: int = ITERATIONS) -> dict[int, Plan]:
    s = statements(table)

    def op(kind, sql, params=None, rows=None, core=None):
        return {"kind": kind, "sql": sql, "params": params or [], "rows": rows, "core": core}

    plans = {}
    for c in range(clients):
        plan = Plan(table, c)
        add = plan.blocks.append
        for i in range(iterations):
            add({"tx": False, "error": False,
                 "ops": [op("exec", s["insert"], [c, i, f"p{c}.{i}"], core="insert")]})
            if i % 3 == 1:
                add({"tx": True, "error": False, "ops": [
                    op("exec", s["insert"], [c, 1000 + i, "tx"], core="insert"),
                    op("exec", s["update"], [c, i, "+tx"], core="update"),
                    op("query", s["count"], [c])]})
            if i % 7 == 3:
                add({"tx": True, "error": True, "ops": [
                    op("exec", s["insert"], [c, 2000 + i, "lost"], core="insert"),
                    op("query", s["error"], [0])]})
                add({"tx": False, "error": False, "ops": [op("query", s["count"], [c])]})
            if i % 5 == 2:
                add({"tx": False, "error": True, "ops": [op("query", s["error"], [0])]})
                add({"tx": False, "error": False, "ops": [op("query", s["plus_one"], [i])]})
            add({"tx": False, "error": False, "ops": [op("query", s["select_own"], [c], core="select_own")]})
            k = i % 6
            params = [[c], [c, i], [c, i // 2], [c, i // 2], [i], [str(c), str(i)]][k]
            add({"tx": False, "error": False, "ops": [op("query", s["reads"][k], params)]})
            add({"tx": False, "error": False, "ops": [op("exec", s["update"], [c, i // 2, "!"], core="update")]})
            if i in (10, 20):
                rows = [[c, 3000 + 100 * i + k, f"b{c}.{k}"] for k in range(10)]
                add({"tx": False, "error": False, "ops": [op("batch", s["insert"], rows=rows, core="insert")]})
        plans[c] = plan
    return plans


def model_rows(plan: Plan) -> list[tuple[int, str]]:
    """The rows (n, payload) client `plan.client` must own at the end."""
    rows: dict[int, str] = {}
    for block in plan.blocks:
        if block["error"]:
            continue
        for op in block["ops"]:
            if op["core"] == "insert":
                for r in (op["rows"] or [op["params"]]):
                    rows[r[1]] = r[2]
            elif op["core"] == "update":
                _c, n, suffix = op["params"]
                if n in rows:
                    rows[n] += suffix
    return sorted(rows.items())


def positional(sql: str, params: list, style: str) -> tuple[str, list]:
    """Rewrite $n placeholders to %s (psycopg), ? (JDBC), reordering the parameters to match."""
    order: list[int] = []

    def repl(m):
        order.append(int(m.group(1)) - 1)
        return "%s" if style == "format" else "?"

    return re.sub(r"\$(\d+)", repl, sql), [params[i] for i in order]


def named(sql: str, params: list) -> tuple[str, dict]:
    """$n → :pn (SQLAlchemy text())."""
    return re.sub(r"\$(\d+)", r":p\1", sql), {f"p{i + 1}": v for i, v in enumerate(params)}


def canon(rows) -> str:
    return "r:" + ";".join("|".join("NULL" if v is None else str(v) for v in row) for row in rows)


def sqlstate_of(exc: BaseException | None) -> str:
    seen = 0
    while exc is not None and seen < 5:
        for attr in ("sqlstate", "pgcode"):
            value = getattr(exc, attr, None)
            if isinstance(value, str) and value:
                return value
        exc = getattr(exc, "orig", None) or exc.__cause__
        seen += 1
    return "?"


def table_contents(dsn: str, table: str) -> dict[int, list[tuple[int, str]]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(f"select client, n, payload from {table} order by client, n")
            out: dict[int, list] = {}
            for client, n, payload in cur.fetchall():
                out.setdefault(client, []).append((n, payload))
            return out
    finally:
        conn.close()


def direct_dsn() -> str:
    return support.make_dsn(support.PG_HOST, support.PG_PORT, "app", "app", PASSWORD)


def create_table(table: str) -> None:
    conn = psycopg2.connect(direct_dsn())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"create table {table} (id serial primary key, client int not null, n int not null, "
                    f"payload text not null)")
    conn.close()


def drop_tables(prefix: str) -> None:
    conn = psycopg2.connect(direct_dsn())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("select tablename from pg_tables where tablename like %s", (prefix + "%",))
        for (name,) in cur.fetchall():
            cur.execute(f"drop table if exists {name}")
    conn.close()


def direct_endpoint() -> support.Endpoint:
    return support.DirectPostgres(support.sluice_config())


def transaction_config(**settings) -> dict:
    return support.sluice_config(pool_mode="transaction", pool_size=POOL_SIZE, max_client_conn=500, **settings)


def first_difference(a: dict, b: dict) -> str:
    for client in sorted(set(a) | set(b), key=int):
        x, y = a.get(client, []), b.get(client, [])
        for i, (u, v) in enumerate(zip(x, y)):
            if u != v:
                return f"client {client}, result #{i}: through sluice {u[:200]!r}, direct {v[:200]!r}"
        if len(x) != len(y):
            return f"client {client}: {len(x)} results through sluice, {len(y)} direct"
    return "none"


def check_workload(name: str, runner, sluice_endpoint, create: bool = True):
    """Runs `runner(endpoint, table, plans) -> (results, failures)` through sluice and directly; compares."""
    prefix = f"drv_{name}_{uuid.uuid4().hex[:8]}"
    tables = {"sluice": prefix + "_s", "direct": prefix + "_d"}
    try:
        outcome = {}
        for where, endpoint in (("direct", direct_endpoint()), ("sluice", sluice_endpoint)):
            table = tables[where]
            if create:
                create_table(table)
            plans = make_plans(table)
            results, failures = runner(endpoint, table, plans)
            outcome[where] = (plans, results, failures)
        d_plans, d_results, d_failures = outcome["direct"]
        s_plans, s_results, s_failures = outcome["sluice"]
        assert not d_failures, f"{name}: the workload fails even directly against PostgreSQL: " \
                               f"{list(d_failures.items())[:3]}"
        assert not s_failures, (f"{name}: {len(s_failures)} of {CLIENTS} clients failed through sluice; first: "
                                + "; ".join(f"client {c}: {m}" for c, m in sorted(s_failures.items(), key=lambda x: int(x[0]))[:3]))
        norm = lambda r: {str(k): v for k, v in r.items()}  # noqa: E731
        assert norm(s_results) == norm(d_results), \
            f"{name}: results differ from the direct run: {first_difference(norm(s_results), norm(d_results))}"
        for where in ("sluice", "direct"):
            contents = table_contents(direct_dsn(), tables[where])
            plans = outcome[where][0]
            for c, plan in plans.items():
                assert contents.get(c, []) == model_rows(plan), \
                    f"{name} ({where}): client {c}'s rows differ from the model"
        return outcome
    finally:
        drop_tables(prefix)


# ---------------------------------------------------------------- runners

def run_threads(plans: dict, client_fn) -> tuple[dict, dict]:
    results = {c: [] for c in plans}
    failures: dict = {}

    def wrapper(c):
        try:
            client_fn(plans[c], results[c])
        except BaseException as exc:  # noqa: BLE001
            failures[c] = f"{type(exc).__name__}: {exc}".replace("\n", " ")

    threads = [threading.Thread(target=wrapper, args=(c,), daemon=True) for c in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    for c, t in zip(plans, threads):
        if t.is_alive():
            failures.setdefault(c, "still running after 240 s (hung)")
    return results, failures


def block_results(block: dict, run) -> list[str]:
    """Runs a block through run() (which raises the driver's exception), mapping errors."""
    try:
        res = run()
    except Exception as exc:  # noqa: BLE001
        state = sqlstate_of(exc)
        if not block["error"] or state == "?":
            raise
        return [f"error:{state}"]
    return ["noerror"] if block["error"] else res


# asyncpg ------------------------------------------------------------

def asyncpg_runner(**connect_kwargs):
    import asyncpg

    def runner(endpoint, table, plans):
        results = {c: [] for c in plans}
        failures: dict = {}

        async def one_op(conn, ins, op):
            if op["kind"] == "exec":
                if op["sql"] == ins_sql:
                    await ins.fetch(*op["params"])  # the conn.prepare() statement, reused
                else:
                    await conn.execute(op["sql"], *op["params"])
                return "ok"
            if op["kind"] == "batch":
                await conn.executemany(op["sql"], op["rows"])
                return "ok"
            return canon(await conn.fetch(op["sql"], *op["params"]))

        async def client(c):
            plan = plans[c]
            try:
                conn = await asyncpg.connect(host=endpoint.host, port=endpoint.port, user="app", password=PASSWORD,
                                             database="app", ssl=False, timeout=30, **connect_kwargs)
            except Exception as exc:  # noqa: BLE001
                failures[c] = f"connect: {type(exc).__name__}: {exc}"
                return
            try:
                ins = await conn.prepare(plan.insert_sql)
                for block in plan.blocks:
                    try:
                        if block["tx"]:
                            async with conn.transaction():
                                res = [await one_op(conn, ins, op) for op in block["ops"]]
                        else:
                            res = [await one_op(conn, ins, op) for op in block["ops"]]
                    except asyncpg.PostgresError as exc:
                        if not block["error"]:
                            raise
                        res = [f"error:{exc.sqlstate}"]
                    else:
                        if block["error"]:
                            res = ["noerror"]
                    results[c].extend(res)
                # The prepared statement once more, many times, with executemany.
                await ins.executemany([(c, 9000 + k, "pm") for k in range(5)])
                results[c].append(canon(await conn.fetch(f"select count(*) from {table} where client = $1 "
                                                         f"and n >= 9000", c)))
                await conn.execute(f"delete from {table} where client = $1 and n >= 9000", c)
            except Exception as exc:  # noqa: BLE001
                failures[c] = f"{type(exc).__name__}: {exc}".replace("\n", " ")
            finally:
                await conn.close(timeout=10)

        ins_sql = f"insert into {table} (client, n, payload) values ($1, $2, $3)"

        async def main():
            await asyncio.wait_for(asyncio.gather(*(client(c) for c in plans)), 240)

        asyncio.run(main())
        return results, failures

    return runner


# psycopg 3 ----------------------------------------------------------

def psycopg3_runner(pipeline: bool = False, **connect_kwargs):
    import psycopg

    def runner(endpoint, table, plans):
        dsn = endpoint.dsn()

        def op_exec(cur, op):
            if op["kind"] == "batch":
                sql, _ = positional(op["sql"], op["rows"][0], "format")
                cur.executemany(sql, op["rows"])
                return None
            sql, params = positional(op["sql"], op["params"], "format")
            cur.execute(sql, params)
            return cur if op["kind"] == "query" else None

        def client(plan, out):
            with psycopg.connect(dsn, autocommit=True, **connect_kwargs) as conn:
                if not pipeline:
                    for block in plan.blocks:
                        def run():
                            res = []
                            with conn.cursor() as cur:
                                for op in block["ops"]:
                                    got = op_exec(cur, op)
                                    res.append(canon(got.fetchall()) if got is not None else "ok")
                            return res

                        def run_block():
                            if block["tx"]:
                                with conn.transaction():
                                    return run()
                            return run()
                        out.extend(block_results(block, run_block))
                    return
                with conn.pipeline():
                    for block in plan.blocks:
                        def run_pipelined():
                            cursors = []
                            with conn.pipeline():  # nested: a Sync at its end
                                if block["tx"]:
                                    with conn.transaction():
                                        for op in block["ops"]:
                                            cur = conn.cursor()
                                            cursors.append((cur, op_exec(cur, op)))
                                else:
                                    for op in block["ops"]:
                                        cur = conn.cursor()
                                        cursors.append((cur, op_exec(cur, op)))
                            return [canon(got.fetchall()) if got is not None else "ok" for _cur, got in cursors]
                        out.extend(block_results(block, run_pipelined))

        return run_threads(plans, client)

    return runner


# SQLAlchemy ---------------------------------------------------------

def sqlalchemy_tables(table: str):
    import sqlalchemy as sa

    md = sa.MetaData()
    return sa.Table(table, md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("client", sa.Integer),
                    sa.Column("n", sa.Integer), sa.Column("payload", sa.Text))


def sqlalchemy_statement(tbl, op):
    """A Core construct (tagged ops) or text(), with its parameters."""
    import sqlalchemy as sa

    core = op["core"]
    if core == "insert":
        if op["kind"] == "batch":
            return sa.insert(tbl), [{"client": r[0], "n": r[1], "payload": r[2]} for r in op["rows"]]
        c, n, p = op["params"]
        return sa.insert(tbl), {"client": c, "n": n, "payload": p}
    if core == "select_own":
        return (sa.select(tbl.c.n, tbl.c.payload).where(tbl.c.client == sa.bindparam("c")).order_by(tbl.c.n),
                {"c": op["params"][0]})
    if core == "update":
        c, n, suffix = op["params"]
        return (sa.update(tbl).where(tbl.c.client == sa.bindparam("c"), tbl.c.n == sa.bindparam("nn"))
                .values(payload=tbl.c.payload + sa.bindparam("suffix")), {"c": c, "nn": n, "suffix": suffix})
    sql, params = named(op["sql"], op["params"])
    return sa.text(sql), params


def sqlalchemy_sync_runner():
    import sqlalchemy as sa

    def runner(endpoint, table, plans):
        engine = sa.create_engine(
            f"postgresql+psycopg://app:{PASSWORD}@{endpoint.host}:{endpoint.port}/app?sslmode=disable")
        tbl = sqlalchemy_tables(table)

        def client(plan, out):
            for block in plan.blocks:
                def run():
                    res = []
                    with engine.begin() as conn:  # every block is a transaction in SQLAlchemy 2
                        for op in block["ops"]:
                            stmt, params = sqlalchemy_statement(tbl, op)
                            result = conn.execute(stmt, params)
                            res.append(canon(result.all()) if op["kind"] == "query" else "ok")
                    return res
                out.extend(block_results(block, run))

        try:
            return run_threads(plans, client)
        finally:
            engine.dispose()

    return runner


def sqlalchemy_async_runner():
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    def runner(endpoint, table, plans):
        tbl = sqlalchemy_tables(table)
        results = {c: [] for c in plans}
        failures: dict = {}

        async def main():
            engine = create_async_engine(
                f"postgresql+asyncpg://app:{PASSWORD}@{endpoint.host}:{endpoint.port}/app",
                connect_args={"ssl": False})

            async def client(c):
                try:
                    for block in plans[c].blocks:
                        try:
                            res = []
                            async with engine.begin() as conn:
                                for op in block["ops"]:
                                    stmt, params = sqlalchemy_statement(tbl, op)
                                    result = await conn.execute(stmt, params)
                                    res.append(canon(result.all()) if op["kind"] == "query" else "ok")
                        except sa.exc.DBAPIError as exc:
                            if not block["error"]:
                                raise
                            res = [f"error:{sqlstate_of(exc)}"]
                        else:
                            if block["error"]:
                                res = ["noerror"]
                        results[c].extend(res)
                except Exception as exc:  # noqa: BLE001
                    failures[c] = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:600]

            try:
                await asyncio.wait_for(asyncio.gather(*(client(c) for c in plans)), 240)
            finally:
                await engine.dispose()

        asyncio.run(main())
        return results, failures

    return runner


# Django (subprocess) ------------------------------------------------

def django_runner(driver: str, options: dict | None = None):
    def runner(endpoint, table, plans):
        job = {"host": endpoint.host, "port": endpoint.port, "table": table, "driver": driver,
               "options": options or {}, "create_model": True, "plans": {}}
        for c, plan in plans.items():
            blocks = []
            for block in plan.blocks:
                ops = []
                for op in block["ops"]:
                    if op["kind"] == "batch":
                        sql, _ = positional(op["sql"], op["rows"][0], "format")
                        ops.append({"kind": "batch", "sql": sql, "rows": op["rows"]})
                    else:
                        sql, params = positional(op["sql"], op["params"], "format")
                        ops.append({"kind": op["kind"], "sql": sql, "rows": [params]})
                blocks.append({"tx": block["tx"], "error": block["error"], "ops": ops})
            job["plans"][str(c)] = blocks
        workdir = Path(os.environ.get("TMPDIR", "/tmp"))
        job_path = workdir / f"{table}.job.json"
        out_path = workdir / f"{table}.out.json"
        job_path.write_text(json.dumps(job))
        try:
            proc = subprocess.run([sys.executable, str(DRIVERS_DIR / "django_workload.py"), str(job_path),
                                   str(out_path)], capture_output=True, text=True, timeout=240)
            assert proc.returncode == 0, f"django_workload.py failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
            out = json.loads(out_path.read_text())
        finally:
            job_path.unlink(missing_ok=True)
            out_path.unlink(missing_ok=True)
        assert out["driver"] == driver, f"Django used {out['driver']}, wanted {driver}"
        # The ORM lines are extra: append them to the model check through the direct comparison.
        return out["results"], out["failures"]

    return runner


# JDBC ---------------------------------------------------------------

JDBC_JAR = "/usr/share/java/postgresql.jar"


@pytest.fixture(scope="module")
def jdbc_classes(tmp_path_factory):
    if not (os.path.exists(JDBC_JAR) and shutil.which("javac") and shutil.which("java")):
        pytest.skip(f"needs {JDBC_JAR}, javac and java (apt-get install libpostgresql-jdbc-java default-jdk-headless)")
    out = tmp_path_factory.mktemp("jdbc")
    proc = subprocess.run(["javac", "-d", str(out), str(DRIVERS_DIR / "DrvWorkload.java")],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return out


def jdbc_runner(classes: Path, checksums: dict):
    def encode(v):
        if v is None:
            return "n"
        return f"i{v}" if isinstance(v, int) else f"s{v}"

    def runner(endpoint, table, plans):
        lines = []
        for c, plan in plans.items():
            lines.append(f"CLIENT\t{c}")
            for block in plan.blocks:
                lines.append(f"BLOCK\t{int(block['tx'])}\t{int(block['error'])}")
                for op in block["ops"]:
                    rows = op["rows"] if op["kind"] == "batch" else [op["params"]]
                    sql = None
                    encoded = []
                    for r in rows:
                        sql, params = positional(op["sql"], r, "jdbc")
                        encoded.append("\x1f".join(encode(p) for p in params))
                    lines.append(f"OP\t{op['kind']}\t{sql}\t" + "\x1e".join(encoded))
        plan_path = classes / f"{table}.plan"
        out_path = classes / f"{table}.out"
        plan_path.write_text("\n".join(lines) + "\n")
        url = f"jdbc:postgresql://{endpoint.host}:{endpoint.port}/app?sslmode=disable"
        proc = subprocess.run(["java", "-cp", f"{JDBC_JAR}:{classes}", "DrvWorkload", url, "app", PASSWORD,
                               str(plan_path), str(out_path)], capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, f"DrvWorkload failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}"
        m = re.search(r"checksum (\w+)", proc.stdout)
        checksums[table] = m.group(1) if m else None
        results: dict = {c: [] for c in plans}
        failures: dict = {}
        for line in out_path.read_text().splitlines():
            f = line.split("\t", 3)
            if f[0] == "R":
                results[int(f[1])].append((int(f[2]), f[3]))
            elif f[0] == "FAIL":
                failures[int(f[1])] = f[2]
        return {c: [r for _i, r in sorted(v)] for c, v in results.items()}, failures

    return runner


# ---------------------------------------------------------------- 1-5: the drivers

@pytest.mark.sluice_only
def test_asyncpg_default_statement_cache(sluice):
    s = sluice(transaction_config())
    check_workload("asyncpg", asyncpg_runner(), s)


@pytest.mark.sluice_only
@pytest.mark.parametrize("variant", ["threshold_default", "prepare_all", "pipeline"])
def test_psycopg3(sluice, variant):
    s = sluice(transaction_config())
    runner = {"threshold_default": psycopg3_runner(),
              "prepare_all": psycopg3_runner(prepare_threshold=0),
              "pipeline": psycopg3_runner(pipeline=True)}[variant]
    check_workload(f"pg3_{variant}", runner, s)


@pytest.mark.sluice_only
def test_sqlalchemy_async_asyncpg(sluice):
    s = sluice(transaction_config())
    check_workload("sa_asyncpg", sqlalchemy_async_runner(), s)


@pytest.mark.sluice_only
def test_sqlalchemy_psycopg3(sluice):
    s = sluice(transaction_config())
    check_workload("sa_psycopg", sqlalchemy_sync_runner(), s)


@pytest.mark.sluice_only
@pytest.mark.parametrize("driver,options", [("psycopg2", {}), ("psycopg", {}),
                                            ("psycopg", {"server_side_binding": True})],
                         ids=["psycopg2", "psycopg3", "psycopg3_server_side_binding"])
def test_django(sluice, driver, options):
    s = sluice(transaction_config())
    check_workload(f"dj_{driver}", django_runner(driver, options), s, create=False)


@pytest.mark.sluice_only
def test_jdbc_default_prepare_threshold(sluice, jdbc_classes):
    s = sluice(transaction_config())
    checksums: dict = {}
    outcome = check_workload("jdbc", jdbc_runner(jdbc_classes, checksums), s)
    sums = list(checksums.values())
    assert len(sums) == 2 and sums[0] and sums[0] == sums[1], f"JDBC checksums differ: {checksums}"
    assert outcome


# ---------------------------------------------------------------- 6: pgbench -M prepared

@pytest.mark.sluice_only
def test_pgbench_prepared_no_failures(sluice):
    s = sluice(transaction_config())
    env = s.libpq_env()
    init = subprocess.run(["pgbench", "-i", "-s", "1", "-q"], env=env, capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, f"pgbench -i failed:\n{init.stdout}\n{init.stderr}"
    # pgbench 15 prepares each command synchronously (PQprepare: Parse + Sync) the first time it
    # runs it, in the middle of its transaction: a client without a server then blocks the whole
    # pgbench thread while the other clients of that thread hold servers in open transactions.
    try:
        run = subprocess.run(["pgbench", "-M", "prepared", "-c", "50", "-j", "2", "-T", "10", "-n"], env=env,
                             capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as exc:
        pytest.fail("pgbench -M prepared -c 50 -j 2 -T 10 through a pool of 5 still running after 60 s "
                    f"(hung):\n{(exc.stdout or b'')[-1500:]!r}", pytrace=False)
    output = run.stdout + run.stderr
    failed = re.search(r"number of failed transactions: (\d+)", output)
    assert failed, f"no failed-transactions line (exit {run.returncode}):\n{output[-3000:]}"
    assert int(failed.group(1)) == 0, output[-3000:]
    assert run.returncode == 0, output[-3000:]
    processed = re.search(r"number of transactions actually processed: (\d+)", output)
    assert processed and int(processed.group(1)) > 0, output


# ---------------------------------------------------------------- 7: sharing and eviction

async def _server_statements(endpoint, servers: int) -> dict[int, list[tuple[str, str]]]:
    """pg_prepared_statements of `servers` distinct servers, seen through sluice from connections
    that each hold a transaction (so each holds its own server) at the same time."""
    import asyncpg

    conns = [await asyncpg.connect(host=endpoint.host, port=endpoint.port, user="app", password=PASSWORD,
                                   database="app", ssl=False, statement_cache_size=0) for _ in range(servers)]
    try:
        for conn in conns:
            await conn.execute("begin")
        out = {}
        for conn in conns:
            # Simple-protocol queries only (no statements of our own): execute() without arguments.
            pid = await conn.fetchval("select pg_backend_pid()")
            rows = await conn.fetch("select name, statement from pg_prepared_statements order by name")
            out[pid] = [(r["name"], r["statement"]) for r in rows]
        for conn in conns:
            await conn.execute("commit")
        return out
    finally:
        for conn in conns:
            await conn.close()


@pytest.mark.sluice_only
@pytest.mark.one_pool
def test_statements_shared_between_clients(sluice):
    s = sluice(transaction_config())
    table = f"drv_share_{uuid.uuid4().hex[:8]}"
    create_table(table)
    try:
        texts = [f"select count(*) + {k} from {table} where client = $1" for k in range(8)]

        async def run():
            import asyncpg

            async def client(c):
                conn = await asyncpg.connect(host=s.host, port=s.port, user="app", password=PASSWORD,
                                             database="app", ssl=False)
                try:
                    for rep in range(4):
                        for k, text in enumerate(texts):
                            assert await conn.fetchval(text, c) == k
                finally:
                    await conn.close()

            await asyncio.gather(*(client(c) for c in range(CLIENTS)))
            return await _server_statements(s, POOL_SIZE)

        servers = asyncio.run(run())
    finally:
        drop_tables(table)
    assert len(servers) == POOL_SIZE, servers.keys()
    by_text: dict[str, set[str]] = {}
    for pid, rows in servers.items():
        names = [n for n, _ in rows]
        assert all(n.startswith("sluice_") for n in names), f"server {pid}: {names}"
        statements_here = [st for _, st in rows]
        assert len(statements_here) == len(set(statements_here)), f"server {pid} prepared a text twice: {rows}"
        for name, text in rows:
            by_text.setdefault(text, set()).add(name)
        ours = [st for st in statements_here if table in st]
        assert len(ours) <= len(texts), f"server {pid}: {len(ours)} copies of {len(texts)} statements"
    assert all(len(names) == 1 for names in by_text.values()), \
        f"one statement text under several server-side names: {[(t, n) for t, n in by_text.items() if len(n) > 1][:3]}"
    assert sum(1 for t in by_text if table in t) == len(texts)


@pytest.mark.sluice_only
@pytest.mark.one_pool
def test_eviction_max_prepared_statements_3(sluice):
    s = sluice(transaction_config(max_prepared_statements=3))
    texts = [f"select CAST($1 AS int) * 100 + {k}" for k in range(10)]

    async def run():
        import asyncpg

        async def client(c):
            conn = await asyncpg.connect(host=s.host, port=s.port, user="app", password=PASSWORD,
                                         database="app", ssl=False)
            try:
                for rep in range(5):
                    for k, text in enumerate(texts):
                        got = await conn.fetchval(text, c + rep)
                        assert got == (c + rep) * 100 + k, (text, got)
                    async with conn.transaction():
                        for k in reversed(range(10)):
                            assert await conn.fetchval(texts[k], c) == c * 100 + k
            finally:
                await conn.close()

        results = await asyncio.gather(*(client(c) for c in range(20)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, f"{len(errors)} of 20 clients failed; first: {errors[0]!r}"
        return await _server_statements(s, POOL_SIZE)

    servers = asyncio.run(run())
    for pid, rows in servers.items():
        assert len(rows) <= 3, f"server {pid} holds {len(rows)} statements with max_prepared_statements = 3: {rows}"


# ---------------------------------------------------------------- 8: session mode relays untouched

@pytest.mark.sluice_only
def test_session_mode_keeps_driver_names(sluice):
    s = sluice(support.sluice_config(pool_mode="session", pool_size=POOL_SIZE))

    async def run():
        import asyncpg

        conn = await asyncpg.connect(host=s.host, port=s.port, user="app", password=PASSWORD, database="app",
                                     ssl=False)
        try:
            for k in range(10):
                assert await conn.fetchval("select CAST($1 AS int) + 7", k) == k + 7
            stmt = await conn.prepare("select CAST($1 AS int) * 3")
            assert [await stmt.fetchval(k) for k in range(7)] == [k * 3 for k in range(7)]
            return [r["name"] for r in await conn.fetch("select name from pg_prepared_statements")]
        finally:
            await conn.close()

    names = asyncio.run(run())
    assert names, "no prepared statements in session mode"
    assert all(n.startswith("__asyncpg_") for n in names), names
    assert not any(n.startswith("sluice_") for n in names), names


# ---------------------------------------------------------------- 9: DEALLOCATE from psycopg 3

def _deallocate_sequence(dsn: str) -> list[str]:
    """What psycopg 3 sees around DEALLOCATE ALL / DEALLOCATE name (compared with PostgreSQL itself)."""
    import psycopg

    seen: list[str] = []
    queries = [f"select %s::int + {k}" for k in range(7)]
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        for rep in range(2):
            for k, q in enumerate(queries):
                seen.append(str(conn.execute(q, [rep], prepare=True).fetchone()[0]))
        cur = conn.execute("DEALLOCATE ALL")
        seen.append(f"status:{cur.statusmessage}")
        for k, q in enumerate(queries):
            try:
                seen.append(str(conn.execute(q, [10], prepare=True).fetchone()[0]))
            except psycopg.Error as exc:
                seen.append(f"error:{exc.sqlstate}")
        seen.append(str(conn.execute("select 'still alive'").fetchone()[0]))
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        seen.append(str(conn.execute("select %s::int * 5", [3], prepare=True).fetchone()[0]))  # _pg3_0
        cur = conn.execute("DEALLOCATE _pg3_0")
        seen.append(f"status:{cur.statusmessage}")
        try:
            seen.append(str(conn.execute("select %s::int * 5", [4], prepare=True).fetchone()[0]))
        except psycopg.Error as exc:
            seen.append(f"error:{exc.sqlstate}")
        seen.append(str(conn.execute("select %s::int * 6", [4], prepare=True).fetchone()[0]))
        seen.append(str(conn.execute("select 'still alive'").fetchone()[0]))
    return seen


@pytest.mark.sluice_only
def test_psycopg3_deallocate_simple_queries(sluice):
    s = sluice(transaction_config())
    expected = _deallocate_sequence(direct_endpoint().dsn())
    got = _deallocate_sequence(s.dsn())
    assert got == expected, f"through sluice {got}\ndirect        {expected}"
    assert s.running(), "sluice exited"


@pytest.mark.sluice_only
def test_deallocate_all_in_pipeline_does_not_break_other_clients(sluice):
    """psycopg 3 in pipeline mode sends DEALLOCATE ALL through the extended protocol (as it does
    itself after a ROLLBACK when it has prepared statements). Other clients on the same server
    must still find their statements. Pool of 1: every client uses the same server."""
    import psycopg

    s = sluice(support.sluice_config(pool_mode="transaction", pool_size=1))
    with psycopg.connect(s.dsn(), autocommit=True) as a, psycopg.connect(s.dsn(), autocommit=True) as b:
        assert a.execute("select %s::int + 100", [1], prepare=True).fetchone()[0] == 101
        with b.pipeline():
            b.execute("DEALLOCATE ALL")
        assert a.execute("select %s::int + 100", [2], prepare=True).fetchone()[0] == 102
        with psycopg.connect(s.dsn(), autocommit=True) as c:
            assert c.execute("select %s::int + 100", [3], prepare=True).fetchone()[0] == 103
    assert s.running()


@pytest.mark.sluice_only
def test_psycopg3_pipeline_error_then_more_statements(sluice):
    """psycopg 3 pipeline: a failing query fetched (Flush, no Sync yet), then prepared statements
    queued before the Sync; afterwards the connection and the shared server stay usable."""
    import psycopg

    s = sluice(support.sluice_config(pool_mode="transaction", pool_size=1))

    def sequence(dsn):
        seen = []
        with psycopg.connect(dsn, autocommit=True, prepare_threshold=0) as conn:
            seen.append(conn.execute("select %s::int + 1", [1]).fetchone()[0])
            with conn.pipeline() as p:
                try:
                    conn.execute("select 1 / %s::int", [0]).fetchone()
                except psycopg.errors.DivisionByZero:
                    seen.append("error")
                try:
                    conn.execute("select %s::int + 2", [1])
                    p.sync()
                except psycopg.errors.PipelineAborted:
                    seen.append("aborted")
            seen.append(conn.execute("select %s::int + 2", [2]).fetchone()[0])
            seen.append(conn.execute("select %s::int + 1", [5]).fetchone()[0])
        with psycopg.connect(dsn, autocommit=True, prepare_threshold=0, connect_timeout=5) as other:
            seen.append(other.execute("select %s::int + 2", [7]).fetchone()[0])
        return seen

    expected = sequence(direct_endpoint().dsn())
    got = sequence(s.dsn())
    assert got == expected
