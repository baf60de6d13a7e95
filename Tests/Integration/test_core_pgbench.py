"""Core: pgbench through sluice (50 clients over a pool of 5) without failures or extra upstream connections."""

import re
import subprocess
import threading

import pytest

import support

POOL_SIZE = 5


@pytest.mark.timeout(240)
def test_pgbench_50_clients_over_pool_of_5(sluice, pg):
    s = sluice(support.sluice_config(pool_mode="transaction", pool_size=POOL_SIZE, max_client_conn=200))
    env = s.libpq_env()

    samples: list[int] = []
    stop = threading.Event()
    sampler_errors: list[BaseException] = []

    def sample():
        try:
            conn = pg.connect()
            with conn.cursor() as cur:
                while not stop.is_set():
                    # Only this sluice's sessions (by client port): another run may share the cluster.
                    ports = s.upstream_ports()
                    cur.execute("select count(*) from pg_stat_activity "
                                "where usename = 'app' and backend_type = 'client backend'"
                                + ("" if ports is None else " and client_port = any(%s)"),
                                None if ports is None else (sorted(ports),))
                    samples.append(cur.fetchone()[0])
                    stop.wait(0.2)
            conn.close()
        except BaseException as exc:  # noqa: BLE001
            sampler_errors.append(exc)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        init = subprocess.run(["pgbench", "-i", "-s", "1", "-q"], env=env, capture_output=True, text=True,
                              timeout=90)
        assert init.returncode == 0, f"pgbench -i failed:\n{init.stdout}\n{init.stderr}"

        run = subprocess.run(["pgbench", "-c", "50", "-j", "2", "-T", "20", "-n"], env=env,
                             capture_output=True, text=True, timeout=120)
    finally:
        stop.set()
        sampler.join(10)
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"pgbench failed ({run.returncode}):\n{output}"

    failed = re.search(r"number of failed transactions: (\d+)", output)
    assert failed, f"no failed-transactions line in pgbench output:\n{output}"
    assert int(failed.group(1)) == 0, output
    processed = re.search(r"number of transactions actually processed: (\d+)", output)
    assert processed and int(processed.group(1)) > 0, output
    assert re.search(r"number of clients: 50\b", output), output

    assert not sampler_errors, sampler_errors
    assert len(samples) >= 50, f"only {len(samples)} pg_stat_activity samples"
    assert max(samples) > 0, "never saw sluice's connections in pg_stat_activity"
    if not support.DIRECT:
        assert max(samples) <= POOL_SIZE, \
            f"upstream had up to {max(samples)} connections for app; pool_size = {POOL_SIZE}"
