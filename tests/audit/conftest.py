"""A real moto server on 127.0.0.1 seeded with a compliant stack and with a stack breaking every rule."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer

from audit.aws import Aws
from audit.checks.baseline import fsbp_arn
from audit.cli import audit_main
from audit.iam import iam_action
from tests.audit.account import VIOLATIONS, not_owning, seed

COMPLIANT_REGION = "eu-west-1"
# moto keeps one global state per process, so the broken stack lives in another Region.
BROKEN_REGION = "eu-central-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def fake_session() -> boto3.Session:
    """Explicit fake credentials: never the developer's, and no dependence on fixture order or env."""
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


def fsbp_subscription(region: str, status: str = "READY") -> dict[str, Any]:
    return {"StandardsSubscriptionArn": f"arn:aws:securityhub:{region}:123456789012:subscription/"
                                        "aws-foundational-security-best-practices/v/1.0.0",
            "StandardsArn": fsbp_arn(region), "StandardsInput": {}, "StandardsStatus": status}


@dataclass
class Run:
    """One audit run through the CLI: exit code, parsed JSON report and the IAM actions it used."""

    code: int
    report: dict[str, Any]
    actions: set[str] = field(default_factory=set)

    def results(self, check_id: str, status: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.report["results"]
                if r["id"] == check_id and (status is None or r["status"] == status)]


def run_audit(endpoint: str, outputs: dict[str, Any], *extra: str,
              securityhub: list[dict[str, Any]] | None = None, securityhub_error: str | None = None) -> Run:
    """Run `python -m audit --format json` against moto.

    moto 5.2.5 does not implement securityhub:GetEnabledStandards (it answers 404), so that single
    client is answered by a botocore Stubber with the response AWS documents; every other call goes to moto.
    """
    actions: set[str] = set()

    def record(model: Any, **_: Any) -> None:
        actions.add(iam_action(model.service_model, model.name))

    def make_aws(region: str, endpoint_url: str | None, profile: str | None) -> Aws:
        session = fake_session()
        session.events.register("before-parameter-build", record)
        aws = Aws(session, region, endpoint_url)
        stubber = Stubber(aws.client("securityhub"))
        if securityhub_error:
            stubber.add_client_error("get_enabled_standards", service_error_code=securityhub_error,
                                     http_status_code=403)
        else:
            stubber.add_response("get_enabled_standards", {"StandardsSubscriptions": securityhub or []})
        stubber.activate()
        return aws

    out = io.StringIO()
    code = audit_main(["--endpoint-url", endpoint, "--format", "json", *extra], make_aws=make_aws,
                      stdin=io.StringIO(json.dumps(outputs)), stdout=out)
    return Run(code, json.loads(out.getvalue()), actions)


@pytest.fixture(scope="session")
def compliant_outputs(moto_endpoint: str) -> dict[str, Any]:
    return seed(moto_endpoint, COMPLIANT_REGION, env="prod")


@pytest.fixture(scope="session")
def broken_outputs(moto_endpoint: str) -> dict[str, Any]:
    return seed(moto_endpoint, BROKEN_REGION, env="prod", violations=frozenset(VIOLATIONS))


@pytest.fixture(scope="session")
def compliant_run(moto_endpoint: str, compliant_outputs: dict[str, Any]) -> Run:
    return run_audit(moto_endpoint, compliant_outputs, securityhub=[fsbp_subscription(COMPLIANT_REGION)])


@pytest.fixture(scope="session")
def not_owning_run(moto_endpoint: str, compliant_outputs: dict[str, Any]) -> Run:
    return run_audit(moto_endpoint, not_owning(compliant_outputs),
                     securityhub=[fsbp_subscription(COMPLIANT_REGION)])


@pytest.fixture(scope="session")
def broken_run(moto_endpoint: str, broken_outputs: dict[str, Any]) -> Run:
    # Security Hub "not subscribed" is the stubbed violation for securityhub-fsbp-enabled.
    return run_audit(moto_endpoint, broken_outputs, securityhub_error="InvalidAccessException")
