"""Hostile review of issue 16, part 2: ``crm-complaints ack`` through the CLI against the HubSpot
emulator. An acknowledged status move stays quiet only "until the CRM changes again"."""

from __future__ import annotations

import json
from datetime import UTC, datetime
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


def test_review16_ack_is_spent_when_the_stage_moves_on_each_backend(any_store: Any) -> None:
    """release_acks on SQLite and PostgreSQL: the ack of a ticket seen in another stage is
    forgotten, one still in the acknowledged stage is kept, and an ack of the new stage made
    meanwhile is not taken for the old one."""
    from crm_complaints.acks import Ack, _store, list_acks, release_acks
    from crm_complaints.adapters.base import RemoteRecord

    when = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    ns = any_store.namespace
    _store(any_store.engine, ns, [Ack(c, "hubspot", "Closed", True, when) for c in ("A", "B")])
    seen = [RemoteRecord("A", {}, stage="New", closed=False), RemoteRecord("B", {}, stage="Closed")]

    assert release_acks(any_store, "hubspot", seen) == 1
    assert [a.complaint_id for a in list_acks(any_store.engine, ns, "hubspot")] == ["B"]
    assert release_acks(any_store, "other", seen) == 0
