"""Waivers: the config schema, the pack's own checks, matching, expiry on an injected day, the notices of
the `waivers` policy — in pure functions and through pulumi_policy's analyzer (Analyze, then AnalyzeStack)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from policies import _tokens as T
from policies import _waivers as W
from policies._meta import PolicyConfigError
from policies.registry import BY_NAME, POLICIES

from .harness import Pack, Res, of, urn

ON = dt.date(2026, 6, 1)
PACK_DIR = Path(__file__).resolve().parents[2] / "policies"


def waiver(resource: str = "orders-*", *, expires: str = "2026-12-31", **extra: Any) -> dict[str, Any]:
    return {"resource": resource, "reason": "Accepted in review for a stated reason.", "owner": "platform-team",
            "expires": expires, **extra}


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> dt.date:
    """The pack judges waivers on this day (the wall clock would make these tests expire)."""
    monkeypatch.setenv(W.TODAY_ENV, ON.isoformat())
    return ON


# --- schema (what the engine validates) and the pack's own checks ----------------------------------------
def _schema_errors(policy: str, entries: list[Any]) -> list[str]:
    schema = BY_NAME[policy].schema()
    assert schema is not None
    validator = jsonschema.Draft7Validator({"type": "object", "properties": schema.properties})
    return [".".join(str(p) for p in e.absolute_path) + ": " + e.message
            for e in validator.iter_errors({"waivers": entries})]


@pytest.mark.parametrize(("entry", "field"), [
    ({"resource": "q", "owner": "o", "expires": "2026-12-31"}, "'reason' is a required property"),
    ({"resource": "q", "reason": "long enough reason", "expires": "2026-12-31"}, "'owner' is a required property"),
    ({"resource": "q", "reason": "long enough reason", "owner": "o"}, "'expires' is a required property"),
    (waiver(expires="31/12/2026"), "waivers.0.expires: '31/12/2026' does not match"),
    (waiver(ticket="SEC-42"), "waivers.0.ticket: 'SEC-42' does not match"),
    (waiver(reason="because"), "waivers.0.reason: 'because' is too short"),
    ({**waiver(), "approved": True}, "Additional properties are not allowed ('approved' was unexpected)"),
])
def test_schema_names_the_field(entry: dict[str, Any], field: str) -> None:
    errors = _schema_errors("sqs-dead-letter-queue", [entry])
    assert any(field in e for e in errors), errors


def test_schema_refuses_a_glob_for_a_platform_guarantee_only() -> None:
    assert BY_NAME["iam-no-wildcard-actions"].guarantee
    [error] = _schema_errors("iam-no-wildcard-actions", [waiver("worker-*")])
    assert error.startswith("waivers.0.resource: 'worker-*' does not match")
    assert _schema_errors("iam-no-wildcard-actions", [waiver("worker-role")]) == []
    assert _schema_errors("sqs-dead-letter-queue", [waiver("worker-*")]) == []


def test_every_policy_but_waivers_takes_waivers() -> None:
    for policy in POLICIES:
        schema = policy.schema()
        takes = schema is not None and "waivers" in schema.properties
        assert takes == (policy.name != "waivers"), policy.name


@pytest.mark.parametrize(("entries", "guarantee", "message"), [
    ([waiver(expires="2027-06-03")], False, "field 'expires' is 2027-06-03, more than one year after 2026-06-01"),
    ([waiver(expires="2026-02-30")], False, "field 'expires' must be a date YYYY-MM-DD, got '2026-02-30'"),
    ([waiver("role*")], True, "field 'resource' is 'role*', but 'p' is a platform guarantee"),
    ([waiver("q"), waiver("q")], False, "waivers[1]: field 'resource' 'q' is waived twice"),
    ([waiver(reason="   short   ")], False, "field 'reason' must say why"),
    ([{**waiver(), "resource": ""}], False, "waivers[0]: field 'resource' is required"),
    ([waiver(ticket="ftp://x")], False, "field 'ticket' must be an http(s) URL"),
])
def test_the_pack_checks_what_a_schema_cannot(entries: list[dict[str, Any]], guarantee: bool, message: str) -> None:
    with pytest.raises(W.WaiverError) as info:
        W.parse("p", entries, guarantee=guarantee, on=ON)
    assert message in str(info.value) and "policy 'p' waivers[" in str(info.value)


def test_a_year_ahead_is_allowed_and_a_past_date_is_not_an_error() -> None:
    [ahead] = W.parse("p", [waiver(expires="2027-06-01")], guarantee=False, on=ON)
    [past] = W.parse("p", [waiver(expires="2026-05-31")], guarantee=False, on=ON)
    assert ahead.status(ON) == W.ACTIVE and past.status(ON) == W.EXPIRED


# --- matching and expiry ---------------------------------------------------------------------------------
def test_matching_by_logical_name_glob_and_by_urn() -> None:
    glob, exact, by_urn = W.parse("p", [waiver("orders-*-dlq"), waiver("orders"),
                                        waiver(urn(T.SQS_QUEUE, "jobs"))], guarantee=False, on=ON)
    assert glob.matches(urn(T.SQS_QUEUE, "orders-eu-dlq"), "orders-eu-dlq")
    assert not glob.matches(urn(T.SQS_QUEUE, "orders-eu"), "orders-eu")
    assert exact.matches("urn:x", "orders") and not exact.matches("urn:x", "orders-2")
    assert by_urn.matches(urn(T.SQS_QUEUE, "jobs"), "anything")
    assert not by_urn.matches(urn(T.SNS_TOPIC, "jobs"), "jobs")  # same name, another type: not this URN
    [odd] = W.parse("p", [waiver("q?[1]")], guarantee=False, on=ON)
    assert odd.matches("u", "q?[1]") and not odd.matches("u", "qx1")  # only `*` is special


def test_a_urn_waiver_wins_over_a_glob() -> None:
    waivers = W.parse("p", [waiver("*"), waiver(urn(T.SQS_QUEUE, "a"))], guarantee=False, on=ON)
    assert W.first_match(waivers, urn(T.SQS_QUEUE, "a"), "a") is waivers[1]
    assert W.first_match(waivers, urn(T.SQS_QUEUE, "b"), "b") is waivers[0]


@pytest.mark.parametrize(("expires", "status", "left"), [
    ("2026-12-31", W.ACTIVE, 213), ("2026-07-01", W.ACTIVE, 30), ("2026-06-30", W.EXPIRING, 29),
    ("2026-06-01", W.EXPIRING, 0), ("2026-05-31", W.EXPIRED, -1),
])
def test_expiry_on_an_injected_day(expires: str, status: str, left: int) -> None:
    [w] = W.parse("p", [waiver(expires=expires)], guarantee=False, on=ON)
    assert (w.status(ON), w.days_left(ON)) == (status, left)


def test_today_comes_from_the_environment_when_set() -> None:
    assert W.today({W.TODAY_ENV: "2030-01-02"}) == dt.date(2030, 1, 2)
    with pytest.raises(W.WaiverError, match="not a date"):
        W.today({W.TODAY_ENV: "soon"})


def test_notices_read_back() -> None:
    [w] = W.parse("p", [waiver('odd "name"', expires="2026-06-10")], guarantee=False, on=ON)
    for kind in (W.WAIVED, W.EXPIRING, W.UNUSED, W.EXPIRED, W.UNDECIDED):
        text = "The waivers policy description.\n" + W.notice(kind, w, ON, "the violation")
        assert W.read_notice(text) == W.Notice(kind=kind, policy="p", resource='odd "name"')
    assert "9 days left" in W.notice(W.EXPIRING, w, ON)
    assert W.read_notice("Some other message") is None


# --- through pulumi_policy's analyzer: Analyze per resource, then AnalyzeStack ---------------------------
def _queue(name: str, **props: Any) -> dict[str, Any]:
    return {"name": name, "kmsMasterKeyId": "arn:aws:kms:eu-west-1:1:key/k", "tags": {"Owner": "t"}, **props}


def _waivers_notices(diags: list[Any]) -> list[tuple[str, str]]:
    return [(d.message.split("\n")[1], d.urn) for d in of(diags, "waivers")]


def test_waived_resource_violation_becomes_an_advisory_notice(today: dt.date) -> None:
    pack = Pack({"sqs-ssl-only": "disabled", "sqs-dead-letter-queue": {"enforcementLevel": "mandatory",
                                                                         "waivers": [waiver("legacy-*")]}})
    graph = [Res(T.SQS_QUEUE, "legacy-jobs", _queue("legacy-jobs")), Res(T.SQS_QUEUE, "orders", _queue("orders"))]
    diags = pack.analyze_stack(graph)
    # The policy blocks the queue it does not waive, and says nothing about the waived one ...
    assert [d.urn for d in of(diags, "sqs-dead-letter-queue")] == [urn(T.SQS_QUEUE, "orders")]
    assert all(d.level == "mandatory" for d in of(diags, "sqs-dead-letter-queue"))
    # ... which the advisory `waivers` policy reports, naming the waiver and the violation.
    [notice] = of(diags, "waivers")
    assert notice.level == "advisory" and notice.urn == urn(T.SQS_QUEUE, "legacy-jobs")
    assert notice.message.split("\n")[1] == ('Waived: policy "sqs-dead-letter-queue" for "legacy-*" (expires '
                                            '2026-12-31, 213 days left; owner platform-team).')
    assert "Reason: Accepted in review for a stated reason." in notice.message
    assert "Waived violation: " in notice.message and "legacy-jobs" in notice.message


def test_resource_policy_waiver_recorded_by_analyze_reported_by_analyze_stack(today: dt.date) -> None:
    pack = Pack({"rds-non-default-port": {"waivers": [waiver("db"), waiver("ghost-db")]}})
    props = {"engine": "postgres", "port": 5432, "instanceClass": "db.t4g.micro"}
    assert of(pack.analyze(T.RDS_INSTANCE, props, name="db"), "rds-non-default-port") == []
    assert of(pack.analyze(T.RDS_INSTANCE, props, name="other"), "rds-non-default-port") != []
    notices = _waivers_notices(pack.analyze_stack([]))  # a separate call, as the engine makes it
    assert notices == [
        ('Waived: policy "rds-non-default-port" for "db" (expires 2026-12-31, 213 days left; owner platform-team).',
         urn(T.RDS_INSTANCE, "db")),
        ('Unused waiver: policy "rds-non-default-port" for "ghost-db" (expires 2026-12-31, 213 days left; '
         'owner platform-team).', ""),
    ]
    # The analysis is over: a later one in the same process starts with no waivers seen.
    assert of(pack.analyze_stack([]), "waivers") == []


def test_expired_waiver_is_void_and_the_violation_blocks_saying_so(today: dt.date) -> None:
    pack = Pack({"rds-non-default-port": {"enforcementLevel": "mandatory",
                                          "waivers": [waiver("db", expires="2026-05-15")]}})
    [diag] = of(pack.analyze(T.RDS_INSTANCE, {"engine": "postgres", "port": 5432}, name="db"),
                "rds-non-default-port")
    assert diag.level == "mandatory"
    assert "Not waived: the waiver for \"db\" (owner platform-team, expires 2026-05-15) expired on 2026-05-15" \
        in diag.message
    [(notice, _)] = _waivers_notices(pack.analyze_stack([]))
    assert notice.startswith('Expired waiver: policy "rds-non-default-port" for "db" (expired on 2026-05-15;')


def test_expiring_waiver_is_reported(today: dt.date) -> None:
    pack = Pack({"rds-non-default-port": {"waivers": [waiver("db", expires="2026-06-20")]}})
    pack.analyze(T.RDS_INSTANCE, {"engine": "postgres", "port": 5432}, name="db")
    kinds = [n.split(":")[0] for n, _ in _waivers_notices(pack.analyze_stack([]))]
    assert kinds == ["Waived", "Expiring waiver"]


def test_waiver_too_far_ahead_is_a_config_error_naming_the_field(today: dt.date) -> None:
    pack = Pack({"rds-non-default-port": {"waivers": [waiver("db", expires="2028-01-01")]}})
    with pytest.raises(PolicyConfigError, match=r"policy 'rds-non-default-port' waivers\[0\]: field 'expires'"):
        pack.analyze(T.RDS_INSTANCE, {"engine": "postgres", "port": 5432}, name="db")


def test_platform_config_waivers_are_valid_and_name_their_resources() -> None:
    for stack in ("dev", "prod"):
        config = json.loads((PACK_DIR / "config" / f"{stack}.json").read_text())
        entries = {(name, w["resource"]) for name, value in config.items() if isinstance(value, dict)
                   for w in value.get("waivers", [])}
        assert ("rds-non-default-port", "platform-backend-db-instance") in entries
        assert ("iam-no-aws-managed-policies", "platform-monitoring-baseline-config-managed") in entries
        for name, value in config.items():
            if isinstance(value, dict) and "waivers" in value:
                W.parse(name, value["waivers"], guarantee=BY_NAME[name].guarantee,
                        on=dt.date.fromisoformat(min(w["expires"] for w in value["waivers"])) - dt.timedelta(300))
