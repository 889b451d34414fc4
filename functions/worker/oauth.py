"""OAuth2 client-credentials tokens, with the client secret from Secrets Manager; both cached."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from functions.worker.http_client import PermanentError, SafeHttpClient, classify

# Rotation of the client secret is picked up within this time without a cold start.
SECRET_CACHE_SECONDS = 300.0
# A token is renewed this long before it expires, so it never expires in flight.
TOKEN_REFRESH_MARGIN_SECONDS = 60.0
MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str = field(repr=False)


class SecretSource:
    """Reads {"client_id", "client_secret"} from a Secrets Manager secret and caches it."""

    def __init__(self, client: Any, secret_arn: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._arn = secret_arn
        self._clock = clock
        self._cached: ClientCredentials | None = None
        self._fetched_at = 0.0

    def get(self) -> ClientCredentials:
        if self._cached is None or self._clock() - self._fetched_at > SECRET_CACHE_SECONDS:
            value = self._client.get_secret_value(SecretId=self._arn)
            try:
                data = json.loads(value["SecretString"])
                credentials = ClientCredentials(str(data["client_id"]), str(data["client_secret"]))
            except (KeyError, TypeError, ValueError):
                # Never echo the secret's content, even malformed.
                raise PermanentError(
                    "OAUTH_CLIENT_SECRET_ARN secret must be JSON with client_id and client_secret"
                ) from None
            self._cached, self._fetched_at = credentials, self._clock()
        return self._cached

    def invalidate(self) -> None:
        self._cached = None


class TokenProvider:
    def __init__(
        self,
        http: SafeHttpClient,
        token_url: str,
        scope: str | None,
        secrets: SecretSource,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._token_url = token_url
        self._scope = scope
        self._secrets = secrets
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0

    def token(self) -> str:
        if self._token is None or self._clock() >= self._expires_at - TOKEN_REFRESH_MARGIN_SECONDS:
            self._fetch()
        assert self._token is not None
        return self._token

    def invalidate(self) -> None:
        self._token = None

    def _fetch(self) -> None:
        credentials = self._secrets.get()
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope
        # client_secret_basic (RFC 6749 §2.3.1): the secret travels in the Authorization header.
        response = self._http.post(
            self._token_url,
            headers={"Accept": "application/json"},
            data=form,
            auth=(credentials.client_id, credentials.client_secret),
        )
        if response.status in (400, 401):
            # Most likely a rotated secret: re-read it next time instead of waiting for the cache.
            self._secrets.invalidate()
        classify(response, "token endpoint")
        try:
            payload = json.loads(response.body)
            token = payload["access_token"]
            token_type = payload.get("token_type", "Bearer")
            lifetime = payload.get("expires_in", 300)
        except (ValueError, KeyError, TypeError):
            raise PermanentError("token endpoint returned a malformed response") from None
        if not isinstance(token, str) or not token or str(token_type).lower() != "bearer":
            raise PermanentError("token endpoint returned no bearer access_token")
        if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or lifetime <= 0:
            raise PermanentError("token endpoint returned an invalid expires_in")
        self._token = token
        self._expires_at = self._clock() + min(float(lifetime), MAX_TOKEN_LIFETIME_SECONDS)
