"""POST/GET /orders, GET /orders/{id}, POST /partner/orders and /health against a real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from functions.api import app

ORDER = {"sku": "SKU-1", "quantity": 3, "note": "leave at the door"}


def create(make_event, invoke, body=ORDER, key=None, principal="customer-a"):
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    return invoke(app.handler, make_event("POST", "/orders", body=body, headers=headers, principal=principal))


def test_health_needs_no_database(make_event, invoke):
    # No runtime installed and no DB_* environment: /health must not touch the database.
    status, headers, body = invoke(app.handler, make_event("GET", "/health", principal=None))
    assert (status, body) == (200, {"status": "ok"})
    assert headers["Cache-Control"] == "no-store"


def test_create_then_read_and_list(api, make_event, invoke):
    status, headers, created = create(make_event, invoke)
    assert status == 201
    assert created["sku"] == "SKU-1" and created["quantity"] == 3 and created["note"] == "leave at the door"
    assert headers["Location"] == f"/orders/{created['id']}"
    uuid.UUID(created["id"])
    assert set(created) == {"id", "sku", "quantity", "note", "created_at"}

    stored = api.sql("SELECT customer_id, sku, quantity FROM orders WHERE id = :id", id=uuid.UUID(created["id"]))
    assert stored == [["customer-a", "SKU-1", 3]]

    status, _, fetched = invoke(app.handler, make_event("GET", "/orders/{id}", path_params={"id": created["id"]}))
    assert (status, fetched) == (200, created)

    status, _, listing = invoke(app.handler, make_event("GET", "/orders"))
    assert status == 200
    assert listing == {"orders": [created], "next_cursor": None}


def test_responses_carry_security_headers(api, make_event, invoke):
    _, headers, _ = create(make_event, invoke)
    assert headers["Content-Type"].startswith("application/json")
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    _, error_headers, _ = invoke(app.handler, make_event("GET", "/orders", query={"limit": "0"}))
    assert error_headers["X-Content-Type-Options"] == "nosniff"


def test_list_paginates_newest_first_and_only_own_orders(api, make_event, invoke):
    ids = [create(make_event, invoke, body={"sku": f"S{i}", "quantity": 1})[2]["id"] for i in range(5)]
    create(make_event, invoke, principal="customer-b")
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        status, _, page = invoke(app.handler, make_event("GET", "/orders", query=query))
        assert status == 200
        assert len(page["orders"]) <= 2
        seen += [o["id"] for o in page["orders"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))


def test_other_customers_order_is_404_like_a_missing_one(api, make_event, invoke):
    _, _, theirs = create(make_event, invoke, principal="customer-b")
    status, _, body = invoke(
        app.handler, make_event("GET", "/orders/{id}", path_params={"id": theirs["id"]}, principal="customer-a")
    )
    missing_status, _, missing = invoke(
        app.handler, make_event("GET", "/orders/{id}", path_params={"id": str(uuid.uuid4())})
    )
    assert status == missing_status == 404
    assert body["error"] == missing["error"]
    assert theirs["id"] not in str(body)


def test_idempotent_replay_returns_the_same_order(api, make_event, invoke):
    key = str(uuid.uuid4())
    status1, _, first = create(make_event, invoke, key=key)
    status2, headers2, second = create(make_event, invoke, key=key)
    assert (status1, status2) == (201, 200)
    assert second == first
    assert headers2["Idempotent-Replayed"] == "true"
    assert api.order_count() == 1


def test_idempotency_key_reused_with_different_body_is_409(api, make_event, invoke):
    key = str(uuid.uuid4())
    create(make_event, invoke, key=key)
    status, _, body = create(make_event, invoke, body={**ORDER, "quantity": 4}, key=key)
    assert status == 409
    assert body["error"]["code"] == "idempotency_conflict"
    assert body["error"]["field"] == "Idempotency-Key"
    assert api.sql("SELECT quantity FROM orders") == [[3]]


def test_same_key_from_another_customer_is_a_separate_order(api, make_event, invoke):
    key = str(uuid.uuid4())
    _, _, a = create(make_event, invoke, key=key, principal="customer-a")
    status, _, b = create(make_event, invoke, key=key, principal="customer-b")
    assert status == 201 and a["id"] != b["id"]


def test_sql_injection_is_stored_as_data(api, make_event, invoke):
    note = "'); DROP TABLE orders;--"
    status, _, created = create(make_event, invoke, body={"sku": "SKU-1", "quantity": 1, "note": note})
    assert status == 201
    _, _, fetched = invoke(app.handler, make_event("GET", "/orders/{id}", path_params={"id": created["id"]}))
    assert fetched["note"] == note
    assert api.sql("SELECT to_regclass('public.orders') IS NOT NULL") == [[True]]
    assert api.sql("SELECT note FROM orders") == [[note]]


def test_customer_comes_from_the_authorizer_not_the_body(api, make_event, invoke):
    status, _, body = create(make_event, invoke, body={**ORDER, "customer_id": "customer-b"})
    assert status == 400 and body["error"]["field"] == "customer_id"
    assert api.order_count() == 0


def test_missing_principal_is_refused(api, make_event, invoke):
    status, _, _ = invoke(app.handler, make_event("GET", "/orders", principal=None))
    assert status == 401


def test_partner_orders_belong_to_the_api_key(api, make_event, invoke):
    ev = make_event(
        "POST",
        "/partner/orders",
        body=ORDER,
        headers={"Idempotency-Key": "k-1"},
        principal=None,
        api_key_id="key123",
    )
    status, _, created = invoke(app.handler, ev)
    assert status == 201
    assert api.sql("SELECT customer_id FROM orders") == [["apikey:key123"]]
    # A JWT subject spelled like the key id does not see the partner's order.
    status, _, _ = invoke(
        app.handler, make_event("GET", "/orders/{id}", path_params={"id": created["id"]}, principal="key123")
    )
    assert status == 404


def test_partner_route_without_api_key_is_refused(api, make_event, invoke):
    ev = make_event("POST", "/partner/orders", body=ORDER, headers={"Idempotency-Key": "k"}, principal=None)
    assert invoke(app.handler, ev)[0] == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": 1}, "sku"),
        ({"sku": 12, "quantity": 1}, "sku"),
        ({"sku": "", "quantity": 1}, "sku"),
        ({"sku": "x" * 65, "quantity": 1}, "sku"),
        ({"sku": "A B", "quantity": 1}, "sku"),
        ({"sku": "S"}, "quantity"),
        ({"sku": "S", "quantity": "3"}, "quantity"),
        ({"sku": "S", "quantity": 2.0}, "quantity"),
        ({"sku": "S", "quantity": True}, "quantity"),
        ({"sku": "S", "quantity": 0}, "quantity"),
        ({"sku": "S", "quantity": 1001}, "quantity"),
        ({"sku": "S", "quantity": 1, "note": 5}, "note"),
        ({"sku": "S", "quantity": 1, "note": "n" * 501}, "note"),
        ({"sku": "S", "quantity": 1, "extra": 1}, "extra"),
    ],
)
def test_invalid_order_fields_are_400_naming_the_field(api, make_event, invoke, body, field):
    status, _, error = create(make_event, invoke, body=body)
    assert status == 400
    assert error["error"]["field"] == field
    assert api.order_count() == 0


def test_boundary_values_are_accepted(api, make_event, invoke):
    assert create(make_event, invoke, body={"sku": "S", "quantity": 1000, "note": "n" * 500})[0] == 201
    assert create(make_event, invoke, body={"sku": "S", "quantity": 1, "note": None})[0] == 201


@pytest.mark.parametrize(
    "raw", ["{not json", "[1, 2]", '"text"', '{"sku": "S", "sku": "T", "quantity": 1}', '{"quantity": NaN}']
)
def test_malformed_json_is_400(api, make_event, invoke, raw):
    ev = make_event("POST", "/orders", raw_body=raw, headers={"Idempotency-Key": "k"})
    status, _, body = invoke(app.handler, ev)
    assert status == 400 and body["error"]["field"] == "body"


def test_base64_encoded_body_is_decoded(api, make_event, invoke):
    ev = make_event("POST", "/orders", body=ORDER, headers={"Idempotency-Key": "k"}, base64_body=True)
    assert invoke(app.handler, ev)[0] == 201


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_non_json_content_type_is_415(api, make_event, invoke, content_type):
    ev = make_event("POST", "/orders", body=ORDER, headers={"Idempotency-Key": "k"})
    if content_type is None:
        del ev["headers"]["Content-Type"]
    else:
        ev["headers"]["Content-Type"] = content_type
    assert invoke(app.handler, ev)[0] == 415


def test_json_content_type_with_charset_and_any_case_is_accepted(api, make_event, invoke):
    ev = make_event("POST", "/orders", body=ORDER, headers={"idempotency-key": "k"})
    ev["headers"] = {"content-type": "Application/JSON; charset=utf-8", "idempotency-key": "k"}
    assert invoke(app.handler, ev)[0] == 201


@pytest.mark.parametrize("key", [None, "", "has space", "x" * 256, "é"])
def test_idempotency_key_is_required_and_bounded(api, make_event, invoke, key):
    headers = {} if key is None else {"Idempotency-Key": key}
    status, _, body = invoke(app.handler, make_event("POST", "/orders", body=ORDER, headers=headers))
    assert status == 400 and body["error"]["field"] == "Idempotency-Key"


def test_oversized_body_is_413(api, make_event, invoke):
    ev = make_event("POST", "/orders", raw_body='{"note": "' + "x" * 20000 + '"}', headers={"Idempotency-Key": "k"})
    assert invoke(app.handler, ev)[0] == 413


@pytest.mark.parametrize("bad_id", ["123", "not-a-uuid", "' OR 1=1 --", "{12345678-1234-5678-1234-567812345678}"])
def test_bad_order_id_is_400(api, make_event, invoke, bad_id):
    status, _, body = invoke(app.handler, make_event("GET", "/orders/{id}", path_params={"id": bad_id}))
    assert status == 400 and body["error"]["field"] == "id"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "\u0661\u0660"}, "limit"),  # Arabic-Indic digits
        ({"cursor": "garbage!"}, "cursor"),
        ({"cursor": "eyJ0IjoxfQ"}, "cursor"),  # {"t":1}
    ],
)
def test_bad_list_parameters_are_400(api, make_event, invoke, query, field):
    status, _, body = invoke(app.handler, make_event("GET", "/orders", query=query))
    assert status == 400 and body["error"]["field"] == field


def test_limit_100_is_accepted(api, make_event, invoke):
    assert invoke(app.handler, make_event("GET", "/orders", query={"limit": "100"}))[0] == 200


def test_unknown_route_and_method(make_event, invoke):
    assert invoke(app.handler, make_event("GET", "/nope"))[0] == 404
    status, headers, _ = invoke(app.handler, make_event("DELETE", "/orders"))
    assert status == 405 and headers["Allow"] == "GET, POST"
