"""The probe's checks: each sends a few bounded requests to the endpoint and judges the answer."""

from __future__ import annotations

import socket
import ssl
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from audit.model import Check, Result, Severity
from audit.probe.leaks import find_leaks
from audit.probe.tls import Outcome, try_handshake

NO_CREDENTIALS = Check(
    "probe-no-credentials", "A request without credentials is refused", Severity.CRITICAL,
    "Give the route the JWT authorizer (or AWS_IAM) and redeploy the stage.",
)
BAD_JWT = Check(
    "probe-bad-jwt", "A request with an invalid JWT is refused", Severity.CRITICAL,
    "Make the authorizer verify signature, issuer, audience and expiry, and deny on any error.",
)
WRONG_API_KEY = Check(
    "probe-wrong-api-key", "A partner request with a wrong API key is refused", Severity.HIGH,
    "Set api_key_required=True on the partner method and attach the stage to a usage plan.",
)
BODY_SIZE = Check(
    "probe-body-size-limit", "A request body over the size limit is rejected", Severity.MEDIUM,
    "Add a WAF size-constraint rule on the body (and a request validator / Lambda limit).",
)
PLAIN_HTTP = Check(
    "probe-plain-http", "The API is not served over plain HTTP", Severity.HIGH,
    "Expose only the HTTPS endpoint (API Gateway never listens on port 80; check any CDN/LB in front).",
)
LEGACY_TLS = Check(
    "probe-legacy-tls", "TLS 1.0 and 1.1 handshakes are refused", Severity.HIGH,
    "Use a custom domain security policy of TLS 1.2 or later (SecurityPolicy_TLS13_* / TLS_1_2).",
)
THROTTLING = Check(
    "probe-throttling", "A burst over the throttle limit gets HTTP 429", Severity.MEDIUM,
    "Set stage/method throttling (rate and burst) and usage-plan limits; check WAF rate rules answer 429.",
)
ERROR_LEAKS = Check(
    "probe-error-leaks", "Error responses leak no stack traces or internal names", Severity.MEDIUM,
    "Catch exceptions in the handlers, return generic messages, and use gateway responses for 4xx/5xx.",
)
CHECKS = (NO_CREDENTIALS, BAD_JWT, WRONG_API_KEY, BODY_SIZE, PLAIN_HTTP, LEGACY_TLS, THROTTLING, ERROR_LEAKS)

# A structurally valid JWT (header.payload.signature) whose signature cannot verify: {"alg":"RS256"}
# {"sub":"probe","exp":4102444800} with a junk signature.
INVALID_JWT = ("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwcm9iZSIsImV4cCI6NDEwMjQ0NDgwMH0."
               "aW52YWxpZC1zaWduYXR1cmU")
WRONG_API_KEY_VALUE = "probe-wrong-api-key-0000000000000000000000"


@dataclass
class ProbeSettings:
    url: str
    orders_path: str = "/orders"
    partner_path: str = "/partner/orders"
    health_path: str = "/health"
    api_key_header: str = "x-api-key"
    api_key: str | None = None  # a valid key makes the body-size test decisive
    # A valid partner JWT (scope partner:orders:write) makes the wrong-key test decisive: the platform's partner
    # route needs a token AND a key, and API Gateway runs the authorizer before it checks the key.
    token: str | None = None
    body_limit_bytes: int = 8192
    burst_requests: int = 200
    burst_seconds: float = 10.0
    burst_concurrency: int = 8
    http_port: int = 80
    timeout: float = 5.0
    ca_bundle: str | None = None


@dataclass
class _Seen:
    """Error responses collected by all probes for the leak check."""

    bodies: list[tuple[str, int, str]] = field(default_factory=list)


class Prober:
    def __init__(self, settings: ProbeSettings) -> None:
        self.s = settings
        parts = urlsplit(settings.url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"--url: expected an https:// URL, got {settings.url!r}")
        self.host = parts.hostname
        self.port = parts.port or 443
        self.base = settings.url.rstrip("/")
        self.session = requests.Session()
        # Passed on every request: requests lets REQUESTS_CA_BUNDLE override a Session-level `verify`.
        self.verify: str | bool = settings.ca_bundle or True
        self.seen = _Seen()

    def url(self, path: str) -> str:
        return self.base + "/" + path.lstrip("/")

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        # Redirects are not followed: a redirect to another scheme or host is itself worth seeing.
        response = self.session.request(method, self.url(path), timeout=self.s.timeout, verify=self.verify,
                                        allow_redirects=False, **kwargs)
        if response.status_code >= 400:
            self.seen.bodies.append((f"{method} {path}", response.status_code, response.text[:65536]))
        return response

    def run(self) -> list[Result]:
        results = []
        for probe in (self.no_credentials, self.bad_jwt, self.wrong_api_key, self.body_size,
                      self.not_found_and_malformed, self.throttling):
            try:
                results.extend(probe())
            except requests.RequestException as exc:
                results.append(_errored_for(probe.__name__, self.base, exc))
        results.append(self.plain_http())
        results.append(self.legacy_tls())
        results.append(self.error_leaks())
        return results

    # --- authentication ---------------------------------------------------------------------------

    def _refused(self, check: Check, path: str, response: requests.Response, allowed: set[int]) -> Result:
        resource = f"{response.request.method} {path}"
        return check.judge(resource, response.status_code in allowed,
                           f"Refused with HTTP {response.status_code}.",
                           f"Answered HTTP {response.status_code}; expected one of {sorted(allowed)}.")

    def no_credentials(self) -> list[Result]:
        response = self.request("GET", self.s.orders_path)
        return [self._refused(NO_CREDENTIALS, self.s.orders_path, response, {401, 403})]

    def bad_jwt(self) -> list[Result]:
        response = self.request("GET", self.s.orders_path, headers={"Authorization": f"Bearer {INVALID_JWT}"})
        return [self._refused(BAD_JWT, self.s.orders_path, response, {401, 403})]

    def wrong_api_key(self) -> list[Result]:
        headers = {self.s.api_key_header: WRONG_API_KEY_VALUE}
        if self.s.token:
            headers["Authorization"] = f"Bearer {self.s.token}"
        response = self.request("POST", self.s.partner_path, json={"sku": "probe", "quantity": 1}, headers=headers)
        if self.s.token:
            return [self._refused(WRONG_API_KEY, self.s.partner_path, response, {403})]
        if response.status_code == 401:
            return [WRONG_API_KEY.passed(
                f"POST {self.s.partner_path}",
                "Refused with HTTP 401. Without a valid token (PROBE_TOKEN) the refusal came from the authorizer, "
                "so the API key check itself was not reached.",
            )]
        return [self._refused(WRONG_API_KEY, self.s.partner_path, response, {403})]

    def body_size(self) -> list[Result]:
        path = self.s.partner_path
        headers = {"Content-Type": "application/json"}
        if self.s.api_key:
            headers[self.s.api_key_header] = self.s.api_key
        oversized = b'{"padding":"' + b"x" * (2 * self.s.body_limit_bytes) + b'"}'
        response = self.request("POST", path, data=oversized, headers=headers)
        resource = f"POST {path} ({len(oversized)} bytes)"
        if response.status_code not in {400, 403, 413}:
            return [BODY_SIZE.failed(resource, f"A {len(oversized)}-byte body was answered HTTP "
                                               f"{response.status_code}; expected 400, 403 or 413.")]
        note = "" if self.s.api_key else (
            " Without a valid key (PROBE_API_KEY) the refusal may come from the key check, not the size rule.")
        return [BODY_SIZE.passed(resource, f"Rejected with HTTP {response.status_code}.{note}")]

    def not_found_and_malformed(self) -> list[Result]:
        # No verdict of their own: these provoke error paths whose bodies the leak check reads.
        self.request("GET", "/probe-not-found-%27%22")
        self.request("POST", self.s.partner_path, data=b'{"quantity": ', headers={
            "Content-Type": "application/json", self.s.api_key_header: self.s.api_key or WRONG_API_KEY_VALUE})
        return []

    # --- transport --------------------------------------------------------------------------------

    def plain_http(self) -> Result:
        resource = f"http://{self.host}:{self.s.http_port}{urlsplit(self.s.url).path or '/'}"
        try:
            with socket.create_connection((self.host, self.s.http_port), timeout=self.s.timeout) as sock:
                request = (f"GET {urlsplit(self.s.url).path or '/'} HTTP/1.1\r\nHost: {self.host}\r\n"
                           "Connection: close\r\n\r\n")
                sock.sendall(request.encode())
                first = sock.recv(256).split(b"\r\n", 1)[0].decode("latin-1", "replace")
        except OSError as exc:
            return PLAIN_HTTP.passed(resource, f"Plain HTTP is not served ({exc.__class__.__name__}: {exc}).")
        if not first:
            return PLAIN_HTTP.passed(resource, "The port accepted a connection but closed it without answering.")
        # A redirect still answers on cleartext HTTP (and leaks the request line and any credentials).
        return PLAIN_HTTP.failed(resource, f"Plain HTTP answered: {first!r}.")

    def legacy_tls(self) -> Result:
        resource = f"{self.host}:{self.port}"
        refused, unable = [], []
        for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            attempt = try_handshake(self.host, self.port, version, self.s.timeout)
            if attempt.outcome is Outcome.ACCEPTED:
                return LEGACY_TLS.failed(resource, f"A {version.name} handshake succeeded: {attempt.detail}.")
            if attempt.outcome is Outcome.REFUSED:
                refused.append(f"{version.name}: {attempt.detail}")
            else:
                unable.append(f"{version.name}: {attempt.detail}")
        if unable:
            return LEGACY_TLS.errored(resource, "Could not test every legacy protocol: " + "; ".join(unable))
        return LEGACY_TLS.passed(resource, "Refused " + "; ".join(refused) + ".")

    # --- throttling -------------------------------------------------------------------------------

    def throttling(self) -> list[Result]:
        """Send at most burst_requests requests within burst_seconds; stop at the first 429."""
        path = self.s.health_path
        deadline = time.monotonic() + self.s.burst_seconds
        statuses: dict[int, int] = {}
        sent = 0
        with ThreadPoolExecutor(max_workers=self.s.burst_concurrency) as pool:
            pending: set[Future[int]] = set()
            while time.monotonic() < deadline and statuses.get(429, 0) == 0:
                while len(pending) < self.s.burst_concurrency and sent < self.s.burst_requests:
                    pending.add(pool.submit(self._status, path))
                    sent += 1
                if not pending:
                    break
                done, pending = wait(pending, timeout=max(0.0, deadline - time.monotonic()),
                                     return_when=FIRST_COMPLETED)
                for future in done:
                    status = future.result()
                    statuses[status] = statuses.get(status, 0) + 1
            for future in pending:
                future.cancel()
        resource = f"GET {path}"
        summary = ", ".join(f"{count}x{status}" for status, count in sorted(statuses.items()))
        return [THROTTLING.judge(
            resource, statuses.get(429, 0) > 0,
            f"Throttled after {sum(statuses.values())} requests ({summary}).",
            f"No HTTP 429 in {sum(statuses.values())} requests within {self.s.burst_seconds:g} s ({summary}).")]

    def _status(self, path: str) -> int:
        try:
            response = self.session.get(self.url(path), timeout=self.s.timeout, verify=self.verify,
                                        allow_redirects=False)
        except requests.RequestException:
            return 0  # counted as "no answer"; a dropped connection is not a 429
        return response.status_code

    # --- leaks ------------------------------------------------------------------------------------

    def error_leaks(self) -> Result:
        leaks = []
        for what, status, body in self.seen.bodies:
            found = find_leaks(body)
            if found:
                leaks.append(f"{what} -> HTTP {status}: {', '.join(found)}")
        checked = len(self.seen.bodies)
        if checked == 0:
            return ERROR_LEAKS.errored(self.base, "No error response was received, so nothing could be checked.")
        return ERROR_LEAKS.judge(self.base, not leaks, f"{checked} error responses leak nothing.",
                                 "Leaks in error responses: " + "; ".join(leaks) + ".")


_BY_PROBE = {"no_credentials": NO_CREDENTIALS, "bad_jwt": BAD_JWT, "wrong_api_key": WRONG_API_KEY,
             "body_size": BODY_SIZE, "throttling": THROTTLING}


def _errored_for(probe_name: str, resource: str, exc: Exception) -> Result:
    check = _BY_PROBE.get(probe_name, ERROR_LEAKS)
    return check.errored(resource, f"The request failed: {exc.__class__.__name__}: {exc}")
