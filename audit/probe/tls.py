"""Try a handshake with a protocol older than TLS 1.2 to see whether the endpoint accepts it."""

from __future__ import annotations

import enum
import socket
import ssl
import warnings
from dataclasses import dataclass


class Outcome(enum.Enum):
    ACCEPTED = "accepted"           # the server completed a handshake with the legacy protocol: a finding
    REFUSED = "refused"             # the server refused it: good
    CLIENT_UNABLE = "client-unable"  # the local OpenSSL would not offer it: nothing was tested
    UNREACHABLE = "unreachable"     # no TCP connection at all: nothing was tested


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    detail: str


# OpenSSL reasons raised on the client side before anything reaches the server.
_CLIENT_SIDE = ("NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE", "NO_SUITABLE_SIGNATURE_ALGORITHM")


def legacy_context(version: ssl.TLSVersion) -> ssl.SSLContext:
    with warnings.catch_warnings():
        # TLS 1.0/1.1 are deprecated in Python on purpose; offering them is the point of this probe.
        warnings.simplefilter("ignore", DeprecationWarning)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = version
        context.maximum_version = version
    # Only the negotiated protocol matters here and no request is sent, so the certificate is not checked.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # OpenSSL 3's default security level refuses to *offer* TLS < 1.2; level 0 lets the client try.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def try_handshake(host: str, port: int, version: ssl.TLSVersion, timeout: float) -> Attempt:
    try:
        context = legacy_context(version)
    except (ssl.SSLError, ValueError) as exc:
        return Attempt(Outcome.CLIENT_UNABLE, f"local OpenSSL cannot be configured for {version.name}: {exc}")
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            return Attempt(Outcome.ACCEPTED, f"the server negotiated {tls.version()}")
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        if any(marker in str(exc) for marker in _CLIENT_SIDE):
            return Attempt(Outcome.CLIENT_UNABLE, f"local OpenSSL refused to offer {version.name} ({reason})")
        return Attempt(Outcome.REFUSED, f"handshake refused ({reason})")
    except ConnectionResetError as exc:
        # Some TLS terminators drop the connection instead of sending a protocol_version alert.
        return Attempt(Outcome.REFUSED, f"connection reset during the handshake ({exc})")
    except OSError as exc:
        return Attempt(Outcome.UNREACHABLE, f"could not connect to {host}:{port} ({exc})")
