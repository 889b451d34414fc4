"""Outside-in probe of the deployed API endpoint (`python -m audit probe`)."""
