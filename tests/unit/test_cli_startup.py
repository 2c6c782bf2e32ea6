"""The command's start-up: what ``report``, ``plan`` and ``validate`` never use is not imported
before a command asks for it (SQLAlchemy and the state store, the HubSpot SDK, requests: about
half the CLI's start-up, which a 5-second report cannot spare)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("sqlalchemy", "hubspot", "requests", "crm_complaints.job", "crm_complaints.state")


def loaded_after(code: str) -> set[str]:
    """Top-level names of the HEAVY modules a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return {h for h in HEAVY for m in json.loads(out.stdout) if m == h or m.startswith(h + ".")}


def test_loading_the_cli_imports_no_database_sdk_or_http_library() -> None:
    assert loaded_after("import crm_complaints.cli") == set()


def test_the_package_gives_job_on_first_use() -> None:
    assert loaded_after("import crm_complaints") == set()
    assert "crm_complaints.job" in loaded_after(
        "import crm_complaints\nassert crm_complaints.Job.__name__ == 'Job'"
    )


def test_a_report_without_a_state_store_imports_no_database_library(tmp_path: Path) -> None:
    """``report`` (like ``plan``) reads the CRM's completions only when a state store exists;
    without one, looking must not cost SQLAlchemy's import."""
    source, output = tmp_path / "complaints.jsonl", tmp_path / "report.json"
    source.write_text("", encoding="utf-8")
    argv = ["crm-complaints", "report", "--source", str(source), "--output", str(output)]
    code = "\n".join(
        [
            "import os, sys",
            f"os.chdir({str(tmp_path)!r})",
            "from crm_complaints.cli import app",
            f"sys.argv = {argv!r}",
            "try:",
            "    app()",
            "except SystemExit as exit_:",
            "    assert exit_.code in (0, None), exit_.code",
        ]
    )
    assert loaded_after(code) == set()
    assert output.is_file()
