"""Lambda function packages (authorizer, api, worker).

The deployment zips keep this ``functions/`` package at their root, so the same absolute imports
(``from functions.authorizer import jwks``) work in the tests and on Lambda.
"""
