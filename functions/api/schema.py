"""The orders table, the application role's privileges and their idempotent migration: the one place the
database's shape is defined.

Who runs it: the deploy-time bootstrap (functions/api/bootstrap.py), connected as the RDS master user, so the
table is owned by the master/migration role and the functions' role (the app role) gets only the DML it needs.
The api function runs DDL at cold start only when DB_MIGRATE_ON_START=true (local development); deployed
stacks leave it off, so a compromised function cannot alter or drop the table.

Statements are `CREATE ... IF NOT EXISTS` under a transaction-scoped advisory lock (concurrent runs serialise
instead of racing on the catalog). Changing a column later needs a real migration tool: IF NOT EXISTS only
creates what is missing. SCHEMA_VERSION changes whenever the statements or the grants change, and the
infrastructure re-runs the bootstrap when it does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# Arbitrary constant identifying "the orders schema migration" among advisory locks.
MIGRATION_LOCK_ID = 724_311_001
TABLE = "orders"
SCHEMA = "public"

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

# What the api/reconcile code does to the table, and nothing more: it inserts orders, reads them and marks them
# published (SELECT ... FOR UPDATE in reconcile needs UPDATE on a column too). No DELETE, no TRUNCATE, and
# UPDATE only on the two outbox columns, so even a compromised function cannot rewrite what was ordered.
APP_TABLE_PRIVILEGES = ("SELECT", "INSERT")
APP_UPDATABLE_COLUMNS = ("published", "published_at")

# PostgreSQL identifiers we accept for the app role: lower case (unquoted PostgreSQL folds to it), at most 63
# bytes. Quoting is applied as well, so a keyword such as "user" is still a valid role name.
ROLE_NAME_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Roles PostgreSQL or RDS own: granting table privileges to them, or creating them, must never happen.
RESERVED_ROLE_NAMES = frozenset({"postgres", "public", "rdsadmin", "rds_superuser", "rds_iam", "rds_replication",
                                 "rds_password", "rdstopmgr", "rdsrepladmin"})

SCHEMA_VERSION = hashlib.sha256(
    json.dumps([STATEMENTS, APP_TABLE_PRIVILEGES, APP_UPDATABLE_COLUMNS, TABLE, SCHEMA]).encode()
).hexdigest()[:16]


def code_version() -> str:
    """A digest of the code that decides what the deploy-time bootstrap does (this module and bootstrap.py).

    The stack re-runs the bootstrap when it changes. Read from the files, not by importing bootstrap, so the
    Pulumi program does not load the database driver.
    """
    digest = hashlib.sha256()
    here = Path(__file__)
    for module in (here, here.with_name("bootstrap.py")):
        digest.update(module.read_bytes())
    return digest.hexdigest()[:16]


def quote_role(name: str, setting: str = "DB_APP_USER") -> str:
    """The validated role name as a quoted SQL identifier; ValueError naming `setting` otherwise.

    Role DDL takes no bind parameters, so the name is interpolated: validation rejects anything but
    [a-z_][a-z0-9_]*, and the quotes make even a reserved word an identifier.
    """
    if not isinstance(name, str) or not ROLE_NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"{setting} must be 1-63 characters of a-z, 0-9 and '_', not starting with a digit; got {name!r}"
        )
    if name in RESERVED_ROLE_NAMES or name.startswith("pg_"):
        raise ValueError(f"{setting} must not name a PostgreSQL or RDS built-in role; got {name!r}")
    return f'"{name}"'


def apply(conn: Any) -> None:
    """Run the DDL in the caller's transaction (which should hold the migration lock)."""
    for statement in STATEMENTS:
        conn.run(statement)


def grant_app_privileges(conn: Any, role: str) -> None:
    """Give the app role exactly APP_TABLE_PRIVILEGES + UPDATE(APP_UPDATABLE_COLUMNS) on the table.

    Everything is revoked first, so privileges a previous version granted (or someone added by hand) do not
    linger: the result is the same whatever the starting point. Run by the table's owner.
    """
    quoted = quote_role(role)
    # PostgreSQL 15 already denies PUBLIC CREATE on the public schema; older engines allow it. Making it explicit
    # keeps the app role from creating objects whatever the engine version (a no-op warning if not the owner).
    conn.run(f"REVOKE CREATE ON SCHEMA {SCHEMA} FROM PUBLIC")
    conn.run(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {quoted}")
    conn.run(f"REVOKE ALL ON TABLE {TABLE} FROM {quoted}")
    conn.run(f"GRANT {', '.join(APP_TABLE_PRIVILEGES)} ON TABLE {TABLE} TO {quoted}")
    conn.run(f"GRANT UPDATE ({', '.join(APP_UPDATABLE_COLUMNS)}) ON TABLE {TABLE} TO {quoted}")


def lock(conn: Any) -> None:
    """Serialise migrations (transaction-scoped: released at COMMIT/ROLLBACK)."""
    conn.run("SELECT pg_advisory_xact_lock(:lock_id)", lock_id=MIGRATION_LOCK_ID)


def in_transaction(conn: Any, work: Callable[[Any], T]) -> T:
    """Run `work(conn)` between START TRANSACTION and COMMIT, holding the migration lock; roll back on error."""
    conn.run("START TRANSACTION")
    try:
        lock(conn)
        result = work(conn)
        conn.run("COMMIT")
    except BaseException:
        # The original error is the one worth reporting, not a failed ROLLBACK on a dead session.
        with contextlib.suppress(Exception):
            conn.run("ROLLBACK")
        raise
    return result


def migrate(conn: Any) -> None:
    """Apply the schema; safe to run any number of times, concurrently."""
    in_transaction(conn, apply)
