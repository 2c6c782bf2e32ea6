"""Importing history (``sync --history BEFORE`` / ``policy.history_before``): past steps are
recorded as done, the CRM starts clean, and later runs and alerts keep the cut-off."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crm_complaints.cli import app
from crm_complaints.config import PolicyConfig
from crm_complaints.history import parse_cutoff, recorded_cutoff
from crm_complaints.policy import Policy, TaskKind
from crm_complaints.receiver import WebhookReceiver, running_receiver
from crm_complaints.state import open_store
from tests.conftest import EXAMPLES, make_complaint

CUTOFF = datetime.fromisoformat("2026-11-25T00:00:00+09:00")
NOW = datetime.fromisoformat("2026-11-25T17:30:00+09:00")


def open_tasks(plan: Any) -> dict[str, bool]:
    return {t.kind.value: t.completed for t in plan.tasks}


def test_past_steps_are_done_and_later_ones_stay_open() -> None:
    policy = Policy(PolicyConfig(history_before=CUTOFF))
    # Received Mon 23 Nov (a holiday) 10:00: reports, first response and investigation (Tue 24
    # 17:00) fell due before the cut-off; the resolution plan (Thu 26) and later after it.
    plan = policy.plan(make_complaint(received_at="2026-11-23T10:00:00+09:00"))
    done = open_tasks(plan)
    assert done["report_supervisor"] and done["report_executive"] and done["initial_response"]
    assert done["investigation"] and not done["resolution_plan"]
    assert not done["incident_report"]
    # Without the cut-off every one is open.
    assert not any(
        open_tasks(Policy().plan(make_complaint(received_at="2026-11-23T10:00:00+09:00"))).values()
    )


def test_a_resolved_complaint_no_longer_keeps_an_open_incident_report() -> None:
    old = make_complaint(
        received_at="2026-10-01T10:00:00+09:00",
        status="resolved",
        acknowledged_at="2026-10-01T10:30:00+09:00",
        resolved_at="2026-10-09T10:00:00+09:00",
    )
    before = Policy().plan(old).task(TaskKind.INCIDENT_REPORT)
    assert before is not None and not before.completed  # the complaint
    after = Policy(PolicyConfig(history_before=CUTOFF)).plan(old)
    assert all(t.completed for t in after.tasks)


def test_complaints_received_after_the_cutoff_are_untouched() -> None:
    fresh = make_complaint(received_at="2026-11-25T09:00:00+09:00")
    assert Policy(PolicyConfig(history_before=CUTOFF)).plan(fresh) == Policy().plan(fresh)


def test_cutoff_parsing() -> None:
    from zoneinfo import ZoneInfo

    tokyo = ZoneInfo("Asia/Tokyo")
    assert parse_cutoff("2026-11-25", tokyo) == CUTOFF
    assert parse_cutoff("2026-11-25T00:00:00+09:00", tokyo) == CUTOFF
    with pytest.raises(ValueError, match="offset"):
        parse_cutoff("2026-11-25T00:00:00", tokyo)
    with pytest.raises(ValueError, match="not a date"):
        parse_cutoff("last month", tokyo)


@pytest.fixture
def receiver(webhook_secret: str) -> Iterator[WebhookReceiver]:
    with running_receiver(webhook_secret) as server:
        yield server


def config_for(tmp_path: Path, receiver: WebhookReceiver) -> Path:
    base = (EXAMPLES / "config.toml").read_text(encoding="utf-8")
    head = base.split("[state]")[0]  # the example's clinics and policy
    config = tmp_path / "config.toml"
    config.write_text(
        head
        + f'[state]\npath = "{tmp_path / "state.db"}"\n\n'
        + f'[adapters.webhook]\nurl = "{receiver.url}"\nstate_url = "{receiver.state_url}"\n',
        encoding="utf-8",
    )
    return config


def overdue_open_tasks(receiver: WebhookReceiver) -> tuple[int, int]:
    tasks = [t for entry in receiver.state.complaints.values() for t in entry["plan"]["tasks"]]
    late = [t for t in tasks if not t["completed"] and datetime.fromisoformat(t["due_at"]) < NOW]
    return len(tasks), len(late)


def sync(config: Path, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        [
            "sync",
            "-s",
            str(EXAMPLES / "complaints.jsonl"),
            "-a",
            "webhook",
            "-c",
            str(config),
            "--format",
            "json",
            *extra,
        ],
    )
    assert result.exit_code in (0, 3), result.output
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_sync_history_on_the_bundled_examples_starts_clean_and_stays_clean(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    config = config_for(tmp_path, receiver)
    first = sync(config, "--history", "2026-11-25")
    tasks, late = overdue_open_tasks(receiver)
    assert tasks > 0 and late == 0  # nothing overdue at once (84 tasks, 48 overdue without)
    store = open_store(tmp_path / "state.db")
    try:
        assert recorded_cutoff(store.engine, store.namespace) == CUTOFF
    finally:
        store.close()

    # A later sync without --history keeps the cut-off: nothing reopened, nothing sent.
    again = sync(config)
    assert again["unchanged"] == first["created"] and again["remote_calls"] == 0

    # Nor do alerts fire on last month.
    result = CliRunner().invoke(
        app,
        [
            "alerts",
            "-s",
            str(EXAMPLES / "complaints.jsonl"),
            "-c",
            str(config),
            "--dry-run",
            "--format",
            "json",
            "--now",
            NOW.isoformat(),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert all(datetime.fromisoformat(a["due_at"]) >= CUTOFF for a in report["alerts"])


def test_without_history_the_first_sync_is_full_of_overdue_work(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    sync(config_for(tmp_path, receiver))
    tasks, late = overdue_open_tasks(receiver)
    assert (tasks, late) == (84, 48)  # the measurement the README reports


def test_a_naive_history_time_is_a_usage_error(tmp_path: Path, receiver: WebhookReceiver) -> None:
    result = CliRunner().invoke(
        app,
        [
            "sync",
            "-s",
            str(EXAMPLES / "complaints.jsonl"),
            "-a",
            "webhook",
            "-c",
            str(config_for(tmp_path, receiver)),
            "--history",
            "2026-11-25T00:00:00",
        ],
    )
    assert result.exit_code == 2 and "offset" in result.output
