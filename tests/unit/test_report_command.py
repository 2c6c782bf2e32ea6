"""``report_from_source`` pauses the garbage collector only while it reads and counts."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from crm_complaints.config import load_settings
from crm_complaints.reporting.command import collector_paused, report_from_source
from tests.conftest import complaint_data

SETTINGS = load_settings(Path(__file__).resolve().parents[2] / "examples" / "config.toml")


def test_the_collector_is_back_on_after_a_report(tmp_path: Path) -> None:
    source = tmp_path / "complaints.jsonl"
    source.write_text(json.dumps(complaint_data()) + "\n", encoding="utf-8")
    assert gc.isenabled()
    text, skipped = report_from_source(
        source, SETTINGS, output_format="json", date_from=None, date_to=None
    )
    assert gc.isenabled() and skipped == 0 and json.loads(text)["totals"]["previous"] == 0


def test_the_collector_is_back_on_after_a_failure_and_stays_off_if_it_was() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("a failed read")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # the caller's choice is kept
    finally:
        gc.enable()
