"""API Gateway REST TOKEN authorizer validating OAuth2/OIDC JWT access tokens.

Entry point: ``functions.authorizer.app.handler``; behaviour and settings in functions/README.md.
Modules: ``config`` (environment settings), ``jwks`` (the issuer's signing keys, fetched over https
within one deadline and cached), ``tokens`` (header parsing and JWT verification), ``routes`` (route
scopes and the IAM policy), ``authorize`` (the decision).
"""
