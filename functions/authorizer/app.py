"""Lambda entry point ``functions.authorizer.app.handler``.

Settings are read and the JWKS cache created at import (cold start): a configuration error fails
the initialisation with a message naming the variable, and the cache lives across invocations.
The key fetch itself happens in the first invocation that needs keys, bounded by the invocation's
remaining time (the Lambda context) and JWKS_FETCH_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from functions.authorizer.authorize import authorize
from functions.authorizer.config import ConfigError, load_settings
from functions.authorizer.jwks import JwksCache, https_fetcher
from functions.authorizer.tokens import TokenVerifier

logger = logging.getLogger("functions.authorizer")
logger.setLevel(logging.INFO)

try:
    SETTINGS = load_settings(os.environ)
except ConfigError as error:
    logger.error("authorizer configuration error: %s", error)
    raise

JWKS = JwksCache(
    https_fetcher(SETTINGS.jwks_url),
    algorithms=SETTINGS.algorithms,
    cache_seconds=SETTINGS.jwks_cache_seconds,
    min_refresh_seconds=SETTINGS.jwks_min_refresh_seconds,
    fetch_seconds=SETTINGS.jwks_fetch_timeout_seconds,
)
VERIFIER = TokenVerifier(issuer=SETTINGS.issuer, audience=SETTINGS.audience, algorithms=SETTINGS.algorithms, jwks=JWKS)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return authorize(event, VERIFIER, SETTINGS.routes, getattr(context, "get_remaining_time_in_millis", None))
