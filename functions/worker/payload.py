"""From an SQS record carrying an EventBridge OrderCreated event to the payload for the external API.

Only an explicit allowlist of fields leaves the platform; in particular the internal customer id does
not (the partner needs the order, not who placed it). Anything unexpected makes the record malformed.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

DETAIL_TYPE = "OrderCreated"
ALLOWED_FIELDS = ("order_id", "sku", "quantity", "created_at")
SKU_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class MalformedRecord(ValueError):
    """The record cannot be delivered however often it is retried; the message says why (no content)."""


@dataclass(frozen=True)
class Notification:
    order_id: str
    payload: dict[str, Any]


def _check(detail: dict[str, Any]) -> None:
    try:
        uuid.UUID(str(detail["order_id"]))
        if not isinstance(detail["sku"], str) or not SKU_PATTERN.fullmatch(detail["sku"]):
            raise MalformedRecord("detail.sku is invalid")
        quantity = detail["quantity"]
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= 1000:
            raise MalformedRecord("detail.quantity is invalid")
        created_at = detail["created_at"]
        if not isinstance(created_at, str):
            raise MalformedRecord("detail.created_at is invalid")
        datetime.fromisoformat(created_at)
    except KeyError as exc:
        raise MalformedRecord(f"detail.{exc.args[0]} is missing") from None
    except ValueError as exc:
        if isinstance(exc, MalformedRecord):
            raise
        raise MalformedRecord("detail has an invalid order_id or created_at") from None


def parse(record: dict[str, Any]) -> Notification:
    body = record.get("body")
    if not isinstance(body, str):
        raise MalformedRecord("record has no body")
    try:
        envelope = json.loads(body)
    except ValueError:
        raise MalformedRecord("record body is not JSON") from None
    if not isinstance(envelope, dict) or envelope.get("detail-type") != DETAIL_TYPE:
        raise MalformedRecord("record is not an OrderCreated event")
    detail = envelope.get("detail")
    if not isinstance(detail, dict):
        raise MalformedRecord("event has no detail object")
    _check(detail)
    payload = {name: detail[name] for name in ALLOWED_FIELDS}
    return Notification(order_id=str(detail["order_id"]), payload=payload)
