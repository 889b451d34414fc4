"""An outbound HTTPS client that only talks to allowlisted hosts, with timeouts and a response size cap.

Redirects are never followed (a redirect could lead anywhere, and the allowlist is checked on the URL we
chose); proxies, .netrc and other environment settings are ignored (trust_env off) so nothing outside
the function's configuration can redirect traffic or inject credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from functions.worker.config import check_url

CHUNK_BYTES = 16 * 1024


class TransientError(Exception):
    """Worth retrying: timeouts, connection failures, 5xx, 429."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """Retrying cannot help: refused URL, 4xx, redirect, oversized or malformed response."""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


class SafeHttpClient:
    def __init__(
        self,
        allowed_hosts: frozenset[str],
        connect_timeout: float,
        read_timeout: float,
        max_response_bytes: int,
        verify: str | bool = True,
    ) -> None:
        self.allowed_hosts = allowed_hosts
        self.timeout = (connect_timeout, read_timeout)
        self.max_response_bytes = max_response_bytes
        self.verify = verify
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.max_redirects = 0

    def post(self, url: str, *, headers: dict[str, str], **kwargs: Any) -> HttpResponse:
        """POST and return the (size-capped) response; transport problems become TransientError."""
        try:
            check_url(url, self.allowed_hosts)
        except ValueError as exc:
            raise PermanentError(f"request refused: {exc}") from None
        try:
            with self.session.post(
                url,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
                verify=self.verify,
                **kwargs,
            ) as response:
                body = self._read_capped(response)
                return HttpResponse(response.status_code, dict(response.headers), body)
        except requests.exceptions.SSLError as exc:
            # A certificate problem will not fix itself between retries.
            raise PermanentError(f"TLS verification failed ({type(exc).__name__})") from None
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TransientError(f"transport error ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            raise PermanentError(f"request failed ({type(exc).__name__})") from None

    def _read_capped(self, response: requests.Response) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            raise PermanentError(f"response declares {declared} bytes, over MAX_RESPONSE_BYTES")
        received = bytearray()
        for chunk in response.iter_content(CHUNK_BYTES):
            received += chunk
            if len(received) > self.max_response_bytes:
                # Stop reading: closing the stream drops the connection instead of draining it.
                raise PermanentError("response exceeds MAX_RESPONSE_BYTES")
        return bytes(received)


def classify(response: HttpResponse, what: str) -> None:
    """Raise for anything but 2xx: 429/5xx transient; redirects and other 4xx permanent (401 included,
    callers that can refresh credentials check for it first)."""
    status = response.status
    if 200 <= status < 300:
        return
    if status == 429 or status >= 500:
        raise TransientError(f"{what} answered {status}", _retry_after(response.headers.get("Retry-After")))
    if 300 <= status < 400:
        raise PermanentError(f"{what} answered a redirect ({status}); redirects are not followed")
    raise PermanentError(f"{what} answered {status}")
