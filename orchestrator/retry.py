"""Retry policy arithmetic: whether a failed attempt is tried again, and how long to wait first.

The n-th wait is ``initial_interval * backoff_rate ** (n - 1)``, capped at ``max_interval``; with ``jitter: full``
it is a random time between zero and that (so never past the cap). The random draw is seeded by the execution,
the step's path and the attempt number, so a workflow replayed after a crash waits exactly as it did the first
time (the engine's decisions must be the same on replay), and two executions do not retry in lockstep.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from orchestrator.format import Retry, parse_duration

__all__ = ["NO_RETRY", "Policy", "policy_of"]


@dataclass(frozen=True)
class Policy:
    """A step's retry policy in seconds."""

    max_attempts: int
    initial: float
    rate: float
    cap: float
    jitter: bool
    retry_on: frozenset[str]
    no_retry_on: frozenset[str]

    def retries(self, error_class: str, attempt: int) -> bool:
        """Whether a failure of ``error_class`` at ``attempt`` (1-based) is tried again."""
        if attempt >= self.max_attempts or error_class in self.no_retry_on or "any" in self.no_retry_on:
            return False
        return error_class in self.retry_on or "any" in self.retry_on

    def ceiling(self, attempt: int) -> float:
        """The wait after failed ``attempt`` before jitter: exponential, capped."""
        return min(self.cap, self.initial * self.rate ** (attempt - 1))

    def delay(self, attempt: int, seed: str) -> float:
        """The wait after failed ``attempt`` (1-based), in seconds; the same for the same ``seed``."""
        ceiling = self.ceiling(attempt)
        if not self.jitter:
            return ceiling
        digest = hashlib.sha256(f"{seed}#{attempt}".encode()).digest()
        return random.Random(digest).uniform(0.0, ceiling)  # noqa: S311 - spreading retries, not a secret


NO_RETRY = Policy(1, 0.0, 1.0, 0.0, jitter=False, retry_on=frozenset(), no_retry_on=frozenset())


def policy_of(retry: Retry | None) -> Policy:
    """The policy of a step's ``retry`` block (after defaults); none given: one attempt."""
    if retry is None:
        return NO_RETRY
    return Policy(
        max_attempts=retry.max_attempts,
        initial=parse_duration(retry.initial_interval).total_seconds(),
        rate=retry.backoff_rate,
        cap=parse_duration(retry.max_interval).total_seconds(),
        jitter=retry.jitter == "full",
        retry_on=frozenset(retry.retry_on),
        no_retry_on=frozenset(retry.no_retry_on),
    )
