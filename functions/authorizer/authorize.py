"""The authorizer decision: API Gateway TOKEN event in, IAM policy out (or 401).

API Gateway turns exactly ``Exception("Unauthorized")`` into a 401; any other exception becomes a
500, so every failure - including an unexpected bug - ends in that one exception. A valid token
that lacks the scopes of every route gets a policy denying all of them (403).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from functions.authorizer.routes import Route, build_policy, parse_method_arn
from functions.authorizer.tokens import TokenRejected, TokenVerifier, bearer_token

logger = logging.getLogger(__name__)

UNAUTHORIZED = "Unauthorized"


def authorize(
    event: Any, verifier: TokenVerifier, routes: Sequence[Route], remaining_ms: Callable[[], int] | None = None
) -> dict[str, Any]:
    """``remaining_ms`` is the Lambda context's ``get_remaining_time_in_millis``: a JWKS fetch, if
    one is due, must end well inside the invocation (see jwks.fetch_budget)."""
    try:
        if not isinstance(event, dict):
            raise TokenRejected("malformed_event")
        token = bearer_token(event.get("authorizationToken"))
        method_arn = event.get("methodArn")
        try:
            stage = parse_method_arn(method_arn if isinstance(method_arn, str) else "")
        except ValueError:
            raise TokenRejected("malformed_method_arn") from None
        verified = verifier.verify(token, remaining_ms)
    except TokenRejected as rejected:
        _deny(rejected.reason, kid=rejected.kid, iss=rejected.iss)
    except Exception as error:
        # Never let a bug turn into a 500 (or leak details): log the type only, answer 401.
        _deny("internal_error", error_type=type(error).__name__)

    # API Gateway only accepts string, number and boolean context values.
    context: dict[str, str | int | bool] = {
        "sub": verified.subject,
        "scope": " ".join(sorted(verified.scopes)),
    }
    if verified.client_id is not None:
        context["client_id"] = verified.client_id
    policy = build_policy(verified.subject, stage, routes, verified.scopes, context)
    if not any(s["Effect"] == "Allow" for s in policy["policyDocument"]["Statement"]):
        logger.info(json.dumps({"decision": "deny_all_routes", "reason": "insufficient_scope"}))
    return policy


def _deny(reason: str, **fields: str | None) -> NoReturn:
    logger.info(json.dumps({"decision": "unauthorized", "reason": reason, **fields}))
    # A plain Exception with exactly this message: API Gateway matches it to answer 401. "from None"
    # keeps the internal error (which may quote input) out of the chained traceback.
    raise Exception(UNAUTHORIZED) from None
