"""Lambda handler of the order worker: SQS batches of EventBridge OrderCreated events.

Each record is delivered to EXTERNAL_API_URL with an OAuth2 client-credentials token. Failures are
reported per record (ReportBatchItemFailures), so one bad record is retried (and eventually dead-lettered)
alone. Logs name records and failure kinds only, never tokens, secrets or payloads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from functions.worker import payload
from functions.worker.config import WorkerSettings
from functions.worker.http_client import PermanentError, SafeHttpClient, TransientError, classify
from functions.worker.oauth import SecretSource, TokenProvider
from functions.worker.retry import RetryPolicy

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)
# botocore logs whole response bodies at DEBUG, GetSecretValue's included: keep it above DEBUG even if
# someone turns the function's log level down while investigating.
for _noisy in ("botocore", "boto3", "urllib3"):
    logging.getLogger(_noisy).setLevel(logging.INFO)

# Time kept back from the Lambda deadline so the handler can still return its failure list.
SAFETY_MARGIN_SECONDS = 2.0


class Worker:
    def __init__(
        self,
        settings: WorkerSettings,
        secrets_client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.http = SafeHttpClient(
            settings.allowed_hosts,
            settings.connect_timeout,
            settings.read_timeout,
            settings.max_response_bytes,
            verify=settings.ca_bundle or True,
        )
        if secrets_client is None:
            secrets_client = boto3.client(
                "secretsmanager",
                region_name=settings.region,
                config=Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard"}),
            )
        self.tokens = TokenProvider(
            self.http,
            settings.token_url,
            settings.scope,
            SecretSource(secrets_client, settings.client_secret_arn, clock),
            clock,
        )
        self.retry = RetryPolicy(max_attempts=settings.max_attempts, sleep=sleep, clock=clock)

    def _post(self, notification: payload.Notification) -> int:
        response = self.http.post(
            self.settings.external_api_url,
            headers={
                "Authorization": f"Bearer {self.tokens.token()}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                # Retries (ours, or SQS redelivery) must not create the order twice at the partner.
                "Idempotency-Key": notification.order_id,
            },
            json=notification.payload,
        )
        return_status = response.status
        if return_status != 401:
            classify(response, "external API")
        return return_status

    def deliver(self, notification: payload.Notification, deadline: float) -> None:
        refreshed = False

        def attempt() -> None:
            nonlocal refreshed
            if self._post(notification) != 401:
                return
            if refreshed:
                raise PermanentError("external API answered 401 again after a token refresh")
            # The cached token was revoked or expired early: fetch a new one and try exactly once more.
            refreshed = True
            self.tokens.invalidate()
            if self._post(notification) == 401:
                raise PermanentError("external API answered 401 again after a token refresh")

        self.retry.run(attempt, deadline)

    def process(self, record: dict[str, Any], deadline: float) -> None:
        self.deliver(payload.parse(record), deadline)


_worker: Worker | None = None


def current() -> Worker:
    global _worker  # noqa: PLW0603 - one worker (token and secret caches) per execution environment
    if _worker is None:
        _worker = Worker(WorkerSettings.from_env())
    return _worker


def install(worker: Worker | None) -> None:
    global _worker  # noqa: PLW0603
    _worker = worker


def _time_left(context: Any) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining() / 1000.0 if callable(remaining) else None


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    worker = current()  # a configuration error raises: the whole batch fails loudly (Errors alarm)
    records = event.get("Records") if isinstance(event, dict) else None
    failures: list[dict[str, str]] = []
    for record in records if isinstance(records, list) else []:
        message_id = record.get("messageId") if isinstance(record, dict) else None
        message_id = message_id if isinstance(message_id, str) else ""
        now = worker.clock()
        left = _time_left(context)
        budget = worker.settings.max_total_seconds
        if left is not None:
            budget = min(budget, left - SAFETY_MARGIN_SECONDS)
        if budget <= 0:
            # Out of time: hand the rest back to SQS rather than be killed mid-batch, which would
            # make SQS redeliver the records that did succeed as well.
            failures.append({"itemIdentifier": message_id})
            continue
        try:
            worker.process(record, now + budget)
            LOG.info("delivered message %s", message_id)
        except payload.MalformedRecord as exc:
            LOG.error("message %s is malformed: %s", message_id, exc)
            failures.append({"itemIdentifier": message_id})
        except (PermanentError, TransientError) as exc:
            LOG.warning("message %s not delivered: %s", message_id, exc)
            failures.append({"itemIdentifier": message_id})
        except Exception as exc:
            # Only the exception type: an unexpected exception's text could carry anything.
            LOG.error("message %s failed unexpectedly (%s)", message_id, type(exc).__name__)
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}
