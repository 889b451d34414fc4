"""Publishing OrderCreated to EventBridge (the outbox's sending side)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.config import Config

from functions.api.config import EventSettings
from functions.api.orders import Order

LOG = logging.getLogger(__name__)

DETAIL_TYPE = "OrderCreated"
# PutEvents accepts at most 10 entries per call.
MAX_ENTRIES_PER_CALL = 10

# Short timeouts and few retries: the api answers the client after publishing, and an order that could
# not be published is not lost (it stays in the outbox for reconcile), so waiting longer buys little.
_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 2})


def make_client(settings: EventSettings) -> Any:
    return boto3.client("events", region_name=settings.region, config=_CLIENT_CONFIG)


class Publisher:
    def __init__(self, settings: EventSettings, client: Any = None) -> None:
        self.settings = settings
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self.settings)
        return self._client

    def _entry(self, order: Order) -> dict[str, Any]:
        return {
            "Source": self.settings.source,
            "DetailType": DETAIL_TYPE,
            "Detail": json.dumps(order.event_detail(), separators=(",", ":")),
            "EventBusName": self.settings.bus_name,
        }

    def publish(self, orders: Sequence[Order]) -> list[Order]:
        """Send OrderCreated for each order; return those EventBridge accepted.

        Never raises: a failed call or a failed entry just leaves that order out of the result, so it
        stays unpublished in the outbox.
        """
        accepted: list[Order] = []
        for start in range(0, len(orders), MAX_ENTRIES_PER_CALL):
            chunk = list(orders[start : start + MAX_ENTRIES_PER_CALL])
            try:
                response = self.client.put_events(Entries=[self._entry(order) for order in chunk])
            except Exception as exc:  # any failure means "not published"; reconcile retries
                LOG.warning("PutEvents failed (%s); %d order(s) left in the outbox", type(exc).__name__, len(chunk))
                continue
            entries = response.get("Entries", [])
            failed = int(response.get("FailedEntryCount", 0))
            if failed and len(entries) != len(chunk):
                # Without per-entry results we cannot tell which ones failed: treat all as unpublished.
                LOG.warning("PutEvents reported %d failure(s) without per-entry results", failed)
                continue
            for order, entry in zip(chunk, entries, strict=False):
                if entry.get("ErrorCode") or not entry.get("EventId"):
                    LOG.warning("PutEvents rejected order %s: %s", order.id, entry.get("ErrorCode", "no EventId"))
                else:
                    accepted.append(order)
        return accepted
