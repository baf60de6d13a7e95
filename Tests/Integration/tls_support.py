"""Test certificates (made with the openssl CLI) and a PostgreSQL with ssl = on, for the TLS tests."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import ssl
import struct
import subprocess
from pathlib import Path


# What Sluice says to a plaintext client of a database with client_tls = "require".
REQUIRE_MESSAGE = ('TLS is required to connect to database "app" (client_tls=require): '
                   'connect with sslmode=require (or stricter) in the connection URL')


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA: (cert, key)."""
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", f"/CN={name}",
             "-keyout", str(key), "-out", str(cert), cwd=directory)
    return cert, key


def make_cert(directory: Path, name: str, ca: tuple[Path, Path], cn: str, san: str) -> tuple[Path, Path]:
    """A certificate for `cn` with subjectAltName `san` (e.g. "DNS:localhost") signed by `ca`."""
    key, csr, cert = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.crt"
    ext = directory / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", str(key), "-out", str(csr),
             cwd=directory)
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
             "-days", "30", "-extfile", str(ext), "-out", str(cert), cwd=directory)
    os.chmod(key, 0o600)
    return cert, key


def fingerprint(cert_pem: Path) -> str:
    der = ssl.PEM_cert_to_DER_cert(cert_pem.read_text())
    return hashlib.sha256(der).hexdigest()


def enable_server_ssl(pg, cert: Path, key: Path) -> None:
    """Turns ssl on in the test cluster with this certificate (files copied into its data directory)."""
    data_dir = Path(pg.scalar("show data_directory"))
    for source, target in ((cert, "sluice_test_server.crt"), (key, "sluice_test_server.key")):
        shutil.copyfile(source, data_dir / target)
        shutil.chown(data_dir / target, "postgres", "postgres")
        os.chmod(data_dir / target, 0o600)
    pg.sql("alter system set ssl_cert_file = 'sluice_test_server.crt'")
    pg.sql("alter system set ssl_key_file = 'sluice_test_server.key'")
    pg.sql("alter system set ssl = on")
    pg.sql("select pg_reload_conf()")


def disable_server_ssl(pg) -> None:
    pg.sql("alter system reset ssl")
    pg.sql("alter system reset ssl_cert_file")
    pg.sql("alter system reset ssl_key_file")
    pg.sql("select pg_reload_conf()")


def direct_tls_probe(port: int, ca: Path, alpn: list[str] | None, user: str = "app", database: str = "app") -> bytes:
    """Opens a direct-TLS connection (PostgreSQL 17's sslnegotiation=direct), sends a StartupMessage and
    returns the first bytes of the answer (b'' when the server closed)."""
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            params = b"user\x00" + user.encode() + b"\x00database\x00" + database.encode() + b"\x00\x00"
            body = struct.pack("!I", 196608) + params
            tls.sendall(struct.pack("!I", len(body) + 4) + body)
            try:
                return tls.recv(64)
            except (ssl.SSLError, ConnectionError, socket.timeout):
                return b""
    except (ssl.SSLError, ConnectionError):
        return b""


def served_certificate(port: int) -> str:
    """SHA-256 fingerprint of the certificate a TLS server on `port` presents after SSLRequest."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    raw.sendall(struct.pack("!II", 8, 80877103))
    assert raw.recv(1) == b"S"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with context.wrap_socket(raw) as tls:
        return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()
