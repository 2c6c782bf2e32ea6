"""Hostile review 5 of ``pull`` and ``ack`` (pull_reported, migration 9) through the CLI
against the HubSpot emulator, as a clinic that takes the lines back into its own system and
acknowledges status moves would run them: --since in the past again and again, a complaint
gone from the source and back, and ack / pull / reconcile in turn."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crm_complaints.emulator import HubSpotEmulator
from tests.e2e.test_review16_pull import CLOSED_STAGE, NEW_STAGE, Clinic, clinic, moment, recent


def status_moved(made: Clinic) -> int:
    answer = made.run("reconcile", "--format", "json")
    assert answer.exit_code in (0, 5), answer.output  # 5: status moved counts
    return int(json.loads(answer.stdout)["counts"]["status_moved"])


def stages(lines: list[dict[str, Any]]) -> list[tuple[str, Any, Any]]:
    return [
        (line["complaint_id"], line["stage"]["theirs"], line["stage"]["moved"]) for line in lines
    ]


def test_review5_pull_since_in_the_past_says_back_at_ours_once(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """Every pull with the same --since from before the close: the close is said each time
    (a line may come twice), the reopen once, then nothing, however often it is re-read."""
    cid = "R5-PAST"
    made = clinic(emulator, tmp_path, [recent(cid)])
    since = moment().isoformat()
    made.staff(made.ticket(cid), hs_pipeline_stage=CLOSED_STAGE)
    for _ in range(2):
        _, lines = made.pull("--since", since)
        assert stages(lines) == [(cid, "Closed", "closed")]
    made.staff(made.ticket(cid), hs_pipeline_stage=NEW_STAGE)
    _, lines = made.pull("--since", since)
    assert stages(lines) == [(cid, "New", None)]
    assert lines[0]["stage"]["ours"] == "New" and lines[0]["stage"]["closed"] is False
    for _ in range(2):
        _, lines = made.pull("--since", since)
        assert lines == []


def test_review5_pull_a_complaint_gone_from_the_source_and_back(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """Close pulled; the complaint leaves the source (an export filtered by date) while staff
    reopen: no line, counted as not in the source. When it is back, the reopen is said."""
    cid = "R5-GONE"
    kept = recent("R5-KEPT")
    made = clinic(emulator, tmp_path, [recent(cid), kept])
    source = made.source.read_text(encoding="utf-8")
    since = moment().isoformat()
    made.staff(made.ticket(cid), hs_pipeline_stage=CLOSED_STAGE)
    _, lines = made.pull("--since", since)
    assert stages(lines) == [(cid, "Closed", "closed")]

    made.write([kept])
    made.staff(made.ticket(cid), hs_pipeline_stage=NEW_STAGE)
    answer, lines = made.pull("--since", since)
    assert lines == [] and "1 not in the source" in answer.stderr

    made.source.write_text(source, encoding="utf-8")
    _, lines = made.pull("--since", since)
    assert stages(lines) == [(cid, "New", None)]


def test_review5_pull_between_ack_and_reconcile_keeps_the_ack(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """Ack a close, then pull (which reads the ticket in the acknowledged stage), then
    reconcile: still quiet. Staff reopen, pull sees it (ack spent), staff close again:
    reconcile reports the second close."""
    cid = "R5-ACK"
    made = clinic(emulator, tmp_path, [recent(cid)])
    since = moment().isoformat()
    made.staff(made.ticket(cid), hs_pipeline_stage=CLOSED_STAGE)
    assert status_moved(made) == 1
    acked = made.cli("ack", cid)
    assert acked.exit_code == 0, acked.output
    _, lines = made.pull("--since", since)
    assert stages(lines) == [(cid, "Closed", "closed")]
    assert status_moved(made) == 0

    made.staff(made.ticket(cid), hs_pipeline_stage=NEW_STAGE)
    _, lines = made.pull("--since", since)
    assert stages(lines) == [(cid, "New", None)]
    made.staff(made.ticket(cid), hs_pipeline_stage=CLOSED_STAGE)
    assert status_moved(made) == 1
