"""Bounded retries with exponential backoff and full jitter, within a time budget."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from functions.worker.http_client import TransientError

T = TypeVar("T")


@dataclass
class RetryPolicy:
    max_attempts: int
    base_delay: float = 0.2
    max_delay: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    random: Callable[[], float] = field(default=random.random)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(max, base * 2^attempt)]."""
        backoff = min(self.max_delay, self.base_delay * (2 ** (attempt - 1))) * self.random()
        if retry_after is not None:
            backoff = max(backoff, min(retry_after, self.max_delay))
        return backoff

    def run(self, operation: Callable[[], T], deadline: float) -> T:
        """Call `operation` until it succeeds, raises a non-transient error, runs out of attempts, or the
        next wait would pass `deadline` (a `clock()` value); the last TransientError is re-raised."""
        attempt = 1
        while True:
            try:
                return operation()
            except TransientError as exc:
                if attempt >= self.max_attempts:
                    raise
                wait = self.delay(attempt, exc.retry_after)
                if self.clock() + wait >= deadline:
                    raise
                self.sleep(wait)
                attempt += 1
