"""/metrics, /health and /ready of the admin HTTP endpoint (`admin_listen`), checked by value.

Clients are put into each state Sluice reports (active, waiting, idle, idle in transaction,
leaking), then /metrics is scraped and parsed with prometheus_client's parser, and every
number is compared with what the test set up.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

import psycopg2
import pytest
from prometheus_client.parser import text_string_to_metric_families

import support

pytestmark = pytest.mark.sluice_only

STATES = ("active", "waiting", "idle", "idle_in_transaction", "login")


# ---------------------------------------------------------------- helpers

class Scrape:
    """One parsed /metrics response: sample values by name and labels."""

    def __init__(self, text: str):
        self.text = text
        self.samples: dict[tuple[str, tuple], float] = {}
        self.types: dict[str, str] = {}
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for sample in family.samples:
                self.samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value

    def value(self, name: str, default: float | None = None, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        if key in self.samples:
            return self.samples[key]
        if default is not None:
            return default
        raise AssertionError(f"no sample {name}{labels} in /metrics:\n{self.text}")

    def labelled(self, name: str, label: str) -> dict[str, float]:
        """Every sample of `name` by the value of one label."""
        return {dict(labels)[label]: value for (sample, labels), value in self.samples.items()
                if sample == name and label in dict(labels)}


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def scrape(port: int) -> Scrape:
    status, body = http_get(port, "/metrics")
    assert status == 200, body
    return Scrape(body)


def start(sluice, **settings):
    """A sluice with admin_listen on a free port; returns (process, admin port)."""
    admin_port = support.free_port()
    settings.setdefault("admin_users", ["app"])
    config = support.sluice_config(admin_listen=f"127.0.0.1:{admin_port}", **settings)
    process = sluice(config)
    support.wait_until(lambda: support.port_accepts("127.0.0.1", admin_port), 10, message="admin_listen")
    return process, admin_port


def console(process, user: str = "app", password: str = "app-secret"):
    return process.connect("sluice", user=user, password=password)


class Worker(threading.Thread):
    """Runs one statement on its own connection; keeps the exception if it fails."""

    def __init__(self, process, query: str, dbname: str = "app", application_name: str = ""):
        super().__init__(daemon=True)
        self.conn = process.connect(dbname, application_name=application_name or None)
        self.query = query
        self.error: BaseException | None = None

    def run(self):
        try:
            with self.conn.cursor() as cur:
                cur.execute(self.query)
                cur.fetchall()
        except BaseException as exc:  # noqa: BLE001 - reported by finish()
            self.error = exc

    def finish(self, timeout: float = 30):
        self.join(timeout)
        assert not self.is_alive(), f"{self.query!r} still running after {timeout}s"
        self.conn.close()
        assert self.error is None, f"{self.query!r} failed: {self.error!r}"


# ---------------------------------------------------------------- tests

def test_gauges_follow_every_client_state(sluice):
    """active / waiting / idle / idle_in_transaction / leaking clients, two databases."""
    databases = {
        "app": {"url": support.upstream_url("app", "app"), "pool_size": 3},
        "leaky": {"url": support.upstream_url("fltr", "app"), "pool_size": 2},
    }
    process, port = start(sluice, databases=databases, leak_detection_threshold=1)
    before = scrape(port)
    assert before.types["sluice_clients"] == "gauge"
    assert before.types["sluice_transactions"] == "counter"
    assert before.types["sluice_pool_wait_seconds"] == "histogram"
    assert before.value("sluice_up") == 1
    wait_count_before = before.value("sluice_pool_wait_seconds_count", 0, database="app")

    idle = process.connect("app", application_name="idler")
    with idle.cursor() as cur:
        cur.execute("select 1")
    in_tx = process.connect("app", autocommit=False, application_name="in-tx")
    with in_tx.cursor() as cur:
        cur.execute("select 1")  # psycopg2 sends BEGIN first: the client now idles inside a transaction
    sleepers = [Worker(process, "select pg_sleep(5)", application_name="sleeper") for _ in range(2)]
    for worker in sleepers:
        worker.start()
    support.wait_until(lambda: scrape(port).value("sluice_clients", database="app", user="app", state="active") == 2,
                       10, message="two active clients")
    waiters = [Worker(process, "select pg_sleep(0.1)", application_name="waiter") for _ in range(2)]
    for worker in waiters:
        worker.start()
    support.wait_until(lambda: scrape(port).value("sluice_clients", database="app", user="app", state="waiting") == 2,
                       10, message="two waiting clients")
    leaker = process.connect("leaky", autocommit=False, application_name="leaker")
    with leaker.cursor() as cur:
        cur.execute("select 1")
    time.sleep(1.5)  # everyone holding a server is now past leak_detection_threshold = 1

    m = scrape(port)
    app = {"database": "app", "user": "app"}
    leaky = {"database": "leaky", "user": "app"}
    assert {s: m.value("sluice_clients", **app, state=s) for s in STATES} == \
        {"active": 2, "waiting": 2, "idle": 1, "idle_in_transaction": 1, "login": 0}
    assert {s: m.value("sluice_clients", **leaky, state=s) for s in STATES} == \
        {"active": 0, "waiting": 0, "idle": 0, "idle_in_transaction": 1, "login": 0}
    assert m.value("sluice_servers", **app, state="active") == 3
    assert m.value("sluice_servers", **app, state="idle") == 0
    assert m.value("sluice_servers", **leaky, state="active") == 1
    assert m.value("sluice_pool_size", **app) == 3
    assert m.value("sluice_pool_size", **leaky) == 2
    assert m.value("sluice_pool_min_size", **app) == 0
    assert m.value("sluice_pool_paused", **app) == 0
    assert 1.0 <= m.value("sluice_pool_max_wait_seconds", **app) < 10
    assert m.value("sluice_pool_max_wait_seconds", **leaky) == 0
    # Holding a server past the threshold: two sleepers and the idle transaction on app, the leaker.
    assert m.value("sluice_leak_suspects", database="app") == 3
    assert m.value("sluice_leak_suspects", database="leaky") == 1
    assert m.value("sluice_leak_suspects_total", database="app") == 3
    assert m.value("sluice_leak_suspects_total", database="leaky") == 1
    assert m.value("sluice_oldest_client_age_seconds", database="app") >= 1.5
    apps = m.labelled("sluice_clients_by_application", "application_name")
    assert apps == {"idler": 1, "in-tx": 1, "sleeper": 2, "waiter": 2, "leaker": 1}
    assert m.value("sluice_max_client_conn") == 5000

    # Let everything finish: the waiters get servers once the sleepers are done.
    leaker.commit()
    in_tx.commit()
    for worker in sleepers + waiters:
        worker.finish()
    after = support.wait_until(
        lambda: (lambda s: s if s.value("sluice_clients", **app, state="active") == 0 else None)(scrape(port)),
        10, message="no active client")
    assert after.value("sluice_clients", **app, state="waiting") == 0
    assert after.value("sluice_clients", **app, state="idle") == 2  # idler and in-tx, both idle now
    assert after.value("sluice_clients", **leaky, state="idle") == 1
    assert after.value("sluice_servers", **app, state="active") == 0
    assert after.value("sluice_servers", **app, state="idle") == 3
    assert after.value("sluice_leak_suspects", database="app") == 0
    assert after.value("sluice_leak_suspects", database="leaky") == 0
    assert after.value("sluice_leak_suspects_total", database="leaky") == 1  # a counter keeps it
    assert after.value("sluice_pool_max_wait_seconds", **app) == 0
    # Waits: each waiter queued before the 1.5 s pause and got a server only once in-tx committed.
    waits = after.value("sluice_pool_wait_seconds_count", database="app") - wait_count_before
    assert waits >= 6  # idler, in-tx, 2 sleepers, 2 waiters (a checkout without a wait records 0)
    assert after.value("sluice_pool_wait_seconds_sum", database="app") >= 2 * 1.5
    assert after.value("sluice_pool_wait_seconds_bucket", database="app", le="+Inf") == \
        after.value("sluice_pool_wait_seconds_count", database="app")
    assert after.value("sluice_server_hold_seconds_count", database="app") >= 6
    assert after.value("sluice_transaction_duration_seconds_sum", database="app") >= 2 * 5.0
    for conn in (idle, in_tx, leaker):
        conn.close()


def test_leak_suspects_total_counts_holds_between_scrapes(sluice):
    """A hold that starts and ends between two scrapes is still a leak suspect: the counter
    must count it (the WARNING log line was written), not only suspects a scrape happened to see."""
    process, port = start(sluice, leak_detection_threshold=1)
    scrape(port)
    conn = process.connect("app", autocommit=False)
    with conn.cursor() as cur:
        cur.execute("select 1")
    support.wait_until(lambda: "leak suspect:" in process.log_text(), 10, message="the leak WARNING")
    conn.commit()
    support.wait_until(lambda: "released its server" in process.log_text(), 10, message="the release line")
    conn.close()
    m = scrape(port)
    assert m.value("sluice_leak_suspects", database="app") == 0
    assert m.value("sluice_leak_suspects_total", database="app") == 1, \
        "sluice_leak_suspects_total missed a leak suspect that was logged but never seen by a scrape"


def test_transactions_and_queries_total_grow_by_what_ran(sluice):
    process, port = start(sluice)
    autocommit = process.connect("app")
    explicit = process.connect("app", autocommit=False)
    before = scrape(port)
    for i in range(7):
        with autocommit.cursor() as cur:
            cur.execute("select %s", (i,))
    for i in range(3):
        with explicit.cursor() as cur:  # BEGIN, select, select, COMMIT
            cur.execute("select 1")
            cur.execute("select 2")
        explicit.commit()
    after = scrape(port)
    assert after.value("sluice_transactions_total", database="app") - \
        before.value("sluice_transactions_total", 0, database="app") == 10
    assert after.value("sluice_queries_total") - before.value("sluice_queries_total", 0) == 7 + 3 * 4
    assert after.value("sluice_transaction_duration_seconds_count", database="app") - \
        before.value("sluice_transaction_duration_seconds_count", 0, database="app") == 10
    assert after.value("sluice_received_bytes_total") > before.value("sluice_received_bytes_total", 0)
    assert after.value("sluice_sent_bytes_total") > before.value("sluice_sent_bytes_total", 0)
    assert after.value("sluice_server_connections_opened_total", database="app") >= 1
    assert after.value("sluice_server_connect_failures_total", database="app") == 0
    # the pool's first server is a cold start (no server was logged in)
    assert after.value("sluice_upstream_connect_seconds_count", database="app", start="cold") >= 1
    autocommit.close()
    explicit.close()


def test_closes_and_auth_failures_are_counted_by_reason(sluice):
    process, port = start(sluice)
    before = scrape(port)
    closed_before = before.labelled("sluice_client_connections_closed_total", "reason")

    with pytest.raises(psycopg2.OperationalError):
        process.connect("app", password="wrong-password")
    conn = process.connect("app")
    with conn.cursor() as cur:
        cur.execute("select 1")
    conn.close()
    victim = process.connect("app")
    admin = console(process)
    with admin.cursor() as cur:
        cur.execute("KILL app")
    with pytest.raises(psycopg2.Error):
        with victim.cursor() as cur:
            cur.execute("select 1")
    victim.close()
    admin.close()

    def closed():
        m = scrape(port)
        reasons = m.labelled("sluice_client_connections_closed_total", "reason")
        delta = {r: reasons.get(r, 0) - closed_before.get(r, 0) for r in reasons}
        return (m, delta) if delta.get("client_close", 0) >= 2 else None

    m, delta = support.wait_until(closed, 10, message="closes counted")
    assert m.value("sluice_auth_failures_total") - before.value("sluice_auth_failures_total") == 1
    assert delta.get("auth_failed") == 1, delta
    assert delta.get("client_close") == 2, delta  # the app client and the console session
    assert delta.get("killed") == 1, delta
    accepted = m.value("sluice_client_connections_accepted_total") - \
        before.value("sluice_client_connections_accepted_total")
    assert accepted == 4
    assert m.value("sluice_client_connections_refused_total") == 0


def test_port_probes_are_counted_not_logged_as_failed_logins(sluice):
    """A TCP connect-and-close (a load balancer's health check, the quickstart's readiness wait)
    is counted as reason=probe and leaves no "client login failed" line; a real failed login
    still does."""
    process, port = start(sluice)
    # The fixture's own wait for the port was a probe too: let it be counted first.
    before = support.wait_until(
        lambda: (r := scrape(port).labelled("sluice_client_connections_closed_total", "reason"))
        .get("probe", 0) >= 1 and r, 10, message="the fixture's probe counted")
    for _ in range(3):
        assert support.port_accepts("127.0.0.1", process.port)

    def probes():
        reasons = scrape(port).labelled("sluice_client_connections_closed_total", "reason")
        delta = reasons.get("probe", 0) - before.get("probe", 0)
        return delta if delta >= 3 else None

    assert support.wait_until(probes, 10, message="probes counted") == 3
    assert "client login failed" not in process.log_text()
    assert "client_close" not in process.log_text()

    with pytest.raises(psycopg2.OperationalError):
        process.connect("app", password="wrong-password")
    support.wait_until(lambda: "client login failed" in process.log_text(), 10,
                       message="the failed login logged")


def test_health_and_ready_follow_pause_and_resume(sluice):
    process, port = start(sluice)
    assert http_get(port, "/health") == (200, "ok\n")
    assert http_get(port, "/ready") == (200, "ready\n")
    admin = console(process)
    with admin.cursor() as cur:
        cur.execute("PAUSE")
    status, body = support.wait_until(lambda: (lambda r: r if r[0] == 503 else None)(http_get(port, "/ready")), 5,
                                      message="/ready 503 after PAUSE")
    assert body == "not ready\n"
    assert scrape(port).value("sluice_pool_paused", database="app", user="app") == 1
    assert http_get(port, "/health") == (200, "ok\n")  # paused is not unhealthy
    with admin.cursor() as cur:
        cur.execute("RESUME")
    support.wait_until(lambda: http_get(port, "/ready")[0] == 200, 5, message="/ready 200 after RESUME")
    assert scrape(port).value("sluice_pool_paused", database="app", user="app") == 0
    assert http_get(port, "/nope")[0] == 404
    admin.close()
