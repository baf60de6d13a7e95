"""Per-application_name metrics (`sluice_application_*`): the busiest `metrics_application_limit`
names get series of their own, everything else is `other`, and no number of distinct names grows
the series count past limit + 1.

Names come from real clients: connections with their own application_name, and one connection that
runs `SET application_name` thousands of times (each change reaches Sluice as a ParameterStatus).
"""

from __future__ import annotations

import re
import subprocess
import threading
import time

import psycopg2
import pytest

import support
from test_metrics_endpoint import Scrape, http_get, scrape, start

pytestmark = pytest.mark.sluice_only

FAMILIES = ("sluice_application_pool_wait_seconds", "sluice_application_transaction_duration_seconds",
            "sluice_application_server_hold_seconds", "sluice_application_leak_suspects_total")
LIMIT = 3


def application_names(m: Scrape, family: str) -> set[str]:
    return {dict(labels)["application_name"] for (name, labels) in m.samples
            if name.startswith(family) and "application_name" in dict(labels)}


def count(m: Scrape, family: str, application: str) -> float:
    return m.value(family + "_count", 0, application_name=application)


def test_many_distinct_names_stay_within_limit_plus_one_series(sluice):
    process, port = start(sluice, metrics_application_limit=LIMIT, pool_size=3)
    busy = process.connect("app", application_name="busy")
    with busy.cursor() as cur:
        for i in range(40):
            cur.execute("select %s", (i,))

    # 60 connections, each with a name of its own (and one without a name: "none").
    for i in range(60):
        conn = process.connect("app", application_name=f"tenant-{i}")
        with conn.cursor() as cur:
            cur.execute("select 1")
        conn.close()
    unnamed = process.connect("app")
    with unnamed.cursor() as cur:
        cur.execute("select 1")

    # 3,000 more names on one connection.
    flood = process.connect("app", application_name="flood")
    with flood.cursor() as cur:
        for i in range(3_000):
            cur.execute(f"set application_name = 'flood-{i}'")
            if i % 500 == 0:
                scrape(port)  # ranking happens at scrapes too, as in production
    m = scrape(port)
    for family in FAMILIES:
        names = application_names(m, family)
        assert len(names) <= LIMIT + 1, f"{family}: {sorted(names)}"
        assert "other" in names, family
    names = application_names(m, "sluice_application_transaction_duration_seconds")
    assert len(names) == LIMIT + 1, names
    assert "busy" in names, f"the busiest application lost its series to one-off names: {sorted(names)}"
    assert count(m, "sluice_application_transaction_duration_seconds", "busy") == 40
    assert count(m, "sluice_application_pool_wait_seconds", "busy") == 40
    assert count(m, "sluice_application_server_hold_seconds", "busy") == 40
    # Everything else is in other: 60 tenants + none + 3,000 SETs, less what the two other labelled names hold.
    others = count(m, "sluice_application_transaction_duration_seconds", "other")
    labelled = sum(count(m, "sluice_application_transaction_duration_seconds", n) for n in names - {"busy", "other"})
    assert 3_000 <= others and others + labelled <= 60 + 1 + 3_000, (others, labelled)
    # The clients-by-application gauge follows the same limit and labels.
    gauge = m.labelled("sluice_clients_by_application", "application_name")
    assert len(gauge) <= LIMIT + 1 and sum(gauge.values()) == 3, gauge

    # A name that becomes the busiest gets its series; its transactions are counted from its first.
    with flood.cursor() as cur:
        cur.execute("set application_name = 'late-busy'")
        for i in range(100):
            cur.execute("select %s", (i,))
    m = scrape(port)
    names = application_names(m, "sluice_application_transaction_duration_seconds")
    assert "late-busy" in names and len(names) <= LIMIT + 1, names
    assert count(m, "sluice_application_transaction_duration_seconds", "late-busy") == 101  # the SET and 100 selects
    # SHOW CLIENTS shows the name the client set.
    admin = process.connect("sluice", user="app")
    with admin.cursor() as cur:
        cur.execute("SHOW CLIENTS")
        columns = [d[0] for d in cur.description]
        apps = {row[columns.index("application_name")] for row in cur.fetchall()}
    assert "late-busy" in apps, apps
    for conn in (busy, unnamed, flood, admin):
        conn.close()


def test_a_client_whose_name_was_replaced_gets_it_back_when_active(sluice):
    """limit 1: four entries. An idle client's name is the least busy and is replaced by a fourth busy
    name; when that client becomes active, its numbers go to other until the janitor (once a second)
    gives its name an entry again, and then to its own series."""
    process, port = start(sluice, metrics_application_limit=1, pool_size=3)
    steady = process.connect("app", application_name="steady")
    busy = []
    for name in ("a", "b", "c", "d"):
        conn = process.connect("app", application_name=name)
        with conn.cursor() as cur:
            for i in range(5):
                cur.execute("select %s", (i,))
        busy.append(conn)
    before = scrape(port)
    assert "steady" not in application_names(before, "sluice_application_transaction_duration_seconds")
    other_before = count(before, "sluice_application_transaction_duration_seconds", "other")
    ran = 0
    with steady.cursor() as cur:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            cur.execute("select 1")
            ran += 1
    m = scrape(port)
    names = application_names(m, "sluice_application_transaction_duration_seconds")
    assert names == {"steady", "other"}, names
    counted = count(m, "sluice_application_transaction_duration_seconds", "steady")
    moved = count(m, "sluice_application_transaction_duration_seconds", "other") - other_before
    assert 0 < counted < ran and moved > 0, (counted, moved, ran)
    for conn in [steady] + busy:
        conn.close()


@pytest.mark.one_pool  # one server, one queue: max_queue_length counts on it
def test_names_are_sanitized_and_leaks_and_refusals_are_counted_by_application(sluice):
    # A limit above the number of names: every name has its series.
    process, port = start(sluice, metrics_application_limit=10, pool_size=1, leak_detection_threshold=1,
                          max_queue_length=1, max_db_client_connections=4)
    odd = process.connect("app", application_name='we"b\\ ä' + "x" * 100)
    with odd.cursor() as cur:
        cur.execute("select 1")
    # A leak suspect: "holder" keeps the only server inside a transaction.
    holder = process.connect("app", autocommit=False, application_name="holder")
    with holder.cursor() as cur:
        cur.execute("select 1")
    support.wait_until(lambda: "leak suspect:" in process.log_text(), 10, message="the leak WARNING")
    # A waiter queues (max_queue_length = 1); the next client of "pushy" is refused with 53300.
    waiter = process.connect("app", application_name="waiter")
    waiter.autocommit = True
    waited = threading.Thread(target=lambda: waiter.cursor().execute("select 1"), daemon=True)
    waited.start()
    support.wait_until(lambda: scrape(port).value("sluice_clients", database="app", user="app", state="waiting") == 1,
                       10, message="one waiting client")
    pushy = process.connect("app", application_name="pushy")
    with pytest.raises(psycopg2.Error) as refused:
        with pushy.cursor() as cur:
            cur.execute("select 1")
    # psycopg2 may report the FATAL 53300 only as a closed connection; the log says which it was.
    assert "max_queue_length=1" in str(refused.value) or "closed" in str(refused.value)
    support.wait_until(lambda: "reason=max_queue_length" in process.log_text(), 5, message="the refusal logged")
    # max_db_client_connections = 4 (odd, holder, waiter, pushy's closed): the fifth login of "holder" is refused.
    extra = process.connect("app", application_name="extra")
    with pytest.raises(psycopg2.OperationalError) as too_many:
        process.connect("app", application_name="holder")
    assert "max_db_client_connections" in str(too_many.value)
    holder.commit()
    waited.join(10)

    m = scrape(port)
    sanitized = "we_b___" + "x" * 56  # '"', '\\', ' ' and 'ä' become '_'; 63 characters kept
    assert len(sanitized) == 63
    names = application_names(m, "sluice_application_transaction_duration_seconds")
    assert sanitized in names, names
    assert all(re.fullmatch(r"[A-Za-z0-9_.:/@-]{1,63}", n) for n in names), names
    assert m.value("sluice_application_leak_suspects_total", application_name="holder") == 1
    assert m.value("sluice_application_refusals_total", application_name="holder",
                   reason="max_db_client_connections") == 1
    assert m.value("sluice_application_refusals_total", application_name="pushy", reason="max_queue_length") == 1
    assert m.labelled("sluice_application_leak_suspects_total", "application_name").get("pushy", 0) == 0
    assert http_get(port, "/metrics")[0] == 200
    for conn in (odd, holder, waiter, extra):
        conn.close()


@pytest.mark.parametrize("value, error", [
    (5, None), (0, None), (201, "must be between 0 and 200, got 201"), ('"many"', "expected an integer, got string"),
])
def test_check_config_takes_the_limit_like_other_settings(tmp_path, value, error):
    support.require_binary()
    path = tmp_path / "sluice.toml"
    path.write_text(f'[sluice]\nmetrics_application_limit = {value}\n[databases.app]\nurl = "{support.upstream_url()}"\n')
    result = subprocess.run([support.SLUICE_BIN, "check-config", "--config", str(path)], capture_output=True,
                            text=True, timeout=30, stdin=subprocess.DEVNULL, env=support.sluice_environment())
    if error is None:
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        assert result.returncode == 1
        assert f"{path}: sluice.metrics_application_limit: {error}" in result.stdout + result.stderr


def test_the_limit_is_read_at_start_only(sluice):
    process, port = start(sluice, metrics_application_limit=3)
    process.write_config(process.config_text.replace("metrics_application_limit = 3", "metrics_application_limit = 5"))
    assert "metrics_application_limit = 5" in process.config_text
    process.reload()
    support.wait_until(lambda: "metrics_application_limit changed in the config; it takes effect at the next restart"
                       in process.log_text(), 10, message="the restart warning")
    admin = process.connect("sluice", user="app")
    with admin.cursor() as cur:
        cur.execute("SHOW CONFIG")
        rows = {row[0]: row for row in cur.fetchall()}
    admin.close()
    assert rows["metrics_application_limit"][1] == "3", rows["metrics_application_limit"]
    assert rows["metrics_application_limit"][-1] in ("no", False), rows["metrics_application_limit"]
