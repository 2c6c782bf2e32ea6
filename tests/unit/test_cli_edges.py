"""The CLI at its edges: output into a closed pipe, and state stores it cannot use."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from crm_complaints.cli import app
from crm_complaints.state import MIGRATIONS, open_store
from tests.conftest import realistic_complaints

CLI = [sys.executable, "-m", "crm_complaints"]


def test_plan_into_head_exits_quietly_as_unix_tools_do(tmp_path: Path) -> None:
    source = tmp_path / "complaints.jsonl"
    complaints = realistic_complaints(400)  # far more output than a pipe buffers
    source.write_text("".join(c.model_dump_json() + "\n" for c in complaints), encoding="utf-8")
    with subprocess.Popen(
        [*CLI, "plan", str(source), "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as writer:
        assert writer.stdout is not None and writer.stderr is not None
        head = subprocess.run(
            ["head", "-n", "1"], stdin=writer.stdout, capture_output=True, timeout=60
        )
        writer.stdout.close()  # only head holds the read end now; it has exited
        stderr = writer.stderr.read()
        writer.wait(timeout=60)
    assert head.stdout.decode().startswith('{"complaint_id": "E2E-0000"')
    assert writer.returncode == 141  # 128 + SIGPIPE, as a shell reports `cat` cut short
    assert stderr == b""  # no traceback, no "Exception ignored"


def _config(tmp_path: Path, state: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f"[state]\n{state}\n", encoding="utf-8")
    return config


def test_status_refuses_a_store_from_a_newer_release(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    open_store(path).close()
    newest = max(version for version, _, _ in MIGRATIONS)
    with sqlite3.connect(path) as raw:
        raw.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (newest + 1, "from the future", "2027-01-01 00:00:00"),
        )
    raw.close()
    config = _config(tmp_path, f'path = "{path}"')
    result = CliRunner().invoke(app, ["status", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert str(newest + 1) in result.output and str(newest) in result.output


def test_sync_with_a_missing_database_driver_exits_2_without_the_password(
    tmp_path: Path, webhook_secret: str
) -> None:
    source = tmp_path / "complaints.jsonl"
    source.write_text(realistic_complaints(1)[0].model_dump_json() + "\n", encoding="utf-8")
    config = _config(
        tmp_path,
        'url = "postgresql+psycopg2://crm:s3cret-pw@127.0.0.1:9/crm"\n'
        '[adapters.webhook]\nurl = "http://127.0.0.1:9/hooks/complaints"',
    )
    result = subprocess.run(
        [*CLI, "sync", "--source", str(source), "--adapter", "webhook", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "state error" in result.stderr and "state.url" in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout


def test_status_with_a_url_that_is_not_a_url_exits_2(tmp_path: Path) -> None:
    config = _config(tmp_path, 'url = "crm complaints db"')
    result = subprocess.run(
        [*CLI, "status", "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert "state.url" in result.stderr
