"""``crm-complaints pull`` and ``ack`` through the CLI against the HubSpot emulator: exit codes,
JSON Lines, request counts on stderr, and reconcile's JSON after an ack."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from crm_complaints.cli import app
from crm_complaints.emulator import HubSpotEmulator
from tests.conftest import edited, realistic_complaints
from tests.hubspot_support import OWNERS


def test_pull_and_ack_commands(emulator: HubSpotEmulator, tmp_path: Path) -> None:
    received = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    complaints = [edited(c, received_at=received) for c in realistic_complaints(6, "CLI")]
    source = tmp_path / "complaints.jsonl"
    source.write_text("".join(c.model_dump_json() + "\n" for c in complaints), encoding="utf-8")
    owners = "\n".join(f'{k} = "{v}"' for k, v in OWNERS.items())
    config = tmp_path / "config.toml"
    config.write_text(
        f'[state]\npath = "{tmp_path / "state.db"}"\n'
        f'[adapters.hubspot]\nhost = "{emulator.base_url}"\n[adapters.hubspot.owners]\n{owners}\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    opts = ["--adapter", "hubspot", "--config", str(config)]
    assert runner.invoke(app, ["setup", *opts]).exit_code == 0
    assert runner.invoke(app, ["sync", "--source", str(source), *opts]).exit_code == 0
    time.sleep(0.01)
    since = datetime.now(UTC).astimezone().isoformat()
    time.sleep(0.01)
    closed = complaints[2].id
    ticket = next(
        t for t in emulator.portal.live("tickets") if t.properties["crm_complaint_id"] == closed
    )
    emulator.portal.update("tickets", ticket.id, {"hs_pipeline_stage": "4"})

    pull = ["pull", "--source", str(source), *opts]
    first = runner.invoke(app, pull)
    assert first.exit_code == 2 and "--since" in first.stderr  # nothing to continue from
    naive = runner.invoke(app, [*pull, "--since", "2026-11-01T00:00"])
    assert naive.exit_code == 2 and "no offset" in naive.stderr
    out = tmp_path / "changes.jsonl"
    pulled = runner.invoke(app, [*pull, "--since", since, "--output", str(out)])
    assert pulled.exit_code == 0, pulled.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [p.name for p in tmp_path.glob("*.partial")] == []
    assert [(line["complaint_id"], line["stage"]["moved"]) for line in lines] == [
        (closed, "closed")
    ]
    # Discovery (pipelines, owners, properties) and two searches, however many complaints.
    requests = re.search(r"; (\d+) read request\(s\)", pulled.stderr)
    assert requests is not None and int(requests.group(1)) <= 10
    continued = runner.invoke(app, pull)
    assert continued.exit_code == 0 and json.loads(continued.stdout)["complaint_id"] == closed

    reconcile = ["reconcile", "--source", str(source), *opts, "--format", "json"]
    before = json.loads(runner.invoke(app, reconcile).stdout)
    assert before["counts"]["status_moved"] == 1
    assert [c["complaint_id"] for c in before["crm_changes"]] == [closed]
    acked = runner.invoke(app, ["ack", closed, *opts])
    assert acked.exit_code == 0 and f"acknowledged {closed}: stage Closed" in acked.stdout
    after = json.loads(runner.invoke(app, reconcile).stdout)
    assert after["counts"]["status_moved"] == 0
    listed = runner.invoke(app, ["ack", "--list", "--config", str(config)])
    assert listed.exit_code == 0 and listed.stdout.startswith(f"{closed}\thubspot\tClosed\tclosed")
    unknown = runner.invoke(app, ["ack", "CLI-NOPE", *opts])
    assert unknown.exit_code == 2 and "CLI-NOPE" in unknown.stderr
    assert runner.invoke(app, ["ack", *opts]).exit_code == 2  # nothing named
