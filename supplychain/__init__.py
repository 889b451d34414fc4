"""The repository's own supply chain: which files pin dependencies, what Dependabot reaches, and the
report of the vulnerability scan (pip-audit) that CI runs over every pinned requirement set."""
