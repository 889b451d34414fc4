"""Parsing and validating requests. Every rejection names the field (or header/parameter) at fault."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.api.http import HttpError, bad_request, header

MAX_BODY_BYTES = 16 * 1024
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
MAX_QUANTITY = 1000
MAX_NOTE_CHARS = 500
MAX_CURSOR_CHARS = 200
MAX_ECHOED_NAME_CHARS = 64  # a client-chosen name quoted back in an error is cut to this
SKU_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Printable ASCII without spaces: keys are opaque client tokens (UUIDs in practice).
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")
LIMIT_PATTERN = re.compile(r"[0-9]{1,4}")
ORDER_FIELDS = frozenset({"sku", "quantity", "note"})


@dataclass(frozen=True)
class OrderInput:
    sku: str
    quantity: int
    note: str | None

    def fingerprint(self) -> str:
        """Stable hash of the request's meaning, to tell a replay from a conflicting reuse of a key."""
        canonical = json.dumps(
            {"sku": self.sku, "quantity": self.quantity, "note": self.note},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Duplicate keys are resolved differently by different parsers (first vs last wins); a WAF or a
    # proxy may have inspected the other one, so such bodies are refused outright.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_body(event: dict[str, Any]) -> dict[str, Any]:
    content_type = header(event, "content-type") or ""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise HttpError(415, "unsupported_media_type", "Content-Type must be application/json", field="Content-Type")
    raw = event.get("body")
    if raw is None or raw == "":
        raise bad_request("body", "request body is required")
    if not isinstance(raw, str):
        raise bad_request("body", "request body must be text")
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("body", "request body is not valid base64") from None
    else:
        data = raw.encode("utf-8", errors="surrogatepass")
    if len(data) > MAX_BODY_BYTES:
        raise HttpError(413, "payload_too_large", f"request body must be at most {MAX_BODY_BYTES} bytes", "body")
    try:
        parsed = json.loads(
            data.decode("utf-8"), object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant
        )
    except (UnicodeDecodeError, ValueError) as exc:
        # json's messages describe the position of the syntax error only, never anything internal.
        raise bad_request("body", f"request body is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise bad_request("body", "request body must be a JSON object")
    return parsed


def order_input(body: dict[str, Any]) -> OrderInput:
    unknown = sorted(set(body) - ORDER_FIELDS)
    if unknown:
        raise bad_request(unknown[0], f"unknown field {unknown[0]!r}; allowed fields are sku, quantity, note")

    sku = body.get("sku")
    if not isinstance(sku, str):
        raise bad_request("sku", "sku is required and must be a string")
    if not SKU_PATTERN.fullmatch(sku):
        raise bad_request("sku", "sku must be 1-64 characters: letters, digits, '.', '_' or '-'")

    quantity = body.get("quantity")
    # bool is a subclass of int in Python; `true` is not a quantity.
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise bad_request("quantity", "quantity is required and must be an integer")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise bad_request("quantity", f"quantity must be between 1 and {MAX_QUANTITY}")

    note = body.get("note")
    if note is not None:
        if not isinstance(note, str):
            raise bad_request("note", "note must be a string")
        if len(note) > MAX_NOTE_CHARS:
            raise bad_request("note", f"note must be at most {MAX_NOTE_CHARS} characters")
        if "\x00" in note:
            raise bad_request("note", "note must not contain NUL characters")
    return OrderInput(sku=sku, quantity=quantity, note=note)


def idempotency_key(event: dict[str, Any]) -> str:
    key = header(event, "idempotency-key")
    if key is None or key == "":
        raise bad_request("Idempotency-Key", "the Idempotency-Key header is required")
    if not IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
        raise bad_request("Idempotency-Key", "Idempotency-Key must be 1-255 printable ASCII characters")
    return key


def order_id(event: dict[str, Any]) -> uuid.UUID:
    params = event.get("pathParameters") or {}
    raw = params.get("id") if isinstance(params, dict) else None
    if not isinstance(raw, str):
        raise bad_request("id", "order id is required")
    try:
        parsed = uuid.UUID(raw)
    except ValueError:
        raise bad_request("id", "order id must be a UUID") from None
    # uuid.UUID also accepts braces, urn: prefixes and missing hyphens; only the canonical form is an id.
    if str(parsed) != raw.lower():
        raise bad_request("id", "order id must be a UUID")
    return parsed


@dataclass(frozen=True)
class ListParams:
    limit: int
    after: tuple[datetime, uuid.UUID] | None


def encode_cursor(created_at: datetime, last_id: uuid.UUID) -> str:
    raw = json.dumps({"t": created_at.isoformat(), "i": str(last_id)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    if len(cursor) > MAX_CURSOR_CHARS:
        raise bad_request("cursor", "cursor is invalid")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        created_at = datetime.fromisoformat(data["t"])
        last_id = uuid.UUID(data["i"])
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise bad_request("cursor", "cursor is invalid") from None
    if created_at.tzinfo is None:
        raise bad_request("cursor", "cursor is invalid")
    return created_at, last_id


def query_parameters(event: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """The query string, refusing parameters the route does not define: a misspelt one (``limt=5``) must not be
    silently ignored, and the contract (openapi.json) lists every parameter a route takes."""
    query = event.get("queryStringParameters") or {}
    if not isinstance(query, dict):
        return {}
    unknown = sorted(str(name) for name in query if name not in allowed)
    if unknown:
        name = unknown[0][:MAX_ECHOED_NAME_CHARS]
        accepted = f"accepted: {', '.join(sorted(allowed))}" if allowed else "this route takes none"
        raise bad_request(name, f"unknown query parameter {name!r}; {accepted}")
    return query


def list_params(event: dict[str, Any]) -> ListParams:
    query = event.get("queryStringParameters") or {}
    if not isinstance(query, dict):
        query = {}
    limit = DEFAULT_LIMIT
    raw_limit = query.get("limit")
    if raw_limit is not None:
        if not isinstance(raw_limit, str) or not LIMIT_PATTERN.fullmatch(raw_limit):
            raise bad_request("limit", f"limit must be an integer between 1 and {MAX_LIMIT}")
        limit = int(raw_limit)
        if not 1 <= limit <= MAX_LIMIT:
            raise bad_request("limit", f"limit must be an integer between 1 and {MAX_LIMIT}")
    cursor = query.get("cursor")
    after = _decode_cursor(cursor) if isinstance(cursor, str) and cursor else None
    return ListParams(limit=limit, after=after)
