"""Interface endpoints exist exactly for the AWS APIs that code inside the VPC calls (derived from the source)."""

from __future__ import annotations

import ast

import boto3
import pytest

from components.network import INTERFACE_ENDPOINT_SERVICES
from tests.harness import ROOT, Graph

FUNCTION = "aws:lambda/function:Function"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


class UnreadableClient(ValueError):
    """A client the scanner cannot attribute to a service (it must not silently miss a call)."""


def clients_and_calls(sources: list[tuple[str, str]]) -> tuple[set[str], set[str]]:
    """Services of every ``boto3.client("...")`` in the sources, and every method name called on anything."""
    services: set[str] = set()
    calls: set[str] = set()
    for where, text in sources:
        for node in ast.walk(ast.parse(text, where)):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            func = node.func
            if func.attr in ("client", "resource") and isinstance(func.value, ast.Name) and func.value.id == "boto3":
                service = node.args[0] if node.args else next(
                    (k.value for k in node.keywords if k.arg == "service_name"), None)
                if not isinstance(service, ast.Constant) or not isinstance(service.value, str):
                    raise UnreadableClient(f"{where}:{node.lineno}: boto3.{func.attr} with a computed service name")
                services.add(service.value)
            elif func.attr in ("client", "resource"):
                raise UnreadableClient(f"{where}:{node.lineno}: a client not made by boto3.client (a session?)")
            else:
                calls.add(func.attr)
    return services, calls


def endpoints_needed(sources: list[tuple[str, str]]) -> set[str]:
    """Endpoint names of the services whose API operations the sources call.

    A client method that is no API operation (botocore's method_to_api_mapping) runs locally: e.g. RDS's
    generate_db_auth_token signs a token with the caller's credentials and sends nothing.
    """
    services, calls = clients_and_calls(sources)
    needed = set()
    for service in services:
        client = boto3.client(service, region_name="eu-west-1")  # builds the model; no request is made
        if calls & set(client.meta.method_to_api_mapping):
            needed.add(client.meta.service_model.endpoint_prefix)
    return needed


def packages_in_the_vpc(graph: Graph) -> set[str]:
    """The function packages (functions/<package>) of every function attached to the VPC."""
    packages = set()
    for fn in graph.of_type(FUNCTION):
        assert fn["vpcConfig"]["subnetIds"], fn.name  # every function is in the VPC (lambda-in-vpc)
        packages.add(fn["handler"].split(".")[1])
    return packages


def sources_of(package: str) -> list[tuple[str, str]]:
    base = ROOT / "functions" / package
    return [(str(p.relative_to(ROOT)), p.read_text()) for p in sorted(base.rglob("*.py"))]


def test_interface_endpoints_are_exactly_the_apis_the_functions_call(graph: Graph) -> None:
    packages = packages_in_the_vpc(graph)
    assert packages == {"api", "worker", "authorizer"}
    needed = set().union(*(endpoints_needed(sources_of(p)) for p in packages))
    interfaces = {e["serviceName"].rsplit(".", 1)[-1] for e in graph.of_type(ENDPOINT)
                  if e["vpcEndpointType"] == "Interface"}
    assert interfaces == needed
    assert set(INTERFACE_ENDPOINT_SERVICES) == needed


def test_every_interface_endpoint_spans_the_app_tier_behind_its_security_group(graph: Graph) -> None:
    interfaces = [e for e in graph.of_type(ENDPOINT) if e["vpcEndpointType"] == "Interface"]
    app_subnets = [s for s in graph.of_type("aws:ec2/subnet:Subnet") if s["tags"]["Tier"] == "app"]
    for endpoint in interfaces:
        assert endpoint["privateDnsEnabled"] is True
        assert len(endpoint["subnetIds"]) == len(app_subnets)


@pytest.mark.parametrize(("source", "expected"), [
    ('import boto3\nboto3.client("sqs").send_message(QueueUrl="q", MessageBody="m")', {"sqs"}),
    ('import boto3\nc = boto3.client("kms")\nc.decrypt(CiphertextBlob=b"")', {"kms"}),
    ('import boto3\nc = boto3.client("rds")\nc.generate_db_auth_token("h", 5432, "u")', set()),
    ('import boto3\nc = boto3.client(service_name="sts")\nc.get_caller_identity()', {"sts"}),
    ('import boto3\nboto3.client("logs")', set()),  # a client that is never used needs nothing
])
def test_the_scanner_finds_network_calls_and_ignores_local_ones(source: str, expected: set[str]) -> None:
    assert endpoints_needed([("example.py", source)]) == expected


@pytest.mark.parametrize("source", [
    'import boto3\nname = "sqs"\nboto3.client(name)',
    'import boto3\nboto3.session.Session().client("sqs")',
    'import boto3\nsession = boto3.session.Session()\nsession.client("sqs")',
])
def test_the_scanner_refuses_clients_it_cannot_attribute(source: str) -> None:
    with pytest.raises(UnreadableClient):
        clients_and_calls([("example.py", source)])


def test_the_packages_scanned_are_every_function_package() -> None:
    packaged = {p.name for p in (ROOT / "functions").iterdir() if (p / "requirements.txt").exists()}
    assert packaged == {"api", "worker", "authorizer"}
