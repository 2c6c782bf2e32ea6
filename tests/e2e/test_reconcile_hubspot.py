"""End to end: sync 200 complaints, break HubSpot in six ways, reconcile, repair, reconcile."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from crm_complaints.cli import app
from crm_complaints.emulator import HubSpotEmulator
from crm_complaints.policy import Policy
from crm_complaints.reconcile import FindingKind, reconcile
from crm_complaints.retry import RetryPolicy
from crm_complaints.schema import Complaint
from crm_complaints.state import SqlStateStore
from crm_complaints.sync import sync
from tests.conftest import edited, realistic_complaints
from tests.hubspot_support import OWNERS, assert_exactly_once, make_adapter


def complaints_at(now: datetime) -> list[Complaint]:
    """200 complaints received 10 minutes ago; 6 of them 3 hours ago (first response late)."""
    recent = (now - timedelta(minutes=10)).isoformat()
    late = (now - timedelta(hours=3)).isoformat()
    result = []
    for index, complaint in enumerate(realistic_complaints(200, prefix="REC")):
        received = late if index in LATE else recent
        result.append(edited(complaint, received_at=received))
    return result


LATE = {10, 20, 30, 40, 50, 60}
DELETED = [1, 2, 3, 4, 5]
REPRIORITIZED = [101, 102, 103, 104, 105, 106, 107]
REASSIGNED = [111, 112, 113]
CLOSED = [121, 122, 123, 124]


def cid(index: int) -> str:
    return f"REC-{index:04d}"


def break_the_crm(emulator: HubSpotEmulator) -> None:
    portal = emulator.portal
    tickets = {t.properties["crm_complaint_id"]: t for t in portal.live("tickets")}
    for index in DELETED:
        portal.archive("tickets", tickets[cid(index)].id)
    for index in REPRIORITIZED:
        current = tickets[cid(index)].properties["hs_ticket_priority"]
        portal.update(
            "tickets",
            tickets[cid(index)].id,
            {"hs_ticket_priority": "LOW" if current != "LOW" else "HIGH"},
        )
    for index in REASSIGNED:
        current = tickets[cid(index)].properties.get("hubspot_owner_id")
        portal.update(
            "tickets",
            tickets[cid(index)].id,
            {"hubspot_owner_id": "102" if current != "102" else "101"},
        )
    for index in CLOSED:
        portal.update("tickets", tickets[cid(index)].id, {"hs_pipeline_stage": "4"})
    for orphan in ("REC-GHOST-1", "REC-GHOST-2"):
        portal.create(
            "tickets",
            {
                "subject": "ghost",
                "hs_pipeline": "0",
                "hs_pipeline_stage": "1",
                "crm_complaint_id": orphan,
            },
        )
    # Someone did the two reports of the late complaints in the CRM; the calls are still due.
    for task in portal.live("tasks"):
        key = task.properties["crm_task_key"]
        complaint, _, kind = key.rpartition(":")
        if complaint in {cid(i) for i in LATE} and kind.startswith("report_"):
            portal.update("tasks", task.id, {"hs_task_status": "COMPLETED"})


def test_reconcile_finds_exactly_what_broke_then_repairs_it(
    emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    now = datetime.now(UTC)
    complaints = complaints_at(now)
    adapter = make_adapter(emulator)
    adapter.setup()
    first = sync(
        complaints, adapter=adapter, store=store, policy=Policy(), retry=RetryPolicy.no_wait()
    )
    assert first.created == 200
    in_sync = reconcile(complaints, adapter=adapter, store=store, now=now - timedelta(hours=4))
    assert in_sync.findings == [] and in_sync.exit_code == 0

    break_the_crm(emulator)
    report = reconcile(complaints, adapter=adapter, store=store, now=now)
    assert report.counts() == {
        "missing": 0,
        "drifted": 7,
        "orphaned": 2,
        "stale": 0,
        "overdue": 6,
        "status_moved": 4,
        "owner_fallback": 0,
        "changed_in_crm": 3,
        "deleted_in_crm": 5,
    }
    deleted = {f.complaint_id for f in report.of(FindingKind.DELETED_IN_CRM)}
    assert deleted == {cid(i) for i in DELETED}
    drift = {(f.complaint_id, f.field) for f in report.of(FindingKind.DRIFTED)}
    assert drift == {(cid(i), "priority") for i in REPRIORITIZED}  # priority is ours (source)
    changed = {(f.complaint_id, f.field) for f in report.of(FindingKind.CHANGED_IN_CRM)}
    assert changed == {(cid(i), "owner") for i in REASSIGNED}  # staff own owners after create
    assert {f.complaint_id for f in report.of(FindingKind.ORPHANED)} == {
        "REC-GHOST-1",
        "REC-GHOST-2",
    }
    moved = report.of(FindingKind.STATUS_MOVED)
    assert {f.complaint_id for f in moved} == {cid(i) for i in CLOSED}
    assert all(f.theirs == "Closed" and f.ours == "received" and f.due_at for f in moved)
    overdue = report.of(FindingKind.OVERDUE)
    assert {(f.complaint_id, f.field) for f in overdue} == {
        (cid(i), "initial_response") for i in LATE
    }
    assert all(f.department for f in overdue)
    assert sum(report.overdue_by_department.values()) == 6
    assert report.exit_code == 5

    owners_before = {
        t.properties["crm_complaint_id"]: t.properties.get("hubspot_owner_id")
        for t in emulator.portal.live("tickets")
    }
    repaired = reconcile(complaints, adapter=adapter, store=store, now=now, repair=True)
    assert repaired.repair is not None
    assert (repaired.repair.created, repaired.repair.updated) == (0, 7)
    assert repaired.repair.failed == 0

    again = reconcile(complaints, adapter=adapter, store=store, now=now)
    counts = again.counts()
    assert counts == {
        "missing": 0,
        "drifted": 0,
        "orphaned": 2,
        "stale": 0,
        "overdue": 6,
        "status_moved": 4,
        "owner_fallback": 0,
        "changed_in_crm": 3,
        "deleted_in_crm": 5,
    }
    # Never deleted anything remote; the closed tickets stay closed, the reassigned ones keep
    # the owner staff gave them, the deleted ones stay deleted.
    live = {t.properties["crm_complaint_id"]: t for t in emulator.portal.live("tickets")}
    assert {"REC-GHOST-1", "REC-GHOST-2"} <= set(live)
    assert all(live[cid(i)].properties["hs_pipeline_stage"] == "4" for i in CLOSED)
    assert all(
        live[cid(i)].properties.get("hubspot_owner_id") == owners_before[cid(i)] for i in REASSIGNED
    )
    assert not {cid(i) for i in DELETED} & set(live)
    runs = [r for r in store.recent_runs(20) if r.kind == "reconcile"]
    assert len(runs) == 4 and runs[0].outcome == "findings"

    # Only on request are deleted tickets made again, with their tasks.
    recreated = reconcile(
        complaints, adapter=adapter, store=store, now=now, repair=True, recreate_deleted=True
    )
    assert recreated.repair is not None and recreated.repair.created == 5
    final = reconcile(complaints, adapter=adapter, store=store, now=now).counts()
    assert final["deleted_in_crm"] == 0 and final["missing"] == 0
    live = {t.properties["crm_complaint_id"] for t in emulator.portal.live("tickets")}
    assert {cid(i) for i in DELETED} <= live
    # Their tasks were kept and moved to the new tickets, not made a second time.
    for ghost in emulator.portal.live("tickets"):
        if ghost.properties["crm_complaint_id"].startswith("REC-GHOST"):
            emulator.portal.archive("tickets", ghost.id)
    assert_exactly_once(emulator, complaints)


def test_ignored_fields_are_not_drift(emulator: HubSpotEmulator, store: SqlStateStore) -> None:
    from crm_complaints.config import ReconcileConfig

    now = datetime.now(UTC)
    complaints = complaints_at(now)[:30]
    adapter = make_adapter(emulator)
    adapter.setup()
    sync(complaints, adapter=adapter, store=store, policy=Policy(), retry=RetryPolicy.no_wait())
    ticket = next(
        t for t in emulator.portal.live("tickets") if t.properties["crm_complaint_id"] == cid(11)
    )
    emulator.portal.update(
        "tickets",
        ticket.id,
        {
            "hubspot_owner_id": "101"
            if ticket.properties.get("hubspot_owner_id") != "101"
            else "102"
        },
    )
    strict = reconcile(complaints, adapter=adapter, store=store, now=now - timedelta(hours=4))
    assert [f.field for f in strict.of(FindingKind.CHANGED_IN_CRM)] == ["owner"]
    assert strict.exit_code == 0  # information: staff own owners after creation
    relaxed = reconcile(
        complaints,
        adapter=adapter,
        store=store,
        now=now - timedelta(hours=4),
        config=ReconcileConfig(ignore_fields=("owner",)),
    )
    assert relaxed.findings == []


def test_cli_reconcile_formats_and_exit_codes(emulator: HubSpotEmulator, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    complaints = complaints_at(now)[:40]
    source = tmp_path / "complaints.jsonl"
    source.write_text("".join(c.model_dump_json() + "\n" for c in complaints), encoding="utf-8")
    owners = "\n".join(f'{k} = "{v}"' for k, v in OWNERS.items())
    config = tmp_path / "config.toml"
    config.write_text(
        f'[state]\npath = "{tmp_path / "state.db"}"\n'
        f'[adapters.hubspot]\nhost = "{emulator.base_url}"\n[adapters.hubspot.owners]\n{owners}\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    base = ["--source", str(source), "--adapter", "hubspot", "--config", str(config)]
    assert (
        runner.invoke(app, ["setup", "--adapter", "hubspot", "--config", str(config)]).exit_code
        == 0
    )
    assert runner.invoke(app, ["sync", *base]).exit_code == 0
    late = runner.invoke(app, ["reconcile", *base, "--format", "json"])
    data = json.loads(late.stdout)
    # Both reports and the first response of each late complaint are overdue.
    assert late.exit_code == 5 and data["counts"]["overdue"] == 3 * len([i for i in LATE if i < 40])
    html_file = tmp_path / "report.html"
    written = runner.invoke(
        app, ["reconcile", *base, "--format", "html", "--output", str(html_file)]
    )
    assert written.exit_code == 5
    page = html_file.read_text(encoding="utf-8")
    assert "<svg" in page and "期限超過の業務" in page and "<script" not in page  # ja: the clinic's
    text = runner.invoke(app, ["reconcile", *base], env={"COLUMNS": "200"})
    assert text.exit_code == 5 and "Overdue work" in text.stdout


def test_cli_mapping_error_found_at_discovery_is_a_config_error(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    source = tmp_path / "complaints.jsonl"
    source.write_text(realistic_complaints(1)[0].model_dump_json() + "\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[state]\npath = "{tmp_path / "state.db"}"\n'
        f'[adapters.hubspot]\nhost = "{emulator.base_url}"\n'
        '[adapters.hubspot.owners]\nphysician = "nobody@clinic.example"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app, ["sync", "--source", str(source), "--adapter", "hubspot", "--config", str(config)]
    )
    assert result.exit_code == 2
    assert "adapters.hubspot.owners.physician" in result.stderr
