"""SQL for orders. Every statement is parameterised (pg8000 named parameters); no string building."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_COLUMNS = "id, customer_id, idempotency_key, request_hash, sku, quantity, note, created_at, published"


@dataclass(frozen=True)
class Order:
    id: uuid.UUID
    customer_id: str
    idempotency_key: str
    request_hash: str
    sku: str
    quantity: int
    note: str | None
    created_at: datetime
    published: bool

    @classmethod
    def from_row(cls, row: list[Any]) -> Order:
        return cls(*row)

    def to_public(self) -> dict[str, Any]:
        """The representation returned to the customer (no idempotency internals)."""
        return {
            "id": str(self.id),
            "sku": self.sku,
            "quantity": self.quantity,
            "note": self.note,
            "created_at": self.created_at.isoformat(),
        }

    def event_detail(self) -> dict[str, Any]:
        """The OrderCreated detail, exactly the contract's fields."""
        return {
            "order_id": str(self.id),
            "customer_id": self.customer_id,
            "sku": self.sku,
            "quantity": self.quantity,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class CreateResult:
    order: Order
    created: bool
    """False when an order with the same (customer, idempotency key) already existed."""


def create_or_get(
    conn: Any,
    *,
    customer_id: str,
    idempotency_key: str,
    request_hash: str,
    sku: str,
    quantity: int,
    note: str | None,
) -> CreateResult:
    """Insert the order unless this customer already used the key; return the stored one either way.

    ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to commit, so two racing
    requests end with one row and both see it.
    """
    rows = conn.run(
        f"""
        INSERT INTO orders (id, customer_id, idempotency_key, request_hash, sku, quantity, note)
        VALUES (:id, :customer_id, :idempotency_key, :request_hash, :sku, :quantity, :note)
        ON CONFLICT ON CONSTRAINT orders_customer_idempotency_key DO NOTHING
        RETURNING {_COLUMNS}
        """,  # noqa: S608 - only the constant column list is interpolated
        id=uuid.uuid4(),
        customer_id=customer_id,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        sku=sku,
        quantity=quantity,
        note=note,
    )
    if rows:
        return CreateResult(Order.from_row(rows[0]), created=True)
    rows = conn.run(
        f"SELECT {_COLUMNS} FROM orders WHERE customer_id = :customer_id AND idempotency_key = :key",  # noqa: S608
        customer_id=customer_id,
        key=idempotency_key,
    )
    return CreateResult(Order.from_row(rows[0]), created=False)


def get_for_customer(conn: Any, order_id: uuid.UUID, customer_id: str) -> Order | None:
    """The order if it exists AND belongs to the customer; None otherwise (callers cannot tell which)."""
    rows = conn.run(
        f"SELECT {_COLUMNS} FROM orders WHERE id = :id AND customer_id = :customer_id",  # noqa: S608
        id=order_id,
        customer_id=customer_id,
    )
    return Order.from_row(rows[0]) if rows else None


def list_for_customer(
    conn: Any, customer_id: str, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> tuple[list[Order], bool]:
    """Newest first, keyset-paginated after (created_at, id); returns (page, has_more)."""
    if after is None:
        rows = conn.run(
            f"""
            SELECT {_COLUMNS} FROM orders WHERE customer_id = :customer_id
            ORDER BY created_at DESC, id DESC LIMIT :limit
            """,  # noqa: S608
            customer_id=customer_id,
            limit=limit + 1,
        )
    else:
        rows = conn.run(
            f"""
            SELECT {_COLUMNS} FROM orders
            WHERE customer_id = :customer_id AND (created_at, id) < (:after_ts, :after_id)
            ORDER BY created_at DESC, id DESC LIMIT :limit
            """,  # noqa: S608
            customer_id=customer_id,
            after_ts=after[0],
            after_id=after[1],
            limit=limit + 1,
        )
    orders = [Order.from_row(row) for row in rows]
    return orders[:limit], len(orders) > limit


def mark_published(conn: Any, order_ids: list[uuid.UUID]) -> int:
    if not order_ids:
        return 0
    conn.run(
        "UPDATE orders SET published = true, published_at = clock_timestamp() WHERE id = ANY(:ids)",
        ids=order_ids,
    )
    return int(conn.row_count)


def lock_unpublished(conn: Any, limit: int, min_age_seconds: int) -> list[Order]:
    """The oldest unpublished orders, row-locked so a concurrent reconcile skips rather than duplicates."""
    rows = conn.run(
        f"""
        SELECT {_COLUMNS} FROM orders
        WHERE NOT published AND created_at <= clock_timestamp() - make_interval(secs => :min_age)
        ORDER BY created_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
        """,  # noqa: S608
        min_age=min_age_seconds,
        limit=limit,
    )
    return [Order.from_row(row) for row in rows]
