"""A real Prometheus (Debian's `prometheus`) scrapes a Sluice under load; every PromQL expression of
the Grafana dashboard (deploy/grafana/sluice-dashboard.json) and of the alert rules
(deploy/prometheus/alerts.yml) must name metrics that exist and return data. The rules also pass
`promtool check rules` and their unit tests (`promtool test rules alerts.test.yml`).

The load puts every series in place: transactions, a leak suspect, a waiting client, a pool at its
size, a 53300 refusal, a closed server and an upstream that refuses connections.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import psycopg2
import pytest
import yaml

import support
from test_metrics_endpoint import scrape, start

pytestmark = pytest.mark.sluice_only

DASHBOARD = support.REPO / "deploy" / "grafana" / "sluice-dashboard.json"
RULES_DIR = support.REPO / "deploy" / "prometheus"
ALERTS = RULES_DIR / "alerts.yml"
# Grafana's variables as the dashboard's defaults ("All") and a short rate window (scrapes are 1 s apart).
GRAFANA_VARIABLES = {"$__rate_interval": "30s", "$__interval": "5s", "$__range": "1m",
                     "${instance}": ".*", "$instance": ".*", "${database}": ".*", "$database": ".*"}
# Alerts the load below makes fire (their whole expression returns series). SluiceColdStartWaits needs
# logins slower than 2 s; only its left side is checked.
FIRING = {"SluiceLeakSuspects", "SluicePoolSaturated", "SluiceLimitRefusals", "SluiceApplicationRefused",
          "SluiceUpstreamConnectFailures", "SluiceNearUpstreamBudget"}
COMPARISON = re.compile(r"\s*(>|<|>=|<=|==|!=)\s*[0-9.eE+-]+\s*$")


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install Debian's prometheus package (scripts/test does)", pytrace=False)
    return path


# ---------------------------------------------------------------- the expressions

def dashboard_expressions() -> list[tuple[str, str]]:
    """(panel title, expr) of every panel target, rows' nested panels included."""
    found = []

    def walk(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((panel.get("title", "?"), target["expr"]))
            walk(panel.get("panels", []))

    walk(json.loads(DASHBOARD.read_text())["panels"])
    return found


def dashboard_variable_metrics() -> list[str]:
    """Metrics the template variables' label_values(...) queries read."""
    variables = json.loads(DASHBOARD.read_text()).get("templating", {}).get("list", [])
    return [name for v in variables for name in metric_names(json.dumps(v.get("query", "")))]


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"] if "alert" in rule]


def substitute(expr: str) -> str:
    for variable, value in sorted(GRAFANA_VARIABLES.items(), key=lambda item: -len(item[0])):
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable this test does not know: {expr}"
    return expr


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(sluice_[a-z0-9_]+)\b", expr))


# ---------------------------------------------------------------- Prometheus

class Prometheus:
    """Debian's prometheus on 127.0.0.1 (a free port, a temp dir), scraping one target every second."""

    def __init__(self, workdir: Path, target_port: int):
        self.port = support.free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(ALERTS)],
            "scrape_configs": [{"job_name": "sluice", "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}]}],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log_path = workdir / "prometheus.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [tool("prometheus"), f"--config.file={workdir / 'prometheus.yml'}",
             f"--storage.tsdb.path={workdir / 'tsdb'}", f"--web.listen-address=127.0.0.1:{self.port}",
             "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, cwd=str(workdir))

    def get(self, path: str, **params) -> dict:
        url = f"http://127.0.0.1:{self.port}{path}" + ("?" + urllib.parse.urlencode(params) if params else "")
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list:
        try:
            return self.get("/api/v1/query", query=expr)["result"]
        except urllib.error.HTTPError as error:
            raise AssertionError(f"Prometheus refused {expr!r}: {error.read().decode(errors='replace')}") from None

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited ({self.proc.returncode}):\n{self.log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def prometheus_factory(tmp_path):
    started: list[Prometheus] = []

    def make(target_port: int) -> Prometheus:
        instance = Prometheus(tmp_path, target_port)
        started.append(instance)
        support.wait_until(instance.ready, 20, message="prometheus ready")
        return instance

    yield make
    for instance in started:
        instance.stop()


# ---------------------------------------------------------------- tests

def test_alert_rules_pass_promtool():
    promtool = tool("promtool")
    checked = subprocess.run([promtool, "check", "rules", ALERTS.name], cwd=RULES_DIR, capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in checked.stdout
    tested = subprocess.run([promtool, "test", "rules", "alerts.test.yml"], cwd=RULES_DIR, capture_output=True,
                            text=True, timeout=60)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    tested_alerts = {case["alertname"] for test in yaml.safe_load((RULES_DIR / "alerts.test.yml").read_text())["tests"]
                     for case in test.get("alert_rule_test", [])}
    assert tested_alerts == {rule["alert"] for rule in alert_rules()}, "every alert has a promtool test"


def test_the_expression_checks_catch_a_missing_metric():
    """The check below would fail for a panel or rule naming a metric Sluice does not serve."""
    assert metric_names('sum(rate(sluice_no_such_metric_total{instance=~"$instance"}[$__rate_interval]))') == \
        {"sluice_no_such_metric_total"}
    assert COMPARISON.sub("", "sum by (database) (sluice_leak_suspects) > 0") == "sum by (database) (sluice_leak_suspects)"
    assert len(dashboard_expressions()) >= 20 and len(alert_rules()) >= 6


@pytest.mark.one_pool  # a waiter behind the leak suspect on a pool of one server
def test_every_dashboard_and_alert_expression_returns_data(sluice, pg, prometheus_factory):
    down_port = support.free_port()  # nothing listens: the upstream "refuses connections"
    databases = {
        "app": {"url": support.upstream_url("app", "app"), "pool_size": 3, "max_db_client_connections": 6},
        "spare": {"url": support.upstream_url("fltr", "app"), "pool_size": 1},
        "down": {"url": support.make_url("127.0.0.1", down_port, "app", "app", "app-secret"), "pool_size": 1},
    }
    process, admin_port = start(sluice, databases=databases, leak_detection_threshold=1, query_wait_timeout=60,
                                shutdown_timeout=1, server_login_retry=1)
    prometheus = prometheus_factory(admin_port)
    # Counters that start at 0 must be seen at 0 first, or increase() cannot see them grow.
    support.wait_until(lambda: prometheus.query("sluice_limit_refusals_total"), 20, interval=0.3,
                       message="a first scrape")
    stop = threading.Event()
    connections = []
    errors: list[BaseException] = []

    def busy():
        try:
            conn = process.connect("app", application_name="busy")
            connections.append(conn)
            with conn.cursor() as cur:
                while not stop.is_set():
                    cur.execute("select 1")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def in_background(dbname: str, application: str, query: str):
        def run():
            try:
                conn = process.connect(dbname, application_name=application)
                connections.append(conn)
                conn.cursor().execute(query)
            except psycopg2.Error:
                pass  # the down database's client ends with an error when sluice stops
        threading.Thread(target=run, daemon=True).start()

    try:
        worker = threading.Thread(target=busy, daemon=True)
        worker.start()
        # A server closed by the upstream (sluice_server_connections_closed_total).
        spare = process.connect("spare", application_name="spare")
        with spare.cursor() as cur:
            cur.execute("select 1")
        connections.append(spare)
        pg.terminate_ports({a["client_port"] for a in pg.activity("app", "fltr", client_ports=process.upstream_ports())})
        support.wait_until(lambda: scrape(admin_port).labelled("sluice_server_connections_closed_total", "reason"),
                           10, message="a server close counted")
        # A leak suspect holding spare's only server, and a client waiting behind it.
        leaker = process.connect("spare", autocommit=False, application_name="leaker")
        connections.append(leaker)
        with leaker.cursor() as cur:
            cur.execute("select 1")
        in_background("spare", "waiter", "select 1")
        # Clients of an upstream that refuses connections (connect failures, a client waiting).
        in_background("down", "cold", "select 1")
        # 53300: max_db_client_connections = 6 on app.
        extra = [process.connect("app", application_name="crowd") for _ in range(5)]
        connections.extend(extra)
        # Prometheus sees crowd's refusals at 0 before the refusal (else increase() cannot see it).
        support.wait_until(lambda: prometheus.query('sluice_application_refusals_total{application_name="crowd"}'),
                           20, interval=0.3, message="crowd's series scraped")
        with pytest.raises(psycopg2.OperationalError, match="max_db_client_connections"):
            process.connect("app", application_name="crowd")
        support.wait_until(lambda: scrape(admin_port).value("sluice_leak_suspects", database="spare") == 1, 10,
                           message="the leak suspect")
        # Let Prometheus see the state over a few scrapes.
        support.wait_until(lambda: prometheus.query('count_over_time(sluice_leak_suspects{database="spare"}[1m]) >= 5'),
                           20, interval=0.5, message="five scrapes with the leak suspect")

        names = set(prometheus.get("/api/v1/label/__name__/values"))
        problems = []

        def check(where: str, expr: str, whole: bool = True):
            missing = metric_names(expr) - names
            if missing:
                problems.append(f"{where}: no such metric in /metrics: {sorted(missing)}  ({expr})")
                return
            query = substitute(expr)
            if whole and not prometheus.query(query):
                problems.append(f"{where}: no data for {query}")

        for title, expr in dashboard_expressions():
            check(f"dashboard panel {title!r}", expr)
        for name in dashboard_variable_metrics():
            check("dashboard variable", name)
        for rule in alert_rules():
            expr = rule["expr"].strip()
            left = COMPARISON.sub("", expr)
            assert left != expr, f"{rule['alert']}: expected '<series> <comparison> <threshold>': {expr}"
            check(f"alert {rule['alert']} (left side)", left)
            if rule["alert"] in FIRING:
                check(f"alert {rule['alert']} (firing)", expr)
        for family in ("sluice_application_pool_wait_seconds_count", "sluice_application_transaction_duration_seconds_count",
                       "sluice_application_server_hold_seconds_count"):
            check("per-application", f'{family}{{application_name="busy"}} > 0')
        check("per-application", 'sluice_application_leak_suspects_total{application_name="leaker"} > 0')
        check("per-application", 'sluice_application_refusals_total{application_name="crowd",reason="max_db_client_connections"} > 0')
        assert not problems, "\n".join(problems)

        # The rules loaded into Prometheus evaluate without errors.
        groups = prometheus.get("/api/v1/rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        assert {rule["name"] for rule in rules} == {rule["alert"] for rule in alert_rules()}
        assert all(rule["health"] == "ok" for rule in rules), [(r["name"], r.get("lastError")) for r in rules]
        assert not errors, errors
    finally:
        stop.set()
        for conn in connections:
            try:
                conn.close()
            except psycopg2.Error:
                pass
