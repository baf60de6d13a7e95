"""The drivers workload through Django's PostgreSQL backend, in a process of its own.

python django_workload.py JOB.json OUT.json

JOB: {"host", "port", "table", "driver": "psycopg2" | "psycopg", "options": {...} (DATABASES OPTIONS),
      "plans": {client: [block, ...]}} where a block is {"tx", "error", "ops": [{"kind", "sql" (with %s),
      "rows": [[param, ...], ...]}]}.
OUT: {"driver": the module Django used, "results": {client: [str]}, "failures": {client: str},
      "prepared": names in pg_prepared_statements seen by one connection at the end}.

Django >= 4.2 uses psycopg (3) when it can import it: for "psycopg2" this script hides psycopg
before Django is imported.
"""

import json
import sys
import threading

job = json.load(open(sys.argv[1]))
if job["driver"] == "psycopg2":
    sys.modules["psycopg"] = None  # `import psycopg` now raises ImportError: Django falls back to psycopg2

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    DEBUG=False,
    USE_TZ=True,
    INSTALLED_APPS=[],
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": job["host"],
            "PORT": str(job["port"]),
            "NAME": "app",
            "USER": "app",
            "PASSWORD": "app-secret",
            "DISABLE_SERVER_SIDE_CURSORS": True,
            "CONN_MAX_AGE": 0,
            "OPTIONS": {"sslmode": "disable", **job.get("options", {})},
        }
    },
)
django.setup()

from django.db import connection, models, transaction  # noqa: E402
from django.db.backends.postgresql import psycopg_any  # noqa: E402

TABLE = job["table"]


class Item(models.Model):
    client = models.IntegerField()
    n = models.IntegerField()
    payload = models.TextField()

    class Meta:
        app_label = "drivers"
        db_table = TABLE


def canon(rows):
    return "r:" + ";".join("|".join("NULL" if v is None else str(v) for v in row) for row in rows)


def sqlstate(exc):
    while exc is not None:
        for attr in ("sqlstate", "pgcode"):
            value = getattr(exc, attr, None)
            if value:
                return value
        exc = exc.__cause__
    return "?"


def run_op(cur, op):
    if op["kind"] == "exec":
        cur.execute(op["sql"], op["rows"][0])
        return "ok"
    if op["kind"] == "batch":
        # The ORM's bulk_create for the batch (one multi-row INSERT).
        Item.objects.bulk_create([Item(client=r[0], n=r[1], payload=r[2]) for r in op["rows"]])
        return "ok"
    cur.execute(op["sql"], op["rows"][0])
    return canon(cur.fetchall())


def run_client(client, plan, results, failures):
    out = results[client]
    try:
        with connection.cursor() as cur:
            for block in plan:
                try:
                    if block["tx"]:
                        with transaction.atomic():
                            res = [run_op(cur, op) for op in block["ops"]]
                    else:
                        res = [run_op(cur, op) for op in block["ops"]]
                except Exception as exc:  # noqa: BLE001
                    if not block["error"]:
                        raise
                    res = [f"error:{sqlstate(exc)}"]
                else:
                    if block["error"]:
                        res = ["noerror"]
                out.extend(res)
        # The ORM at the end: this client's rows, counted and listed.
        out.append("orm:%d" % Item.objects.filter(client=int(client)).count())
        out.append("orm:" + ",".join(str(n) for n in Item.objects.filter(client=int(client)).order_by("n")
                                     .values_list("n", flat=True)))
    except Exception as exc:  # noqa: BLE001
        failures[client] = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    finally:
        connection.close()


def main():
    if job.get("create_model"):
        with connection.schema_editor() as editor:
            editor.create_model(Item)
        connection.close()
    results = {c: [] for c in job["plans"]}
    failures = {}
    threads = [threading.Thread(target=run_client, args=(c, plan, results, failures))
               for c, plan in job["plans"].items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with connection.cursor() as cur:
        cur.execute("select name from pg_prepared_statements order by name")
        prepared = [r[0] for r in cur.fetchall()]
    connection.close()
    json.dump({"driver": "psycopg" if psycopg_any.is_psycopg3 else "psycopg2", "results": results,
               "failures": failures, "prepared": prepared}, open(sys.argv[2], "w"))


main()
