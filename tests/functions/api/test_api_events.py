"""OrderCreated publishing, the outbox fallback and the reconcile handler."""

from __future__ import annotations

import json
import uuid

import boto3

from functions.api import app, events, reconcile

ORDER = {"sku": "SKU-9", "quantity": 2}
AMZ_JSON = {"Content-Type": "application/x-amz-json-1.1"}
OPS_ROLE = "arn:aws:iam::123456789012:role/ops"


def create(make_event, invoke, principal="customer-a"):
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    return invoke(app.handler, make_event("POST", "/orders", body=ORDER, headers=headers, principal=principal))


def reconcile_call(make_event, invoke, body=None, caller=OPS_ROLE):
    ev = make_event("POST", "/internal/reconcile", principal=None)
    ev["body"] = body
    if caller:
        ev["requestContext"]["identity"]["userArn"] = caller
    return invoke(reconcile.handler, ev)


def local_eventbridge(https_server, ca_bundle):
    """A real boto3 EventBridge client (the function's config) talking to the local HTTPS server."""
    return boto3.client(
        "events",
        region_name="eu-west-1",
        endpoint_url=https_server.base_url,
        verify=ca_bundle,
        config=events._CLIENT_CONFIG,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def put_events_reply(server, entries):
    failed = sum(1 for e in entries if "ErrorCode" in e)
    return server.reply(200, json.dumps({"FailedEntryCount": failed, "Entries": entries}), AMZ_JSON)


def test_created_order_is_announced_with_the_contract_detail(api, make_event, invoke):
    status, _, created = create(make_event, invoke)
    assert status == 201
    (message,) = api.bus.received()
    assert message["source"] == "platform.orders"
    assert message["detail-type"] == "OrderCreated"
    assert message["detail"] == {
        "order_id": created["id"],
        "customer_id": "customer-a",
        "sku": "SKU-9",
        "quantity": 2,
        "created_at": created["created_at"],
    }
    assert api.sql("SELECT published FROM orders") == [[True]]


def test_replay_does_not_publish_again(api, make_event, invoke):
    ev = make_event("POST", "/orders", body=ORDER, headers={"Idempotency-Key": "same"})
    invoke(app.handler, ev)
    invoke(app.handler, ev)
    assert len(api.bus.received()) == 1


def test_failed_entry_leaves_order_in_outbox_and_client_gets_201(
    api_factory, https_server, ca_bundle, make_event, invoke
):
    https_server.default("/", put_events_reply(https_server, [{"ErrorCode": "InternalFailure"}]))
    api = api_factory(local_eventbridge(https_server, ca_bundle))
    status, _, created = create(make_event, invoke)
    assert status == 201
    (request,) = https_server.requests_to("/")
    assert request.headers["X-Amz-Target"] == "AWSEvents.PutEvents"
    assert json.loads(request.json()["Entries"][0]["Detail"])["order_id"] == created["id"]
    assert api.sql("SELECT id::text, published FROM orders") == [[created["id"], False]]


def test_eventbridge_down_leaves_order_in_outbox_and_client_gets_201(
    api_factory, https_server, ca_bundle, make_event, invoke
):
    https_server.default("/", https_server.reply(503, json.dumps({"__type": "ServiceUnavailable"}), AMZ_JSON))
    api = api_factory(local_eventbridge(https_server, ca_bundle))
    status = create(make_event, invoke)[0]
    assert status == 201
    assert len(https_server.requests_to("/")) == 2  # the client's bounded retry, then give up
    assert api.sql("SELECT published FROM orders") == [[False]]


def test_reconcile_publishes_what_the_api_could_not(
    api_factory, https_server, ca_bundle, moto_bus, make_event, invoke, monkeypatch
):
    monkeypatch.setenv("RECONCILE_MIN_AGE_SECONDS", "0")
    https_server.default("/", put_events_reply(https_server, [{"ErrorCode": "InternalFailure"}]))
    api = api_factory(local_eventbridge(https_server, ca_bundle))
    created = [create(make_event, invoke)[2] for _ in range(2)]
    assert api.sql("SELECT count(*) FROM orders WHERE NOT published") == [[2]]

    # EventBridge is back: the same database, a working bus.
    moto_bus.received()
    api_factory(moto_bus.events)
    status, _, counts = reconcile_call(make_event, invoke)
    assert (status, counts) == (200, {"selected": 2, "published": 2, "failed": 0})
    assert sorted(m["detail"]["order_id"] for m in moto_bus.received()) == sorted(o["id"] for o in created)
    assert api.sql("SELECT count(*) FROM orders WHERE NOT published") == [[0]]

    # Nothing left: a second run publishes nothing.
    assert reconcile_call(make_event, invoke)[2] == {"selected": 0, "published": 0, "failed": 0}
    assert moto_bus.received() == []


def test_reconcile_marks_only_the_entries_eventbridge_accepted(
    api_factory, https_server, ca_bundle, make_event, invoke, monkeypatch
):
    monkeypatch.setenv("RECONCILE_MIN_AGE_SECONDS", "0")
    https_server.default("/", put_events_reply(https_server, [{"ErrorCode": "InternalFailure"}]))
    api = api_factory(local_eventbridge(https_server, ca_bundle))
    first, second = (create(make_event, invoke)[2] for _ in range(2))
    # Oldest first: the first entry is accepted, the second rejected.
    https_server.script("/", put_events_reply(https_server, [{"EventId": "e-1"}, {"ErrorCode": "Throttling"}]))
    status, _, counts = reconcile_call(make_event, invoke)
    assert (status, counts) == (200, {"selected": 2, "published": 1, "failed": 1})
    rows = dict(api.sql("SELECT id::text, published FROM orders"))
    assert rows == {first["id"]: True, second["id"]: False}


def test_reconcile_leaves_fresh_orders_to_the_api_and_honours_the_batch_limit(
    api_factory, https_server, ca_bundle, moto_bus, make_event, invoke, monkeypatch
):
    monkeypatch.delenv("RECONCILE_MIN_AGE_SECONDS", raising=False)  # default 30 s
    https_server.default("/", put_events_reply(https_server, [{"ErrorCode": "InternalFailure"}]))
    api = api_factory(local_eventbridge(https_server, ca_bundle))
    for _ in range(3):
        create(make_event, invoke)
    api_factory(moto_bus.events)
    moto_bus.received()
    assert reconcile_call(make_event, invoke)[2]["selected"] == 0

    api.sql("UPDATE orders SET created_at = created_at - interval '1 minute'")
    assert reconcile_call(make_event, invoke, body='{"limit": 2}')[2] == {"selected": 2, "published": 2, "failed": 0}
    assert len(moto_bus.received()) == 2


def test_reconcile_requires_an_iam_caller_and_valid_limit(api, make_event, invoke):
    assert reconcile_call(make_event, invoke, caller=None)[0] == 403
    status, _, body = reconcile_call(make_event, invoke, body='{"limit": 0}')
    assert status == 400 and body["error"]["field"] == "limit"
    assert reconcile_call(make_event, invoke, body='{"limit": 501}')[0] == 400
    assert reconcile_call(make_event, invoke, body='{"other": 1}')[0] == 400
    assert reconcile_call(make_event, invoke, body="nope")[0] == 400
