"""Fixtures for Sluice's integration suite: the test PostgreSQL (`pg`) and sluice processes (`sluice`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg2
import pytest

import support


def pytest_configure(config):
    config.addinivalue_line("markers", "sluice_only: checks behaviour of sluice itself; skipped with SLUICE_TEST_DIRECT_PG=1")
    config.addinivalue_line("markers", "one_pool: counts on one pool per database (exact pool_size, FIFO, queue "
                                       "limits, server reuse); skipped with SLUICE_TEST_WORKERS > 1")


def pytest_report_header(config):
    mode = "DIRECT to PostgreSQL (harness check, sluice not used)" if support.DIRECT else f"sluice at {support.SLUICE_BIN}"
    return f"sluice integration: {mode}; PostgreSQL {support.PG_HOST}:{support.PG_PORT}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when in ("setup", "call"):
        for process in getattr(item, "_sluice_processes", []):
            if isinstance(process, support.SluiceProcess) and not process.start_failed:
                report.sections.append(
                    (f"sluice log, last 60 lines (pid {process.pid}, {process.log_path})", process.log_tail(60)))


@pytest.fixture(autouse=True)
def _skip_sluice_only_in_direct_mode(request):
    if support.DIRECT and request.node.get_closest_marker("sluice_only"):
        pytest.skip("checks sluice itself; SLUICE_TEST_DIRECT_PG=1 runs against PostgreSQL")


@pytest.fixture(autouse=True)
def _skip_one_pool_with_several_workers(request):
    # With `workers = N` every worker has its own pool holding its share of pool_size (at least 1
    # server), its own FIFO queue and its share of max_queue_length (README, "Workers"): what these
    # tests count on one pool doing is then done by N pools. test_workers.py covers that mode.
    if int(os.environ.get("SLUICE_TEST_WORKERS") or 1) > 1 and request.node.get_closest_marker("one_pool"):
        pytest.skip("counts on one pool per database; SLUICE_TEST_WORKERS > 1 partitions it between workers")


@pytest.fixture(scope="session")
def pg() -> support.Postgres:
    """The test PostgreSQL (started by scripts/test): .host, .port, .superuser_dsn, .sql(), .scalar(), .activity()."""
    server = support.Postgres()
    try:
        server.sql("select 1")
    except psycopg2.Error as exc:
        pytest.fail(f"test PostgreSQL at {server.host}:{server.port} is not reachable "
                    f"(scripts/test starts it): {exc}", pytrace=False)
    return server


@pytest.fixture(scope="module")
def pgbench_tables(pg):
    """pgbench's tables in database app, made directly on PostgreSQL (pgbench -i -s 1)."""
    env = dict(os.environ, PGHOST=pg.host, PGPORT=str(pg.port), PGUSER="app", PGPASSWORD="app-secret",
               PGDATABASE="app", PGSSLMODE="disable")
    done = subprocess.run(["pgbench", "-i", "-s", "1", "-q"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def sluice(request, tmp_path: Path, pg):
    """Factory: sluice(config, name=None, env=None) starts sluice and returns a SluiceProcess.

    config is TOML text (placeholders {port}, {pg_port}, {pg_host}) or a dict such as
    support.sluice_config(...); a dict without [sluice] listen gets a free 127.0.0.1 port.
    env adds variables (e.g. SLUICE_POOL_MODE) to an environment without our SLUICE_* ones.
    Every process is stopped (SIGTERM, then SIGKILL) at teardown.
    """
    processes: list = []
    request.node._sluice_processes = processes

    def start(config, name: str | None = None, env: dict[str, str] | None = None):
        if support.DIRECT:
            endpoint = support.DirectPostgres(config if isinstance(config, dict) else None)
            processes.append(endpoint)
            return endpoint
        support.require_binary()
        label = name or f"sluice{len(processes) + 1}"
        last_error = None
        for _attempt in range(3):
            port = support.free_port()
            text = support.render_config(config, port)
            process = support.SluiceProcess(text, tmp_path, port, name=label, env=env)
            processes.append(process)
            try:
                process.wait_listening()
                return process
            except support.SluiceStartError as exc:
                process.start_failed = True
                process.stop()
                last_error = exc
                if "in use" not in process.log_text().lower():
                    break
        pytest.fail(str(last_error), pytrace=False)

    yield start

    for process in reversed(processes):
        # Sessions sluice leaves behind upstream (say a query it failed to cancel) would
        # disturb later tests: note where they come from, stop sluice, then end them.
        # Only this test's sessions are touched; another run may share the cluster.
        ports = process.upstream_ports() if process.running() else set()
        process.stop()
        if ports:
            try:
                pg.terminate_ports(ports)
            except psycopg2.Error:
                pass
