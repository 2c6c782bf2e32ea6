"""The audit trail against the HubSpot emulator: a row per remote write (issue 15), each naming
its operation (create / update / link) and object with the ids HubSpot gave it, and only what
a push wrote (issue 16: unchanged tasks are not sent, so they have no row)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from crm_complaints.adapters.hubspot import HubSpotAdapter
from crm_complaints.audit import AuditRow, audit_log, history, verify
from crm_complaints.cli import app
from crm_complaints.emulator import HubSpotEmulator
from crm_complaints.reconcile import reconcile
from crm_complaints.state import RecordState, SqlStateStore, open_store
from tests.conftest import edited
from tests.hubspot_support import make_adapter
from tests.staff_support import ATTEMPTS, opened_adapter, recent, run, tasks, ticket


@pytest.fixture
def adapter(emulator: HubSpotEmulator) -> Iterator[HubSpotAdapter]:
    """With contacts on: a push then writes every kind of object and link it can."""
    yield from opened_adapter(emulator, contacts=True)


def rows_of(store: SqlStateStore, revision: int, complaint_id: str = "HOSTILE-1") -> list[AuditRow]:
    return [r for r in history(store.engine, complaint_id) if r.revision == revision]


def what(rows: list[AuditRow]) -> list[tuple[str, str | None, dict[str, str]]]:
    return [(r.operation, r.object, r.remote_ids) for r in rows]


def canonical(write: tuple[str, str | None, dict[str, str]]) -> str:
    operation, name, ids = write
    return f"{operation} {name} {sorted(ids.items())}"


def test_a_first_sync_records_the_ticket_contact_each_task_and_each_link(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    complaint = recent()
    summary = run(adapter, store, [complaint])

    made = ticket(emulator).id
    contact = next(iter(emulator.portal.live("contacts"))).id
    expected = [
        ("create", "ticket", {"ticket": made}),
        ("create", "contact", {"contact": contact}),
        ("link", "association", {"ticket": made, "contact": contact}),
    ]
    for kind, task in tasks(emulator).items():  # each task is created with its links inline
        key = f"task:{kind}"
        expected.append(("create", key, {key: task.id, "ticket": made, "contact": contact}))
    rows = history(store.engine, complaint.id)
    assert sorted(map(canonical, what(rows))) == sorted(map(canonical, expected))
    assert len(rows) == 3 + 6
    assert {(r.run_id, r.revision, r.trigger, r.outcome) for r in rows} == {
        (summary.run_id, 1, "sync", "synced")
    }
    with store.engine.connect() as conn:
        dump = json.dumps([list(r) for r in conn.execute(sa.select(audit_log))], default=str)
    assert complaint.customer is not None
    for value in (complaint.summary, complaint.customer.email, complaint.customer.name):
        assert value and value not in dump


def test_later_revisions_record_only_what_they_wrote(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """A new summary changes the ticket only: the tasks are not sent and have no row (the
    contact is upserted on every push, so it has one). A new status changes the tasks too:
    updates in place, nothing created, nothing linked again."""
    complaint = recent()
    run(adapter, store, [complaint])
    made, contact = ticket(emulator).id, next(iter(emulator.portal.live("contacts"))).id

    run(adapter, store, [edited(complaint, summary="説明を追加")])
    assert what(rows_of(store, 2)) == [
        ("update", "ticket", {"ticket": made}),
        ("update", "contact", {"contact": contact}),
    ]

    before = {kind: task.updated_at for kind, task in tasks(emulator).items()}
    run(adapter, store, [edited(complaint, summary="説明を追加", status="resolving")])
    third = rows_of(store, 3)
    assert {r.operation for r in third} == {"update"}
    changed = {kind for kind, task in tasks(emulator).items() if task.updated_at != before[kind]}
    assert changed and {r.object for r in third} == {"ticket", "contact"} | {
        f"task:{kind}" for kind in changed
    }
    assert all(r.ok for r in verify(store.engine))


def test_a_ticket_deleted_in_hubspot_and_recreated_shows_the_creates(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """Staff delete the ticket and one task; the next change is left alone (one row: deleted);
    ``--recreate-deleted`` then creates a ticket and the missing task, and relinks the tasks
    that survived to the new ticket. (The change touches every task: a deleted task with
    nothing to write is not found gone, and its relink to the new ticket is refused.)"""
    complaint = recent()
    run(adapter, store, [complaint])
    old_ticket = ticket(emulator).id
    contact = next(iter(emulator.portal.live("contacts"))).id
    gone_kind, gone = next(iter(tasks(emulator).items()))
    emulator.portal.archive("tickets", old_ticket)
    emulator.portal.archive("tasks", gone.id)
    latest = edited(complaint, summary="削除後の変更", severity="high")
    run(adapter, store, [latest])
    assert what(rows_of(store, 2)) == [("update", "complaint", {})]
    assert rows_of(store, 2)[0].outcome == "deleted"

    reconcile([latest], adapter=adapter, store=store, repair=True, recreate_deleted=True)

    assert store.get_many("hubspot", [complaint.id])[complaint.id].state is RecordState.SYNCED
    new_ticket, remade = ticket(emulator).id, tasks(emulator)[gone_kind].id
    assert new_ticket != old_ticket and remade != gone.id
    rows = rows_of(store, 2)[1:]  # the same revision, written this time
    creates = [(r.object, r.remote_ids) for r in rows if r.operation == "create"]
    assert creates == [
        ("ticket", {"ticket": new_ticket}),
        (
            f"task:{gone_kind}",
            {f"task:{gone_kind}": remade, "ticket": new_ticket, "contact": contact},
        ),
    ]
    to_ticket = {  # the new task by its create (links inline), the others by a link each
        key
        for r in rows
        if r.operation in ("create", "link") and r.remote_ids.get("ticket") == new_ticket
        for key in r.remote_ids
        if key.startswith("task:")
    }
    assert to_ticket == {f"task:{kind}" for kind in tasks(emulator)}  # every task follows
    assert {r.trigger for r in rows} == {"repair"}
    assert all(r.ok for r in verify(store.engine))


def test_a_push_that_failed_part_way_records_what_did_reach_hubspot(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """The ticket is made, then every attempt at the tasks fails (503): the ticket's create is
    in the trail, with a row per attempt saying the complaint was left to retry, then failed;
    the next run creates the tasks."""
    complaint = recent()
    emulator.script = [(503, "crm_task_key")] * ATTEMPTS
    run(adapter, store, [complaint])
    emulator.script = []
    made = ticket(emulator).id
    contact = next(iter(emulator.portal.live("contacts"))).id

    first = [(r.operation, r.object, r.outcome) for r in history(store.engine, complaint.id)]
    assert first == [
        ("create", "ticket", "retry"),
        ("create", "contact", "retry"),
        ("link", "association", "retry"),
        ("create", "complaint", "retry"),
        ("update", "contact", "retry"),  # the second attempt upserts the contact again
        ("create", "complaint", "retry"),
        ("create", "complaint", "failed"),
    ]
    assert history(store.engine, complaint.id)[0].remote_ids == {"ticket": made}

    run(adapter, store, [complaint])
    again = rows_of(store, 1)[len(first) :]
    assert {r.outcome for r in again} == {"synced"}
    assert sorted(r.object for r in again if r.operation == "create") == sorted(
        f"task:{kind}" for kind in tasks(emulator)
    )
    assert ("update", "ticket", {"ticket": made}) in what(again)
    assert ("update", "contact", {"contact": contact}) in what(again)
    assert all(r.ok for r in verify(store.engine))


def test_history_shows_the_objects_and_verify_catches_an_edited_row(
    emulator: HubSpotEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_COMPLAINTS_STATE__PATH", str(tmp_path / "cli.db"))
    store = open_store(tmp_path / "cli.db")
    with make_adapter(emulator) as adapter:
        adapter.setup()
        run(adapter, store, [recent()])
    task_row = next(r for r in history(store.engine, "HOSTILE-1") if r.object != "ticket")
    store.close()
    runner = CliRunner()

    shown = runner.invoke(app, ["history", "HOSTILE-1", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    writes = json.loads(shown.output)["writes"]
    assert writes[0]["operation"] == "create" and writes[0]["object"] == "ticket"
    assert {w["object"] for w in writes} >= {"ticket", task_row.object}
    created_task = next(w for w in writes if w["object"] == task_row.object)
    assert created_task["remote_ids"] == {task_row.object: task_row.remote_ids[task_row.object],
                                          "ticket": writes[0]["remote_ids"]["ticket"]}  # fmt: skip
    text = runner.invoke(app, ["history", "HOSTILE-1"]).output
    assert "create ticket (sync)" in text and f"create {task_row.object} (sync)" in text
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0

    for forged in ("ticket", None):  # said it wrote something else; or hid what it wrote
        opened = open_store(tmp_path / "cli.db")
        with opened.engine.begin() as conn:
            conn.execute(
                audit_log.update().where(audit_log.c.id == task_row.id).values(object=forged)
            )
        opened.close()
        broken = runner.invoke(app, ["audit", "verify"])
        assert broken.exit_code == 5
        assert f"row {task_row.id}" in broken.output and "edited" in broken.output
