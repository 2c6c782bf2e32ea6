"""Hostile review of the report's new reading of CRM completions from the state store
(``done_in_crm``, cli/common._completions): the README promises the report needs no state
store and never creates one, and that ``report`` works like ``plan`` over the completions."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from crm_complaints.adapters.base import RemoteTask
from crm_complaints.cli import app
from crm_complaints.crm_changes import record_completions
from crm_complaints.migrations import MIGRATIONS
from crm_complaints.state import open_store
from tests.conftest import complaint_data

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOKYO = ZoneInfo("Asia/Tokyo")
RECEIVED = datetime(2026, 3, 2, 10, 0, tzinfo=TOKYO)  # a Monday, clinic open
NOW = datetime(2026, 3, 31, 18, 0, tzinfo=TOKYO)
NEWEST = max(version for version, _, _ in MIGRATIONS)


def _source(tmp_path: Path, *complaints: dict[str, Any]) -> Path:
    source = tmp_path / "complaints.jsonl"
    lines = [json.dumps(c, ensure_ascii=False) for c in complaints]
    source.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return source


def _complaint(cid: str = "GNZ-CRM", clinic: str = "tokyo-ginza") -> dict[str, Any]:
    return complaint_data(id=cid, clinic=clinic, received_at=RECEIVED.isoformat())


def _args(source: Path, *extra: str) -> list[str]:
    return [
        "report", "--source", str(source), "--config", str(EXAMPLES / "config.toml"),
        "--from", "2026-03-01", "--to", "2026-03-31", "--now", NOW.isoformat(),
        "--format", "json", *extra,
    ]  # fmt: skip


def _overdue_first_responses(result: dict[str, Any], clinic: str | None = None) -> int:
    return sum(
        row.get("overdue_initial_response", 0)
        for row in result["open_work"]
        if clinic is None or row["clinic"] == clinic
    )


def _done(cid: str, kind: str = "initial_response") -> RemoteTask:
    return RemoteTask(cid, kind, None, True, modified_at=RECEIVED + timedelta(minutes=40))


def test_review5_report_with_a_sqlite_state_url_creates_no_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Expected (README, Reports: "No state store is needed or created"; stored_completions'
    docstring: "must not create one"): ``report`` with ``state.url`` naming a SQLite file
    that does not exist leaves no file behind. Actual: only ``state.path`` is checked for
    existence; with ``state.url`` set, open_store creates and migrates a new database (and
    its directory) just to read completions from it."""
    store_file = tmp_path / "not-yet" / "state.db"
    monkeypatch.setenv("CRM_COMPLAINTS_STATE__URL", f"sqlite:///{store_file}")
    result = CliRunner().invoke(app, _args(_source(tmp_path, _complaint())))
    assert result.exit_code == 0, result.output
    assert not store_file.exists()
    assert not store_file.parent.exists()


def test_review5_report_does_not_migrate_an_older_state_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A state store written by the release before (schema 8, no pull_reported) is shared
    with a production sync still on that release; an admin runs the new release's
    ``report`` against it. Expected: the report only reads (README: "zero CRM calls, no
    state store", a view like ``plan``): the store stays at schema 8, so the older sync
    keeps running. Actual: open_store migrates it to schema 9 from inside ``report``, after
    which the older release refuses the store ("newer than ... this crm-complaints knows")."""
    path = tmp_path / "state.db"
    store = open_store(path)
    record_completions(store.engine, "hubspot", [_done("GNZ-CRM")])
    store.close()
    with sqlite3.connect(path) as raw:
        raw.execute("DROP TABLE pull_reported")
        raw.execute("DELETE FROM schema_migrations WHERE version = ?", (NEWEST,))
    raw.close()
    monkeypatch.setenv("CRM_COMPLAINTS_STATE__PATH", str(path))

    result = CliRunner().invoke(app, _args(_source(tmp_path, _complaint())))
    assert result.exit_code == 0, result.output
    assert _overdue_first_responses(json.loads(result.stdout)) == 0  # completion read
    with sqlite3.connect(path) as raw:
        versions = {row[0] for row in raw.execute("SELECT version FROM schema_migrations")}
    raw.close()
    assert max(versions) == NEWEST - 1


def test_review5_report_over_a_store_from_a_newer_release_warns_and_counts_no_completions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store a newer release wrote: the report still runs (exit 0), warns on stderr that
    steps done in the CRM are not shown, and counts the first response as overdue (as
    ``plan`` does); the store is left as it was."""
    path = tmp_path / "state.db"
    store = open_store(path)
    record_completions(store.engine, "hubspot", [_done("GNZ-CRM")])
    store.close()
    with sqlite3.connect(path) as raw:
        raw.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (NEWEST + 1, "from the future", "2027-01-01 00:00:00"),
        )
    raw.close()
    monkeypatch.setenv("CRM_COMPLAINTS_STATE__PATH", str(path))

    result = CliRunner().invoke(app, _args(_source(tmp_path, _complaint())))
    assert result.exit_code == 0, result.output
    assert "not shown" in result.stderr and str(NEWEST + 1) in result.stderr
    assert _overdue_first_responses(json.loads(result.stdout)) == 1


def test_review5_report_with_a_directory_as_state_path_runs_without_completions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``state.path`` naming a directory: the report runs (exit 0), counts no completion and
    writes nothing into the directory."""
    folder = tmp_path / "state-dir"
    folder.mkdir()
    monkeypatch.setenv("CRM_COMPLAINTS_STATE__PATH", str(folder))
    result = CliRunner().invoke(app, _args(_source(tmp_path, _complaint())))
    assert result.exit_code == 0, result.output
    assert _overdue_first_responses(json.loads(result.stdout)) == 1
    assert list(folder.iterdir()) == []


def test_review5_report_completions_respect_namespace_clinic_filter_and_plan_kinds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Completions stored under another namespace are not this portal's and count nothing;
    one from another adapter in the same namespace counts (a step done in one CRM is done);
    one for a complaint outside ``--clinic`` changes nothing in the filtered report; one for
    a task kind the plan no longer has is ignored without error."""
    path = tmp_path / "state.db"
    other = open_store(path, namespace="portal-b")
    record_completions(other.engine, "hubspot", [_done("GNZ-A")], "portal-b")
    other.close()
    store = open_store(path)
    record_completions(store.engine, "webhook", [_done("GNZ-B")])
    record_completions(store.engine, "hubspot", [_done("SH-C"), _done("GNZ-A", "no_such_step")])
    store.close()
    monkeypatch.setenv("CRM_COMPLAINTS_STATE__PATH", str(path))
    source = _source(
        tmp_path,
        _complaint("GNZ-A"),
        _complaint("GNZ-B"),
        _complaint("SH-C", clinic="shanghai-jingan"),
    )

    everyone = CliRunner().invoke(app, _args(source))
    assert everyone.exit_code == 0, everyone.output
    result = json.loads(everyone.stdout)
    assert _overdue_first_responses(result, "tokyo-ginza") == 1  # GNZ-A only
    assert _overdue_first_responses(result, "shanghai-jingan") == 0

    ginza = CliRunner().invoke(app, _args(source, "--clinic", "tokyo-ginza"))
    assert ginza.exit_code == 0, ginza.output
    filtered = json.loads(ginza.stdout)
    assert filtered["period"]["clinics"] == ["tokyo-ginza"]
    assert _overdue_first_responses(filtered) == 1
    (row,) = [
        r
        for r in filtered["deadlines"]
        if r["task"] == "initial_response" and r["clinic"] == "tokyo-ginza"
    ]
    assert (row["on_time"], row["late"]) == (1, 1)
