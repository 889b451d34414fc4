"""Token verification against a real JWKS over verified TLS, with real RSA and EC keys."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from functions.authorizer.jwks import JwksCache
from functions.authorizer.tokens import (
    LEEWAY_SECONDS,
    MAX_HEADER_CHARS,
    TokenRejected,
    TokenVerifier,
    bearer_token,
)


def reason_of(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(TokenRejected) as caught:
        verifier.verify(token)
    return caught.value.reason


@pytest.mark.parametrize("key_name", ["rsa_key", "ec_key"])
def test_valid_token_yields_subject_scopes_and_client(
    key_name: str, request: pytest.FixtureRequest, verifier: TokenVerifier, tokens: Any
) -> None:
    key: Any = request.getfixturevalue(key_name)
    verified = verifier.verify(tokens.mint(key))
    assert verified.subject == "user-42"
    assert verified.scopes == {"orders:read", "orders:write"}
    assert verified.client_id == "web-app"


def test_scp_list_claim_is_read_as_scopes(verifier: TokenVerifier, rsa_key: Any, tokens: Any) -> None:
    verified = verifier.verify(tokens.mint(rsa_key, scope=None, scp=["orders:read", "partner:write"]))
    assert verified.scopes == {"orders:read", "partner:write"}


def test_token_without_scope_has_no_scopes(verifier: TokenVerifier, ec_key: Any, tokens: Any) -> None:
    assert verifier.verify(tokens.mint(ec_key, scope=None)).scopes == frozenset()


def test_malformed_scope_claim_is_rejected(verifier: TokenVerifier, rsa_key: Any, tokens: Any) -> None:
    assert reason_of(verifier, tokens.mint(rsa_key, scope=None, scp={"orders:read": True})) == "malformed_scope"


def test_expired_token_is_rejected(verifier: TokenVerifier, rsa_key: Any, tokens: Any) -> None:
    now = int(time.time())
    token = tokens.mint(rsa_key, iat=now - 3600, nbf=now - 3600, exp=now - LEEWAY_SECONDS - 5)
    assert reason_of(verifier, token) == "expired"


def test_expiry_within_leeway_is_tolerated(verifier: TokenVerifier, rsa_key: Any, tokens: Any) -> None:
    now = int(time.time())
    token = tokens.mint(rsa_key, iat=now - 3600, nbf=now - 3600, exp=now - LEEWAY_SECONDS + 10)
    assert verifier.verify(token).subject == "user-42"


def test_not_yet_valid_token_is_rejected(verifier: TokenVerifier, ec_key: Any, tokens: Any) -> None:
    now = int(time.time())
    token = tokens.mint(ec_key, iat=now, nbf=now + LEEWAY_SECONDS + 60, exp=now + 3600)
    assert reason_of(verifier, token) == "not_yet_valid"


def test_wrong_audience_is_rejected(verifier: TokenVerifier, rsa_key: Any, tokens: Any) -> None:
    assert reason_of(verifier, tokens.mint(rsa_key, aud="another-api")) == "wrong_audience"


def test_audience_list_containing_ours_is_accepted(verifier: TokenVerifier, rsa_key: Any, tokens: Any) -> None:
    assert verifier.verify(tokens.mint(rsa_key, aud=["another-api", tokens.audience])).subject == "user-42"


def test_wrong_issuer_is_rejected_and_logged_issuer_is_the_tokens(
    verifier: TokenVerifier, rsa_key: Any, tokens: Any
) -> None:
    with pytest.raises(TokenRejected) as caught:
        verifier.verify(tokens.mint(rsa_key, iss="https://evil.test/"))
    assert caught.value.reason == "wrong_issuer"
    assert (caught.value.kid, caught.value.iss) == (rsa_key.kid, "https://evil.test/")


@pytest.mark.parametrize("claim", ["sub", "exp", "iss", "aud"])
def test_missing_required_claim_is_rejected(verifier: TokenVerifier, rsa_key: Any, claim: str, tokens: Any) -> None:
    assert reason_of(verifier, tokens.mint(rsa_key, **{claim: None})) == "missing_claim"


def test_blank_subject_is_rejected(verifier: TokenVerifier, rsa_key: Any, tokens: Any) -> None:
    assert reason_of(verifier, tokens.mint(rsa_key, sub="  ")) == "missing_claim"


def test_tampered_payload_is_rejected(verifier: TokenVerifier, rsa_key: Any, tokens: Any) -> None:
    header, _, signature = tokens.mint(rsa_key, scope="orders:read").split(".")
    forged_payload = tokens.unsigned_parts({}, tokens.claims(scope="orders:read orders:write admin")).split(".")[1]
    assert reason_of(verifier, f"{header}.{forged_payload}.{signature}") == "bad_signature"


@pytest.mark.parametrize("key_name", ["rsa_key", "ec_key"])
def test_tampered_signature_is_rejected(
    key_name: str, request: pytest.FixtureRequest, verifier: TokenVerifier, tokens: Any
) -> None:
    key: Any = request.getfixturevalue(key_name)
    header, payload, signature = tokens.mint(key).split(".")
    # Flip a character in the middle: the last base64url character may only carry padding bits.
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    tampered = f"{header}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"
    assert reason_of(verifier, tampered) == "bad_signature"


def test_token_signed_by_unpublished_key_under_real_kid_is_rejected(
    verifier: TokenVerifier, attacker_key: Any, tokens: Any
) -> None:
    assert reason_of(verifier, tokens.mint(attacker_key)) == "bad_signature"


def test_alg_none_is_rejected(verifier: TokenVerifier, rsa_key: Any, tokens: Any) -> None:
    # PyJWT's own encoder for alg none (empty signature), and the same with a junk signature.
    unsigned = jwt.encode(tokens.claims(), "", algorithm="none", headers={"kid": rsa_key.kid})
    assert unsigned.endswith(".")
    assert reason_of(verifier, unsigned) == "malformed_token"  # no signature segment at all
    assert reason_of(verifier, unsigned + tokens.b64url(b"x")) == "alg_not_allowed"
    for spelling in ("None", "NONE"):
        forged = (
            tokens.unsigned_parts({"alg": spelling, "kid": rsa_key.kid}, tokens.claims()) + "." + tokens.b64url(b"x")
        )
        assert reason_of(verifier, forged) == "alg_not_allowed"


def test_hs256_signed_with_public_key_pem_is_rejected(verifier: TokenVerifier, rsa_key: Any, tokens: Any) -> None:
    assert reason_of(verifier, tokens.hs256_with_public_pem(rsa_key)) == "alg_not_allowed"


def test_hs256_rejected_even_if_configured_allowlist_were_bypassed(
    verifier: TokenVerifier, jwks_cache: JwksCache, rsa_key: Any, tokens: Any
) -> None:
    # Even an allowlist containing HS256 cannot verify with an RSA JWK: PyJWT binds the key to RS256.
    permissive = TokenVerifier(
        issuer=tokens.issuer, audience=tokens.audience, algorithms=("RS256", "HS256"), jwks=jwks_cache
    )
    assert reason_of(permissive, tokens.hs256_with_public_pem(rsa_key)) == "alg_key_mismatch"


def test_header_alg_that_does_not_match_the_keys_type_is_rejected(
    verifier: TokenVerifier, rsa_key: Any, ec_key: Any, tokens: Any
) -> None:
    # Signed with the EC key but naming the RSA key's kid: the RSA JWK is bound to RS256.
    token = jwt.encode(tokens.claims(), ec_key.private, algorithm="ES256", headers={"kid": rsa_key.kid})
    assert reason_of(verifier, token) == "alg_key_mismatch"


def test_token_without_kid_is_rejected(verifier: TokenVerifier, rsa_key: Any, tokens: Any) -> None:
    token = jwt.encode(tokens.claims(), rsa_key.private, algorithm="RS256")
    assert reason_of(verifier, token) == "missing_kid"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "missing_header"),
        ("", "missing_header"),
        ("Bearer", "malformed_header"),
        ("Bearer ", "malformed_header"),
        ("Basic dXNlcjpwYXNz", "malformed_header"),
        ("garbage", "malformed_header"),
        ("Bearer a.b", "malformed_header"),
        ("Bearer a.b.c.d", "malformed_header"),
        ("Bearer a.b.", "malformed_header"),
        ("Bearer\ta.b.c", "malformed_header"),
        ("Bearer a.b.c extra", "malformed_header"),
        ("Bearer a+b.c/d.e=", "malformed_header"),
        ("Bearer " + "a" * MAX_HEADER_CHARS, "oversized_header"),
    ],
)
def test_bad_authorization_headers_are_rejected(header: str | None, expected: str) -> None:
    with pytest.raises(TokenRejected) as caught:
        bearer_token(header)
    assert caught.value.reason == expected


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_is_case_insensitive(scheme: str) -> None:
    assert bearer_token(f"{scheme} aaa.bbb.ccc") == "aaa.bbb.ccc"


def test_header_at_the_size_cap_is_still_parsed() -> None:
    token = "a." + "b" * (MAX_HEADER_CHARS - 11) + ".c"
    header = f"Bearer {token}"
    assert len(header) == MAX_HEADER_CHARS
    assert bearer_token(header) == token


def test_non_canonical_signature_encoding_is_rejected(verifier: TokenVerifier, rsa_key: Any, tokens: Any) -> None:
    # A 256-byte RSA signature leaves 2 unused bits in the last base64url character; setting them
    # decodes to the same bytes, so only the canonical-encoding check stops the second spelling.
    token = tokens.mint(rsa_key)
    head, last = token[:-1], token[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(last) ^ 1]  # flips an unused low bit
    assert twin != last
    assert verifier.verify(token).subject == "user-42"
    assert reason_of(verifier, head + twin) == "malformed_token"


@pytest.mark.parametrize(
    ("claim", "value"),
    [("exp", "4000000000"), ("exp", True), ("nbf", "0"), ("iat", [1]), ("exp", 1e400), ("nbf", {"t": 1})],
)
def test_time_claims_must_be_json_numbers(
    verifier: TokenVerifier, rsa_key: Any, tokens: Any, claim: str, value: Any
) -> None:
    assert reason_of(verifier, tokens.mint(rsa_key, **{claim: value})) == "malformed_token"


def test_huge_integer_expiry_is_a_valid_far_future(verifier: TokenVerifier, rsa_key: Any, tokens: Any) -> None:
    assert verifier.verify(tokens.mint(rsa_key, exp=10**400)).subject == "user-42"


def test_issued_in_the_future_is_rejected(verifier: TokenVerifier, rsa_key: Any, tokens: Any) -> None:
    now = int(time.time())
    assert reason_of(verifier, tokens.mint(rsa_key, iat=now + 3600, nbf=None)) == "not_yet_valid"


@pytest.mark.parametrize("aud", [["x", "y"], 42, {"aud": "orders-api"}, [["orders-api"]]])
def test_audience_claim_of_other_shapes_is_rejected(
    verifier: TokenVerifier, rsa_key: Any, tokens: Any, aud: Any
) -> None:
    assert reason_of(verifier, tokens.mint(rsa_key, aud=aud)) == "wrong_audience"


@pytest.mark.parametrize("extra", [{"crit": ["exp"]}, {"b64": False, "crit": ["b64"]}])
def test_critical_header_extensions_are_rejected(
    verifier: TokenVerifier, rsa_key: Any, tokens: Any, extra: dict[str, Any]
) -> None:
    header = {"alg": "RS256", "kid": rsa_key.kid, **extra}
    signing_input = tokens.unsigned_parts(header, tokens.claims())
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signature = rsa_key.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    assert reason_of(verifier, f"{signing_input}.{tokens.b64url(signature)}") == "unsupported_header"
