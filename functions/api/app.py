"""Lambda handler of the orders API (API Gateway REST, AWS_PROXY integration).

Routes: GET /health, GET /orders, POST /orders, GET /orders/{id} (customer = the JWT authorizer's
principalId) and POST /partner/orders (customer = the caller's API key id). The customer always comes
from the request context API Gateway filled in, never from the request body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from functions.api import orders, runtime, validation
from functions.api.http import HttpError, error_response, internal_error_response, request_id_of, response

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

# Partner customers are namespaced so an API key id can never equal a JWT subject and see that
# subject's orders (or the other way round).
PARTNER_PREFIX = "apikey:"


def _jwt_customer(event: dict[str, Any]) -> str:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    principal = authorizer.get("principalId") if isinstance(authorizer, dict) else None
    if not isinstance(principal, str) or not principal or principal.startswith(PARTNER_PREFIX):
        # Only reachable if the route lost its authorizer: fail closed.
        raise HttpError(401, "unauthorized", "Unauthorized")
    return principal


def _partner_customer(event: dict[str, Any]) -> str:
    identity = (event.get("requestContext") or {}).get("identity") or {}
    key_id = identity.get("apiKeyId") if isinstance(identity, dict) else None
    if not isinstance(key_id, str) or not key_id:
        raise HttpError(401, "unauthorized", "Unauthorized")
    return PARTNER_PREFIX + key_id


def _health(event: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    return response(200, {"status": "ok"}, request_id)


def _create(event: dict[str, Any], request_id: str | None, customer_id: str) -> dict[str, Any]:
    key = validation.idempotency_key(event)
    order_input = validation.order_input(validation.json_body(event))
    fingerprint = order_input.fingerprint()
    rt = runtime.current()
    result = rt.db.transaction(
        lambda conn: orders.create_or_get(
            conn,
            customer_id=customer_id,
            idempotency_key=key,
            request_hash=fingerprint,
            sku=order_input.sku,
            quantity=order_input.quantity,
            note=order_input.note,
        )
    )
    order = result.order
    if not result.created:
        if order.request_hash != fingerprint:
            raise HttpError(
                409,
                "idempotency_conflict",
                "this Idempotency-Key was already used with a different request body",
                field="Idempotency-Key",
            )
        return response(200, order.to_public(), request_id, {"Idempotent-Replayed": "true"})

    # Published after the commit: the event never announces an order that does not exist. If this
    # fails the order stays published = false and reconcile sends it later (transactional outbox);
    # the client still gets its 201 because the order itself is safely stored.
    _publish_after_commit(order)
    return response(201, order.to_public(), request_id, {"Location": f"/orders/{order.id}"})


def _publish_after_commit(order: orders.Order) -> None:
    rt = runtime.current()
    try:
        if rt.publisher.publish([order]):
            rt.db.transaction(lambda conn: orders.mark_published(conn, [order.id]))
    except Exception:  # the outbox row is the fallback; the order is stored
        LOG.exception("could not mark order %s published; reconcile will republish it", order.id)


def _create_jwt(event: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    return _create(event, request_id, _jwt_customer(event))


def _create_partner(event: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    return _create(event, request_id, _partner_customer(event))


def _get(event: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    customer_id = _jwt_customer(event)
    order_id = validation.order_id(event)
    order = runtime.current().db.transaction(lambda conn: orders.get_for_customer(conn, order_id, customer_id))
    if order is None:
        # Same answer for "does not exist" and "belongs to someone else": ids are not an oracle.
        raise HttpError(404, "not_found", "order not found")
    return response(200, order.to_public(), request_id)


def _list(event: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    customer_id = _jwt_customer(event)
    params = validation.list_params(event)
    page, has_more = runtime.current().db.transaction(
        lambda conn: orders.list_for_customer(conn, customer_id, params.limit, params.after)
    )
    next_cursor = validation.encode_cursor(page[-1].created_at, page[-1].id) if has_more and page else None
    return response(200, {"orders": [o.to_public() for o in page], "next_cursor": next_cursor}, request_id)


Route = Callable[[dict[str, Any], "str | None"], dict[str, Any]]
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/health"): _health,
    ("GET", "/orders"): _list,
    ("POST", "/orders"): _create_jwt,
    ("GET", "/orders/{id}"): _get,
    ("POST", "/partner/orders"): _create_partner,
}


# The query parameters each route takes (components/routes.py: optional_query); any other is refused.
QUERY_PARAMETERS: dict[tuple[str, str], frozenset[str]] = {("GET", "/orders"): frozenset({"limit", "cursor"})}


def _route(event: dict[str, Any]) -> Route:
    method = event.get("httpMethod")
    resource = event.get("resource")
    key = (str(method), str(resource))
    found = ROUTES.get(key)
    if found is not None:
        validation.query_parameters(event, QUERY_PARAMETERS.get(key, frozenset()))
        return found
    if any(path == resource for _, path in ROUTES):
        allowed = ", ".join(sorted(m for m, path in ROUTES if path == resource))
        raise HttpError(405, "method_not_allowed", "method not allowed", headers={"Allow": allowed})
    raise HttpError(404, "not_found", "resource not found")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_id = request_id_of(event, context) if isinstance(event, dict) else None
    try:
        if not isinstance(event, dict):
            raise HttpError(400, "invalid_request", "malformed request")
        return _route(event)(event, request_id)
    except HttpError as error:
        return error_response(error, request_id)
    except Exception:
        # The traceback goes to the function's log (encrypted log group), never to the client.
        LOG.exception("unhandled error (request id %s)", request_id)
        return internal_error_response(request_id)
