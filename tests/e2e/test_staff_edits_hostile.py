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
from crm_complaints.errors import TransientError
from crm_complaints.receiver import WebhookReceiver, running_receiver
from crm_complaints.reconcile import FindingKind, reconcile
from crm_complaints.retry import RetryPolicy
from crm_complaints.state import RecordState, SqlStateStore
from crm_complaints.sync import sync
from tests.conftest import edited
from tests.hubspot_support import make_adapter
from tests.staff_support import (
    ATTEMPTS,
    CLOSED_STAGE,
    OPEN_STAGE,
    answer_lost_on,
    opened_adapter,
    recent,
    restore,
    run,
    tasks,
    ticket,
)

# -- a change that must not be lost ------------------------------------------------------------


@pytest.fixture
def adapter(emulator: HubSpotEmulator) -> Iterator[HubSpotAdapter]:
    yield from opened_adapter(emulator)


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
