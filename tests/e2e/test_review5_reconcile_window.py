"""Hostile review 5 of reconcile's tasks window, which now opens CHANGES_LAG (a minute)
before the last sync's end or the last reconciliation's start (``_tasks_window``): reading a
minute more must not repeat a finding, count overdue work twice, or turn our own sync's
writes of that minute into findings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from crm_complaints.adapters.hubspot import HubSpotAdapter
from crm_complaints.crm_changes import completed_in_crm
from crm_complaints.emulator import HubSpotEmulator
from crm_complaints.reconcile import reconcile
from crm_complaints.state import SqlStateStore
from tests.staff_support import opened_adapter, recent, run, tasks


@pytest.fixture
def adapter(emulator: HubSpotEmulator) -> Iterator[HubSpotAdapter]:
    yield from opened_adapter(emulator)


def _hubspot_time(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_review5_reconcile_window_reading_a_minute_more_repeats_nothing(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """Two complaints synced; staff move one first response's due date into the past (a task
    both overdue and changed since the window opens) and complete the other complaint's
    investigation. Three reconciliations within the minute: each reports the moved due date
    once (drifted) and the overdue call once (one overdue, in front_desk), counts the
    completed step out of open work once, stores the completion once, and has one
    crm_changes line per complaint; nothing else (the sync's own task writes of that minute
    are no findings)."""
    first, second = recent("WIN-1"), recent("WIN-2")
    run(adapter, store, [first, second])
    late = tasks(emulator, "WIN-1")["initial_response"]
    past = _hubspot_time(datetime.now(UTC) - timedelta(minutes=5))
    emulator.portal.update("tasks", late.id, {"hs_timestamp": past, "hs_task_reminders": ""})
    done = tasks(emulator, "WIN-2")["investigation"]
    emulator.portal.update("tasks", done.id, {"hs_task_status": "COMPLETED"})

    reports = [
        reconcile([first, second], adapter=adapter, store=store, now=datetime.now(UTC))
        for _ in range(3)
    ]
    planned = sum(len(tasks(emulator, cid)) for cid in ("WIN-1", "WIN-2"))
    for report in reports:
        found = Counter((f.kind.value, f.complaint_id, f.field) for f in report.findings)
        assert found == {
            ("drifted", "WIN-1", "task_due:initial_response"): 1,
            ("overdue", "WIN-1", "initial_response"): 1,
        }
        assert dict(report.overdue_by_department) == {"front_desk": 1}
        assert sum(report.overdue_by_category.values()) == 1
        assert sum(report.open_by_department.values()) == planned - 1  # the completed step
        ids = [line["complaint_id"] for line in report.crm_changes]
        assert sorted(ids) == sorted(set(ids))
    assert list(completed_in_crm(store.engine)) == [("WIN-2", "investigation")]


def test_review5_reconcile_window_a_killed_reconciliation_hides_a_moved_due_date(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """Reconcile runs fine; staff then move a first response's due date to tomorrow; a routine
    sync follows a few minutes later (nothing to send); the next reconciliation is killed
    before it reads anything (a CronJob evicted: its run row has a start, no end); the one
    after runs. Expected: it reports the moved due date (drifted, ours), as it would had the
    killed run never been (the tasks window opens at the last reconciliation's start, "so
    that a due date staff moved before a routine sync is still seen"). Actual: _tasks_window
    takes the killed run's start like a finished one (changes_window skips runs that did not
    finish), the window opens a minute before the later of the two, after the move, and the
    moved date is never reported (nor put back by --repair) until staff touch the task again."""
    import sqlalchemy as sa

    from crm_complaints.migrations import runs

    complaint = recent()
    run(adapter, store, [complaint])
    reconcile([complaint], adapter=adapter, store=store, now=datetime.now(UTC))
    moved_at = datetime.now(UTC)
    due = _hubspot_time(moved_at + timedelta(days=1))
    call = tasks(emulator)["initial_response"]
    emulator.portal.update("tasks", call.id, {"hs_timestamp": due, "hs_task_reminders": ""})

    routine = run(adapter, store, [complaint]).run_id  # nothing to send
    killed = store.start_run("reconcile", adapter.name)  # never finished
    with store.engine.begin() as conn:  # minutes later, as cron would run them
        conn.execute(runs.update().where(runs.c.id == routine).values(
            started_at=moved_at + timedelta(minutes=3),
            finished_at=moved_at + timedelta(minutes=3, seconds=5)))  # fmt: skip
        conn.execute(runs.update().where(runs.c.id == killed).values(
            started_at=moved_at + timedelta(minutes=4)))  # fmt: skip
        assert conn.scalar(sa.select(runs.c.finished_at).where(runs.c.id == killed)) is None

    report = reconcile([complaint], adapter=adapter, store=store,
                       now=moved_at + timedelta(minutes=10))  # fmt: skip
    assert [(f.kind.value, f.field) for f in report.findings] == [
        ("drifted", "task_due:initial_response")
    ]
