"""Fixtures for the authorizer tests: real RSA/EC keys, a real HTTPS JWKS server on 127.0.0.1 whose
certificate comes from a test CA (trustme), and a token factory. Helpers are handed to the tests as
fixtures (not imported) so the test modules need no import path of their own.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from functions.authorizer.jwks import JwksCache, https_fetcher
from functions.authorizer.routes import Route, parse_route_scopes
from functions.authorizer.tokens import TokenVerifier

ISSUER = "https://idp.test/"
AUDIENCE = "orders-api"
ROUTE_SCOPES = {
    "GET /orders": ["orders:read"],
    "POST /orders": ["orders:write"],
    "GET /orders/{id}": ["orders:read"],
    "GET /health": [],
    "POST /partner/orders": ["partner:write", "orders:write"],
}
METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/dev/GET/orders"


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    @property
    def public_jwk(self) -> dict[str, Any]:
        to_jwk = RSAAlgorithm.to_jwk if self.alg.startswith("RS") else ECAlgorithm.to_jwk
        jwk = to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.alg}

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    return SigningKey("rsa-1", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="session")
def ec_key() -> SigningKey:
    return SigningKey("ec-1", "ES256", ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="session")
def attacker_key(rsa_key: SigningKey) -> SigningKey:
    """A key the IdP never published, used under the real kid."""
    return SigningKey(rsa_key.kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


class TokenFactory:
    """Builds access tokens (valid by default; keyword overrides change claims, None removes one)."""

    issuer = ISSUER
    audience = AUDIENCE

    @staticmethod
    def claims(**overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-42",
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "scope": "orders:read orders:write",
            "client_id": "web-app",
        }
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def mint(self, key: SigningKey, *, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
        all_headers = {"kid": key.kid, **(headers or {})}
        return jwt.encode(self.claims(**overrides), key.private, algorithm=key.alg, headers=all_headers)

    @staticmethod
    def b64url(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    def unsigned_parts(self, header: dict[str, Any], payload: dict[str, Any]) -> str:
        return f"{self.b64url(json.dumps(header).encode())}.{self.b64url(json.dumps(payload).encode())}"

    def hs256_with_public_pem(self, key: SigningKey, **overrides: Any) -> str:
        """The classic key-confusion forgery: HMAC-SHA256 keyed with the issuer's public key PEM.

        Built by hand because PyJWT itself refuses to use a PEM as an HMAC secret.
        """
        header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
        signing_input = self.unsigned_parts(header, self.claims(**overrides))
        signature = hmac.new(key.public_pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{self.b64url(signature)}"


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@dataclass
class JwksServer:
    """A real HTTP(S) server on 127.0.0.1 serving ``document``; counts the requests it answers."""

    document: dict[str, Any]
    status: int = 200
    raw_body: bytes | None = None
    """Served instead of the JSON of ``document`` when set (bodies that are not valid JWKS JSON)."""
    declared_length: int | None = None
    """Content-Length to announce instead of the body's (a body cut short by the server)."""
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _httpd: ThreadingHTTPServer | None = None
    scheme: str = "https"
    stopped: bool = False

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"{self.scheme}://127.0.0.1:{self._httpd.server_address[1]}/.well-known/jwks.json"

    def start(self, cert_context: ssl.SSLContext | None) -> JwksServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.requests += 1
                body = server.raw_body if server.raw_body is not None else json.dumps(server.document).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(server.declared_length or len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if cert_context is not None:
            self._httpd.socket = cert_context.wrap_socket(self._httpd.socket, server_side=True)
        else:
            self.scheme = "http"
        # A short poll interval keeps shutdown() (and so each test's teardown) fast.
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stops serving; the port is closed, so a later connection is refused. Idempotent."""
        if self._httpd is not None and not self.stopped:
            self._httpd.shutdown()
            self._httpd.server_close()
            self.stopped = True


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def start_server() -> Iterator[Callable[[dict[str, Any], ssl.SSLContext | None], JwksServer]]:
    """Starts a JwksServer (TLS with the given server context, plain http with None); stops it after."""
    started: list[JwksServer] = []

    def start(document: dict[str, Any], context: ssl.SSLContext | None) -> JwksServer:
        started.append(JwksServer(document).start(context))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def jwks_server(
    start_server: Callable[[dict[str, Any], ssl.SSLContext | None], JwksServer],
    ca: trustme.CA,
    rsa_key: SigningKey,
    ec_key: SigningKey,
) -> JwksServer:
    return start_server({"keys": [rsa_key.public_jwk, ec_key.public_jwk]}, server_context(ca))


@pytest.fixture
def impostor_context() -> ssl.SSLContext:
    """A server certificate for 127.0.0.1 from a CA the client does not trust."""
    return server_context(trustme.CA())


# The JWKS_FETCH_TIMEOUT_SECONDS setting scaled for tests: small, so that the deadline tests are quick,
# while the slow servers below need minutes to finish any phase they stall in.
TEST_FETCH_SECONDS = 0.5
DRIP_INTERVAL = 0.01
"""Seconds between two bytes a dripping server writes to the wire."""
DRIP_GIVE_UP = 60.0
"""A dripping server closes the connection after this long, so a broken deadline fails its test
(with a reason other than the deadline's) instead of hanging the run."""
STALLS = ("handshake-hang", "handshake-drip", "headers-drip", "body-drip")


class _Stopped(Exception):
    """The server was stopped or gave up; not the client's doing."""


class SlowServer:
    """A TLS server on 127.0.0.1 (certificate from the test CA) that stalls in one phase, ``stall``:

    - "handshake-hang": accepts the TCP connection and never answers the ClientHello;
    - "handshake-drip": writes its handshake messages to the wire one byte per DRIP_INTERVAL;
    - "headers-drip": completes the handshake, then sends the response one byte at a time;
    - "body-drip": sends the status line and headers at once, then the body one byte at a time.

    "One byte at a time" after the handshake means one plaintext byte per TLS record, one record per
    DRIP_INTERVAL: the client decrypts and receives every byte promptly, so a per-operation socket
    timeout never fires - only a deadline for the whole exchange ends the fetch. The response is a
    valid JWKS padded with 2 KiB of headers and 64 KiB of body, so any dripped phase would take
    minutes. TLS runs over memory BIOs, which lets the server decide when each byte reaches the
    socket. ``phase`` is the phase the server is in; ``client_gone`` is set when the client hangs up.
    """

    def __init__(self, stall: str, context: ssl.SSLContext, document: dict[str, Any]) -> None:
        assert stall in STALLS, stall
        self.stall = stall
        self.phase = "tcp"
        self.client_gone = threading.Event()
        self._stop = threading.Event()
        self._context = context
        padding = " " * (64 * 1024)
        self._body = (json.dumps(document) + padding).encode()
        self._head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + "".join(f"X-Padding-{n}: {'p' * 100}\r\n" for n in range(20))
            + f"Content-Length: {len(self._body)}\r\n\r\n"
        ).encode()
        self._give_up_at = time.monotonic() + DRIP_GIVE_UP
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self._listener.getsockname()[1]}/.well-known/jwks.json"
        self._connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.phase = "handshake"
            if self.stall == "handshake-hang":
                while conn.recv(4096):
                    pass  # reads the ClientHello and whatever follows, answers nothing
                raise ConnectionAbortedError("the client closed the connection")
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = self._context.wrap_bio(incoming, outgoing, server_side=True)
            self._complete(tls.do_handshake, conn, incoming, outgoing, drip=self.stall == "handshake-drip")
            self.phase = "request"
            request = b""
            while b"\r\n\r\n" not in request:
                request += self._complete(lambda: tls.read(65536), conn, incoming, outgoing, drip=False)
            self.phase = "headers"
            self._respond(conn, tls, outgoing, self._head, drip=self.stall == "headers-drip")
            self.phase = "body"
            self._respond(conn, tls, outgoing, self._body, drip=self.stall in ("headers-drip", "body-drip"))
            self.phase = "complete"
        except (OSError, ssl.SSLError):
            self.client_gone.set()
        except _Stopped:
            pass
        finally:
            conn.close()

    def _pause(self) -> None:
        if self._stop.wait(DRIP_INTERVAL) or time.monotonic() > self._give_up_at:
            raise _Stopped

    def _complete(self, operation: Callable[[], Any], conn: socket.socket, incoming: ssl.MemoryBIO,
                  outgoing: ssl.MemoryBIO, *, drip: bool) -> Any:
        """Runs a TLS operation to completion, feeding it what the client sends."""
        while True:
            try:
                result = operation()
            except ssl.SSLWantReadError:
                self._send_wire(conn, outgoing.read(), drip=drip)
                data = conn.recv(65536)
                if not data:
                    raise ConnectionAbortedError("the client closed the connection") from None
                incoming.write(data)
                continue
            self._send_wire(conn, outgoing.read(), drip=drip)
            return result

    def _send_wire(self, conn: socket.socket, data: bytes, *, drip: bool) -> None:
        if not drip:
            conn.sendall(data)
            return
        for index in range(len(data)):
            self._pause()
            conn.sendall(data[index : index + 1])

    def _respond(self, conn: socket.socket, tls: ssl.SSLObject, outgoing: ssl.MemoryBIO, data: bytes, *,
                 drip: bool) -> None:
        if not drip:
            tls.write(data)
            conn.sendall(outgoing.read())
            return
        for index in range(len(data)):
            self._pause()
            tls.write(data[index : index + 1])  # one record per byte: the client can read each at once
            conn.sendall(outgoing.read())

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()
        for conn in self._connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


@pytest.fixture(scope="session")
def test_fetch_seconds() -> float:
    return TEST_FETCH_SECONDS


@pytest.fixture
def slow_server(ca: trustme.CA, rsa_key: SigningKey) -> Iterator[Callable[[str], SlowServer]]:
    """slow_server(stall) -> a SlowServer serving the RSA key's JWKS; stopped after the test."""
    started: list[SlowServer] = []

    def start(stall: str) -> SlowServer:
        started.append(SlowServer(stall, server_context(ca), {"keys": [rsa_key.public_jwk]}))
        return started[-1]

    yield start
    for server in started:
        server.stop()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_cache(clock: FakeClock) -> Callable[..., JwksCache]:
    """make_cache(url, ca_file) -> a JwksCache on the fake clock (3600 s cache, 60 s min refresh)."""

    def make(url: str, ca_file: str | None, **kwargs: Any) -> JwksCache:
        options: dict[str, Any] = {"cache_seconds": 3600, "min_refresh_seconds": 60, **kwargs}
        fetch = https_fetcher(url, ca_file=ca_file)
        return JwksCache(fetch, algorithms=("RS256", "ES256"), clock=clock, **options)

    return make


@pytest.fixture
def jwks_cache(jwks_server: JwksServer, ca_file: str, make_cache: Callable[..., JwksCache]) -> JwksCache:
    return make_cache(jwks_server.url, ca_file)


@pytest.fixture
def verifier(jwks_cache: JwksCache) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=("RS256", "ES256"), jwks=jwks_cache)


@pytest.fixture(scope="session")
def routes() -> tuple[Route, ...]:
    return parse_route_scopes(json.dumps(ROUTE_SCOPES))
