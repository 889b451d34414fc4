"""Local HTTPS stand-ins for the deployed API (trustme CA), correct or breaking one rule each."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import trustme

BODY_LIMIT = 1024
VALID_TOKEN = "valid-partner-token"
THROTTLE_AFTER = 20  # requests to /health before the stand-in answers 429
TRACEBACK = 'Traceback (most recent call last):\n  File "/var/task/app.py", line 12, in handler\nKeyError: x'


@dataclass(frozen=True)
class Behaviour:
    accept_no_credentials: bool = False
    accept_bad_jwt: bool = False
    accept_wrong_key: bool = False
    accept_big_body: bool = False
    leak_traceback: bool = False
    throttle: bool = True
    legacy_tls: bool = False
    partner_needs_jwt: bool = False  # like the platform: authorizer first (401), then the API key (403)


@dataclass
class Endpoint:
    url: str
    ca_file: str
    health_hits: list[int] = field(default_factory=list)


def _handler(behaviour: Behaviour, hits: list[int]) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: dict[str, object] | str) -> None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str) -> None:
            self._send(status, TRACEBACK if behaviour.leak_traceback else {"message": message})

        def do_GET(self) -> None:
            auth = self.headers.get("Authorization")
            if self.path == "/dev/health":
                with lock:
                    hits.append(1)
                    count = len(hits)
                if behaviour.throttle and count > THROTTLE_AFTER:
                    return self._send(429, {"message": "Too Many Requests"})
                return self._send(200, {"status": "ok"})
            if self.path == "/dev/orders":
                if auth is None and not behaviour.accept_no_credentials:
                    return self._error(401, "Unauthorized")
                if auth is not None and not behaviour.accept_bad_jwt:
                    return self._error(403, "Forbidden")  # the stand-in knows no valid token
                return self._send(200, {"orders": []})
            return self._error(404, "Not Found")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            if length > BODY_LIMIT and not behaviour.accept_big_body:
                self.close_connection = True
                return self._error(413, "Request Entity Too Large")  # body left unread, like a WAF block
            self.rfile.read(length)
            if self.path == "/dev/partner/orders":
                if behaviour.partner_needs_jwt and self.headers.get("Authorization") != f"Bearer {VALID_TOKEN}":
                    return self._error(401, "Unauthorized")
                if self.headers.get("x-api-key") != "valid-key" and not behaviour.accept_wrong_key:
                    return self._error(403, "Forbidden")
                return self._send(201, {"order_id": "1"})
            return self._error(404, "Not Found")

    return Handler


_LEAVES: dict[int, tuple[trustme.CA, trustme.LeafCert]] = {}


def _leaf(ca: trustme.CA) -> trustme.LeafCert:
    """One server certificate per CA: issuing (RSA key generation) is the slow part of these tests."""
    if id(ca) not in _LEAVES:
        _LEAVES[id(ca)] = (ca, ca.issue_cert("127.0.0.1", "localhost"))
    return _LEAVES[id(ca)][1]


@contextmanager
def https_endpoint(ca: trustme.CA, behaviour: Behaviour = Behaviour()) -> Iterator[Endpoint]:
    hits: list[int] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(behaviour, hits))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _leaf(ca).configure_cert(context)
    if behaviour.legacy_tls:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let OpenSSL 3 actually negotiate TLS 1.0
    else:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    with ca.cert_pem.tempfile() as ca_file:
        try:
            yield Endpoint(f"https://127.0.0.1:{server.server_address[1]}/dev", ca_file, hits)
        finally:
            server.shutdown()
            server.server_close()


@contextmanager
def plain_http_server(redirect: bool) -> Iterator[int]:
    """A cleartext listener: either serving the API or redirecting to https (both are findings)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(301 if redirect else 200)
            if redirect:
                self.send_header("Location", "https://127.0.0.1/")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
