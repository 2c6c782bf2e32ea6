"""Trying to break "staff edits survive" (issue 16): crashes, retries, reversals and repairs.

Each test plays a clinic's bad day against the emulator: a write whose answer never came, a
run that ran out of retries half-way, a field changed and changed back, a ticket deleted while
the complaint kept changing, an owner who left. What must hold throughout: a staff edit to a
field we did not change survives, and a change on our side is never lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm_complaints.adapters.hubspot import HubSpotAdapter
from crm_complaints.emulator import HubSpotEmulator
from crm_complaints.emulator.portal import StoredObject
from crm_complaints.errors import TransientError
from crm_complaints.policy import Policy
from crm_complaints.reconcile import FindingKind, reconcile
from crm_complaints.retry import RetryPolicy
from crm_complaints.schema import Complaint
from crm_complaints.state import RecordState, SqlStateStore
from crm_complaints.sync import SyncSummary, sync
from tests.conftest import edited, make_complaint
from tests.hubspot_support import assert_exactly_once, make_adapter

CLOSED_STAGE = "4"  # the demo portal's "Closed"
OPEN_STAGE = "1"  # "New"
ATTEMPTS = 2


@pytest.fixture
def adapter(emulator: HubSpotEmulator) -> Iterator[HubSpotAdapter]:
    made = make_adapter(emulator)
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


def answer_lost_on(adapter: HubSpotAdapter, what: str) -> list[int]:
    """Every request named ``what`` reaches HubSpot and is applied, but its answer never
    comes back (a timeout after the write): the client sees a transient error. Returns a
    counter list the caller can read."""
    client = adapter.client
    original = client.call_json
    applied: list[int] = []

    def lossy(name: str, method: Any, **kwargs: Any) -> dict[str, Any]:
        answer = original(name, method, **kwargs)
        if name == what:
            applied.append(1)
            raise TransientError(f"{name}: read timed out", adapter="hubspot")
        return answer

    client.call_json = lossy  # type: ignore[method-assign]
    return applied


def restore(adapter: HubSpotAdapter) -> None:
    """Undo :func:`answer_lost_on` (the instance attribute hides the class's method)."""
    del adapter.client.call_json


# -- a change that must not be lost ------------------------------------------------------------


def test_a_change_back_after_an_unconfirmed_ticket_write_reaches_hubspot(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """A → B (HubSpot applied B, its answer was lost, the run ends failed) → back to A: the
    ticket must end at A. Our stored hashes still say "A was sent", so a select against them
    alone would send nothing and leave B in HubSpot for good."""
    first = recent(summary="最初の要約")
    run(adapter, store, [first])
    applied = answer_lost_on(adapter, "update tickets")
    failed = run(adapter, store, [edited(first, summary="二番目の要約")])
    restore(adapter)
    assert failed.failed == 1 and applied, "the B write must have reached HubSpot"
    assert "二番目の要約" in ticket(emulator).properties["subject"]

    back = run(adapter, store, [first])

    assert back.failed == 0
    assert "最初の要約" in ticket(emulator).properties["subject"], (
        "change lost: the complaint went back to A after an unconfirmed write of B, the select "
        "compared A with the hashes of the last *confirmed* write (A) and sent nothing, so "
        "HubSpot keeps B"
    )


def test_a_category_change_back_after_tasks_failed_reaches_ticket_and_tasks(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """The emulator's own fault: the ticket update goes through, every task update gets a
    503, the run ends failed; the category then goes back. Ticket and task bodies must say
    the original category again."""
    first = recent(category="service_attitude")
    run(adapter, store, [first])
    body_before = tasks(emulator)["initial_response"].properties["hs_task_body"]
    emulator.script = [(503, "hs_task_body")] * ATTEMPTS
    failed = run(adapter, store, [edited(first, category="product")])
    emulator.script = []
    assert failed.failed == 1
    assert ticket(emulator).properties["crm_category"] == "product"  # the ticket got B

    run(adapter, store, [first])

    assert ticket(emulator).properties["crm_category"] == "service_attitude", (
        "change lost: category went A → B (ticket written, tasks failed) → A; the stored "
        "hashes (A, last confirmed) match A, so the ticket keeps B"
    )
    assert tasks(emulator)["initial_response"].properties["hs_task_body"] == body_before


def test_a_retry_within_the_run_sends_the_ticket_once_and_records_every_hash(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """The ticket update succeeds, the first task update fails once: the retry resumes from
    what was written (the ticket is not written again), and the hashes recorded are those of
    the new version, so the next unchanged-field sync sends nothing more for the ticket."""
    first = recent(category="service_attitude")
    run(adapter, store, [first])
    emulator.script = [(503, "hs_task_body")]
    writes: list[dict[str, str]] = []
    client = adapter.client
    original = client.call_json

    def spy(name: str, method: Any, **kwargs: Any) -> dict[str, Any]:
        batch = kwargs.get("batch_input_simple_public_object_batch_input")
        if batch is not None and name == "update tickets":
            writes.extend(dict(i.properties) for i in batch.inputs)
        return original(name, method, **kwargs)

    client.call_json = spy  # type: ignore[method-assign]
    changed = edited(first, category="product")
    summary = run(adapter, store, [changed])
    assert (summary.updated, summary.failed) == (1, 0)
    assert len(writes) == 1, "the retry wrote the ticket again"
    assert ticket(emulator).properties["crm_category"] == "product"

    # Staff close the ticket; a later unrelated change must not send category or stage.
    emulator.portal.update("tickets", ticket(emulator).id, {"hs_pipeline_stage": CLOSED_STAGE})
    writes.clear()
    run(adapter, store, [edited(changed, summary="追記")])
    del adapter.client.call_json
    assert set(writes[0]) == {"subject", "crm_complaint_id", "crm_version"}
    assert ticket(emulator).properties["hs_pipeline_stage"] == CLOSED_STAGE
