"""The client-side limiter: its own window, and the share other apps leave it."""

from __future__ import annotations

import pytest

from crm_complaints.ratelimit import SlidingWindowLimiter


class FakeTime:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(fake: FakeTime, requests: int = 10, headroom: int = 2) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(
        requests, 1.0, margin_seconds=0.0, headroom=headroom, clock=fake.clock, sleep=fake.sleep
    )


def sent_without_waiting(fake: FakeTime, limit: SlidingWindowLimiter, most: int = 100) -> int:
    """How many requests go out back to back before the limiter makes anyone wait."""
    for count in range(most):
        with limit.slot():
            if fake.slept:
                return count
    return most


def test_alone_the_configured_limit_is_the_pace() -> None:
    fake = FakeTime()
    limit = limiter(fake)
    assert sent_without_waiting(fake, limit) == 10
    assert fake.slept and sum(fake.slept) == pytest.approx(1.0)


def test_what_others_spend_is_left_to_them() -> None:
    fake = FakeTime()
    limit = limiter(fake, requests=10, headroom=2)
    with limit.slot():
        # The server counts 7 used places of 10; one of them is this request of ours.
        limit.observe(3, limit=10)
    assert limit.share == 10 - 6 - 2
    fake.slept.clear()
    # One of ours is still in the window: one more goes out, then we wait for it to age out.
    assert sent_without_waiting(fake, limit) == 1


def test_the_share_comes_back_when_the_others_stop() -> None:
    fake = FakeTime()
    limit = limiter(fake)
    with limit.slot():
        limit.observe(0, limit=10)
    assert limit.share == 1
    fake.now += 5  # everyone's requests aged out
    with limit.slot():
        limit.observe(9, limit=10)  # only this one of ours is counted
    assert limit.share == 10
    assert limit.lowest_share == 1


def test_a_larger_server_limit_never_speeds_us_up() -> None:
    fake = FakeTime()
    limit = limiter(fake, requests=10)
    with limit.slot():
        limit.observe(999, limit=1000)
    assert limit.share == 10
    fake.slept.clear()
    assert sent_without_waiting(fake, limit) == 9


def test_a_smaller_server_limit_is_respected() -> None:
    fake = FakeTime()
    limit = limiter(fake, requests=100)
    with limit.slot():
        limit.observe(4, limit=5)  # nobody else: HubSpot's own limit is 5
    assert limit.share == 5


def test_headroom_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="headroom"):
        SlidingWindowLimiter(10, 1.0, headroom=-1)


def test_requests_the_server_no_longer_counts_are_not_taken_for_ours() -> None:
    fake = FakeTime()
    limit = limiter(fake, requests=10, headroom=2)
    fake.now = 999.0
    for _ in range(5):
        with limit.slot():
            pass
    fake.now = 999.9
    with limit.slot():
        fake.now = 1000.5  # a slow answer: the server counted at 1000.5, not when we sent
        limit.observe(5, limit=10, answered_at=fake.now)  # this one of ours, 4 of someone else
    assert limit.share == 10 - 4 - 2


def test_a_later_reservation_does_not_hide_requests_the_server_still_counts() -> None:
    fake = FakeTime()
    limit = limiter(fake, requests=10)
    fake.now = 999.8
    for _ in range(5):
        with limit.slot():
            pass
    fake.now = 1000.0
    with limit.slot():
        answered_at = 1000.7  # our answer is in; the server counted our 5 and this one
        fake.now = 1000.85  # another thread takes a place before we look at the answer
        with limit.slot():
            limit.observe(4, limit=10, answered_at=answered_at)
    assert limit.share == 10
