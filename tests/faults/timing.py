"""Timing help for the crash tests: kill a run only once it is really under way."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for_first_request(count: Callable[[], int], before: int, timeout: float = 60.0) -> None:
    """Until the victim's first request arrived: a loaded machine can take seconds just to start
    Python, and a kill before any request would test nothing."""
    deadline = time.monotonic() + timeout
    while count() <= before and time.monotonic() < deadline:
        time.sleep(0.01)
