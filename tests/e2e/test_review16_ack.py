"""Hostile review of issue 16, part 2: ``crm-complaints ack`` through the CLI against the HubSpot
emulator. An acknowledged status move stays quiet only "until the CRM changes again"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crm_complaints.emulator import HubSpotEmulator
from tests.e2e.test_review16_pull import CLOSED_STAGE, NEW_STAGE, Clinic, clinic, recent


def counts(made: Clinic) -> dict[str, Any]:
    answer = made.run("reconcile", "--format", "json")
    assert answer.exit_code in (0, 5), answer.output  # 5: status moved counts
    return dict(json.loads(answer.stdout)["counts"])


def test_review16_ack_does_not_hide_a_second_close_after_a_reopen(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """Close acked, staff reopen, weeks later close again: expected status moved reported again
    (the CRM changed again); actual: the old ack still covers the stage 'Closed', so the
    second close is never reported."""
    cid = "ACK-1"
    made = clinic(emulator, tmp_path, [recent(cid)])
    made.staff(made.ticket(cid), hs_pipeline_stage=CLOSED_STAGE)
    assert counts(made)["status_moved"] == 1
    acked = made.cli("ack", cid)
    assert acked.exit_code == 0, acked.output
    assert counts(made)["status_moved"] == 0

    made.staff(made.ticket(cid), hs_pipeline_stage=NEW_STAGE)  # reopened: as ours again
    assert counts(made)["status_moved"] == 0
    made.staff(made.ticket(cid), hs_pipeline_stage=CLOSED_STAGE)  # closed once more

    assert counts(made)["status_moved"] == 1
