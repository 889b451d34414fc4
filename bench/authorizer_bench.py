"""Authorizer throughput: full handler decisions per second with a warm JWKS cache, on one core.

Run: .venv/bin/python bench/authorizer_bench.py [--seconds 3]
Target: >= 5,000 validations/s for RS256 or ES256 (both are reported). Each iteration is what one
Lambda invocation does after the cold start: parse the header, verify the JWT (signature against
the cached JWK, iss/aud/exp/nbf), and build the IAM policy for every route. The JWKS is served
from memory because a warm cache makes no request; the figure excludes Lambda's own overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

# Run as a script (bench/ is sys.path[0]); the functions package lives at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from functions.authorizer.authorize import authorize
from functions.authorizer.jwks import JwksCache
from functions.authorizer.routes import parse_route_scopes
from functions.authorizer.tokens import TokenVerifier

ISSUER = "https://idp.bench/"
AUDIENCE = "orders-api"
ROUTES = parse_route_scopes(
    json.dumps(
        {
            "GET /orders": ["orders:read"],
            "POST /orders": ["orders:write"],
            "GET /orders/{id}": ["orders:read"],
            "GET /health": [],
            "POST /partner/orders": ["partner:write", "orders:write"],
        }
    )
)
METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/dev/GET/orders"


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity)"


def measure(label: str, token: str, verifier: TokenVerifier, seconds: float) -> float:
    """Validations per CPU-second of this (single-threaded) process, i.e. what one core sustains.

    CPU time rather than wall time, so that other processes competing for the core do not lower
    the figure; wall-clock throughput is printed too.
    """
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": METHOD_ARN}
    policy: dict[str, Any] = authorize(event, verifier, ROUTES)  # warm-up, and proves it allows
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow", policy
    count = 0
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    while True:
        for _ in range(200):
            authorize(event, verifier, ROUTES)
        count += 200
        cpu = time.process_time() - cpu_start
        if cpu >= seconds:
            break
    wall = time.perf_counter() - wall_start
    rate = count / cpu
    print(
        f"{label}: {rate:,.0f} validations/s per core ({1e6 / rate:.1f} us CPU each; "
        f"{count:,} in {cpu:.2f} s CPU, {count / wall:,.0f}/s wall-clock)"
    )
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="CPU seconds measured per algorithm")
    args = parser.parse_args()

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks = {
        "keys": [
            {**RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "rsa", "use": "sig", "alg": "RS256"},
            {**ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "ec", "use": "sig", "alg": "ES256"},
        ]
    }
    cache = JwksCache(lambda seconds: jwks, algorithms=("RS256", "ES256"), cache_seconds=3600, min_refresh_seconds=60)
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=("RS256", "ES256"), jwks=cache)
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-42",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "scope": "orders:read orders:write",
        "client_id": "bench",
    }
    rs256 = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "rsa"})
    es256 = jwt.encode(claims, ec_key, algorithm="ES256", headers={"kid": "ec"})

    print(f"authorizer benchmark: python {sys.version.split()[0]}, {pin_to_one_core()}, warm JWKS cache")
    rates = {
        "RS256 (RSA-2048)": measure("RS256 (RSA-2048)", rs256, verifier, args.seconds),
        "ES256 (P-256)": measure("ES256 (P-256)", es256, verifier, args.seconds),
    }
    target = 5000
    met = [label for label, rate in rates.items() if rate >= target]
    print(f"target >= {target:,}/s: {'met by ' + ', '.join(met) if met else 'NOT met'}")
    print(f"JWKS fetches during the run: {cache.fetch_count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
