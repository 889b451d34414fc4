"""Shared fixtures for the Lambda function tests: real servers, no database or HTTP mocks.

- `test_ca`: a trustme CA for the session; every TLS server here presents a certificate it issued.
- `postgres_server`: a real PostgreSQL server (initdb into a temporary directory, TLS on, passwords
  checked with SCRAM, listening on a free 127.0.0.1 port), started once per session.
- `pg_database`: a fresh database per test, owned by the application role, dropped afterwards; each test
  thus starts from a cold start's point of view (empty, un-migrated) and tests cannot see each other.
- `https_server`: a local HTTPS server whose replies each test programs, recording what it received.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

REPO_ROOT = Path(__file__).resolve().parents[2]
# The functions are imported as `functions.<name>` exactly as on Lambda; make that work however pytest
# was started (plain `pytest` does not put the repository root on sys.path).
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl, postgres) are required by tests/functions and were not "
    "found in PATH or /usr/lib/postgresql/*/bin. Install them with `apt-get install postgresql` "
    "(CI installs it)."
)
UNPRIVILEGED_USER = "pgtest"


# --------------------------------------------------------------------------------------------- TLS


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_bundle(test_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    test_ca.cert_pem.write_to_path(str(path))
    return str(path)


# ------------------------------------------------------------------------------------- PostgreSQL


def _find_pg_bin_dir() -> Path:
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []

    def version_of(path: str) -> float:
        try:
            return float(Path(path).parts[-3])
        except ValueError:
            return 0.0

    candidates += [
        Path(p).parent for p in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version_of, reverse=True)
    ]
    for directory in candidates:
        if all((directory / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return directory
    pytest.fail(INSTALL_HINT, pytrace=False)


def _run_as() -> pwd.struct_passwd | None:
    """The account to run PostgreSQL as: None when not root; initdb and postgres refuse to run as root."""
    if os.geteuid() != 0:
        return None
    for name in (UNPRIVILEGED_USER, "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", UNPRIVILEGED_USER],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(UNPRIVILEGED_USER)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    host: str
    port: int
    ca_file: str
    admin_user: str
    admin_password: str
    app_user: str
    app_password: str
    iam_user: str
    """A role that hba trusts over TLS, so the production IAM-token path can log in without RDS."""
    directory: Path

    def ssl_context(self, ca_file: str | None = None) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=ca_file or self.ca_file)

    def admin(self, database: str = "postgres") -> Any:
        import pg8000.native

        return pg8000.native.Connection(
            user=self.admin_user,
            password=self.admin_password,
            host=self.host,
            port=self.port,
            database=database,
            ssl_context=self.ssl_context(),
            timeout=10,
        )


def _start_postgres(
    bin_dir: Path, base: Path, test_ca: trustme.CA, ca_file: str, owner: pwd.struct_passwd | None
) -> PgServer:
    data_dir = base / "data"
    admin_password = secrets.token_hex(16)
    pwfile = base / "pwfile"
    pwfile.write_text(admin_password + "\n")
    server_cert = test_ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file = base / "server.crt", base / "server.key"
    server_cert.cert_chain_pems[0].write_to_path(str(cert_file))
    server_cert.private_key_pem.write_to_path(str(key_file))
    key_file.chmod(0o600)
    log_file = base / "postgres.log"
    if owner is not None:
        for path in (base, pwfile, cert_file, key_file):
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def run(cmd: list[str]) -> None:
        kwargs: dict[str, Any] = {}
        if owner is not None:
            kwargs = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
        result = subprocess.run(cmd, cwd=base, capture_output=True, text=True, timeout=60, check=False, **kwargs)
        if result.returncode != 0:
            log = log_file.read_text() if log_file.exists() else ""
            pytest.fail(
                f"{cmd[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{log}",
                pytrace=False,
            )

    run([
        str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "pgadmin", f"--pwfile={pwfile}",
        "--auth=scram-sha-256", "--locale=C", "--encoding=UTF8", "--no-sync", "--no-instructions",
    ])  # fmt: skip
    port = _free_port()
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": "''",
        "ssl": "on",
        "ssl_cert_file": f"'{cert_file}'",
        "ssl_key_file": f"'{key_file}'",
        "ssl_min_protocol_version": "'TLSv1.2'",
        "password_encryption": "'scram-sha-256'",
        # Durability is irrelevant for a throw-away test server; speed is not.
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "shared_buffers": "32MB",
        "max_connections": "60",
    }
    with (data_dir / "postgresql.conf").open("a") as conf:
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
    # TLS only (no plain `host` lines), SCRAM passwords, plus the trusted IAM stand-in role.
    (data_dir / "pg_hba.conf").write_text(
        "hostssl all iam_user 127.0.0.1/32 trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n"
    )
    run([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log_file), "-w", "-t", "30", "start"])

    server = PgServer(
        host="127.0.0.1",
        port=port,
        ca_file=ca_file,
        admin_user="pgadmin",
        admin_password=admin_password,
        app_user="app_user",
        app_password=secrets.token_hex(16),
        iam_user="iam_user",
        directory=base,
    )
    conn = server.admin()
    try:
        # Role DDL takes no bind parameters; the password is our own hex token, safe to inline.
        conn.run(f"CREATE ROLE app_user LOGIN PASSWORD '{server.app_password}'")
        conn.run("CREATE ROLE iam_user LOGIN")
    finally:
        conn.close()
    return server


@pytest.fixture(scope="session")
def postgres_server(test_ca: trustme.CA, ca_bundle: str) -> Iterator[PgServer]:
    bin_dir = _find_pg_bin_dir()
    owner = _run_as()
    # Not under pytest's tmp dir: that one is private to root, and the server runs as another user.
    base = Path(tempfile.mkdtemp(prefix="pgtest-"))
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate", "-w", "stop"]
    try:
        server = _start_postgres(bin_dir, base, test_ca, ca_bundle, owner)
        yield server
    finally:
        if (base / "data" / "postmaster.pid").exists():
            kwargs: dict[str, Any] = {}
            if owner is not None:
                kwargs = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
            subprocess.run(pg_ctl, cwd=base, capture_output=True, timeout=30, check=False, **kwargs)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_database(postgres_server: PgServer) -> Iterator[str]:
    name = f"t_{secrets.token_hex(6)}"
    conn = postgres_server.admin()
    try:
        conn.run(f'CREATE DATABASE "{name}" OWNER app_user')
        yield name
        conn.run(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        conn.close()


# ----------------------------------------------------------------------------------- HTTPS server


@dataclass
class Reply:
    """One programmed answer. `delay` sleeps before answering (to trip read timeouts)."""

    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    omit_length: bool = False
    """Send no Content-Length and close the connection after the body (a streamed, unsized reply)."""

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, dict | list):
            headers.setdefault("Content-Type", "application/json")
            return json.dumps(self.body).encode(), headers
        if isinstance(self.body, str):
            return self.body.encode(), headers
        return self.body, headers


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Received], Reply]


class ProgrammableHTTPSServer:
    """ThreadingHTTPServer over TLS (certificate from the test CA) answering from per-path scripts.

    `script(path, *replies)` queues replies for a path; when its queue is empty the path's `default`
    (set with `default(path, reply_or_callable)`) answers; unknown paths get 404.
    """

    def __init__(self, cert: trustme.LeafCert, hostname: str = "127.0.0.1") -> None:
        self.received: list[Received] = []
        self._queues: dict[str, deque[Reply]] = {}
        self._defaults: dict[str, Reply | Responder] = {}
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                request = Received(self.command, self.path, dict(self.headers.items()), body)
                reply = outer._next_reply(path, request)
                if reply.delay:
                    time.sleep(reply.delay)
                payload, headers = reply.encoded()
                try:
                    self.send_response(reply.status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    if reply.omit_length:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    elif "Content-Length" not in headers:
                        self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass  # the client gave up (timeout or size cap): that is what some tests provoke

            do_GET = do_POST = do_PUT = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = int(self.httpd.server_address[1])
        self.base_url = f"https://{hostname}:{self.port}"
        # A short poll interval so shutdown() at teardown returns quickly.
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def _next_reply(self, path: str, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
            queue = self._queues.get(path)
            if queue:
                return queue.popleft()
            default = self._defaults.get(path)
        if default is None:
            return Reply(404, {"error": "no such path"})
        return default(request) if callable(default) else default

    @staticmethod
    def reply(
        status: int = 200,
        body: bytes | str | dict[str, Any] | list[Any] = b"",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        omit_length: bool = False,
    ) -> Reply:
        """Build a Reply (so test modules need not import conftest)."""
        return Reply(status, body, headers or {}, delay, omit_length)

    def script(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self._queues.setdefault(path, deque()).extend(replies)

    def default(self, path: str, reply: Reply | Responder) -> None:
        with self._lock:
            self._defaults[path] = reply

    def requests_to(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path.split("?", 1)[0] == path]

    def url(self, path: str) -> str:
        return self.base_url + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def https_server_cert(test_ca: trustme.CA) -> trustme.LeafCert:
    # Issued once: generating a key per test would cost more than the tests themselves.
    return test_ca.issue_cert("127.0.0.1")


@pytest.fixture
def https_server(https_server_cert: trustme.LeafCert) -> Iterator[ProgrammableHTTPSServer]:
    server = ProgrammableHTTPSServer(https_server_cert)
    try:
        yield server
    finally:
        server.close()
