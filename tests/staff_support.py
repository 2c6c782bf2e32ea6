"""Shared set-up of the tests that try to break "staff edits survive" (issue 16)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_complaints.adapters.hubspot import HubSpotAdapter
from crm_complaints.emulator import HubSpotEmulator
from crm_complaints.emulator.portal import StoredObject
from crm_complaints.errors import TransientError
from crm_complaints.policy import Policy
from crm_complaints.retry import RetryPolicy
from crm_complaints.schema import Complaint
from crm_complaints.state import SqlStateStore
from crm_complaints.sync import SyncSummary, sync
from tests.conftest import make_complaint
from tests.hubspot_support import make_adapter

CLOSED_STAGE = "4"  # the demo portal's "Closed"
OPEN_STAGE = "1"  # "New"
ATTEMPTS = 2


def opened_adapter(emulator: HubSpotEmulator, **overrides: Any) -> Iterator[HubSpotAdapter]:
    """A set-up adapter on the emulator, closed afterwards (each test module's fixture);
    ``overrides`` of its config, such as ``contacts=True``."""
    made = make_adapter(emulator, **overrides)
    made.setup()
    yield made
    made.close()


def run(adapter: HubSpotAdapter, store: SqlStateStore, complaints: list[Complaint]) -> SyncSummary:
    return sync(
        complaints,
        adapter=adapter,
        store=store,
        policy=Policy(),
        retry=RetryPolicy.no_wait(max_attempts=ATTEMPTS),
    )


def recent(complaint_id: str = "HOSTILE-1", **changes: Any) -> Complaint:
    """A complaint received ten minutes ago (its tasks are not yet due)."""
    received = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    return make_complaint(id=complaint_id, received_at=received, **changes)


def ticket(emulator: HubSpotEmulator, complaint_id: str = "HOSTILE-1") -> StoredObject:
    return next(
        t
        for t in emulator.portal.live("tickets")
        if t.properties.get("crm_complaint_id") == complaint_id
    )


def tasks(emulator: HubSpotEmulator, complaint_id: str = "HOSTILE-1") -> dict[str, StoredObject]:
    """Task kind → the live task of that kind."""
    prefix = f"{complaint_id}:"
    return {
        t.properties["crm_task_key"].rsplit(":", 1)[1]: t
        for t in emulator.portal.live("tasks")
        if t.properties["crm_task_key"].startswith(prefix)
    }


def answer_lost_on(adapter: HubSpotAdapter, request: str, times: int | None = None) -> list[int]:
    """Every request named ``request`` (the first ``times`` ones, if given) reaches HubSpot
    and is applied, but its answer never comes back (a timeout after the write): the client
    sees a transient error. Returns a list that grows by one per such request."""
    client = adapter.client
    original = client.call_json
    applied: list[int] = []

    def lossy(what: str, method: Any, **kwargs: Any) -> dict[str, Any]:
        answer = original(what, method, **kwargs)
        if what == request and (times is None or len(applied) < times):
            applied.append(1)
            raise TransientError(f"{what}: read timed out", adapter="hubspot")
        return answer

    client.call_json = lossy  # type: ignore[method-assign]
    return applied


def restore(adapter: HubSpotAdapter) -> None:
    """Undo :func:`answer_lost_on` (the instance attribute hides the class's method)."""
    del adapter.client.call_json
