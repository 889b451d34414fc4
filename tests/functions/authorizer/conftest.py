"""Fixtures for the authorizer tests: real RSA/EC keys, a real HTTPS JWKS server on 127.0.0.1 whose
certificate comes from a test CA (trustme), and a token factory. Helpers are handed to the tests as
fixtures (not imported) so the test modules need no import path of their own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
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
                body = json.dumps(server.document).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
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
