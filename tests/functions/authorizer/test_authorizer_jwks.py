"""The JWKS cache: real HTTPS fetches on 127.0.0.1 (TLS verified against a test CA), refresh limits."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from jwt.warnings import InsecureKeyLengthWarning

from functions.authorizer.jwks import JwksCache, JwksError, https_fetcher, parse_jwks
from functions.authorizer.tokens import TokenRejected, TokenVerifier

MakeCache = Callable[..., JwksCache]
StartServer = Callable[[dict[str, Any], "ssl.SSLContext | None"], Any]


def reason_of_get(cache: JwksCache, kid: str) -> str:
    with pytest.raises(JwksError) as caught:
        cache.get_key(kid)
    return caught.value.reason


def test_keys_are_fetched_once_and_served_from_cache(
    jwks_cache: JwksCache, jwks_server: Any, rsa_key: Any, ec_key: Any, clock: Any
) -> None:
    for _ in range(5):
        assert jwks_cache.get_key(rsa_key.kid).algorithm_name == "RS256"
        assert jwks_cache.get_key(ec_key.kid).algorithm_name == "ES256"
        clock.now += 10
    assert jwks_server.requests == 1


def test_unknown_kid_refetches_once_then_is_rate_limited(
    jwks_cache: JwksCache, jwks_server: Any, rsa_key: Any, clock: Any
) -> None:
    jwks_cache.get_key(rsa_key.kid)
    assert jwks_server.requests == 1
    # The keys were fetched a second ago: that fetch counts towards the interval too.
    clock.now += 1
    assert reason_of_get(jwks_cache, "random-kid-0") == "unknown_kid_refresh_rate_limited"
    assert jwks_server.requests == 1
    clock.now += 60
    assert reason_of_get(jwks_cache, "random-kid-0") == "unknown_kid"
    assert jwks_server.requests == 2
    # A flood of random kids within JWKS_MIN_REFRESH_SECONDS costs the IdP nothing more.
    for _ in range(50):
        clock.now += 0.5
        assert reason_of_get(jwks_cache, uuid.uuid4().hex) == "unknown_kid_refresh_rate_limited"
    assert jwks_server.requests == 2
    # Known keys keep working while unknown kids are rate limited.
    assert jwks_cache.get_key(rsa_key.kid).key_id == rsa_key.kid
    clock.now += 60
    assert reason_of_get(jwks_cache, "random-kid-1") == "unknown_kid"
    assert jwks_server.requests == 3


def test_rotated_key_is_picked_up_on_first_sight_of_its_kid(
    jwks_cache: JwksCache, jwks_server: Any, rsa_key: Any, clock: Any
) -> None:
    jwks_cache.get_key(rsa_key.kid)
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    new_jwk = {**RSAAlgorithm.to_jwk(new_key.public_key(), as_dict=True), "kid": "rsa-2"}
    jwks_server.document = {"keys": [rsa_key.public_jwk, new_jwk]}
    clock.now += 61
    assert jwks_cache.get_key("rsa-2").key_id == "rsa-2"
    assert jwks_server.requests == 2


def test_expired_cache_is_refreshed(jwks_cache: JwksCache, jwks_server: Any, rsa_key: Any, clock: Any) -> None:
    jwks_cache.get_key(rsa_key.kid)
    clock.now += 3599
    jwks_cache.get_key(rsa_key.kid)
    assert jwks_server.requests == 1
    clock.now += 1
    jwks_cache.get_key(rsa_key.kid)
    assert jwks_server.requests == 2


def test_stale_keys_serve_while_idp_is_down_but_only_for_one_more_cache_period(
    jwks_cache: JwksCache, jwks_server: Any, rsa_key: Any, clock: Any
) -> None:
    jwks_cache.get_key(rsa_key.kid)
    jwks_server.stop()
    clock.now += 3600
    assert jwks_cache.get_key(rsa_key.kid).key_id == rsa_key.kid
    assert jwks_cache.fetch_count == 2  # the refresh was attempted and failed
    clock.now += 3599
    assert jwks_cache.get_key(rsa_key.kid).key_id == rsa_key.kid
    clock.now += 1
    assert reason_of_get(jwks_cache, rsa_key.kid) == "jwks_stale_beyond_limit"


def test_server_down_at_cold_start_denies_and_backs_off(
    jwks_server: Any, ca_file: str, rsa_key: Any, clock: Any, make_cache: MakeCache
) -> None:
    jwks_server.stop()
    cache = make_cache(jwks_server.url, ca_file)
    assert reason_of_get(cache, rsa_key.kid) == "jwks_unavailable"
    assert reason_of_get(cache, rsa_key.kid) == "jwks_unavailable"
    assert cache.fetch_count == 1
    clock.now += 5
    assert reason_of_get(cache, rsa_key.kid) == "jwks_unavailable"
    assert cache.fetch_count == 2


def test_idp_recovering_after_cold_start_failure_is_used(
    jwks_server: Any, rsa_key: Any, clock: Any, make_cache: MakeCache, ca_file: str
) -> None:
    jwks_server.status = 500
    cache = make_cache(jwks_server.url, ca_file)
    assert reason_of_get(cache, rsa_key.kid) == "jwks_unavailable"
    jwks_server.status = 200
    clock.now += 5
    assert cache.get_key(rsa_key.kid).key_id == rsa_key.kid
    assert jwks_server.requests == 2


def test_server_error_status_is_unavailable(jwks_cache: JwksCache, jwks_server: Any, rsa_key: Any) -> None:
    jwks_server.status = 503
    assert reason_of_get(jwks_cache, rsa_key.kid) == "jwks_unavailable"
    assert jwks_server.requests == 1


def test_certificate_from_an_untrusted_ca_is_refused(
    start_server: StartServer,
    impostor_context: ssl.SSLContext,
    ca_file: str,
    rsa_key: Any,
    make_cache: MakeCache,
) -> None:
    impostor = start_server({"keys": [rsa_key.public_jwk]}, impostor_context)
    cache = make_cache(impostor.url, ca_file)
    assert reason_of_get(cache, rsa_key.kid) == "jwks_unavailable"
    # The TLS handshake failed before any HTTP request reached the handler.
    assert impostor.requests == 0


def test_without_the_test_ca_the_server_is_not_trusted(
    jwks_server: Any, rsa_key: Any, make_cache: MakeCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Proves verification is really on: with the system trust store the same server is refused.
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    cache = make_cache(jwks_server.url, None)
    assert reason_of_get(cache, rsa_key.kid) == "jwks_unavailable"
    assert jwks_server.requests == 0


def test_ssl_cert_file_env_var_points_the_default_trust_at_the_test_ca(
    jwks_server: Any, rsa_key: Any, make_cache: MakeCache, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    cache = make_cache(jwks_server.url, None)
    assert cache.get_key(rsa_key.kid).key_id == rsa_key.kid


def test_plain_http_jwks_is_refused_without_any_request(start_server: StartServer, rsa_key: Any) -> None:
    plain = start_server({"keys": [rsa_key.public_jwk]}, None)
    assert plain.url.startswith("http://")
    with pytest.raises(JwksError) as caught:
        https_fetcher(plain.url)
    assert caught.value.reason == "jwks_url_not_https"
    assert plain.requests == 0


def test_https_url_served_by_plain_http_fails_cleanly(
    start_server: StartServer, rsa_key: Any, ca_file: str, make_cache: MakeCache
) -> None:
    plain = start_server({"keys": [rsa_key.public_jwk]}, None)
    cache = make_cache(plain.url.replace("http://", "https://"), ca_file)
    assert reason_of_get(cache, rsa_key.kid) == "jwks_unavailable"
    assert plain.requests == 0


def test_jwks_server_down_denies_token_without_crashing(
    jwks_server: Any, ca_file: str, rsa_key: Any, make_cache: MakeCache, tokens: Any
) -> None:
    jwks_server.stop()
    verifier = TokenVerifier(
        issuer=tokens.issuer,
        audience=tokens.audience,
        algorithms=("RS256",),
        jwks=make_cache(jwks_server.url, ca_file),
    )
    with pytest.raises(TokenRejected) as caught:
        verifier.verify(tokens.mint(rsa_key))
    assert caught.value.reason == "jwks_unavailable"


def _jwk(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey, **extra: object) -> dict[str, object]:
    jwk = (
        RSAAlgorithm.to_jwk(key, as_dict=True)
        if isinstance(key, rsa.RSAPublicKey)
        else ECAlgorithm.to_jwk(key, as_dict=True)
    )
    return {**jwk, **extra}


def test_only_signing_keys_usable_with_allowed_algorithms_are_kept() -> None:
    rsa_public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    document = {
        "keys": [
            _jwk(rsa_public, kid="rsa-ok"),
            _jwk(p256, kid="ec-ok"),
            _jwk(rsa_public, kid="rsa-enc", use="enc"),
            _jwk(rsa_public, kid="rsa-ps", alg="PS256"),
            _jwk(rsa_public, kid="rsa-says-hs", alg="HS256"),
            _jwk(p384, kid="ec-384"),
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "oct", "kid": "hmac-alg", "k": "c2VjcmV0", "alg": "HS256"},
            _jwk(rsa_public),  # no kid: unaddressable
            "not-a-key",
            _jwk(p256, kid="rsa-ok"),  # duplicate kid: the first usable one stays
        ]
    }
    keys = parse_jwks(document, ("RS256", "ES256"))
    assert sorted(keys) == ["ec-ok", "rsa-ok"]
    assert keys["rsa-ok"].algorithm_name == "RS256"
    # With ES256 only, the RSA keys are unusable, so the EC key listed later under "rsa-ok" is
    # the first usable key with that kid.
    es_only = parse_jwks(document, ("ES256",))
    assert sorted(es_only) == ["ec-ok", "rsa-ok"]
    assert {key.algorithm_name for key in es_only.values()} == {"ES256"}


def test_rsa_key_shorter_than_2048_bits_is_not_trusted(
    jwks_server: Any, jwks_cache: JwksCache, rsa_key: Any, tokens: Any
) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the point of the test
    jwks_server.document = {"keys": [_jwk(weak.public_key(), kid="weak"), rsa_key.public_jwk]}
    assert sorted(parse_jwks(jwks_server.document, ("RS256",))) == [rsa_key.kid]
    verifier = TokenVerifier(issuer=tokens.issuer, audience=tokens.audience, algorithms=("RS256",), jwks=jwks_cache)
    with pytest.warns(InsecureKeyLengthWarning):
        token = jwt.encode(tokens.claims(), weak, algorithm="RS256", headers={"kid": "weak"})
    with pytest.raises(TokenRejected) as caught:
        verifier.verify(token)
    assert caught.value.reason == "unknown_kid"


@pytest.mark.parametrize(
    "document",
    [[], {"keys": "x"}, {"keys": []}, {"keys": [{"kty": "oct", "kid": "a", "k": "eA"}]}],
)
def test_unusable_documents_are_errors(document: object) -> None:
    with pytest.raises(JwksError):
        parse_jwks(document, ("RS256", "ES256"))
