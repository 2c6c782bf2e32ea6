"""Hostile review of issue 16, part 3: "a task completed in HubSpot completes that step in our
plan view". Reconcile reads and stores that completion; its own open-work counts should agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crm_complaints.crm_changes import completed_in_crm
from crm_complaints.emulator import HubSpotEmulator
from crm_complaints.policy import Policy
from crm_complaints.state import open_store
from tests.e2e.test_review16_pull import Clinic, clinic, recent


def open_work(made: Clinic) -> dict[str, Any]:
    answer = made.run("reconcile", "--format", "json")
    assert answer.exit_code == 0, answer.output
    return dict(json.loads(answer.stdout)["open_by_department"])


def test_review16_completions_a_task_done_in_hubspot_is_not_open_work_in_reconcile(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """Staff complete the first-response call in HubSpot; reconcile reads it (and stores the
    completion): expected open_by_department one lower for that task's department; actual:
    unchanged, the page's "open" bars still count work staff finished."""
    complaint = recent("DONE-1")
    made = clinic(emulator, tmp_path, [complaint])
    call = next(t for t in Policy().plan(complaint).tasks if t.kind.value == "initial_response")
    department = call.department.value
    before = open_work(made)
    made.staff(made.task("DONE-1", "initial_response"), "tasks", hs_task_status="COMPLETED")

    after = open_work(made)

    store = open_store(made.path / "state.db")
    try:  # reconcile saw the completion and stored it (alerts and `plan` skip the step)
        assert set(completed_in_crm(store.engine)) == {("DONE-1", "initial_response")}
    finally:
        store.close()
    assert after.get(department, 0) == before[department] - 1, (before, after)


def test_review16_completions_a_task_reopened_in_hubspot_is_open_work_again(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """Completed in HubSpot, reconciled (stored), then reopened there: the next reconcile
    counts it open again, from what it just read, whatever the store still remembers."""
    complaint = recent("DONE-2")
    made = clinic(emulator, tmp_path, [complaint])
    call = next(t for t in Policy().plan(complaint).tasks if t.kind.value == "initial_response")
    department = call.department.value
    before = open_work(made)
    made.staff(made.task("DONE-2", "initial_response"), "tasks", hs_task_status="COMPLETED")
    assert open_work(made).get(department, 0) == before[department] - 1

    made.staff(made.task("DONE-2", "initial_response"), "tasks", hs_task_status="NOT_STARTED")

    assert open_work(made) == before
