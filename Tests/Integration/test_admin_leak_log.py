"""Leak detection in the log: one WARNING per suspect (per hold), one NOTICE when it lets go.

A client that holds a server longer than `leak_detection_threshold` seconds (typically a
transaction left open) is logged once:

  ... warning sluice: application_name=billing client=127.0.0.1:40312 database=app held_for_s=1.004
      [last_query=...] tx_state=T user=app [SluiceCore] leak suspect: client has held a server ...

and, when the transaction finally ends:

  ... notice sluice: application_name=billing client=127.0.0.1:40312 database=app held_for_s=3.52
      user=app [SluiceCore] leak suspect released its server
"""

from __future__ import annotations

import re
import socket
import time

import psycopg2
import pytest

import support

pytestmark = pytest.mark.sluice_only

KEYS = ("application_name", "client", "database", "held_for_s", "last_query", "tx_state", "user", "worker")
LINE = re.compile(r"^(?P<time>\d{4}-\d\d-\d\dT\S+) (?P<level>\w+) sluice: (?P<meta>.*) \[\w+\] (?P<message>.*)$")
FIELD = re.compile(r"(?:^| )(" + "|".join(KEYS) + r")=(.*?)(?= (?:" + "|".join(KEYS) + r")=|$)")
WARNING = "leak suspect: client has held a server connection longer than leak_detection_threshold"
RELEASED = "leak suspect released its server"


def parse(line: str) -> dict | None:
    match = LINE.match(line)
    if not match:
        return None
    fields = dict(FIELD.findall(match.group("meta")))
    fields["level"] = match.group("level")
    fields["message"] = match.group("message")
    return fields


def leak_lines(process, message: str) -> list[dict]:
    return [fields for line in process.log_text().splitlines()
            if (fields := parse(line)) and fields["message"] == message]


def local_port(conn) -> int:
    """The client-side port of a psycopg2 connection (what Sluice logs as client=127.0.0.1:PORT)."""
    with socket.fromfd(conn.fileno(), socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.getsockname()[1]


def start(sluice, **settings):
    settings.setdefault("leak_detection_threshold", 1)
    config = support.sluice_config(admin_users=["app"], **settings)
    return sluice(config)


def open_transaction(process, application_name: str, query: str = "select 1"):
    """A connection left idle inside a transaction (psycopg2 sends BEGIN, then query)."""
    conn = process.connect("app", autocommit=False, application_name=application_name)
    with conn.cursor() as cur:
        cur.execute(query)
    return conn, time.monotonic()


def test_one_warning_per_suspect_and_one_released_line(sluice):
    process = start(sluice)
    billing, billing_start = open_transaction(process, "billing-worker")
    report, report_start = open_transaction(process, "report-job")
    quick = process.connect("app", application_name="quick")
    ports = {"billing-worker": local_port(billing), "report-job": local_port(report)}
    # Short transactions for 3.5 s (three leak checks): never suspects.
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:
        with quick.cursor() as cur:
            cur.execute("select pg_sleep(0.05)")

    warnings = leak_lines(process, WARNING)
    assert len(warnings) == 2, process.log_tail()
    by_app = {w["application_name"]: w for w in warnings}
    assert set(by_app) == {"billing-worker", "report-job"}
    for app, warning in by_app.items():
        assert warning["level"] == "warning"
        assert warning["client"] == f"127.0.0.1:{ports[app]}"
        assert warning["user"] == "app"
        assert warning["database"] == "app"
        assert warning["tx_state"] == "T"
        assert 1.0 <= float(warning["held_for_s"]) < 2.5
        assert "last_query" not in warning  # log_leak_queries is off

    billing.commit()
    billing_held = time.monotonic() - billing_start
    support.wait_until(lambda: len(leak_lines(process, RELEASED)) == 1, 5, message="billing's released line")
    time.sleep(0.5)
    report.rollback()  # a rollback ends the hold too
    report_held = time.monotonic() - report_start
    released = support.wait_until(lambda: (lambda r: r if len(r) == 2 else None)(leak_lines(process, RELEASED)), 5,
                                  message="two released lines")
    by_app = {r["application_name"]: r for r in released}
    for app, held in (("billing-worker", billing_held), ("report-job", report_held)):
        line = by_app[app]
        assert line["level"] == "notice"
        assert line["client"] == f"127.0.0.1:{ports[app]}"
        assert line["user"] == "app" and line["database"] == "app"
        assert held - 0.5 <= float(line["held_for_s"]) <= held + 0.1, (line, held)
    assert float(by_app["report-job"]["held_for_s"]) > float(by_app["billing-worker"]["held_for_s"])

    # A new hold by the same client is a new suspect: one more WARNING, not a repeat of the old one.
    with billing.cursor() as cur:
        cur.execute("select 2")
    support.wait_until(lambda: len(leak_lines(process, WARNING)) == 3, 5, message="a WARNING for the second hold")
    time.sleep(2.2)
    assert len(leak_lines(process, WARNING)) == 3
    assert leak_lines(process, WARNING)[-1]["client"] == f"127.0.0.1:{ports['billing-worker']}"
    billing.commit()
    support.wait_until(lambda: len(leak_lines(process, RELEASED)) == 3, 5, message="the third released line")
    for conn in (billing, report, quick):
        conn.close()


def test_last_query_is_logged_only_with_log_leak_queries(sluice):
    query = "select '" + "x" * 250 + "' as padding -- the end of a long statement"
    process = start(sluice, log_leak_queries=True)
    conn, _ = open_transaction(process, "verbose", query)
    warning = support.wait_until(lambda: leak_lines(process, WARNING), 5, message="the WARNING")[0]
    assert warning["last_query"] == query[:200]
    assert len(warning["last_query"]) == 200
    assert warning["tx_state"] == "T"
    admin = process.connect("sluice")
    with admin.cursor() as cur:
        cur.execute("SHOW LEAKS")
        columns = [d.name for d in cur.description]
        rows = [dict(zip(columns, row)) for row in cur.fetchall()]
    assert len(rows) == 1 and rows[0]["last_query"] == query[:200]
    conn.commit()
    support.wait_until(lambda: leak_lines(process, RELEASED), 5, message="the released line")
    conn.close()
    admin.close()


def test_threshold_zero_disables_detection(sluice):
    process = start(sluice, leak_detection_threshold=0)
    conn, _ = open_transaction(process, "silent")
    time.sleep(2.2)
    admin = process.connect("sluice")
    with admin.cursor() as cur:
        cur.execute("SHOW LEAKS")
        assert cur.fetchall() == []
    conn.commit()
    time.sleep(0.3)
    assert leak_lines(process, WARNING) == [] and leak_lines(process, RELEASED) == []
    conn.close()
    admin.close()


def test_a_multiline_statement_keeps_the_warning_on_one_line(sluice):
    process = start(sluice, log_leak_queries=True)
    conn, _ = open_transaction(process, "multiline", "select 1,\n  2 -- second line\n")
    support.wait_until(lambda: WARNING in process.log_text(), 5, message="the WARNING")
    conn.commit()
    conn.close()
    stray = [line for line in process.log_text().splitlines() if line and not LINE.match(line)]
    assert stray == [], "log lines that are not log records:\n" + "\n".join(stray)


def test_idle_transaction_timeout_ends_a_leak(sluice):
    """The fix docs/leaks.md recommends: the suspect is warned about, then closed with 25P03."""
    process = start(sluice, idle_transaction_timeout=3)
    conn, began = open_transaction(process, "forgetful")
    support.wait_until(lambda: leak_lines(process, WARNING), 5, message="the WARNING")
    with pytest.raises(psycopg2.OperationalError):
        support.wait_until(lambda: time.monotonic() - began > 4.5, 6, message="4.5 s")
        with conn.cursor() as cur:
            cur.execute("select 1")
    conn.close()
    logouts = [line for line in process.log_text().splitlines()
               if "client logout" in line and "application_name=forgetful" in line]
    assert len(logouts) == 1 and "reason=idle_transaction_timeout" in logouts[0] and "error=25P03" in logouts[0]
    # Its server went back to the pool, rolled back: a new client gets it at once.
    other = process.connect("app")
    with other.cursor() as cur:
        cur.execute("select 1")
    other.close()
