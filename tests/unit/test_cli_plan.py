from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_complaints.cli import app
from tests.conftest import complaint_data

runner = CliRunner()


def write_jsonl(path: Path, *records: dict[str, object] | str) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_plan_json_prints_one_object_per_complaint(examples_dir: Path) -> None:
    result = runner.invoke(
        app,
        [
            "plan",
            str(examples_dir / "complaints.jsonl"),
            "--config",
            str(examples_dir / "config.toml"),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    plans = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(plans) >= 12
    first = plans[0]
    assert set(first) == {
        "complaint_id",
        "severity",
        "priority",
        "primary_department",
        "supporting_departments",
        "coordinator",
        "escalated",
        "tasks",
        "owners",
        "management_owners",
    }
    assert set(first["tasks"][0]) == {
        "kind",
        "department",
        "title",
        "due_at",
        "completed",
        "owners",
        "management_owners",
        "remind_at",
        "paused_since",
    }
    shanghai = next(p for p in plans if p["complaint_id"] == "SHJA-2026-0101")
    assert all(t["due_at"].endswith("+08:00") for t in shanghai["tasks"])


def test_plan_exit_3_with_quarantine_on_stderr(tmp_path: Path) -> None:
    source = write_jsonl(
        tmp_path / "mixed.jsonl",
        complaint_data(id="OK-1"),
        complaint_data(id="BAD-1", received_at="2026-11-18T10:00:00"),
    )
    result = runner.invoke(app, ["plan", str(source), "--format", "json"])
    assert result.exit_code == 3
    assert [json.loads(line)["complaint_id"] for line in result.stdout.splitlines()] == ["OK-1"]
    entry = json.loads(result.stderr.strip().splitlines()[0])
    assert entry["complaint_id"] == "BAD-1"
    assert entry["line"] == 2
    assert entry["problems"][0]["field"] == "received_at"


def test_plan_table_renders(examples_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["plan", str(examples_dir / "complaints.jsonl"), "-c", str(examples_dir / "config.toml")],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0
    assert "GNZ-2026-0001" in result.stdout
    assert "お詫びの電話と事実確認" in result.stdout  # task names in the complaint's language


@pytest.mark.parametrize(
    ("config_text", "key"),
    [
        ("[policy]\ninitial_response_minutes = -5\n", "policy.initial_response_minutes"),
        ("[clinics.x]\ntime_zone = 'Mars/Olympus'\n", "clinics.x"),
        ("[state]\nsecret = 'hunter2'\n", "state.secret"),
        ("not toml [", None),
    ],
)
def test_config_errors_exit_2_and_name_the_key(
    tmp_path: Path, config_text: str, key: str | None
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(config_text, encoding="utf-8")
    source = write_jsonl(tmp_path / "in.jsonl", complaint_data())
    result = runner.invoke(app, ["plan", str(source), "--config", str(config)])
    assert result.exit_code == 2
    assert "config error" in result.stderr
    if key:
        assert key in result.stderr
    assert "hunter2" not in result.stderr


def test_missing_source_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(tmp_path / "absent.jsonl")])
    assert result.exit_code == 2


def test_validate_counts(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", complaint_data(), "{oops")
    result = runner.invoke(app, ["validate", str(source)])
    assert result.exit_code == 3
    assert "1 valid, 1 quarantined" in result.stderr


def test_schema_export_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "complaint.schema.json"
    result = runner.invoke(app, ["schema", "export", "--output", str(target)])
    assert result.exit_code == 0
    assert json.loads(target.read_text())["title"] == "Complaint"


def test_env_var_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[policy]\ninitial_response_minutes = 60\n", encoding="utf-8")
    monkeypatch.setenv("CRM_COMPLAINTS_CONFIG", str(config))
    monkeypatch.setenv("CRM_COMPLAINTS_POLICY__INITIAL_RESPONSE_MINUTES", "15")
    source = write_jsonl(tmp_path / "in.jsonl", complaint_data())
    result = runner.invoke(app, ["plan", str(source), "-f", "json"])
    task = json.loads(result.stdout)["tasks"][2]
    assert task["kind"] == "initial_response"
    assert task["due_at"] == "2026-11-18T10:15:00+09:00"
