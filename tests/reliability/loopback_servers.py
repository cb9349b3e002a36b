"""Small loopback servers for transport tests: one that accepts and never answers, one with an untrusted
(self-signed) TLS certificate that answers every request with an empty JSON list."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK = "127.0.0.1"
ServerT = TypeVar("ServerT", bound="LoopbackServer")


class LoopbackServer:
    """A TCP listener on a free loopback port, handing each accepted connection to :meth:`handle` on a
    background thread while used as a context manager."""

    scheme = "http"

    def __init__(self) -> None:
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept_forever, name=type(self).__name__, daemon=True)

    @property
    def base_url(self) -> str:
        """``<scheme>://127.0.0.1:<port>``."""
        return f"{self.scheme}://{LOOPBACK}:{self.port}"

    def handle(self, connection: socket.socket) -> None:
        """Deal with one accepted connection (subclasses)."""
        raise NotImplementedError

    def _accept_forever(self) -> None:
        self._listener.settimeout(0.05)
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.handle(connection)

    def __enter__(self: ServerT) -> ServerT:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._listener.close()


class SilentServer(LoopbackServer):
    """Accepts TCP connections, reads nothing and never answers."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[socket.socket] = []

    def handle(self, connection: socket.socket) -> None:
        self.accepted.append(connection)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        super().__exit__(exc_type, exc, tb)
        for connection in self.accepted:
            connection.close()


def write_self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key (no trusted CA); returns (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stitch-reliability-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class UntrustedTlsServer(LoopbackServer):
    """HTTPS with a self-signed certificate; counts the requests it could read.

    :param folder: where the certificate and key are written.
    """

    scheme = "https"
    RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]"

    def __init__(self, folder: Path) -> None:
        cert, key = write_self_signed_certificate(folder)
        self.certificate = cert
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(cert, key)
        self.requests_read = 0
        self.handshakes_failed = 0
        super().__init__()

    def handle(self, connection: socket.socket) -> None:
        connection.settimeout(2)
        try:
            with self._context.wrap_socket(connection, server_side=True) as tls:
                if tls.recv(65536):
                    self.requests_read += 1
                    tls.sendall(self.RESPONSE)
        except (ssl.SSLError, OSError):
            self.handshakes_failed += 1
        finally:
            connection.close()
