"""Post-deploy posture audit (read-only boto3) and outside-in probe of the API endpoint.

`python -m audit` checks the live account against the guarantees the CrossGuard pack enforces at
preview time; `python -m audit probe` tests the deployed endpoint's defenses from the outside.
"""
