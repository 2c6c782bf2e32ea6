"""How the engine retries: only classified transient errors, bounded in attempts and time.

The wait is the larger of exponential backoff with jitter and the remote's Retry-After. A wait
that would overrun the time budget stops retrying at once instead of sleeping past it; a
rate limit that says "stop the run" (a daily quota) stops at once too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from .config import SyncConfig
from .errors import RateLimitedError, TransientError

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    max_seconds: float = 120.0
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    @classmethod
    def from_config(
        cls, config: SyncConfig, sleep: Callable[[float], None] = time.sleep
    ) -> RetryPolicy:
        return cls(
            max_attempts=config.max_attempts,
            max_seconds=config.max_retry_seconds,
            initial_backoff=config.initial_backoff_seconds,
            max_backoff=config.max_backoff_seconds,
            sleep=sleep,
        )

    @classmethod
    def no_wait(cls, max_attempts: int = 6) -> RetryPolicy:
        """For tests: same bounds on attempts, never sleeps."""
        return cls(
            max_attempts=max_attempts, initial_backoff=0, max_backoff=0, sleep=lambda _: None
        )

    def _backoff(self) -> wait_exponential_jitter:
        return wait_exponential_jitter(
            multiplier=self.initial_backoff, max=self.max_backoff, jitter=self.initial_backoff
        )

    def wait_for(self, state: RetryCallState) -> float:
        backoff = float(self._backoff()(state)) if self.initial_backoff > 0 else 0.0
        error = state.outcome.exception() if state.outcome else None
        hinted = getattr(error, "retry_after", None) or 0.0
        return max(backoff, float(hinted))

    def _should_stop(self, state: RetryCallState) -> bool:
        if stop_after_attempt(self.max_attempts)(state):
            return True
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimitedError) and error.stop_run:
            return True
        elapsed = state.seconds_since_start or 0.0
        return elapsed + self.wait_for(state) > self.max_seconds

    def retrying(self) -> Retrying:
        return Retrying(
            stop=self._should_stop,
            wait=self.wait_for,
            retry=retry_if_exception_type(TransientError),
            sleep=self.sleep,
            reraise=True,
        )
