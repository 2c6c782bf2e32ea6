"""Sending inputs 100 to a request, and finding the one input that spoils a whole batch.

HubSpot promises per-input errors (207 with ``objectWriteTraceId``) only for batch *create*.
A batch upsert or update can instead refuse the whole request with one 400 because a single
input is bad (a value a property does not allow), and a contact batch answers one 409 CONFLICT
for the first duplicate e-mail it meets, naming neither input
(https://github.com/HubSpot/hubspot-api-python/issues/51). Quarantining the whole batch for
that would lose up to 99 good complaints, so a refused batch is split in halves until the bad
input stands alone; only it is refused. A whole-batch refusal changes nothing on HubSpot's side,
so sending the halves again is safe. The cost is about 2·log2(100) ≈ 14 extra requests per
bad input, paid only when one is there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ...errors import RejectedError

__all__ = ["MAX_INPUTS", "SPLITTABLE", "chunks", "in_parallel", "send_bisecting"]

MAX_INPUTS = 100
SPLITTABLE = frozenset({400, 409})
"""Whole-request refusals that can be one input's fault; others (a 404 path, a redirect) would
refuse every half the same way."""

X = TypeVar("X")
R = TypeVar("R")
Answer = dict[str, Any]


def chunks(items: Sequence[X], size: int = MAX_INPUTS) -> Iterator[list[X]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def in_parallel(work: Callable[[X], R], items: list[X], workers: int) -> list[R]:
    """``work`` on each item, ``workers`` at a time, results in order. Requests overlap so that
    the rate limit, not the round trip, sets the pace; the limiter is shared, so this never
    raises the request rate."""
    workers = min(workers, len(items))
    if workers <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hubspot") as pool:
        return list(pool.map(work, items))


def send_bisecting(
    inputs: list[X],
    send: Callable[[list[X]], Answer],
    accept: Callable[[list[X], Answer], None],
    refuse: Callable[[X, RejectedError], None],
    *,
    splittable: frozenset[int] = SPLITTABLE,
) -> None:
    """Send ``inputs``; each answer goes to ``accept`` as soon as it is in (so a transient error
    in a later half never loses what an earlier half wrote), and each input HubSpot refused on
    its own to ``refuse``. Transient errors propagate untouched: the caller retries."""
    if not inputs:
        return
    try:
        answer = send(inputs)
    except RejectedError as exc:
        if len(inputs) == 1 or exc.status not in splittable:
            for item in inputs:
                refuse(item, exc)
            return
        half = len(inputs) // 2
        for part in (inputs[:half], inputs[half:]):
            send_bisecting(part, send, accept, refuse, splittable=splittable)
        return
    accept(inputs, answer)
