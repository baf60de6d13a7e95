"""Client isolation under chaos: 30 clients share 4 servers in transaction mode while a chaos thread
terminates one of Sluice's upstream backends every 2 s. No client may ever see another client's
rows or settings, and each client's committed rows must be exactly the ones it committed.
"""

from __future__ import annotations

import random
import threading
import time
import uuid

import psycopg2
import pytest

import support

pytestmark = pytest.mark.sluice_only

CLIENTS = 30
POOL_SIZE = 4
DURATION = 40.0
CHAOS_INTERVAL = 2.0


def is_connection_error(exc: Exception) -> bool:
    """Connection-class failures a client may retry: SQLSTATE class 08, 57P01, or a lost socket."""
    code = getattr(exc, "pgcode", None)
    if code:
        return code.startswith("08") or code in ("57P01", "57P02", "57P03")
    return isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError))


class Client(threading.Thread):
    def __init__(self, number: int, endpoint, table: str, stop: threading.Event):
        super().__init__(name=f"iso-{number}", daemon=True)
        self.number = number
        self.name_tag = f"iso-{number:02d}"
        self.endpoint = endpoint
        self.table = table
        self.stop_event = stop
        self.conn = None
        self.committed: set[str] = set()
        self.transactions = 0
        self.connection_errors = 0
        self.reconnects = 0
        self.violations: list[str] = []
        self.other_errors: list[str] = []

    # -- connection handling

    def connect(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg2.Error:
                pass
        for _ in range(50):
            try:
                self.conn = self.endpoint.connect()
                self.conn.autocommit = True
                self.run_sql(f"SET application_name = '{self.name_tag}'")
                return
            except psycopg2.Error as exc:
                if not is_connection_error(exc):
                    raise
                self.connection_errors += 1
                time.sleep(0.1)
        raise AssertionError(f"{self.name_tag}: could not (re)connect")

    def run_sql(self, sql: str, params=None):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description is not None else None

    def recover(self):
        """After a connection-class error: keep the connection if Sluice kept it, else reconnect."""
        self.connection_errors += 1
        if self.conn is None or self.conn.closed:
            self.reconnects += 1
            self.connect()
            return
        try:
            self.run_sql("ROLLBACK")  # a no-op warning when Sluice already ended the transaction
        except psycopg2.Error:
            self.reconnects += 1
            self.connect()

    def token_committed(self, token: str) -> bool:
        """Resolves an ambiguous COMMIT: is the token in the table?"""
        for _ in range(50):
            try:
                rows = self.run_sql(f"SELECT client FROM {self.table} WHERE token = %s", (token,))
                if rows and rows[0][0] != self.number:
                    self.violations.append(f"token {token} belongs to client {rows[0][0]}")
                return bool(rows)
            except psycopg2.Error as exc:
                if not is_connection_error(exc):
                    raise
                self.recover()
        raise AssertionError(f"{self.name_tag}: could not resolve token {token}")

    # -- checks

    def check_setting(self, where: str):
        (value,), = self.run_sql("SHOW application_name")
        if value != self.name_tag:
            self.violations.append(f"{where}: SHOW application_name = {value!r}, expected {self.name_tag!r}")

    def one_transaction(self, token: str):
        self.run_sql("BEGIN")
        inserted = self.run_sql(
            f"INSERT INTO {self.table}(token, client, app) VALUES (%s, %s, current_setting('application_name')) "
            "RETURNING client, app", (token, self.number))
        if inserted != [(self.number, self.name_tag)]:
            self.violations.append(f"insert returned {inserted}")
        rows = self.run_sql(f"SELECT token, client, app FROM {self.table} WHERE client = %s OR app = %s",
                            (self.number, self.name_tag))
        tokens = {row[0] for row in rows}
        foreign = [row for row in rows if row[1] != self.number or row[2] != self.name_tag]
        if foreign:
            self.violations.append(f"saw other clients' rows: {foreign[:3]}")
        expected = self.committed | {token}
        if tokens != expected:
            self.violations.append(f"read back {len(tokens)} rows, expected {len(expected)}: "
                                   f"missing {sorted(expected - tokens)[:3]}, extra {sorted(tokens - expected)[:3]}")
        self.check_setting("in transaction")
        self.run_sql("COMMIT")

    def run(self):
        try:
            self.connect()
            while not self.stop_event.is_set():
                token = f"{self.name_tag}-{uuid.uuid4().hex}"
                while not self.stop_event.is_set():
                    try:
                        self.one_transaction(token)
                        self.committed.add(token)
                        self.transactions += 1
                        break
                    except psycopg2.Error as exc:
                        if not is_connection_error(exc):
                            self.other_errors.append(f"{type(exc).__name__} {getattr(exc, 'pgcode', None)}: {exc}".strip())
                            self.recover()
                            break
                        self.recover()
                        if self.token_committed(token):  # COMMIT went through before the connection broke
                            self.committed.add(token)
                            self.transactions += 1
                            break
                try:
                    self.check_setting("outside transaction")
                except psycopg2.Error as exc:
                    if not is_connection_error(exc):
                        self.other_errors.append(f"SHOW: {exc}")
                    self.recover()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.other_errors.append(f"client crashed: {type(exc).__name__}: {exc}")
        finally:
            if self.conn is not None:
                try:
                    self.conn.close()
                except psycopg2.Error:
                    pass


def test_isolation_under_backend_terminations(sluice, pg):
    table = f"iso_rows_{uuid.uuid4().hex[:8]}"
    pg.sql(f"CREATE TABLE {table} (token text PRIMARY KEY, client int NOT NULL, app text NOT NULL)", dbname="app")
    pg.sql(f"GRANT ALL ON {table} TO app", dbname="app")
    try:
        s = sluice(support.sluice_config(pool_mode="transaction", pool_size=POOL_SIZE))
        stop = threading.Event()
        clients = [Client(i, s, table, stop) for i in range(CLIENTS)]
        for client in clients:
            client.start()

        terminated = 0
        rng = random.Random(20240601)
        deadline = time.monotonic() + DURATION
        while time.monotonic() < deadline:
            time.sleep(CHAOS_INTERVAL)
            ports = sorted(s.upstream_ports())
            if ports:
                pg.terminate_ports({rng.choice(ports)})
                terminated += 1
        stop.set()
        for client in clients:
            client.join(timeout=60)
        assert not [c.name_tag for c in clients if c.is_alive()], "clients hung"
        assert s.running(), "sluice exited"

        violations = [f"{c.name_tag}: {v}" for c in clients for v in c.violations]
        others = [f"{c.name_tag}: {e}" for c in clients for e in c.other_errors]
        # Each client's rows in the table are exactly the ones it recorded as committed.
        rows = pg.sql(f"SELECT client, token, app FROM {table}", dbname="app")
        by_client: dict[int, set[str]] = {}
        for client_number, token, app in rows:
            by_client.setdefault(client_number, set()).add(token)
            if not token.startswith(f"iso-{client_number:02d}-") or app != f"iso-{client_number:02d}":
                violations.append(f"row {token} of client {client_number} tagged {app}")
        for c in clients:
            stored = by_client.get(c.number, set())
            if stored != c.committed:
                violations.append(f"{c.name_tag}: table has {len(stored)} rows, client committed {len(c.committed)} "
                                  f"(lost {sorted(c.committed - stored)[:3]}, unrecorded {sorted(stored - c.committed)[:3]})")
        total = sum(c.transactions for c in clients)
        connection_errors = sum(c.connection_errors for c in clients)
        reconnects = sum(c.reconnects for c in clients)
        print(f"[isolation] {CLIENTS} clients, pool_size {POOL_SIZE}, {DURATION:.0f}s: {total} transactions committed, "
              f"{terminated} backends terminated, {connection_errors} connection-class errors retried, "
              f"{reconnects} reconnects, {len(violations)} isolation violations, {len(others)} other errors")
        assert not violations, "\n".join(violations[:20])
        assert not others, "\n".join(others[:20])
        assert total > CLIENTS, f"only {total} transactions committed"
        assert terminated >= DURATION / CHAOS_INTERVAL / 2
    finally:
        pg.sql(f"DROP TABLE IF EXISTS {table}", dbname="app")
