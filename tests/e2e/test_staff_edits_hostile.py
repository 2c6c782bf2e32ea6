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
from crm_complaints.adapters.webhook import WebhookAdapter, WebhookConfig
from crm_complaints.emulator import HubSpotEmulator
from crm_complaints.emulator.portal import StoredObject
from crm_complaints.errors import TransientError
from crm_complaints.policy import Policy
from crm_complaints.receiver import WebhookReceiver, running_receiver
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


def answer_lost_on(adapter: HubSpotAdapter, request: str) -> list[int]:
    """Every request named ``request`` reaches HubSpot and is applied, but its answer never
    comes back (a timeout after the write): the client sees a transient error. Returns a
    list that grows by one per such request."""
    client = adapter.client
    original = client.call_json
    applied: list[int] = []

    def lossy(what: str, method: Any, **kwargs: Any) -> dict[str, Any]:
        answer = original(what, method, **kwargs)
        if what == request:
            applied.append(1)
            raise TransientError(f"{what}: read timed out", adapter="hubspot")
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

    def spy(what: str, method: Any, **kwargs: Any) -> dict[str, Any]:
        batch = kwargs.get("batch_input_simple_public_object_batch_input")
        if batch is not None and what == "update tickets":
            writes.extend(dict(i.properties) for i in batch.inputs)
        return original(what, method, **kwargs)

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


# -- an owner who left -------------------------------------------------------------------------


def deactivate(emulator: HubSpotEmulator, owner_id: str) -> None:
    """The user leaves the clinic: HubSpot lists them only with ``archived=true``."""
    emulator.portal.owners = [
        replace(o, archived=True) if o.id == owner_id else o for o in emulator.portal.owners
    ]


def fresh_adapter(emulator: HubSpotEmulator) -> HubSpotAdapter:
    """The next night's process: it reads the portal's owners anew."""
    made = make_adapter(emulator)
    made.setup()
    return made


def staff_take_over_from_a_leaver(emulator: HubSpotEmulator) -> tuple[str, str]:
    """The first response's owner leaves; staff give the ticket and that task to a colleague
    before we notice. Returns (the leaver, the colleague)."""
    call = tasks(emulator)["initial_response"]
    leaver = call.properties["hubspot_owner_id"]
    colleague = next(o for o in ("101", "102", "103") if o != leaver)
    emulator.portal.update("tasks", call.id, {"hubspot_owner_id": colleague})
    emulator.portal.update("tickets", ticket(emulator).id, {"hubspot_owner_id": colleague})
    deactivate(emulator, leaver)
    return leaver, colleague


def test_a_task_staff_reassigned_away_from_a_leaver_stays_with_the_colleague_on_sync(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """Owner is a ``create`` field: only a change in *our* data moves it. An owner leaving is
    not a change in our data, and staff already gave the work to someone."""
    complaint = recent()
    run(adapter, store, [complaint])
    leaver, colleague = staff_take_over_from_a_leaver(emulator)
    later = fresh_adapter(emulator)

    run(later, store, [edited(complaint, summary="追記: 電話済み")])

    later.close()
    owners = (
        ticket(emulator).properties.get("hubspot_owner_id"),
        tasks(emulator)["initial_response"].properties.get("hubspot_owner_id"),
    )
    assert owners == (colleague, colleague), (
        f"staff edit overwritten: owner {leaver} left, staff gave the ticket and the first "
        f"response to {colleague}; an unrelated summary edit moved them to the fallback "
        f"(ticket, task) = {owners}: the owner's hash changed because the *fallback* changed, "
        "not our data"
    )


def test_owner_fallback_repair_leaves_work_staff_already_reassigned(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """Repair of an owner fallback moves tasks that still sit with the leaver; a task staff
    already gave to a colleague is not the leaver's any more."""
    complaint = recent()
    run(adapter, store, [complaint])
    _, colleague = staff_take_over_from_a_leaver(emulator)
    later = fresh_adapter(emulator)

    report = reconcile([complaint], adapter=later, store=store, repair=True)

    later.close()
    assert report.of(FindingKind.OWNER_FALLBACK), "the leaver's routing is reported"
    held = tasks(emulator)["initial_response"].properties.get("hubspot_owner_id")
    assert held == colleague, (
        f"staff edit overwritten: reconcile --repair (owner fallback) moved the first response "
        f"staff had given to {colleague} to {held}"
    )
    assert ticket(emulator).properties.get("hubspot_owner_id") == colleague


def test_owner_fallback_repair_moves_tasks_still_with_the_leaver(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """The documented purpose of the fallback repair: work nobody touched leaves the leaver."""
    complaint = recent()
    run(adapter, store, [complaint])
    leaver = tasks(emulator)["initial_response"].properties["hubspot_owner_id"]
    deactivate(emulator, leaver)
    later = fresh_adapter(emulator)

    reconcile([complaint], adapter=later, store=store, repair=True)

    later.close()
    held = {k: t.properties.get("hubspot_owner_id") for k, t in tasks(emulator).items()}
    assert leaver not in held.values() and all(held.values())


# -- deleted, restored, recreated --------------------------------------------------------------


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


# -- there and back ----------------------------------------------------------------------------


def test_a_field_we_sent_b_staff_edited_then_we_go_back_to_a_is_sent(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """A → B (confirmed) → staff write C → we go back to A: A is a change on our side (its
    hash differs from B's), so it goes, and the staff's C gives way on a ``source`` field."""
    first = recent(summary="要約A")
    run(adapter, store, [first])
    run(adapter, store, [edited(first, summary="要約B")])
    emulator.portal.update("tickets", ticket(emulator).id, {"subject": "staff wording C"})
    emulator.portal.update("tickets", ticket(emulator).id, {"hs_pipeline_stage": CLOSED_STAGE})

    run(adapter, store, [first])

    held = ticket(emulator).properties
    assert "要約A" in held["subject"]
    assert held["hs_pipeline_stage"] == CLOSED_STAGE  # not ours to move: we did not change it


def test_a_status_we_closed_staff_reopened_and_we_reopen_again_is_sent(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """Stage is ``create``: open → we close (sent) → staff reopen → our source reopens too:
    our data changed, the stage moves (here to where staff put it anyway), and nothing is
    stuck: a second close from the source closes the ticket again."""
    first = recent()
    run(adapter, store, [first])
    done = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    closed = edited(first, status="closed", acknowledged_at=done, resolved_at=done)
    run(adapter, store, [closed])
    assert ticket(emulator).properties["hs_pipeline_stage"] == CLOSED_STAGE
    emulator.portal.update("tickets", ticket(emulator).id, {"hs_pipeline_stage": OPEN_STAGE})
    run(adapter, store, [first])
    assert ticket(emulator).properties["hs_pipeline_stage"] != CLOSED_STAGE
    run(adapter, store, [closed])
    assert ticket(emulator).properties["hs_pipeline_stage"] == CLOSED_STAGE


def test_a_change_back_after_a_crash_between_write_and_record_reaches_hubspot(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """The write-ahead path: B is written, the process dies before recording it (the record
    stays ``pending`` with A's hashes), the source goes back to A. HubSpot must end at A."""
    first = recent(summary="要約A")
    run(adapter, store, [first])
    recording = store.record_results

    def killed(*_: Any, **__: Any) -> None:
        raise RuntimeError("SIGKILL stand-in: the process died before recording")

    store.record_results = killed  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        run(adapter, store, [edited(first, summary="要約B")])
    store.record_results = recording  # type: ignore[method-assign]
    record = store.get_many("hubspot", [first.id])[first.id]
    assert record.state is RecordState.PENDING and "要約B" in ticket(emulator).properties["subject"]

    run(adapter, store, [first])

    assert "要約A" in ticket(emulator).properties["subject"], (
        "change lost: crash after writing B, source back to A; the pending record's hashes "
        "are A's (the last confirmed), so nothing is sent and HubSpot keeps B"
    )


# -- repair ------------------------------------------------------------------------------------


def test_repair_with_unsynced_local_changes_sends_them_and_keeps_staff_owned_fields(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """Staff change priority (ours) and close the ticket (theirs); the source meanwhile
    changed the summary, not yet synced. Repair pushes the new version: our summary arrives,
    our priority is put back, staff's close stays."""
    complaint = recent()
    run(adapter, store, [complaint])
    held = ticket(emulator)
    priority = held.properties["hs_ticket_priority"]
    emulator.portal.update(
        "tickets",
        held.id,
        {
            "hs_ticket_priority": "LOW" if priority != "LOW" else "HIGH",
            "hs_pipeline_stage": CLOSED_STAGE,
        },
    )
    changed = edited(complaint, summary="まだ同期していない要約")

    report = reconcile([changed], adapter=adapter, store=store, repair=True)

    assert report.repair is not None and report.repair.updated == 1
    after = ticket(emulator).properties
    assert "まだ同期していない要約" in after["subject"]
    assert after["hs_ticket_priority"] == priority
    assert after["hs_pipeline_stage"] == CLOSED_STAGE
    assert [f.kind for f in report.findings].count(FindingKind.STATUS_MOVED) == 1


def test_repair_with_staff_owned_due_dates_moves_no_due_date_even_when_forced(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """``task_due = "create"``: a complaint repaired for another reason (priority drift) is
    pushed with ``repair``; the due date staff moved must not go back with it."""
    from crm_complaints.fields import FieldOwners

    adapter.field_owners = FieldOwners({"task_due": "create"})
    complaint = recent()
    run(adapter, store, [complaint])
    call = tasks(emulator)["initial_response"]
    moved = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="milliseconds")
    moved = moved.replace("+00:00", "Z")
    emulator.portal.update("tasks", call.id, {"hs_timestamp": moved})
    held = ticket(emulator)
    priority = held.properties["hs_ticket_priority"]
    emulator.portal.update(
        "tickets", held.id, {"hs_ticket_priority": "LOW" if priority != "LOW" else "HIGH"}
    )

    report = reconcile([complaint], adapter=adapter, store=store, repair=True)

    assert report.repair is not None and report.repair.updated == 1
    assert ticket(emulator).properties["hs_ticket_priority"] == priority
    assert tasks(emulator)["initial_response"].properties["hs_timestamp"] == moved


def test_a_stale_finding_repairs_without_undoing_staff_work(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """The CRM holds another version than the store says (someone restored an old copy of
    the version marker): repair re-pushes, staff's close and reassignment stay."""
    complaint = recent()
    run(adapter, store, [complaint])
    held = ticket(emulator)
    other = "102" if held.properties.get("hubspot_owner_id") != "102" else "101"
    emulator.portal.update(
        "tickets",
        held.id,
        {"crm_version": "0" * 16, "hs_pipeline_stage": CLOSED_STAGE, "hubspot_owner_id": other},
    )

    report = reconcile([complaint], adapter=adapter, store=store, repair=True)

    assert FindingKind.STALE in {f.kind for f in report.findings}
    after = ticket(emulator).properties
    assert after["crm_version"] != "0" * 16
    assert (after["hs_pipeline_stage"], after.get("hubspot_owner_id")) == (CLOSED_STAGE, other)


# -- the webhook's changed_fields ---------------------------------------------------------------


@pytest.fixture
def receiver(webhook_secret: str) -> Iterator[WebhookReceiver]:
    with running_receiver(webhook_secret) as server:
        yield server


def webhook(receiver: WebhookReceiver) -> WebhookAdapter:
    return WebhookAdapter(WebhookConfig.model_validate({"url": receiver.url}))


def delivered(receiver: WebhookReceiver, complaint_id: str) -> list[dict[str, Any]]:
    ids = receiver.state.events_per_complaint[complaint_id]
    return [receiver.state.accepted[i] for i in ids]


def test_changed_fields_are_the_same_after_a_retried_delivery(
    receiver: WebhookReceiver, store: SqlStateStore
) -> None:
    """The receiver answers 503 twice, then takes the event: what it gets names the same
    changed fields as a first-time delivery would (the retry compares with the last
    *confirmed* delivery, not with the attempt that failed)."""
    first = recent()
    with webhook(receiver) as adapter:
        sync([first], adapter=adapter, store=store, retry=RetryPolicy.no_wait())
        receiver.script[first.id] = [503, 503]
        summary = sync(
            [edited(first, category="product")],
            adapter=adapter,
            store=store,
            retry=RetryPolicy.no_wait(),
        )
    assert (summary.updated, summary.failed) == (1, 0)
    _, update = delivered(receiver, first.id)
    changed = update["data"]["changed_fields"]
    assert "category" in changed and "summary" not in changed


def test_changed_fields_after_an_unconfirmed_delivery_name_the_change_back(
    receiver: WebhookReceiver, store: SqlStateStore
) -> None:
    """A → B delivered, but the receiver's answer was lost (the run ends failed) → back to A.
    The receiver holds B, so A's event must list ``category`` as changed; a receiver applying
    only ``changed_fields`` would otherwise keep B."""
    first = recent(category="service_attitude")
    with webhook(receiver) as adapter:
        sync([first], adapter=adapter, store=store, retry=RetryPolicy.no_wait())
        post = adapter.request

        def answer_lost(*args: Any, **kwargs: Any) -> Any:
            post(*args, **kwargs).close()  # the receiver took it
            raise TransientError("read timed out", adapter="webhook")

        adapter.request = answer_lost  # type: ignore[method-assign]
        failed = sync(
            [edited(first, category="product")],
            adapter=adapter,
            store=store,
            retry=RetryPolicy.no_wait(max_attempts=1),
        )
        del adapter.request
        assert failed.failed == 1
        sync([first], adapter=adapter, store=store, retry=RetryPolicy.no_wait())
    events = delivered(receiver, first.id)
    assert events[-2]["data"]["complaint"]["category"] == "product"  # the receiver got B
    last = events[-1]["data"]
    assert last["complaint"]["category"] == "service_attitude"
    assert "category" in last.get("changed_fields", []), (
        "changed_fields after an unconfirmed delivery of B compare A with A (the last "
        f"confirmed) and miss the change back: {last.get('changed_fields')}"
    )


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
    # cost ~3 requests per 100 tickets; see reconcile._reading_window.)
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
