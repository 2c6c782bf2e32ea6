"""Migration 7's tables on SQLite and PostgreSQL: tasks completed in the CRM, acknowledged
status moves and pull marks, each per namespace."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from crm_complaints.acks import Acknowledgements, acknowledge, list_acks
from crm_complaints.adapters.base import RemoteRecord, RemoteTask
from crm_complaints.cli import app
from crm_complaints.crm_changes import (
    completed_in_crm,
    record_completions,
    with_crm_completions,
)
from crm_complaints.policy import Policy
from crm_complaints.pull import NoSinceError, last_pull, parse_since, pull
from crm_complaints.retry import RetryPolicy
from crm_complaints.state import SqlStateStore, open_store
from crm_complaints.sync import sync
from tests.conftest import make_complaint
from tests.fakes import FakeAdapter

WHEN = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)


def _task(cid: str, kind: str, *, completed: bool) -> RemoteTask:
    return RemoteTask(cid, kind, WHEN, completed, id="9", modified_at=WHEN)


def test_migration_7_creates_its_tables(any_store: SqlStateStore) -> None:
    assert any_store.schema_version() >= 7
    tables = set(sa.inspect(any_store.engine).get_table_names())
    assert {"crm_task_completions", "status_acks", "pull_marks"} <= tables


def test_completed_tasks_are_kept_until_the_crm_reopens_them(
    any_store: SqlStateStore, state_url: str
) -> None:
    engine, ns = any_store.engine, any_store.namespace
    done = [
        _task("C-1", "initial_response", completed=True),
        _task("C-2", "follow_up", completed=False),
    ]
    assert record_completions(engine, "hubspot", done, ns) == 1
    assert record_completions(engine, "hubspot", done, ns) == 0  # seen again: nothing new
    found = completed_in_crm(engine, ns)
    assert found == {("C-1", "initial_response"): WHEN}
    assert found[("C-1", "initial_response")].tzinfo is not None
    assert completed_in_crm(engine, ns, complaint_ids=["C-2"]) == {}
    other = open_store(url=state_url, namespace="other-portal")
    try:
        assert completed_in_crm(other.engine, other.namespace) == {}
    finally:
        other.close()
    record_completions(engine, "hubspot", [_task("C-1", "initial_response", completed=False)], ns)
    assert completed_in_crm(engine, ns) == {}


def test_acks_are_stored_once_per_complaint_and_follow_the_stage(
    any_store: SqlStateStore,
) -> None:
    adapter = FakeAdapter()
    complaints = [make_complaint(id=f"ACK-{i}") for i in range(3)]
    sync(complaints, adapter=adapter, store=any_store, policy=Policy(), retry=RetryPolicy.no_wait())
    first = acknowledge(["ACK-0", "ACK-1"], adapter=adapter, store=any_store)
    again = acknowledge(["ACK-1"], adapter=adapter, store=any_store)
    assert [a.complaint_id for a in first.acked] == ["ACK-0", "ACK-1"]
    assert again.requests == 1  # one bulk read
    stored = list_acks(any_store.engine, any_store.namespace, "fake")
    assert [a.complaint_id for a in stored] == ["ACK-0", "ACK-1"]
    assert stored[1].acked_at == again.acked[0].acked_at
    acks = Acknowledgements.load(any_store, "fake")
    assert acks.covers(RemoteRecord("ACK-0", {}, stage=None))
    assert not acks.covers(RemoteRecord("ACK-0", {}, stage="Closed"))
    assert not acks.covers(RemoteRecord("ACK-2", {}, stage=None))


def test_pull_needs_a_since_the_first_time_then_continues(any_store: SqlStateStore) -> None:
    adapter = FakeAdapter()
    with pytest.raises(NoSinceError):
        pull([], adapter=adapter, store=any_store, policy=Policy())
    start = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    pull([], adapter=adapter, store=any_store, policy=Policy(), since=start, now=start)
    assert last_pull(any_store.engine, "fake", any_store.namespace) == start
    later = pull([], adapter=adapter, store=any_store, policy=Policy(), now=start + timedelta(1))
    assert later.since == start - timedelta(minutes=1)


def test_since_must_have_an_offset() -> None:
    with pytest.raises(ValueError, match="no offset"):
        parse_since("2026-11-01T00:00")
    assert parse_since("2026-11-01T00:00+09:00").utcoffset() == timedelta(hours=9)


def test_the_plan_view_shows_steps_done_in_the_crm() -> None:
    complaint = make_complaint()
    plan = Policy().plan(complaint)
    first = plan.tasks[0]
    assert not first.completed
    shown = with_crm_completions(plan, {(complaint.id, first.kind.value): WHEN})
    assert shown.tasks[0].completed and shown.tasks[0].remind_at is None
    assert [t.completed for t in shown.tasks[1:]] == [t.completed for t in plan.tasks[1:]]


def test_plan_command_shows_a_step_done_in_the_crm(tmp_path: Path) -> None:
    complaint = make_complaint()
    source = tmp_path / "complaints.jsonl"
    source.write_text(complaint.model_dump_json() + "\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\npath = "{tmp_path / "state.db"}"\n', encoding="utf-8")
    runner = CliRunner()

    def completed() -> list[bool]:
        result = runner.invoke(app, ["plan", str(source), "--config", str(config), "-f", "json"])
        assert result.exit_code == 0, result.output
        return [task["completed"] for task in json.loads(result.stdout)["tasks"]]

    assert not any(completed())
    assert not (tmp_path / "state.db").exists()  # plan creates no state store
    store = open_store(tmp_path / "state.db")
    try:
        kind = Policy().plan(complaint).tasks[0].kind.value
        record_completions(store.engine, "hubspot", [_task(complaint.id, kind, completed=True)])
    finally:
        store.close()
    shown = completed()
    assert shown[0] and not any(shown[1:])


def test_a_completion_recorded_twice_at_once_does_not_fail(any_store: SqlStateStore) -> None:
    """A pull and a reconcile may insert the same completion concurrently: the second insert
    is skipped, not an IntegrityError."""
    from crm_complaints.crm_changes import crm_task_completions
    from crm_complaints.migrations import insert_skipping_existing

    row = {
        "namespace": any_store.namespace,
        "adapter": "hubspot",
        "complaint_id": "C-9",
        "task": "follow_up",
        "completed_at": WHEN,
        "recorded_at": WHEN,
    }
    with any_store.engine.begin() as conn:
        conn.execute(insert_skipping_existing(conn, crm_task_completions), [row])
        conn.execute(insert_skipping_existing(conn, crm_task_completions), [row])
        count = conn.scalar(sa.select(sa.func.count()).select_from(crm_task_completions))
    assert count == 1
