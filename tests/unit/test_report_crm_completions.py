"""A step staff completed in a CRM (stored by ``pull`` and ``reconcile``) is done in the
compliance report too, as in ``plan``: not open work, not overdue, and judged on time or late
by when the CRM had it completed (when the complaint itself says nothing)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from crm_complaints.adapters.base import RemoteTask
from crm_complaints.cli import app
from crm_complaints.config import load_settings
from crm_complaints.crm_changes import record_completions
from crm_complaints.reporting import ReportOptions, compute_report
from crm_complaints.reporting.command import deadline_policy
from crm_complaints.schema import Complaint
from crm_complaints.state import open_store
from tests.conftest import complaint_data

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SETTINGS = load_settings(EXAMPLES / "config.toml")
TOKYO = ZoneInfo("Asia/Tokyo")
RECEIVED = datetime(2026, 3, 2, 10, 0, tzinfo=TOKYO)  # a Monday, clinic open
NOW = datetime(2026, 3, 31, 18, 0, tzinfo=TOKYO)


def complaint() -> Complaint:
    data = complaint_data(id="GNZ-CRM", clinic="tokyo-ginza", received_at=RECEIVED.isoformat())
    return Complaint.model_validate(data)


def report(done: dict[tuple[str, str], datetime]) -> dict[str, Any]:
    options = ReportOptions(
        date_from=date(2026, 3, 1), date_to=date(2026, 3, 31), now=NOW, done_in_crm=done
    )
    return compute_report([complaint()], deadline_policy(SETTINGS), options)


def first_response(result: dict[str, Any]) -> dict[str, Any]:
    (row,) = [r for r in result["deadlines"] if r["task"] == "initial_response"]
    return row


def open_first_responses(result: dict[str, Any]) -> int:
    return sum(row.get("overdue_initial_response", 0) for row in result["open_work"])


def test_a_step_done_in_the_crm_is_neither_open_nor_late() -> None:
    alone = report({})
    assert open_first_responses(alone) == 1  # nothing in the complaint says it was done
    assert (first_response(alone)["late"], first_response(alone)["on_time"]) == (1, 0)

    within = report({("GNZ-CRM", "initial_response"): RECEIVED + timedelta(minutes=50)})
    assert open_first_responses(within) == 0
    assert (first_response(within)["late"], first_response(within)["on_time"]) == (0, 1)
    opened = sum(row["open"] for row in within["open_work"])
    assert opened == sum(row["open"] for row in alone["open_work"]) - 1

    after = report({("GNZ-CRM", "initial_response"): RECEIVED + timedelta(hours=5)})
    assert open_first_responses(after) == 0
    assert (first_response(after)["late"], first_response(after)["on_time"]) == (1, 0)


def test_the_report_command_reads_the_completions_the_state_store_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "complaints.jsonl"
    source.write_text(json.dumps(complaint().model_dump(mode="json")) + "\n", encoding="utf-8")
    args = ["report", "--source", str(source), "--config", str(EXAMPLES / "config.toml")]
    args += ["--from", "2026-03-01", "--to", "2026-03-31", "--now", NOW.isoformat()]
    args += ["--format", "json"]
    monkeypatch.setenv("CRM_COMPLAINTS_STATE__PATH", str(tmp_path / "state.db"))
    runner = CliRunner()

    before = runner.invoke(app, args)  # no state store yet: none is made
    assert before.exit_code == 0, before.output
    assert open_first_responses(json.loads(before.stdout)) == 1
    assert not (tmp_path / "state.db").exists()

    store = open_store(tmp_path / "state.db")
    done = RemoteTask("GNZ-CRM", "initial_response", None, True,
                      modified_at=RECEIVED + timedelta(minutes=40))  # fmt: skip
    record_completions(store.engine, "hubspot", [done])
    store.close()
    after = runner.invoke(app, args)
    assert after.exit_code == 0, after.output
    assert open_first_responses(json.loads(after.stdout)) == 0
