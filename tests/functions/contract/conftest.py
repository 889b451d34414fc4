"""Fixtures of the contract tests: the deployed request path, in-process (see README.md).

Reuses the session fixtures of tests/functions (PostgreSQL server, test CA, HTTPS server certificate) and the
helpers of the api and authorizer tests (bootstrapped database as the deploy-time bootstrap leaves it, moto
EventBridge, real RSA/EC keys and the token factory). Everything is module-scoped: a module's examples share one
warm "execution environment" per function, as on Lambda.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import trustme
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from moto import mock_aws

from components.api import JWT_ALGORITHMS
from components.routes import REFERENCE_ROUTES, Backend, route_scopes_json
from functions.api import app as api_app
from functions.api import reconcile, runtime
from tests.functions.api.conftest import BUS, REGION, bootstrapped_database, build_runtime, fake_aws_env, settings_for
from tests.functions.authorizer.conftest import AUDIENCE, ISSUER, SigningKey, TokenFactory
from tests.functions.conftest import PgServer, ProgrammableHTTPSServer
from tests.functions.contract.callers import API_KEY, API_KEY_ID, OPERATOR, Caller, build_callers
from tests.functions.contract.gateway import RestApiGateway

JWKS_PATH = "/.well-known/jwks.json"


@dataclass
class Keys:
    rsa: SigningKey
    ec: SigningKey
    attacker: SigningKey
    """A key the IdP never published, used under the RSA key's kid."""


@pytest.fixture(scope="session")
def contract_keys() -> Keys:
    rsa_key = SigningKey("contract-rsa", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return Keys(
        rsa=rsa_key,
        ec=SigningKey("contract-ec", "ES256", ec.generate_private_key(ec.SECP256R1())),
        attacker=SigningKey(rsa_key.kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    )


@pytest.fixture(scope="module")
def jwks_url(https_server_cert: trustme.LeafCert, contract_keys: Keys) -> Iterator[str]:
    """The IdP's JWKS over HTTPS (certificate from the session's test CA)."""
    server = ProgrammableHTTPSServer(https_server_cert)
    document = {"keys": [contract_keys.rsa.public_jwk, contract_keys.ec.public_jwk]}
    server.default(JWKS_PATH, server.reply(200, document))
    try:
        yield server.url(JWKS_PATH)
    finally:
        server.close()


@pytest.fixture(scope="module")
def authorizer(jwks_url: str, ca_bundle: str) -> Iterator[Any]:
    """The real authorizer entry point, configured as the stack configures it (ROUTE_SCOPES from the table)."""
    environment = {
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
        "JWKS_URL": jwks_url,
        "JWT_ALGORITHMS": JWT_ALGORITHMS,
        "ROUTE_SCOPES": route_scopes_json(REFERENCE_ROUTES),
        "JWKS_CACHE_SECONDS": "3600",
        "JWKS_MIN_REFRESH_SECONDS": "60",
        # The function trusts the system store; the test CA is added the standard OpenSSL way.
        "SSL_CERT_FILE": ca_bundle,
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, value in environment.items():
            mp.setenv(name, value)
        sys.modules.pop("functions.authorizer.app", None)
        module = importlib.import_module("functions.authorizer.app")  # reads the settings at "cold start"
        sys.modules.pop("functions.authorizer.app", None)  # other tests import their own configuration
    yield module.handler


@dataclass
class OrdersBackend:
    admin: Any
    events: Any

    def sql(self, statement: str, **params: Any) -> list[list[Any]]:
        return list(self.admin.run(statement, **params) or [])


@pytest.fixture(scope="module")
def backend(postgres_server: PgServer) -> Iterator[OrdersBackend]:
    """The api/reconcile runtime over a bootstrapped database (the app role's privileges) and moto EventBridge."""
    with fake_aws_env(), mock_aws(), bootstrapped_database(postgres_server, "contract") as (name, admin):
        events = boto3.client("events", region_name=REGION)
        events.create_event_bus(Name=BUS)
        rt = build_runtime(settings_for(postgres_server, name), postgres_server, events)
        runtime.install(rt)
        try:
            yield OrdersBackend(admin, events)
        finally:
            runtime.install(None)


@pytest.fixture(scope="module")
def gateway(authorizer: Any, backend: OrdersBackend) -> RestApiGateway:
    return RestApiGateway(
        routes=REFERENCE_ROUTES,
        authorizer=authorizer,
        backends={Backend.API: api_app.handler, Backend.RECONCILE: reconcile.handler},
        api_keys={API_KEY: API_KEY_ID},
        iam_users={OPERATOR.access_key: OPERATOR},
    )


@pytest.fixture(scope="module")
def callers(contract_keys: Keys) -> list[Caller]:
    return build_callers(TokenFactory(), contract_keys.rsa, contract_keys.ec, contract_keys.attacker)
