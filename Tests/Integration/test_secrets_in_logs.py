"""Secrets never reach the log, even at log_level = "trace": passwords (right and wrong, client and
upstream), SCRAM proofs and keys, md5 responses and stored md5 hashes.

Logins are done by hand on raw sockets where the exact secret bytes on the wire must be known
(SCRAM proof, md5 response), and with psycopg2/asyncpg for the ordinary paths.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import socket
import struct

import psycopg2
import pytest

import support

pytestmark = pytest.mark.sluice_only

WRONG_PASSWORDS = ["Wr0ng-Pa55word-1", "guess-hunter2-xyz"]


def typed(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def read_message(sock):
    header = b""
    while len(header) < 5:
        chunk = sock.recv(5 - len(header))
        if not chunk:
            return None
        header += chunk
    (length,) = struct.unpack("!i", header[1:])
    body = b""
    while len(body) < length - 4:
        chunk = sock.recv(length - 4 - len(body))
        if not chunk:
            return None
        body += chunk
    return header[:1], body


def start(endpoint, user="app", database="app"):
    sock = socket.create_connection((endpoint.host, endpoint.port), timeout=10)
    body = f"user\0{user}\0database\0{database}\0\0".encode()
    sock.sendall(struct.pack("!ii", 8 + len(body), 196608) + body)
    kind, payload = read_message(sock)
    assert kind == b"R", (kind, payload)
    return sock, struct.unpack("!i", payload[:4])[0], payload[4:]


def finish(sock) -> str:
    """Reads to ReadyForQuery ('ok') or an ErrorResponse (its SQLSTATE)."""
    while True:
        message = read_message(sock)
        if message is None:
            return "closed"
        if message[0] == b"E":
            return support.parse_error_fields(message[1])["C"]
        if message[0] == b"Z":
            sock.sendall(typed(b"X", b""))
            return "ok"


def scram_by_hand(endpoint, password: str) -> tuple[str, dict[str, str]]:
    """SCRAM login; returns (outcome, the secrets that crossed or were derived: proof, keys)."""
    sock, code, _ = start(endpoint)
    assert code == 10
    nonce = base64.b64encode(secrets.token_bytes(18)).decode()
    first_bare = f"n=,r={nonce}"
    first = ("n,," + first_bare).encode()
    sock.sendall(typed(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first))
    kind, payload = read_message(sock)
    server_first = payload[4:].decode()
    attributes = dict(part.split("=", 1) for part in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attributes["s"]), int(attributes["i"]))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = f"c=biws,r={attributes['r']}"
    auth_message = f"{first_bare},{server_first},{without_proof}".encode()
    proof = bytes(a ^ b for a, b in zip(client_key, hmac.new(stored_key, auth_message, "sha256").digest()))
    sock.sendall(typed(b"p", f"{without_proof},p={base64.b64encode(proof).decode()}".encode()))
    outcome = finish(sock)
    sock.close()
    found = {}
    for name, value in (("proof", proof), ("ClientKey", client_key), ("ServerKey", server_key),
                        ("StoredKey", stored_key), ("SaltedPassword", salted)):
        found[f"{name} (base64)"] = base64.b64encode(value).decode()
        found[f"{name} (hex)"] = value.hex()
    return outcome, found


def md5_by_hand(endpoint, password: str, user: str = "app") -> tuple[str, dict[str, str]]:
    sock, code, salt = start(endpoint, user=user)
    assert code == 5
    stored = hashlib.md5(password.encode() + user.encode()).hexdigest()
    response = "md5" + hashlib.md5(stored.encode() + salt).hexdigest()
    sock.sendall(typed(b"p", response.encode() + b"\0"))
    outcome = finish(sock)
    sock.close()
    return outcome, {"md5 response": response, "md5 stored hash": "md5" + stored}


def psycopg2_login(endpoint, password, dbname="app", user="app"):
    try:
        conn = psycopg2.connect(endpoint.dsn(dbname, user, password))
    except psycopg2.OperationalError:
        return "refused"
    with conn.cursor() as cur:
        cur.execute("select 1")
    conn.close()
    return "ok"


def asyncpg_login(endpoint, password, dbname="app", user="app"):
    error = support.asyncpg_connect_error(endpoint.host, endpoint.port, user, password, dbname)
    return "ok" if error is None else getattr(error, "sqlstate", type(error).__name__)


def databases():
    return {
        "app": {"url": support.upstream_url("app", "app")},  # upstream SCRAM
        "md5db": {"url": support.upstream_url("md5db", "md5user")},  # upstream md5
        "fltr_plain": {"url": support.upstream_url("fltr_plain", "app")},  # upstream cleartext
    }


def test_no_secrets_in_trace_log(sluice):
    scram = sluice(support.sluice_config(log_level="trace", databases=databases()), name="scram")
    md5 = sluice(support.sluice_config(log_level="trace", client_auth="md5", databases=databases()), name="md5")

    known: dict[str, str] = {}
    outcomes = []
    for password in ["app-secret"] + WRONG_PASSWORDS:
        outcome, found = scram_by_hand(scram, password)
        outcomes.append(("scram by hand", password, outcome))
        known.update({f"{k} [{password}]": v for k, v in found.items()})
        outcome, found = md5_by_hand(md5, password)
        outcomes.append(("md5 by hand", password, outcome))
        known.update({f"{k} [{password}]": v for k, v in found.items()})
        for endpoint, label in ((scram, "scram"), (md5, "md5")):
            outcomes.append((f"{label} psycopg2", password, psycopg2_login(endpoint, password)))
            outcomes.append((f"{label} asyncpg", password, asyncpg_login(endpoint, password)))
    # Upstream md5 and cleartext logins (the pools log in to PostgreSQL with the URL's passwords).
    for endpoint in (scram, md5):
        outcomes.append(("md5 upstream", "md5-secret", psycopg2_login(endpoint, "md5-secret", "md5db", "md5user")))
        outcomes.append(("cleartext upstream", "app-secret", psycopg2_login(endpoint, "app-secret", "fltr_plain")))
    assert [o for o in outcomes if o[1] == "app-secret" and o[2] != "ok"] == [], outcomes
    assert all(o[2] in ("refused", "28P01") for o in outcomes if o[1] in WRONG_PASSWORDS), outcomes
    assert ("md5 upstream", "md5-secret", "ok") in outcomes, outcomes

    scram.stop()
    md5.stop()
    log = scram.log_text() + "\n" + md5.log_text()
    assert len(log.splitlines()) > 20, "trace log suspiciously short: " + log[:2000]

    leaks = []
    for password in ["app-secret", "md5-secret", "other-secret", "postgres-secret"] + WRONG_PASSWORDS:
        if password in log:
            leaks.append(f"password {password!r}")
        for encoded in (base64.b64encode(password.encode()).decode().rstrip("="), password.encode().hex()):
            if encoded in log:
                leaks.append(f"password {password!r} encoded as {encoded}")
    for name, value in known.items():
        if value in log:
            leaks.append(f"{name}: {value}")
    patterns = {
        "SCRAM proof (p=base64)": r"p=[A-Za-z0-9+/]{43}=",
        "ClientKey": r"(?i)client[ _-]?key",
        "md5 response or stored hash": r"md5[0-9a-f]{32}",
        "SCRAM verifier": r"SCRAM-SHA-256\$\d+:",
    }
    for name, pattern in patterns.items():
        for match in re.finditer(pattern, log):
            line = log[log.rfind("\n", 0, match.start()) + 1:log.find("\n", match.end())]
            leaks.append(f"{name}: {line[:300]}")
    print(f"[secrets] {len(log.splitlines())} log lines checked, {len(known)} derived secrets, "
          f"{len(outcomes)} logins, {len(leaks)} leaks")
    assert not leaks, "secrets in the trace log:\n" + "\n".join(leaks[:30])
