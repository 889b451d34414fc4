"""Read-only AWS access for the audit: one client per service, bounded retries and timeouts, and errors
that say which IAM permission a failed call needed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from audit.iam import iam_action

# Error codes that mean "the caller lacks a permission" across the services the audit calls
# (EC2 says UnauthorizedOperation, SNS AuthorizationError, most others AccessDenied[Exception]).
_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
     "AuthorizationErrorException", "Forbidden", "403"}
)
# Credential problems are not a missing permission; report them as such.
_CREDENTIAL_CODES = frozenset(
    {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
     "InvalidSignatureException", "SignatureDoesNotMatch", "AuthFailure"}
)
_MAX_PAGES = 100  # a stack has a handful of SGs, log groups, resources; this only stops a runaway loop


class AwsCallError(Exception):
    """An AWS API call failed; `str()` is the sentence the report shows."""

    def __init__(self, api: str, action: str, code: str, detail: str) -> None:
        self.api, self.action, self.code, self.detail = api, action, code, detail
        if code in _DENIED_CODES:
            text = f"access denied: {api} needs the IAM permission {action} (see audit/iam-policy.json)"
        elif code in _CREDENTIAL_CODES:
            text = f"{api} was refused because the AWS credentials are invalid or expired ({code})"
        else:
            text = f"{api} failed: {code}: {detail}"
        super().__init__(text)

    @property
    def access_denied(self) -> bool:
        return self.code in _DENIED_CODES


class Aws:
    """Creates clients lazily from one boto3 session; every client uses the same endpoint and region."""

    def __init__(self, session: boto3.Session, region: str, endpoint_url: str | None = None) -> None:
        self.session = session
        self.region = region
        self.endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        # Bounded: standard retry mode with 3 attempts, and finite socket timeouts.
        self._config = Config(
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=5,
            read_timeout=30,
            user_agent_extra="secure-api-platform-audit",
        )

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url, config=self._config
            )
        return self._clients[service]

    def call(self, service: str, method: str, *, absent: frozenset[str] = frozenset(), **kwargs: Any) -> Any:
        """Call `method`; return None when the error code is in `absent` (e.g. "no such policy")."""
        client = self.client(service)
        try:
            return getattr(client, method)(**kwargs)
        except ClientError as exc:
            if _code(exc) in absent:
                return None
            raise _wrap(client, exc) from exc
        except BotoCoreError as exc:
            raise _wrap_botocore(client, method, exc) from exc

    def pages(self, service: str, method: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        client = self.client(service)
        paginator = client.get_paginator(method)
        try:
            for number, page in enumerate(paginator.paginate(**kwargs)):
                if number >= _MAX_PAGES:
                    operation = client.meta.method_to_api_mapping.get(method, method)
                    raise AwsCallError(_api(client, operation), "", "TooManyPages", f"more than {_MAX_PAGES} pages")
                yield page
        except ClientError as exc:
            raise _wrap(client, exc) from exc
        except BotoCoreError as exc:
            raise _wrap_botocore(client, method, exc) from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _api(client: Any, operation: str) -> str:
    return f"{client.meta.service_model.service_name}.{operation}"


def _wrap(client: Any, exc: ClientError) -> AwsCallError:
    operation = exc.operation_name
    action = iam_action(client.meta.service_model, operation)
    message = str(exc.response.get("Error", {}).get("Message", exc))
    return AwsCallError(_api(client, operation), action, _code(exc), message)


def _wrap_botocore(client: Any, method: str, exc: BotoCoreError) -> AwsCallError:
    operation = client.meta.method_to_api_mapping.get(method, method)
    action = iam_action(client.meta.service_model, operation)
    return AwsCallError(_api(client, operation), action, type(exc).__name__, str(exc))
