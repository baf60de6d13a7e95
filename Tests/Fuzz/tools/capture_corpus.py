#!/usr/bin/env python3
"""Seed corpora for Tests/Fuzz: record real client/server traffic through a loopback relay, split it
into protocol messages and write small per-message seed files under Tests/Fuzz/Corpus/<Target>/.

    python3 Tests/Fuzz/tools/capture_corpus.py --pg-port 55490 [--out Tests/Fuzz/Corpus]

It starts a TCP relay on 127.0.0.1 (a free port) in front of the PostgreSQL on --pg-port, runs psql,
pgbench (-i, then -S and the default script for a few seconds) and asyncpg through it, then writes:
  StartupPacket/      each startup packet (SSLRequest, StartupMessage, ...), length field included
  FrontendMessages/   control byte + one client message, and control byte + short client streams
  BackendMessages/    control byte + one server message, and control byte + short server streams
  SCRAMServer/        client-first NUL client-final (captured, plus a synthetic exchange that verifies)
  SCRAMClient/        binding byte + server-first NUL server-final (captured, plus a synthetic valid one)
  ClientLogin/        control byte + startup packet + 'p' messages (captured, plus md5/SCRAM synthetic)
Seed files are named by the SHA-1 of their content; the corpus stays far below 2 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import os
import shutil
import socket
import struct
import subprocess
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
MAX_SEED = 4096  # bytes per seed file
PER_TYPE = 40  # seeds per message type and direction
MAX_CONNECTIONS = 60  # connections whose streams become seeds


class Relay:
    """Accepts on 127.0.0.1:<port>, forwards to the upstream and keeps each connection's two byte streams."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.connections: list[tuple[bytearray, bytearray]] = []
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            streams = (bytearray(), bytearray())
            with self.lock:
                self.connections.append(streams)
            threading.Thread(target=self._pump, args=(client, server, streams[0]), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, streams[1]), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, record: bytearray):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if len(record) < 1 << 20:
                    record += data
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        self.stopped = True
        self.listener.close()


def split_startup(stream: bytes) -> tuple[list[bytes], int]:
    """Startup packets at the front of a client stream (until a StartupMessage); returns them and the offset after."""
    packets, offset = [], 0
    while len(stream) - offset >= 8:
        (length,) = struct.unpack_from("!i", stream, offset)
        if length < 8 or length > 10000 or len(stream) - offset < length:
            break
        packet = stream[offset:offset + length]
        packets.append(packet)
        offset += length
        (code,) = struct.unpack_from("!I", packet, 4)
        if code >> 16 == 3:
            break
    return packets, offset


def split_typed(stream: bytes, offset: int = 0) -> list[bytes]:
    messages = []
    while len(stream) - offset >= 5:
        (length,) = struct.unpack_from("!i", stream, offset + 1)
        if length < 4 or len(stream) - offset < length + 1:
            break
        messages.append(stream[offset:offset + length + 1])
        offset += length + 1
    return messages


def scram_client_proof(password: str, salt: bytes, iterations: int, auth_message: str) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    signature = hmac.new(stored_key, auth_message.encode(), "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    server_signature = hmac.new(server_key, auth_message.encode(), "sha256").digest()
    return proof, server_signature


def synthetic_seeds() -> dict[str, list[bytes]]:
    """Exchanges that succeed against the fuzz targets' fixed nonces, salts and passwords."""
    seeds: dict[str, list[bytes]] = {"SCRAMServer": [], "SCRAMClient": [], "ClientLogin": []}
    # SCRAMServer: secret "pencil", salt b"QSXCR+Q6sek8bf92", 1 iteration, server nonce "3rfcNHYJY1ZVvWVs7j".
    salt = b"QSXCR+Q6sek8bf92"
    client_nonce = "fyko+d2lbbFgONRv9qkxdawL"
    nonce = client_nonce + "3rfcNHYJY1ZVvWVs7j"
    for gs2 in ("n,,", "y,,"):
        first_bare = f"n=,r={client_nonce}"
        server_first = f"r={nonce},s={base64.b64encode(salt).decode()},i=1"
        final_without_proof = f"c={base64.b64encode(gs2.encode()).decode()},r={nonce}"
        auth = f"{first_bare},{server_first},{final_without_proof}"
        proof, _ = scram_client_proof("pencil", salt, 1, auth)
        client_final = f"{final_without_proof},p={base64.b64encode(proof).decode()}"
        seeds["SCRAMServer"].append((gs2 + first_bare).encode() + b"\0" + client_final.encode())
        seeds["SCRAMServer"].append((gs2 + first_bare).encode() + b"\0" + client_final.encode() + b"\0" + client_final.encode())
    # SCRAMClient: password "pencil", client nonce "rOprNGfwEbeRWgbNEkqO", empty user name.
    cnonce = "rOprNGfwEbeRWgbNEkqO"
    for binding_byte, gs2, cb_data in ((0, "n,,", b"n,,"), (1, "y,,", b"y,,"),
                                       (2, "p=tls-server-end-point,,", b"p=tls-server-end-point,," + bytes([2]) * 32)):
        snonce = cnonce + "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        server_first = f"r={snonce},s={base64.b64encode(b'salty-salt').decode()},i=2"
        final_without_proof = f"c={base64.b64encode(cb_data).decode()},r={snonce}"
        auth = f"n=,r={cnonce},{server_first},{final_without_proof}"
        _, server_signature = scram_client_proof("pencil", b"salty-salt", 2, auth)
        seeds["SCRAMClient"].append(bytes([binding_byte]) + server_first.encode() + b"\0"
                                    + f"v={base64.b64encode(server_signature).decode()}".encode())
        seeds["SCRAMClient"].append(bytes([binding_byte]) + server_first.encode() + b"\0e=invalid-proof")
    # ClientLogin: md5 with the target's deterministic salt (37, 74, 111, 148), user app / app-secret.
    startup = startup_packet({"user": "app", "database": "app", "application_name": "fuzz"})
    inner = hashlib.md5(b"app-secret" + b"app").hexdigest().encode()
    md5_response = b"md5" + hashlib.md5(inner + bytes([37, 74, 111, 148])).hexdigest().encode()
    for control in (0x09, 0x19, 0x0B):  # md5 + lookup modes 1/3, TLS offered
        seeds["ClientLogin"].append(bytes([control]) + startup + typed(b"p", md5_response + b"\0"))
    first = b"n,,n=,r=" + client_nonce.encode()
    initial = b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first
    for control in (0x08, 0x18, 0x02, 0x06):
        seeds["ClientLogin"].append(bytes([control]) + startup + typed(b"p", initial)
                                    + typed(b"p", b"c=biws,r=" + nonce.encode() + b",p=" + base64.b64encode(bytes(32))))
    ssl_request = struct.pack("!ii", 8, 80877103)
    cancel = struct.pack("!iiii", 16, 80877102, 1234, 5678)
    seeds["StartupPacket"] = [
        startup_packet({"user": "app", "options": "-c search_path=x", "_pq_.compression": "on"}, 196609),
        startup_packet({"user": "app", "replication": "database", "client_encoding": "UTF8"}),
        startup_packet({}, 2 << 16), startup_packet({"user": "é"}, (9 << 16) | 9),
        struct.pack("!ii", 8, 80877104), struct.pack("!iiii", 16, 80877102, -1, 0xFFFFFFFF - 2**32),
    ]
    seeds["ClientLogin"] += [bytes([0x0A]) + ssl_request + startup, bytes([0x08]) + cancel,
                             bytes([0x08]) + struct.pack("!ii", 8, 2 << 16), bytes([0x08]) + startup + typed(b"Q", b"select 1\0")]
    return seeds


def startup_packet(params: dict[str, str], version: int = 196608) -> bytes:
    body = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items()) + b"\0"
    return struct.pack("!ii", 8 + len(body), version) + body


def typed(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def run_clients(port: int, pg_port: int):
    env = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(port), PGUSER="app", PGPASSWORD="app-secret",
               PGDATABASE="app", PGSSLMODE="prefer", PGCONNECT_TIMEOUT="10")
    run = lambda *cmd, **kw: subprocess.run(cmd, env={**env, **kw}, check=False, capture_output=True, timeout=120)
    run("psql", "-X", "-c", "select 1, 'x'::text, null, now(); create temp table t(a int); insert into t values (1),(2);"
        " copy t to stdout; select * from t; show application_name; select pg_notify('c', 'p'); listen c; notify c, 'hi';")
    run("psql", "-X", "-c", "select 1/0")
    run("psql", "-X", "-c", "\\copy (select generate_series(1,3)) to stdout")
    run("psql", "-X", "-c", "select 1", PGUSER="md5user", PGPASSWORD="md5-secret", PGDATABASE="md5db")
    run("psql", "-X", "-c", "select 1", PGPASSWORD="wrong-password")
    run("pgbench", "-i", "-s", "1", "-q")
    run("pgbench", "-S", "-c", "2", "-T", "2", "-M", "extended")
    run("pgbench", "-S", "-c", "2", "-T", "2", "-M", "prepared")
    run("pgbench", "-c", "2", "-T", "2")

    async def with_asyncpg():
        import asyncpg
        conn = await asyncpg.connect(host="127.0.0.1", port=port, user="app", password="app-secret",
                                     database="app", ssl=False)
        await conn.fetch("select $1::int + 1 as a, $2::text as b, $3::bytea as c", 41, "txt", b"\x00\x01")
        await conn.executemany("select $1::int", [(i,) for i in range(5)])
        async with conn.transaction():
            await conn.execute("create temp table tt(a int, b text)")
            await conn.copy_records_to_table("tt", records=[(1, "a"), (2, None)])
            await conn.fetch("select * from tt")
        try:
            await conn.execute("select * from no_such_table")
        except asyncpg.PostgresError:
            pass
        await conn.close()
        try:
            await asyncpg.connect(host="127.0.0.1", port=port, user="app", password="nope", database="app", ssl=False)
        except Exception:  # noqa: BLE001
            pass

    asyncio.run(with_asyncpg())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-port", type=int, required=True)
    parser.add_argument("--out", type=Path, default=REPO / "Tests" / "Fuzz" / "Corpus")
    args = parser.parse_args()

    relay = Relay(("127.0.0.1", args.pg_port))
    try:
        run_clients(relay.port, args.pg_port)
    finally:
        relay.stop()

    seeds: dict[str, list[bytes]] = {name: [] for name in
                                     ("StartupPacket", "FrontendMessages", "BackendMessages",
                                      "SCRAMServer", "SCRAMClient", "ClientLogin")}
    per_type: dict[tuple[str, bytes], int] = {}
    for index, (client_stream, server_stream) in enumerate(relay.connections):
        if index >= MAX_CONNECTIONS:
            break
        client_stream, server_stream = bytes(client_stream), bytes(server_stream)
        startups, offset = split_startup(client_stream)
        seeds["StartupPacket"] += startups
        client_messages = split_typed(client_stream, offset)
        server_offset = 1 if server_stream[:1] in (b"N", b"S") and len(startups) > 1 else 0
        server_messages = split_typed(server_stream, server_offset)
        # One seed per message, at most PER_TYPE of each message type in all (pgbench repeats itself).
        for message in client_messages[:40]:
            if per_type.setdefault(("F", message[:1]), 0) < PER_TYPE:
                per_type[("F", message[:1])] += 1
                seeds["FrontendMessages"].append(b"\x00" + message[:MAX_SEED])
        for message in server_messages[:60]:
            if per_type.setdefault(("B", message[:1]), 0) < PER_TYPE:
                per_type[("B", message[:1])] += 1
                seeds["BackendMessages"].append(b"\x00" + message[:MAX_SEED])
        # Short streams: the first messages of the connection in a row, chunked differently.
        seeds["FrontendMessages"].append(b"\x80" + b"".join(startups) + b"".join(client_messages[:6]))
        seeds["FrontendMessages"].append(b"\x03" + b"".join(client_messages[:12])[:MAX_SEED])
        seeds["BackendMessages"].append(b"\x05" + b"".join(server_messages[:16])[:MAX_SEED])
        # SASL: client 'p' messages and server R 11/12.
        passwords = [m for m in client_messages if m[:1] == b"p"]
        sasl_server = [m[9:] for m in server_messages if m[:1] == b"R" and struct.unpack_from("!i", m, 5)[0] in (11, 12)]
        if len(passwords) >= 2 and passwords[0][5:].startswith(b"SCRAM-SHA-256\0"):
            body = passwords[0][5:]
            first = body[len(b"SCRAM-SHA-256\0") + 4:]
            seeds["SCRAMServer"].append(first + b"\0" + passwords[1][5:])
        if len(sasl_server) >= 2:
            seeds["SCRAMClient"].append(b"\x00" + sasl_server[0] + b"\0" + sasl_server[1])
        if startups:
            for control in (0x08, 0x09):
                seeds["ClientLogin"].append(bytes([control]) + b"".join(startups) + b"".join(passwords))
    for name, extra in synthetic_seeds().items():
        seeds[name] += extra

    total = 0
    for name, items in seeds.items():
        directory = args.out / name
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for item in items:
            if not item or len(item) > MAX_SEED + 64:
                item = item[:MAX_SEED + 64]
            path = directory / hashlib.sha1(item).hexdigest()
            if not path.exists():
                path.write_bytes(item)
        count = len(list(directory.iterdir()))
        size = sum(p.stat().st_size for p in directory.iterdir())
        total += size
        print(f"{name:18} {count:5} seeds {size:8} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
