"""Trying to break "staff edits survive" (issue 16), continued: tickets deleted, restored and
recreated, and runs that fail part-way through.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm_complaints.adapters.hubspot import HubSpotAdapter
from crm_complaints.emulator import HubSpotEmulator
from crm_complaints.policy import Policy
from crm_complaints.reconcile import FindingKind, reconcile
from crm_complaints.retry import RetryPolicy
from crm_complaints.state import RecordState, SqlStateStore
from tests.conftest import edited
from tests.hubspot_support import assert_exactly_once, make_adapter
from tests.staff_support import (
    ATTEMPTS,
    CLOSED_STAGE,
    OPEN_STAGE,
    opened_adapter,
    recent,
    run,
    tasks,
    ticket,
)

# -- deleted, restored, recreated --------------------------------------------------------------


@pytest.fixture
def adapter(emulator: HubSpotEmulator) -> Iterator[HubSpotAdapter]:
    yield from opened_adapter(emulator)


def restore_from_recycle_bin(emulator: HubSpotEmulator, ticket_id: str) -> None:
    """Staff restore a deleted ticket: HubSpot keeps deleted tickets restorable for 90 days
    (https://knowledge.hubspot.com/records/restore-deleted-records). The emulator has no such
    endpoint (it is a UI action), so the archived flag is lifted as the recycle bin would."""
    portal = emulator.portal
    with portal.lock:
        obj = portal.objects["tickets"][ticket_id]
        obj.archived = False
        portal._index("tickets", obj, {})


def test_a_ticket_restored_from_the_recycle_bin_is_synced_again(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """Deleted by mistake, restored by staff: our complaint's later changes must reach it
    (nightly reconcile --repair, as the schedule examples run it, then a sync). Otherwise
    the record stays ``deleted`` for ever while its ticket lives on, and reconcile reports
    drift every night that repair never fixes."""
    complaint = recent()
    run(adapter, store, [complaint])
    gone = ticket(emulator).id
    emulator.portal.archive("tickets", gone)
    run(adapter, store, [edited(complaint, summary="削除後の変更")])
    assert store.get_many("hubspot", [complaint.id])[complaint.id].state is RecordState.DELETED
    restore_from_recycle_bin(emulator, gone)
    latest = edited(complaint, summary="復元後の変更")

    report = reconcile([latest], adapter=adapter, store=store, repair=True)
    run(adapter, store, [latest])

    state = store.get_many("hubspot", [complaint.id])[complaint.id].state
    kinds = sorted({f.kind.value for f in report.findings})
    assert "復元後の変更" in ticket(emulator).properties["subject"], (
        f"change lost: the restored ticket never gets our changes (record state {state.value}, "
        f"reconcile findings {kinds}, repaired {report.repair and report.repair.counts()}); "
        "sync skips a DELETED record and reconcile never notices the ticket is back"
    )
    again = reconcile([latest], adapter=adapter, store=store)
    assert again.of(FindingKind.DRIFTED) == []


def test_a_deleted_ticket_whose_complaint_changed_three_times_comes_back_as_the_latest(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """Left deleted through three changes (no remote call), then recreated on request: one
    ticket with the latest values, its tasks relinked (not made twice), and staff's close of
    another complaint in the same batch untouched."""
    complaint = recent()
    other = recent("HOSTILE-2")
    run(adapter, store, [complaint, other])
    emulator.portal.archive("tickets", ticket(emulator).id)
    emulator.portal.update(
        "tickets", ticket(emulator, "HOSTILE-2").id, {"hs_pipeline_stage": CLOSED_STAGE}
    )
    versions = [
        edited(complaint, summary="一回目", severity="high"),
        edited(complaint, summary="二回目", severity="high", category="product"),
        edited(complaint, summary="三回目", severity="medium", category="product"),
    ]
    for version in versions:
        calls = adapter.calls
        first = run(adapter, store, [version, other])
        assert first.deleted_in_crm == 1
        assert adapter.calls == calls or version is versions[0]  # asked once, then left alone

    latest = versions[-1]
    report = reconcile(
        [latest, other], adapter=adapter, store=store, repair=True, recreate_deleted=True
    )

    assert [f.complaint_id for f in report.of(FindingKind.DELETED_IN_CRM)] == [complaint.id]
    held = ticket(emulator).properties
    assert "三回目" in held["subject"] and held["crm_category"] == "product"
    assert ticket(emulator, "HOSTILE-2").properties["hs_pipeline_stage"] == CLOSED_STAGE
    assert_exactly_once(emulator, [latest, other])
    assert store.get_many("hubspot", [complaint.id])[complaint.id].state is RecordState.SYNCED
    fresh = Policy().planned(latest)
    builder = adapter_properties(adapter)
    for planned in fresh.plan.tasks:
        held_task = tasks(emulator)[planned.kind.value].properties
        want = builder.task(fresh, planned)
        for name in ("hs_task_body", "hs_task_priority", "hs_timestamp", "hubspot_owner_id"):
            assert held_task.get(name) == want.get(name), (planned.kind.value, name)


def adapter_properties(adapter: HubSpotAdapter) -> Any:
    """The adapter's property builder (what it would send)."""
    return adapter.properties


def test_recreating_a_deleted_ticket_keeps_staff_work_on_its_surviving_tasks(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """Deleting a ticket leaves its tasks in HubSpot (only the links go). Staff had completed
    the first response and reassigned the investigation; the ticket is deleted, then
    recreated on request. The tasks are relinked: their status and owner are staff's
    (``create`` fields) and must survive, as they would any other update. (Deleting a record
    leaves its tasks on the task page, unlinked; HubSpot says so for contacts,
    https://knowledge.hubspot.com/privacy-and-consent/understand-restorable-and-permanent-contact-deletions,
    and the emulator does the same for tickets.)"""
    complaint = recent()
    run(adapter, store, [complaint])
    held = tasks(emulator)
    kinds = sorted(held)
    assert "initial_response" in kinds and len(kinds) > 1
    other_kind = next(k for k in kinds if k != "initial_response")
    owner = held[other_kind].properties.get("hubspot_owner_id")
    colleague = next(o for o in ("101", "102", "103") if o != owner)
    emulator.portal.update("tasks", held["initial_response"].id, {"hs_task_status": "COMPLETED"})
    emulator.portal.update("tasks", held[other_kind].id, {"hubspot_owner_id": colleague})
    emulator.portal.archive("tickets", ticket(emulator).id)
    latest = edited(complaint, summary="削除後")
    run(adapter, store, [latest])  # finds it deleted

    reconcile([latest], adapter=adapter, store=store, repair=True, recreate_deleted=True)

    after = tasks(emulator)
    assert_exactly_once(emulator, [latest])  # relinked, not made twice
    status = after["initial_response"].properties["hs_task_status"]
    moved_to = after[other_kind].properties.get("hubspot_owner_id")
    assert (status, moved_to) == ("COMPLETED", colleague), (
        f"staff edit overwritten by --recreate-deleted: the surviving tasks were written with "
        f"every field (status {status}, {other_kind} owner {moved_to}); the engine drops the "
        "stored hashes of the tasks too, not only the ticket's"
    )


def test_a_task_deleted_with_its_ticket_is_made_again_when_the_ticket_is_recreated(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """Staff delete the ticket and one of its tasks; the next change touches the ticket only,
    so no task is written. ``--recreate-deleted`` must find the deleted task gone and make it
    again, not relink a task HubSpot no longer has (refused: the complaint failed on every
    run). The surviving tasks are relinked, untouched."""
    complaint = recent()
    run(adapter, store, [complaint])
    held = tasks(emulator)
    gone_kind = sorted(held)[0]
    emulator.portal.archive("tasks", held[gone_kind].id)
    emulator.portal.archive("tickets", ticket(emulator).id)
    latest = edited(complaint, description="チケットだけの変更")
    run(adapter, store, [latest])  # finds the ticket deleted

    reconcile([latest], adapter=adapter, store=store, repair=True, recreate_deleted=True)

    record = store.get_many("hubspot", [complaint.id])[complaint.id]
    assert record.state is RecordState.SYNCED, f"{record.state.value}: {record.last_error}"
    after = tasks(emulator)
    assert after[gone_kind].id != held[gone_kind].id  # made again
    assert {k: t.id for k, t in after.items() if k != gone_kind} == {
        k: t.id for k, t in held.items() if k != gone_kind
    }  # the others relinked, not made again
    assert_exactly_once(emulator, [latest])


def test_a_due_date_moved_in_the_millisecond_the_sync_ended_is_still_read(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """Tasks are read for drift when changed after the last sync ended; HubSpot keeps
    milliseconds, so a move in that same millisecond was not "after" it and went unseen (a
    fast machine did this one run in three). The window now opens a minute earlier, as a
    search index's lag asks anyway."""
    complaint = recent()
    run(adapter, store, [complaint])
    synced = store.run_of("sync", "hubspot")
    assert synced is not None and synced.finished_at is not None
    moved = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="milliseconds")
    clock = emulator.portal.clock
    emulator.portal.clock = synced.finished_at.timestamp  # the same instant, to the microsecond
    try:
        emulator.portal.update(
            "tasks", tasks(emulator)["initial_response"].id, {"hs_timestamp": moved}
        )
    finally:
        emulator.portal.clock = clock

    report = reconcile([complaint], adapter=adapter, store=store)

    assert [(f.kind, f.field) for f in report.findings] == [
        (FindingKind.DRIFTED, "task_due:initial_response")
    ]


def test_a_recreate_that_failed_part_way_is_not_taken_for_deleted_again(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """``--recreate-deleted`` makes the new ticket, then its tasks fail (503 every attempt):
    the record is left ``failed`` with the *old* ticket's id in its refs. An operator reruns
    reconcile at once; search has not indexed the new ticket yet (it lags writes by seconds),
    and the refs name the old, deleted one. The complaint must not be marked deleted while its
    new ticket lives, or every later sync skips it. (It holds: the exact read goes by our
    ``crm_complaint_id``, not by the ticket id in the refs.)"""
    complaint = recent()
    run(adapter, store, [complaint])
    emulator.portal.archive("tickets", ticket(emulator).id)
    run(adapter, store, [edited(complaint, summary="x")])
    latest = edited(complaint, summary="x")
    # The surviving tasks have nothing new to write: what fails is relinking them.
    emulator.script = [(503, "associationCategory")] * ATTEMPTS * 2
    reconcile(
        [latest],
        adapter=adapter,
        store=store,
        repair=True,
        recreate_deleted=True,
        retry=RetryPolicy.no_wait(max_attempts=ATTEMPTS),
    )
    emulator.script = []
    made = ticket(emulator).id  # the recreate's ticket exists
    assert store.get_many("hubspot", [complaint.id])[complaint.id].state is RecordState.FAILED
    listing = adapter.list_owned

    def lagging() -> Iterator[Any]:  # search has not seen the new ticket yet
        return (r for r in listing() if r.complaint_id != complaint.id)

    adapter.list_owned = lagging  # type: ignore[method-assign]
    reconcile([latest], adapter=adapter, store=store)
    del adapter.list_owned
    final = edited(complaint, summary="その後の変更")
    run(adapter, store, [final])

    state = store.get_many("hubspot", [complaint.id])[complaint.id].state
    assert "その後の変更" in ticket(emulator).properties["subject"], (
        f"change lost: the new ticket {made} exists, but a reconcile under search lag read the "
        f"old ticket id from the failed recreate's refs and marked the record {state.value}; "
        "sync now skips it"
    )


def test_one_batch_with_a_deleted_ticket_a_changed_one_and_a_new_one(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """Category changes on two known complaints (ticket and task bodies change), one of their
    tickets deleted in HubSpot, plus a new complaint, all in one batch: the deleted one's
    orphaned tasks are not written, the other two are whole, staff's close survives."""
    keep, gone = recent("HOSTILE-1"), recent("HOSTILE-2")
    run(adapter, store, [keep, gone])
    emulator.portal.archive("tickets", ticket(emulator, gone.id).id)
    emulator.portal.update("tickets", ticket(emulator, keep.id).id, {"hs_pipeline_stage": "4"})
    orphan_bodies = {k: t.properties["hs_task_body"] for k, t in tasks(emulator, gone.id).items()}
    new = recent("HOSTILE-3")
    batch = [edited(keep, category="product"), edited(gone, category="product"), new]

    summary = run(adapter, store, batch)

    assert (summary.created, summary.updated, summary.deleted_in_crm) == (1, 1, 1)
    assert summary.failed == 0 and summary.exit_code == 0
    held = ticket(emulator, keep.id).properties
    assert held["crm_category"] == "product" and held["hs_pipeline_stage"] == CLOSED_STAGE
    bodies = {k: t.properties["hs_task_body"] for k, t in tasks(emulator, keep.id).items()}
    assert all(b.startswith("販売製品") for b in bodies.values()), bodies
    assert {
        k: t.properties["hs_task_body"] for k, t in tasks(emulator, gone.id).items()
    } == orphan_bodies
    states = store.get_many("hubspot", [keep.id, gone.id, new.id])
    assert [states[c].state for c in (keep.id, gone.id, new.id)] == [
        RecordState.SYNCED,
        RecordState.DELETED,
        RecordState.SYNCED,
    ]
    assert ticket(emulator, new.id).properties["crm_complaint_id"] == new.id


def test_a_reopen_after_a_failed_run_is_not_undone_by_the_next_run(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """The source closes the complaint; the ticket update (stage: closed) goes through, every
    task write fails, the run ends failed. Staff see the closed ticket and reopen it. The next
    run has the same version to finish: it must write the tasks, not close the ticket again
    (our data has not changed since HubSpot took our close; the adapter knew the ticket was
    written when it reported the failure)."""
    first = recent()
    run(adapter, store, [first])
    done = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    closed = edited(first, status="closed", acknowledged_at=done, resolved_at=done)
    emulator.script = [(503, "hs_task_status")] * ATTEMPTS * 4  # creates and updates
    failed = run(adapter, store, [closed])
    emulator.script = []
    assert failed.failed == 1
    assert ticket(emulator).properties["hs_pipeline_stage"] == CLOSED_STAGE
    emulator.portal.update("tickets", ticket(emulator).id, {"hs_pipeline_stage": OPEN_STAGE})

    finished = run(adapter, store, [closed])

    assert finished.updated == 1
    assert ticket(emulator).properties["hs_pipeline_stage"] == OPEN_STAGE, (
        "staff edit overwritten: the retry of an unconfirmed version re-sent the stage HubSpot "
        "had already taken, closing the ticket staff reopened since (the ticket's new hashes "
        "are not recorded when the tasks fail)"
    )


def test_a_description_removed_at_the_source_is_cleared_in_hubspot(
    emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    """A clinic that opted in to sending descriptions removes one at the source (it named a
    patient): the ticket's ``content`` must be cleared, as the demand and risk flags are
    (``_risk_and_demand`` sends "" for them). Leaving it would keep personal data in HubSpot
    that the clinic removed."""
    from crm_complaints.config import DEFAULT_ALLOWED_FIELDS

    opted_in = make_adapter(emulator)
    opted_in.allowed_fields = (*DEFAULT_ALLOWED_FIELDS, "description")
    opted_in.setup()
    complaint = recent(description="受付で説明がなかった")
    run(opted_in, store, [complaint])
    assert ticket(emulator).properties.get("content") == "受付で説明がなかった"

    run(opted_in, store, [edited(complaint, description=None)])

    opted_in.close()
    assert not ticket(emulator).properties.get("content"), (
        "the removed description stays in HubSpot: Properties.ticket adds ``content`` only "
        "when there is a description, so removing it sends nothing"
    )


def test_staff_work_on_a_new_ticket_whose_first_sync_failed_survives_the_retry(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """A new complaint: the ticket is made, its tasks fail (503 every attempt), the run ends
    failed. The ticket is in HubSpot and staff start on it: they reassign it. The next run
    finishes the same version: it makes the tasks; it must not put the ticket's owner back."""
    complaint = recent()
    emulator.script = [(503, "hs_task_body")] * ATTEMPTS
    failed = run(adapter, store, [complaint])
    emulator.script = []
    assert failed.failed == 1 and not tasks(emulator)
    held = ticket(emulator)
    other = "102" if held.properties.get("hubspot_owner_id") != "102" else "101"
    emulator.portal.update("tickets", held.id, {"hubspot_owner_id": other})

    finished = run(adapter, store, [complaint])

    assert finished.failed == 0 and tasks(emulator)
    assert ticket(emulator).properties.get("hubspot_owner_id") == other, (
        "staff edit overwritten: the retry of a first sync that failed after the ticket upsert "
        "upserts the ticket again with every field (no refs, no hashes: new=True)"
    )


def test_tasks_follow_a_recreated_ticket_when_the_recreate_failed_part_way(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """``--recreate-deleted`` makes the new ticket, the writes of the surviving tasks fail
    (503 every attempt), the record is left ``failed``. The next sync finishes it: the tasks
    must end linked to the new ticket, even though none of their fields changed."""
    complaint = recent()
    run(adapter, store, [complaint])
    emulator.portal.archive("tickets", ticket(emulator).id)
    latest = edited(complaint, summary="削除後")
    run(adapter, store, [latest])
    # The surviving tasks have nothing new to write: what fails is relinking them.
    emulator.script = [(503, "associationCategory")] * ATTEMPTS * 2
    reconcile(
        [latest],
        adapter=adapter,
        store=store,
        repair=True,
        recreate_deleted=True,
        retry=RetryPolicy.no_wait(max_attempts=ATTEMPTS),
    )
    emulator.script = []
    assert store.get_many("hubspot", [complaint.id])[complaint.id].state is RecordState.FAILED

    finished = run(adapter, store, [latest])

    assert finished.failed == 0
    made = ticket(emulator).id
    linked = {
        kind: emulator.portal.associated("tasks", t.id, "tickets")
        for kind, t in tasks(emulator).items()
    }
    assert all(made in links for links in linked.values()), (
        f"tasks left without their ticket {made}: {linked}; the finishing sync compared the "
        "tasks with their old hashes, found nothing to write and so never relinked them "
        "(TaskWrites._link_known only looks at tasks it updates)"
    )


def test_a_due_date_moved_before_the_last_sync_is_still_put_back_by_repair(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """Due dates are ours by default: staff move the 2-hour call to tomorrow, then the
    every-few-minutes sync runs (nothing changed on our side), then the nightly
    ``reconcile --repair``. The moved date is drift and must be put back, not missed because
    the task changed before the last sync and is not yet overdue."""
    complaint = recent()
    run(adapter, store, [complaint])
    # Last night's reconciliation: the reading window of the next one starts here. (The first
    # reconciliation of a store reads from the last sync only: reading every task once would
    # cost ~3 requests per 100 tickets; see reconcile._tasks_window.)
    assert reconcile([complaint], adapter=adapter, store=store).findings == []
    planned = tasks(emulator)["initial_response"].properties["hs_timestamp"]
    moved = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="milliseconds")
    emulator.portal.update(
        "tasks",
        tasks(emulator)["initial_response"].id,
        {"hs_timestamp": moved.replace("+00:00", "Z")},
    )
    quiet = run(adapter, store, [complaint])
    assert quiet.unchanged == 1

    report = reconcile([complaint], adapter=adapter, store=store, repair=True)

    held = tasks(emulator)["initial_response"].properties["hs_timestamp"]
    assert held == planned, (
        f"drift missed: the first response's due date staff moved stays at {held} (planned "
        f"{planned}); findings {[(f.kind.value, f.field) for f in report.findings]}: reconcile "
        "lists only tasks overdue or changed since the last sync, and a sync ran in between"
    )
