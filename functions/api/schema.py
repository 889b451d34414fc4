"""The orders table and its idempotent migration.

Trade-off (documented for reviewers): the migration runs once per cold start, from the function itself,
as `CREATE ... IF NOT EXISTS` statements under a transaction-scoped advisory lock (so concurrent cold
starts serialise instead of racing on the catalog). That keeps deployment to one step and costs one
short round trip per cold start, but it means the function's database role owns the table and may run
DDL. A stricter setup would run migrations from a separate deploy-time job with an owner role and give
the function role only SELECT/INSERT/UPDATE; the statements below are written to be reusable for that.
Changing a column later needs a real migration tool: IF NOT EXISTS only creates what is missing.
"""

from __future__ import annotations

import contextlib
from typing import Any

# Arbitrary constant identifying "the orders schema migration" among advisory locks.
MIGRATION_LOCK_ID = 724_311_001

STATEMENTS = (
    """
    CREATE TABLE IF NOT EXISTS orders (
        id uuid PRIMARY KEY,
        customer_id text NOT NULL,
        idempotency_key text NOT NULL,
        request_hash text NOT NULL,
        sku text NOT NULL,
        quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
        note text CHECK (note IS NULL OR char_length(note) <= 500),
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        published boolean NOT NULL DEFAULT false,
        published_at timestamptz,
        CONSTRAINT orders_customer_idempotency_key UNIQUE (customer_id, idempotency_key)
    )
    """,
    # Listing a customer's orders newest first, with keyset pagination on (created_at, id).
    "CREATE INDEX IF NOT EXISTS orders_customer_created_idx ON orders (customer_id, created_at DESC, id DESC)",
    # The outbox: reconcile scans only the unpublished rows.
    "CREATE INDEX IF NOT EXISTS orders_unpublished_idx ON orders (created_at) WHERE NOT published",
)


def migrate(conn: Any) -> None:
    """Apply the schema; safe to run any number of times, concurrently."""
    conn.run("START TRANSACTION")
    try:
        conn.run("SELECT pg_advisory_xact_lock(:lock_id)", lock_id=MIGRATION_LOCK_ID)
        for statement in STATEMENTS:
            conn.run(statement)
        conn.run("COMMIT")
    except BaseException:
        # The original error is the one worth reporting, not a failed ROLLBACK on a dead session.
        with contextlib.suppress(Exception):
            conn.run("ROLLBACK")
        raise
