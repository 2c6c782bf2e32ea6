"""Staff work in HubSpot too: what they change there survives our syncs and repairs (issue 16).

Each test syncs complaints into the emulator, plays a person editing HubSpot directly (the
emulator's portal, as HubSpot's UI would), changes the source, and checks what the next sync
or ``reconcile --repair`` did to the person's work.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crm_complaints.adapters.hubspot import HubSpotAdapter
from crm_complaints.cli import app
from crm_complaints.config import Settings
from crm_complaints.emulator import HubSpotEmulator
from crm_complaints.emulator.portal import StoredObject
from crm_complaints.errors import ConfigError
from crm_complaints.fields import FieldOwners
from crm_complaints.policy import Policy
from crm_complaints.reconcile import FindingKind, reconcile
from crm_complaints.retry import RetryPolicy
from crm_complaints.schema import Complaint
from crm_complaints.state import RecordState, SqlStateStore
from crm_complaints.sync import SyncSummary, sync
from tests.conftest import edited, make_complaint
from tests.hubspot_support import make_adapter
from tests.staff_support import opened_adapter

CLOSED_STAGE = "4"  # the demo portal's "Closed"


@pytest.fixture
def adapter(emulator: HubSpotEmulator) -> Iterator[HubSpotAdapter]:
    yield from opened_adapter(emulator)


def run(adapter: HubSpotAdapter, store: SqlStateStore, complaints: list[Complaint]) -> SyncSummary:
    return sync(
        complaints, adapter=adapter, store=store, policy=Policy(), retry=RetryPolicy.no_wait()
    )


def recent(**changes: Any) -> Complaint:
    """A complaint received ten minutes ago (its tasks are not yet due)."""
    received = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    return make_complaint(id="STAFF-1", received_at=received, **changes)


def ticket(emulator: HubSpotEmulator, complaint_id: str = "STAFF-1") -> StoredObject:
    return next(
        t
        for t in emulator.portal.live("tickets")
        if t.properties.get("crm_complaint_id") == complaint_id
    )


def task(emulator: HubSpotEmulator, kind: str, complaint_id: str = "STAFF-1") -> StoredObject:
    key = f"{complaint_id}:{kind}"
    return next(t for t in emulator.portal.live("tasks") if t.properties["crm_task_key"] == key)


class Spy:
    """The properties of every ticket and task update the adapter sends (SDK models)."""

    def __init__(self, adapter: HubSpotAdapter) -> None:
        self.updates: dict[str, list[dict[str, str]]] = {"tickets": [], "tasks": []}
        client = adapter.client
        original = client.call_json

        def spy(what: str, method: Any, **kwargs: Any) -> dict[str, Any]:
            batch = kwargs.get("batch_input_simple_public_object_batch_input")
            if batch is not None:
                kind = "tickets" if what == "update tickets" else "tasks"
                self.updates[kind] += [dict(i.properties) for i in batch.inputs]
            return original(what, method, **kwargs)

        client.call_json = spy  # type: ignore[method-assign]


def test_a_ticket_staff_closed_stays_closed_when_the_source_changes_something_else(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    complaint = recent()
    run(adapter, store, [complaint])
    emulator.portal.update("tickets", ticket(emulator).id, {"hs_pipeline_stage": CLOSED_STAGE})
    spy = Spy(adapter)

    summary = run(adapter, store, [edited(complaint, summary="説明が足りなかった(追記あり)")])

    assert summary.updated == 1
    held = ticket(emulator).properties
    assert held["hs_pipeline_stage"] == CLOSED_STAGE  # staff's close survives
    assert "追記あり" in held["subject"]  # our change arrived
    sent = spy.updates["tickets"][0]
    assert "hs_pipeline_stage" not in sent and "hs_pipeline" not in sent
    assert set(sent) == {"subject", "crm_complaint_id", "crm_version"}
    assert spy.updates["tasks"] == []  # no task changed: none written


def test_a_status_change_in_the_source_still_moves_the_stage(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    complaint = recent()
    run(adapter, store, [complaint])
    emulator.portal.update("tickets", ticket(emulator).id, {"hs_pipeline_stage": CLOSED_STAGE})
    acknowledged = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    run(adapter, store, [edited(complaint, status="investigating", acknowledged_at=acknowledged)])
    assert ticket(emulator).properties["hs_pipeline_stage"] == "3"  # "Waiting on us"


def test_reassignment_and_a_moved_due_date_survive_sync(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    complaint = recent()
    run(adapter, store, [complaint])
    held = ticket(emulator)
    other = "102" if held.properties.get("hubspot_owner_id") != "102" else "101"
    emulator.portal.update("tickets", held.id, {"hubspot_owner_id": other})
    call = task(emulator, "initial_response")
    moved = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="milliseconds")
    moved = moved.replace("+00:00", "Z")
    emulator.portal.update("tasks", call.id, {"hs_timestamp": moved})

    run(adapter, store, [edited(complaint, summary="別の要約")])

    assert ticket(emulator).properties["hubspot_owner_id"] == other
    assert task(emulator, "initial_response").properties["hs_timestamp"] == moved


def test_repair_puts_back_source_fields_and_leaves_staffs_own(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    complaint = recent()
    run(adapter, store, [complaint])
    held = ticket(emulator)
    priority = held.properties["hs_ticket_priority"]
    other = "102" if held.properties.get("hubspot_owner_id") != "102" else "101"
    emulator.portal.update(
        "tickets",
        held.id,
        {"hubspot_owner_id": other, "hs_ticket_priority": "LOW" if priority != "LOW" else "HIGH"},
    )
    now = datetime.now(UTC)

    report = reconcile([complaint], adapter=adapter, store=store, now=now, repair=True)

    assert {(f.kind, f.field) for f in report.findings} == {
        (FindingKind.DRIFTED, "priority"),
        (FindingKind.CHANGED_IN_CRM, "owner"),
    }
    assert report.repair is not None and report.repair.updated == 1
    after = ticket(emulator).properties
    assert after["hs_ticket_priority"] == priority  # ours: put back
    assert after["hubspot_owner_id"] == other  # staff's: kept
    again = reconcile([complaint], adapter=adapter, store=store, now=now)
    assert [f.kind for f in again.findings] == [FindingKind.CHANGED_IN_CRM]
    assert again.exit_code == 0  # information only


def test_a_moved_due_date_is_put_back_by_repair_unless_staff_own_due_dates(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    complaint = recent()
    run(adapter, store, [complaint])
    planned = task(emulator, "initial_response").properties["hs_timestamp"]
    moved = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="milliseconds")
    moved = moved.replace("+00:00", "Z")
    emulator.portal.update("tasks", task(emulator, "initial_response").id, {"hs_timestamp": moved})
    now = datetime.now(UTC)

    # Default: due dates are ours (the 2-hour call is the point of the product).
    report = reconcile([complaint], adapter=adapter, store=store, now=now, repair=True)
    assert [(f.kind, f.field) for f in report.findings] == [
        (FindingKind.DRIFTED, "task_due:initial_response")
    ]
    assert task(emulator, "initial_response").properties["hs_timestamp"] == planned

    # With task_due = "create", the moved date is staff's: reported, kept.
    emulator.portal.update("tasks", task(emulator, "initial_response").id, {"hs_timestamp": moved})
    adapter.field_owners = FieldOwners({"task_due": "create"})
    report = reconcile([complaint], adapter=adapter, store=store, now=now, repair=True)
    assert [(f.kind, f.field) for f in report.findings] == [
        (FindingKind.CHANGED_IN_CRM, "task_due:initial_response")
    ]
    assert report.repair is None
    assert task(emulator, "initial_response").properties["hs_timestamp"] == moved


def test_a_postponed_call_that_repair_puts_back_is_overdue_by_our_due_date(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """Staff postpone the 2-hour call in HubSpot by five days. A day later ``reconcile
    --repair`` puts our due date back, so the call is late by ours: overdue, beside the drift.
    It was judged by the date repair had just replaced: not overdue, and the page counted no
    late call. With ``task_due = "create"`` staff's date stays, and it counts."""
    complaint = recent()
    run(adapter, store, [complaint])
    moved = (datetime.now(UTC) + timedelta(days=5)).isoformat(timespec="milliseconds")
    emulator.portal.update(
        "tasks",
        task(emulator, "initial_response").id,
        {"hs_timestamp": moved.replace("+00:00", "Z")},
    )
    later = datetime.now(UTC) + timedelta(days=1)

    report = reconcile([complaint], adapter=adapter, store=store, now=later, repair=True)
    found = {(f.kind, f.field) for f in report.findings}
    assert (FindingKind.DRIFTED, "task_due:initial_response") in found
    assert (FindingKind.OVERDUE, "initial_response") in found

    adapter.field_owners = FieldOwners({"task_due": "create"})
    emulator.portal.update(
        "tasks",
        task(emulator, "initial_response").id,
        {"hs_timestamp": moved.replace("+00:00", "Z")},
    )
    report = reconcile([complaint], adapter=adapter, store=store, now=later, repair=True)
    found = {(f.kind, f.field) for f in report.findings}
    assert (FindingKind.CHANGED_IN_CRM, "task_due:initial_response") in found
    assert (FindingKind.OVERDUE, "initial_response") not in found


def test_a_crm_owned_field_is_written_once_and_never_again(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    adapter.field_owners = FieldOwners({"subject": "crm"})
    complaint = recent()
    run(adapter, store, [complaint])
    assert "受付の説明" in ticket(emulator).properties["subject"]  # set at creation
    emulator.portal.update("tickets", ticket(emulator).id, {"subject": "staff wording"})
    changed = edited(complaint, summary="新しい要約", severity="high")
    run(adapter, store, [changed])
    assert ticket(emulator).properties["subject"] == "staff wording"
    assert ticket(emulator).properties["hs_ticket_priority"] == "HIGH"  # ours still moves
    report = reconcile([changed], adapter=adapter, store=store, now=datetime.now(UTC))
    assert [(f.kind, f.field) for f in report.findings] == [(FindingKind.CHANGED_IN_CRM, "subject")]
    assert report.exit_code == 0


def test_a_ticket_deleted_in_hubspot_is_left_deleted_by_sync(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    keep = recent()
    gone = make_complaint(id="STAFF-2", received_at=keep.received_at.isoformat())
    run(adapter, store, [keep, gone])
    emulator.portal.archive("tickets", ticket(emulator, "STAFF-2").id)

    summary = run(adapter, store, [edited(keep, summary="a"), edited(gone, summary="b")])

    assert (summary.updated, summary.deleted_in_crm, summary.failed) == (1, 1, 0)
    assert summary.exit_code == 0
    assert "STAFF-2" not in {
        t.properties["crm_complaint_id"] for t in emulator.portal.live("tickets")
    }
    assert store.get_many("hubspot", ["STAFF-2"])["STAFF-2"].state is RecordState.DELETED
    calls = adapter.calls
    later = run(adapter, store, [edited(keep, summary="a"), edited(gone, summary="c")])
    assert later.deleted_in_crm == 1 and adapter.calls == calls  # not even asked again


def test_an_update_after_an_upgrade_sends_everything_once_then_only_changes(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    complaint = recent()
    run(adapter, store, [complaint])
    with store.engine.begin() as conn:  # as a store written before field hashes existed
        conn.exec_driver_sql("UPDATE records SET sent = NULL")
    spy = Spy(adapter)
    run(adapter, store, [edited(complaint, summary="一回目")])
    assert "hs_pipeline_stage" in spy.updates["tickets"][0]
    assert len(spy.updates["tasks"]) == len(Policy().plan(complaint).tasks)
    run(adapter, store, [edited(complaint, summary="二回目")])
    assert set(spy.updates["tickets"][1]) == {"subject", "crm_complaint_id", "crm_version"}
    assert len(spy.updates["tasks"]) == len(Policy().plan(complaint).tasks)  # none more


def test_field_owners_name_known_fields() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        Settings.model_validate({"sync": {"fields": {"stagee": "create"}}})
    with pytest.raises(ValueError):
        Settings.model_validate({"sync": {"fields": {"stage": "sometimes"}}})
    settings = Settings.model_validate({"sync": {"fields": {"task_due": "create"}}})
    assert settings.sync.field_owners().of("task_due").value == "create"
    assert settings.sync.field_owners().of("subject").value == "source"


def test_cli_recreate_deleted_goes_with_repair(tmp_path: Path) -> None:
    source = tmp_path / "complaints.jsonl"
    source.write_text(recent().model_dump_json() + "\n", encoding="utf-8")
    answer = CliRunner().invoke(
        app, ["reconcile", "--source", str(source), "--adapter", "hubspot", "--recreate-deleted"]
    )
    assert answer.exit_code == 2 and "--recreate-deleted goes with --repair" in answer.output


def test_field_owners_per_adapter_override_the_sync_section(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-test")
    settings = Settings.model_validate(
        {
            "sync": {"fields": {"task_due": "create", "subject": "crm"}},
            "adapters": {"hubspot": {"field_owners": {"subject": "source"}}},
        }
    )
    adapter = HubSpotAdapter.from_settings(settings)
    assert adapter.field_owners.of("task_due").value == "create"  # from [sync.fields]
    assert adapter.field_owners.of("subject").value == "source"  # the adapter's own wins
    wrong = Settings.model_validate({"adapters": {"hubspot": {"field_owners": {"stagee": "crm"}}}})
    with pytest.raises(ConfigError) as raised:
        HubSpotAdapter.from_settings(wrong)
    assert raised.value.key == "adapters.hubspot.field_owners" and "stagee" in str(raised.value)


def test_a_category_staff_changed_is_drift_and_repair_puts_it_back(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    complaint = recent()
    run(adapter, store, [complaint])
    emulator.portal.update("tickets", ticket(emulator).id, {"crm_category": "product"})
    now = datetime.now(UTC)
    report = reconcile([complaint], adapter=adapter, store=store, now=now, repair=True)
    assert [(f.kind, f.field, f.ours, f.theirs) for f in report.findings] == [
        (FindingKind.DRIFTED, "category", "service_attitude", "product")
    ]
    assert ticket(emulator).properties["crm_category"] == "service_attitude"


def test_reminders_switched_off_later_leave_the_written_ones_alone(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """A value left out by settings is not a value removed at the source: only removed free
    text (the description) is cleared."""
    complaint = recent()
    run(adapter, store, [complaint])
    before = dict(task(emulator, "initial_response").properties)
    assert before["hs_task_reminders"]
    quiet = make_adapter(emulator, reminders=False)
    run(quiet, store, [edited(complaint, category="product")])  # task bodies change
    after = task(emulator, "initial_response").properties
    assert after["hs_task_body"] != before["hs_task_body"]  # the task was written
    assert after["hs_task_reminders"] == before["hs_task_reminders"]
