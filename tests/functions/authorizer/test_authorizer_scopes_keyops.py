"""Scope claims split on U+0020 only (RFC 6749 §3.3) and JWK ``key_ops`` honoured (RFC 7517 §4.3)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.authorizer.authorize import authorize
from functions.authorizer.jwks import JwksCache, JwksError, parse_jwks
from functions.authorizer.routes import Route
from functions.authorizer.tokens import TokenRejected, TokenVerifier, _scopes

STAGE_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/dev"
ROUTES = (Route("GET", "/orders", frozenset({"orders:read"})), Route("POST", "/orders", frozenset({"orders:write"})))
# Separators other than U+0020 that str.split() (no argument) would split on: each must not grant two scopes.
NOT_SPACES = {
    "tab": "\t", "newline": "\n", "carriage-return": "\r", "vertical-tab": "\x0b", "form-feed": "\x0c",
    "nbsp": "\u00a0", "ideographic-space": "\u3000", "em-space": "\u2003", "line-separator": "\u2028",
    "next-line": "\x85", "unit-separator": "\x1f",
}


def event(token: str) -> dict[str, str]:
    return {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": f"{STAGE_ARN}/GET/orders"}


def reason_of(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(TokenRejected) as caught:
        verifier.verify(token)
    return caught.value.reason


# --- scopes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("separator", NOT_SPACES.values(), ids=NOT_SPACES.keys())
def test_a_separator_other_than_space_denies_the_token(
    separator: str, verifier: TokenVerifier, rsa_key: Any, tokens: Any
) -> None:
    token = tokens.mint(rsa_key, scope=f"orders:read{separator}orders:write")
    assert reason_of(verifier, token) == "malformed_scope"
    # Through the handler: a 401, never a policy allowing either route.
    with pytest.raises(Exception) as caught:
        authorize(event(token), verifier, ROUTES)
    assert str(caught.value) == "Unauthorized"


@pytest.mark.parametrize("separator", NOT_SPACES.values(), ids=NOT_SPACES.keys())
def test_scp_list_elements_follow_the_same_rule(
    separator: str, verifier: TokenVerifier, rsa_key: Any, tokens: Any
) -> None:
    token = tokens.mint(rsa_key, scope=None, scp=["profile", f"orders:read{separator}orders:write"])
    assert reason_of(verifier, token) == "malformed_scope"


@pytest.mark.parametrize(
    ("scope", "granted"),
    [
        ("orders:read orders:write", {"orders:read", "orders:write"}),
        ("orders:read  orders:write", {"orders:read", "orders:write"}),  # a run of spaces is still spaces
        (" orders:read ", {"orders:read"}),
        ("", set()),
        ("https://api.test/orders.read", {"https://api.test/orders.read"}),
    ],
)
def test_space_separated_scopes_are_granted(
    scope: str, granted: set[str], verifier: TokenVerifier, rsa_key: Any, tokens: Any
) -> None:
    assert verifier.verify(tokens.mint(rsa_key, scope=scope)).scopes == granted


@pytest.mark.parametrize("bad", ['orders:"read"', "orders\\read", "ordérs:read", "orders:read\x00"])
def test_characters_outside_rfc6749_scope_tokens_deny(bad: str, verifier: TokenVerifier, rsa_key: Any,
                                                      tokens: Any) -> None:
    assert reason_of(verifier, tokens.mint(rsa_key, scope=f"profile {bad}")) == "malformed_scope"
    assert reason_of(verifier, tokens.mint(rsa_key, scope=None, scp=[bad])) == "malformed_scope"


def test_empty_scp_element_denies(verifier: TokenVerifier, rsa_key: Any, tokens: Any) -> None:
    assert reason_of(verifier, tokens.mint(rsa_key, scope=None, scp=["orders:read", ""])) == "malformed_scope"


@given(st.text(max_size=40))
def test_scope_strings_grant_exactly_their_space_separated_tokens_or_nothing(text: str) -> None:
    scopes = _scopes({"scope": text})
    pieces = [piece for piece in text.split(" ") if piece]
    valid = all(all(c == "!" or "#" <= c <= "[" or "]" <= c <= "~" for c in piece) for piece in pieces)
    if valid:
        assert scopes == frozenset(pieces)
    else:
        assert scopes is None
    # Whatever the claim, no granted scope ever contains whitespace or a non-ASCII character.
    assert all(scope.isascii() and scope.isprintable() and not any(c.isspace() for c in scope)
               for scope in scopes or ())


# --- key_ops -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_ops", "usable"),
    [
        (["verify"], True),
        (["sign", "verify"], True),  # a private JWK's ops; the public half is still a verification key
        (["sign"], False),
        (["encrypt", "wrapKey"], False),
        ([], False),
        ("verify", False),  # not an array
        (["verify", "verify"], False),  # duplicates are forbidden (RFC 7517 §4.3)
        ([1], False),
        (None, False),
    ],
)
def test_key_ops_must_allow_verify(key_ops: object, usable: bool, rsa_key: Any) -> None:
    jwk = {**rsa_key.public_jwk, "key_ops": key_ops}
    if usable:
        assert list(parse_jwks({"keys": [jwk]}, ("RS256",))) == [rsa_key.kid]
    else:
        with pytest.raises(JwksError) as caught:
            parse_jwks({"keys": [jwk]}, ("RS256",))
        assert caught.value.reason == "jwks_no_usable_keys"


def test_key_without_key_ops_is_unrestricted(rsa_key: Any) -> None:
    jwk = {k: v for k, v in rsa_key.public_jwk.items() if k != "key_ops"}
    assert list(parse_jwks({"keys": [jwk]}, ("RS256",))) == [rsa_key.kid]


def test_token_signed_by_a_key_published_for_signing_only_is_rejected(
    jwks_server: Any, jwks_cache: JwksCache, rsa_key: Any, ec_key: Any, tokens: Any
) -> None:
    # The RSA key is published with key_ops ["sign"] (e.g. the IdP's key for its own requests); the
    # EC key stays a verification key, so the document is usable and only the RSA kid is refused.
    jwks_server.document = {"keys": [{**rsa_key.public_jwk, "key_ops": ["sign"]}, ec_key.public_jwk]}
    verifier = TokenVerifier(issuer=tokens.issuer, audience=tokens.audience, algorithms=("RS256", "ES256"),
                             jwks=jwks_cache)
    assert reason_of(verifier, tokens.mint(rsa_key)) == "unknown_kid"
    assert verifier.verify(tokens.mint(ec_key)).subject == "user-42"
