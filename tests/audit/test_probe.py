"""The probe against local HTTPS stand-ins: a correct endpoint passes every check and each broken
behaviour makes exactly its check fail."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from audit.probe.checks import CHECKS
from audit.probe.cli import probe_main
from audit.probe.leaks import find_leaks
from tests.audit.endpoint import (
    BODY_LIMIT,
    THROTTLE_AFTER,
    VALID_TOKEN,
    Behaviour,
    closed_port,
    https_endpoint,
    plain_http_server,
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def probe(url: str, ca_file: str, http_port: int, *extra: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    code = probe_main(["--url", url, "--ca-bundle", ca_file, "--http-port", str(http_port),
                       "--body-limit-bytes", str(BODY_LIMIT), "--burst-requests", "60", "--burst-seconds", "5",
                       "--timeout", "3", "--format", "json", *extra], stdout=out)
    return code, json.loads(out.getvalue())


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["status"] for r in report["results"]}


@pytest.fixture(scope="module")
def good_run(ca: trustme.CA) -> Iterator[tuple[int, dict[str, Any], int]]:
    with https_endpoint(ca) as endpoint:
        code, report = probe(endpoint.url, endpoint.ca_file, closed_port())
        yield code, report, len(endpoint.health_hits)


def test_correct_endpoint_passes_every_check(good_run: tuple[int, dict[str, Any], int]) -> None:
    code, report, _ = good_run
    assert statuses(report) == {check.id: "pass" for check in CHECKS}, report["results"]
    assert code == 0


def test_burst_stops_at_the_first_429(good_run: tuple[int, dict[str, Any], int]) -> None:
    _, _, health_hits = good_run
    # Bounded: the stand-in throttles after THROTTLE_AFTER; the probe stops soon after (<= concurrency extra).
    assert THROTTLE_AFTER < health_hits <= THROTTLE_AFTER + 8


BROKEN = [
    (Behaviour(accept_no_credentials=True), "probe-no-credentials"),
    (Behaviour(accept_bad_jwt=True), "probe-bad-jwt"),
    (Behaviour(accept_wrong_key=True), "probe-wrong-api-key"),
    (Behaviour(accept_big_body=True, accept_wrong_key=True), "probe-body-size-limit"),
    (Behaviour(leak_traceback=True), "probe-error-leaks"),
    (Behaviour(throttle=False), "probe-throttling"),
    (Behaviour(legacy_tls=True), "probe-legacy-tls"),
]


@pytest.mark.parametrize(("behaviour", "check_id"), BROKEN, ids=[c for _, c in BROKEN])
def test_each_broken_behaviour_fails_its_check(ca: trustme.CA, behaviour: Behaviour, check_id: str) -> None:
    with https_endpoint(ca, behaviour) as endpoint:
        code, report = probe(endpoint.url, endpoint.ca_file, closed_port())
    failed = {k for k, v in statuses(report).items() if v == "fail"}
    expected = {check_id, "probe-wrong-api-key"} if behaviour.accept_wrong_key else {check_id}
    assert failed == expected, report["results"]
    assert code == 1


def _wrong_key_result(ca: trustme.CA, behaviour: Behaviour, monkeypatch: pytest.MonkeyPatch,
                      token: str | None) -> dict[str, Any]:
    if token:
        monkeypatch.setenv("PROBE_TOKEN", token)
    with https_endpoint(ca, behaviour) as endpoint:
        _, report = probe(endpoint.url, endpoint.ca_file, closed_port())
    [result] = [r for r in report["results"] if r["id"] == "probe-wrong-api-key"]
    return result


def test_wrong_key_behind_an_authorizer_passes_with_a_note_without_a_token(
    ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _wrong_key_result(ca, Behaviour(partner_needs_jwt=True), monkeypatch, None)
    assert result["status"] == "pass" and "PROBE_TOKEN" in result["message"], result


def test_wrong_key_with_a_valid_token_must_be_refused_by_the_key_check(
    ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _wrong_key_result(ca, Behaviour(partner_needs_jwt=True), monkeypatch, VALID_TOKEN)
    assert good["status"] == "pass" and "PROBE_TOKEN" not in good["message"], good
    bad = _wrong_key_result(ca, Behaviour(partner_needs_jwt=True, accept_wrong_key=True), monkeypatch, VALID_TOKEN)
    assert bad["status"] == "fail", bad


@pytest.mark.parametrize("redirect", [False, True], ids=["serves-http", "redirects-http"])
def test_plain_http_answer_is_a_finding_even_a_redirect(ca: trustme.CA, redirect: bool) -> None:
    with https_endpoint(ca) as endpoint, plain_http_server(redirect) as http_port:
        code, report = probe(endpoint.url, endpoint.ca_file, http_port, "--burst-requests", "30")
    [result] = [r for r in report["results"] if r["id"] == "probe-plain-http"]
    assert result["status"] == "fail" and ("301" if redirect else "200") in result["message"], result
    assert code == 1, report["results"]


def test_untrusted_certificate_is_an_error_not_a_pass(ca: trustme.CA) -> None:
    other_ca = trustme.CA()
    with https_endpoint(ca) as endpoint, other_ca.cert_pem.tempfile() as wrong_bundle:
        code, report = probe(endpoint.url, wrong_bundle, closed_port())
    results = {r["id"]: r for r in report["results"]}
    assert results["probe-no-credentials"]["status"] == "error"
    assert "SSL" in results["probe-no-credentials"]["message"]
    assert code == 2


def test_url_must_be_https(capsys: pytest.CaptureFixture[str]) -> None:
    assert probe_main(["--url", "http://127.0.0.1:1/dev"]) == 2
    assert "--url" in capsys.readouterr().err


def test_burst_bounds_are_enforced(capsys: pytest.CaptureFixture[str]) -> None:
    assert probe_main(["--url", "https://127.0.0.1:1/dev", "--burst-requests", "100000"]) == 2
    assert "--burst-requests" in capsys.readouterr().err


def test_url_defaults_to_the_outputs_api_url(ca: trustme.CA) -> None:
    with https_endpoint(ca) as endpoint:
        outputs = {"api": {"url": endpoint.url}}
        out = io.StringIO()
        # Partial outputs are rejected with the missing field named.
        code = probe_main(["--ca-bundle", endpoint.ca_file], stdin=io.StringIO(json.dumps(outputs)), stdout=out)
    assert code == 2


@pytest.mark.parametrize(("text", "leak"), [
    ('Traceback (most recent call last):\n  File "/var/task/app.py", line 3', "Python traceback"),
    ('{"errorType": "KeyError", "stackTrace": []}', "Lambda error object"),
    ("ERROR: syntax error at or near \"'\"", "SQL error"),
    ("denied for arn:aws:iam::123456789012:role/api-role", "AWS ARN with account id"),
    ("could not connect to db-1.abcdefgh.eu-west-1.rds.amazonaws.com", "internal AWS hostname"),
    ("upstream 10.0.3.17:5432 refused", "private IP address"),
])
def test_leak_patterns(text: str, leak: str) -> None:
    assert leak in find_leaks(text)


def test_generic_error_bodies_do_not_count_as_leaks() -> None:
    for body in ('{"message":"Unauthorized"}', '{"message":"Forbidden"}', '{"message": "Too Many Requests"}',
                 '{"message":"Internal server error"}'):
        assert find_leaks(body) == []
