"""Hostile review of issue 16, part 5: who owns a field, through the CLI against the HubSpot
emulator: what reconcile calls "changed in the CRM" or drift, and what repair writes."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from crm_complaints.emulator import HubSpotEmulator
from tests.conftest import edited
from tests.e2e.test_review16_pull import Clinic, clinic, recent


def reconciled(made: Clinic, *args: str) -> tuple[int, dict[str, Any]]:
    answer = made.run("reconcile", "--format", "json", *args)
    return answer.exit_code, json.loads(answer.stdout)


# -- findings (fixed) -----------------------------------------------------------------------------


def test_review16_fields_a_crm_owned_field_nobody_touched_is_not_changed_in_the_crm(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """subject = "crm", the source's summary changes, nobody edits HubSpot: expected no finding
    (HubSpot holds what we wrote at creation); actual: "subject changed in the CRM" with
    theirs = our own creation-time subject, blaming staff for our value."""
    complaint = recent("FLD-1")
    made = clinic(emulator, tmp_path, [complaint], extra='[sync.fields]\nsubject = "crm"\n')
    made.write([edited(complaint, summary="要約を更新(受付で追記)")])
    assert made.run("sync").exit_code == 0

    code, report = reconciled(made)

    assert code == 0
    assert report["findings"] == [], report["findings"]


def test_review16_fields_departments_ticked_in_another_order_are_not_drift(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """Staff save the same departments, listed in the property's option order (as a HubSpot form
    or import writes a multiple-checkbox value): expected no finding, exit 0; actual:
    departments "drifted" (we compare the ';'-joined text, ours in plan order), exit 5, and
    --repair rewrites a value that did not change."""
    made = clinic(emulator, tmp_path, [recent("FLD-2", category="side_effect")])
    held = made.ticket("FLD-2").properties["crm_departments"].split(";")
    options = emulator.portal.properties["tickets"]["crm_departments"]["options"]
    same_set = [o["value"] for o in options if o["value"] in held]
    assert same_set != held and sorted(same_set) == sorted(held)  # only the order differs
    made.staff(made.ticket("FLD-2"), crm_departments=";".join(same_set))

    code, report = reconciled(made)

    assert [(f["kind"], f["field"]) for f in report["findings"]] == []
    assert code == 0


def test_review16_fields_a_crm_owned_field_staff_changed_after_a_source_change_is_reported(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """subject = "crm", the source's summary changes and is synced, then staff reword the
    subject: "changed in the CRM" with theirs = staff's wording (the CRM holds neither our
    value nor the one we last sent)."""
    complaint = recent("FLD-6")
    made = clinic(emulator, tmp_path, [complaint], extra='[sync.fields]\nsubject = "crm"\n')
    made.write([edited(complaint, summary="要約を更新(受付で追記)")])
    assert made.run("sync").exit_code == 0
    made.staff(made.ticket("FLD-6"), subject="患者様へ折り返し済み")

    code, report = reconciled(made)

    assert code == 0  # information
    assert [(f["kind"], f["field"], f["theirs"]) for f in report["findings"]] == [
        ("changed_in_crm", "subject", "患者様へ折り返し済み")
    ]


def test_review16_fields_a_department_unticked_in_the_crm_is_still_drift(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """Compared as a set, departments still drift when staff untick one (exit 5), and --repair
    puts ours back."""
    made = clinic(emulator, tmp_path, [recent("FLD-7", category="side_effect")])
    ours = made.ticket("FLD-7").properties["crm_departments"]
    assert len(ours.split(";")) > 1
    made.staff(made.ticket("FLD-7"), crm_departments=ours.split(";")[0])

    code, report = reconciled(made, "--repair")

    assert [(f["kind"], f["field"]) for f in report["findings"]] == [("drifted", "departments")]
    assert code == 5
    assert made.ticket("FLD-7").properties["crm_departments"] == ours


def test_review16_fields_a_crm_owned_due_date_nobody_moved_is_not_changed_in_the_crm(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """task_due = "crm", the complaint's received time moves (so would its due dates) and is
    synced; staff only lower the first call's priority, so reconcile reads that task: no
    finding (it holds the due date we sent at creation; was "due date changed in the CRM").
    Staff then move the due date: reported, with theirs."""
    complaint = recent("FLD-8")
    made = clinic(emulator, tmp_path, [complaint], extra='[sync.fields]\ntask_due = "crm"\n')
    made.write([edited(complaint, received_at=complaint.received_at - timedelta(hours=30))])
    assert made.run("sync").exit_code == 0
    call = made.task("FLD-8", "initial_response")
    made.staff(call, "tasks", hs_task_priority="LOW")

    code, report = reconciled(made)

    assert (code, report["findings"]) == (0, [])
    made.staff(call, "tasks", hs_timestamp="2030-01-07T01:00:00.000Z")
    code, report = reconciled(made)
    assert code == 0
    assert [(f["kind"], f["field"]) for f in report["findings"]] == [
        ("changed_in_crm", "task_due:initial_response")
    ]
    assert report["findings"][0]["theirs"].startswith("2030-01-07T10:00:00")  # Tokyo


# -- what holds (no other test covers these) -----------------------------------------------------


def test_review16_fields_crm_owned_is_never_written_by_reconcile_repair(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """`reconcile --repair` through the CLI with [sync.fields] subject = "crm": a source field
    staff changed (priority) is put back; the crm-owned subject staff wrote stays theirs,
    also after the source's summary changes and a sync and a second repair."""
    complaint = recent("FLD-3")
    made = clinic(emulator, tmp_path, [complaint], extra='[sync.fields]\nsubject = "crm"\n')
    ours = made.ticket("FLD-3").properties["hs_ticket_priority"]
    theirs = "HIGH" if ours != "HIGH" else "LOW"
    made.staff(made.ticket("FLD-3"), subject="患者様からの再連絡待ち", hs_ticket_priority=theirs)

    code, report = reconciled(made, "--repair")

    assert code == 5  # the drift it found (and repaired)
    assert sorted((f["kind"], f["field"]) for f in report["findings"]) == [
        ("changed_in_crm", "subject"),
        ("drifted", "priority"),
    ]
    held = made.ticket("FLD-3").properties
    assert held["hs_ticket_priority"] == ours  # source: repaired
    assert held["subject"] == "患者様からの再連絡待ち"  # crm: staff's
    made.write([edited(complaint, summary="別の要約")])
    assert made.run("sync").exit_code == 0
    reconciled(made, "--repair")
    assert made.ticket("FLD-3").properties["subject"] == "患者様からの再連絡待ち"


@pytest.mark.parametrize(
    ("section", "names"),
    [
        ('[sync.fields]\nstagee = "create"\n', ["sync.fields", "stagee"]),
        ('[sync.fields]\nstage = "sometimes"\n', ["sync.fields.stage", "source"]),
        (
            '[adapters.hubspot.field_owners]\ntask_due = "staff"\n',
            ["adapters.hubspot.field_owners", "task_due"],
        ),
    ],
)
def test_review16_fields_a_wrong_owner_config_is_a_config_error_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, section: str, names: list[str]
) -> None:
    """`sync` with an unknown field or owner value stops with exit 2 before any request, and
    the message names the config key and the offending name."""
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-test")
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\npath = "{tmp_path / "state.db"}"\n{section}', encoding="utf-8")
    source = tmp_path / "complaints.jsonl"
    source.write_text(recent("FLD-4").model_dump_json() + "\n", encoding="utf-8")
    made = Clinic(None, tmp_path, config, source)  # type: ignore[arg-type]  # no CRM reached

    answer = made.run("sync")

    assert answer.exit_code == 2, answer.output
    text = " ".join(answer.output.split())
    assert "config error" in text
    for name in names:
        assert name in text, (name, text)


def test_review16_fields_the_adapters_owner_beats_sync_fields_through_the_cli(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """[sync.fields] subject = "crm" with [adapters.hubspot.field_owners] subject = "source":
    the adapter's wins in `reconcile --repair` (staff's subject is drift, put back), while
    the global section still rules a field the adapter does not name (category: crm)."""
    complaint = recent("FLD-5")
    extra = (
        '[sync.fields]\nsubject = "crm"\ncategory = "crm"\n'
        '[adapters.hubspot.field_owners]\nsubject = "source"\n'
    )
    made = clinic(emulator, tmp_path, [complaint], extra=extra)
    ours = made.ticket("FLD-5").properties["subject"]
    made.staff(made.ticket("FLD-5"), subject="staff wording", crm_category="product")

    code, report = reconciled(made, "--repair")

    assert code == 5
    assert sorted((f["kind"], f["field"]) for f in report["findings"]) == [
        ("changed_in_crm", "category"),
        ("drifted", "subject"),
    ]
    held = made.ticket("FLD-5").properties
    assert (held["subject"], held["crm_category"]) == (ours, "product")
