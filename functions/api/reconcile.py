"""Lambda handler of POST /internal/reconcile (AWS_IAM route): republish the outbox.

Takes a bounded batch of the oldest unpublished orders (older than RECONCILE_MIN_AGE_SECONDS, so the api
invocation that is publishing a fresh order right now is not raced), publishes them, marks the accepted
ones published and answers with counts. Delivery is at-least-once: consumers dedupe on order_id.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from functions.api import orders, runtime, validation
from functions.api.config import reconcile_min_age_seconds
from functions.api.http import HttpError, bad_request, error_response, internal_error_response, request_id_of
from functions.api.http import response as http_response

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

DEFAULT_BATCH = 100
MAX_BATCH = 500


def _batch_size(event: dict[str, Any]) -> int:
    body = event.get("body")
    if not body:
        return DEFAULT_BATCH
    try:
        parsed = json.loads(body)
    except ValueError:
        raise bad_request("body", "request body is not valid JSON") from None
    if not isinstance(parsed, dict) or set(parsed) - {"limit"}:
        raise bad_request("body", "request body may only contain 'limit'")
    limit = parsed.get("limit", DEFAULT_BATCH)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_BATCH:
        raise bad_request("limit", f"limit must be an integer between 1 and {MAX_BATCH}")
    return limit


def _require_iam_caller(event: dict[str, Any]) -> None:
    identity = (event.get("requestContext") or {}).get("identity") or {}
    # API Gateway fills userArn only after SigV4 (AWS_IAM) authorisation; without it the route was
    # exposed by mistake, so refuse rather than let anyone trigger publishing.
    if not isinstance(identity, dict) or not identity.get("userArn"):
        raise HttpError(403, "forbidden", "Forbidden")


def reconcile(limit: int, min_age_seconds: int) -> dict[str, int]:
    rt = runtime.current()

    def work(conn: Any) -> dict[str, int]:
        pending = orders.lock_unpublished(conn, limit, min_age_seconds)
        accepted = rt.publisher.publish(pending)
        marked = orders.mark_published(conn, [order.id for order in accepted])
        return {"selected": len(pending), "published": marked, "failed": len(pending) - marked}

    # Publishing happens while the rows are locked, so a concurrent reconcile skips them instead of
    # sending duplicates; the transaction is short (one batch).
    return rt.db.transaction(work)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_id = request_id_of(event, context) if isinstance(event, dict) else None
    try:
        if not isinstance(event, dict):
            raise HttpError(400, "invalid_request", "malformed request")
        _require_iam_caller(event)
        validation.query_parameters(event, frozenset())
        counts = reconcile(_batch_size(event), reconcile_min_age_seconds())
        LOG.info("reconcile: %s", counts)
        return http_response(200, counts, request_id)
    except HttpError as error:
        return error_response(error, request_id)
    except Exception:
        LOG.exception("reconcile failed (request id %s)", request_id)
        return internal_error_response(request_id)
