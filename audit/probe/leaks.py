"""Patterns that must never appear in an error response: stack traces, SQL errors, internal names."""

from __future__ import annotations

import re

# Each pattern has a name so a finding says what leaked without echoing much of the response.
LEAK_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Python traceback", re.compile(r"Traceback \(most recent call last\)")),
    ("source file reference", re.compile(r'File "[^"]+", line \d+')),
    ("Java/JS stack frame", re.compile(r"\bat [\w.$<>]+\([\w.]+:\d+(:\d+)?\)")),
    ("Lambda error object", re.compile(r'"(stackTrace|errorType)"\s*:')),
    ("Python exception", re.compile(
        r"\b(KeyError|ValueError|TypeError|AttributeError|NameError|RuntimeError|ImportError)\b")),
    ("SQL error", re.compile(
        r"(syntax error at or near|SQLSTATE|psycopg|pg8000|ProgrammingError|ORA-\d{5}|"
        r"You have an error in your SQL syntax|relation \"[^\"]+\" does not exist)", re.IGNORECASE)),
    ("AWS ARN with account id", re.compile(r"arn:aws[\w-]*:[\w-]+:[\w-]*:\d{12}:")),
    ("internal AWS hostname", re.compile(
        r"[\w.-]+\.(rds\.amazonaws\.com|compute\.internal|ec2\.internal|vpce\.amazonaws\.com)\b|\bip-\d+-\d+-\d+-\d+\b")),
    ("private IP address", re.compile(
        r"\b(10\.\d{1,3}\.\d{1,3}\.\d{1,3}|192\.168\.\d{1,3}\.\d{1,3}|172\.(1[6-9]|2\d|3[01])\.\d{1,3}\.\d{1,3})\b")),
)


def find_leaks(text: str) -> list[str]:
    """Names of the leak patterns found in `text`."""
    return [name for name, pattern in LEAK_PATTERNS if pattern.search(text)]
