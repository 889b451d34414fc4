"""What the api and reconcile handlers share across invocations: the database and the publisher.

Built from the environment on first use (production). Tests install their own with `install`, giving a
password token source and a moto/locally-served EventBridge client; the rest of the code path is the
production one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.api.config import DbSettings, EventSettings, migrate_on_start
from functions.api.db import Database, TokenProvider
from functions.api.events import Publisher


@dataclass
class Runtime:
    db: Database
    publisher: Publisher

    @classmethod
    def build(
        cls,
        db_settings: DbSettings,
        event_settings: EventSettings,
        token_provider: TokenProvider | None = None,
        events_client: Any = None,
        migrate_on_start: bool = False,
    ) -> Runtime:
        return cls(
            Database(db_settings, token_provider, migrate_on_start=migrate_on_start),
            Publisher(event_settings, events_client),
        )

    @classmethod
    def from_env(cls) -> Runtime:
        return cls.build(DbSettings.from_env(), EventSettings.from_env(), migrate_on_start=migrate_on_start())


_current: Runtime | None = None


def current() -> Runtime:
    global _current  # noqa: PLW0603 - one runtime per execution environment is the point
    if _current is None:
        _current = Runtime.from_env()
    return _current


def install(runtime: Runtime | None, close_previous: bool = True) -> None:
    """Replace the shared runtime (None: rebuild from the environment on next use)."""
    global _current  # noqa: PLW0603
    if close_previous and _current is not None and _current is not runtime:
        _current.db.close()
    _current = runtime
