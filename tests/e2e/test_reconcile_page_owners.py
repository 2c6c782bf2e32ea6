"""The reconcile page through the CLI names owners by e-mail, read while the adapter is open.

A staff member reassigns a ticket in HubSpot; ``crm-complaints reconcile --format html`` must
show both owners as people (the portal's owner directory), not as HubSpot ids, although the
adapter is closed before the page is drawn; the JSON carries the same labels.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from crm_complaints.cli import app
from crm_complaints.emulator import HubSpotEmulator
from tests.conftest import edited, realistic_complaints
from tests.hubspot_support import OWNERS

# The emulator's demo portal: owner id → e-mail (emulator/portal.py).
PORTAL_OWNERS = {
    "101": "frontdesk@clinic.example",
    "102": "care@clinic.example",
    "103": "doctor@clinic.example",
    "104": "director@clinic.example",
}


def test_reassigned_owner_shows_as_people_on_the_page(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    received = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    complaints = [edited(c, received_at=received) for c in realistic_complaints(6, prefix="OWN")]
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
    base = ["--source", str(source), "--adapter", "hubspot", "--config", str(config)]
    assert (
        runner.invoke(app, ["setup", "--adapter", "hubspot", "--config", str(config)]).exit_code
        == 0
    )
    assert runner.invoke(app, ["sync", *base]).exit_code == 0

    ticket = next(
        t for t in emulator.portal.live("tickets") if t.properties["crm_complaint_id"] == "OWN-0002"
    )
    before = ticket.properties["hubspot_owner_id"]
    after = "104" if before != "104" else "101"
    emulator.portal.update("tickets", ticket.id, {"hubspot_owner_id": after})

    page_path = tmp_path / "reconcile.html"
    result = runner.invoke(app, ["reconcile", *base, "--format", "html", "-o", str(page_path)])
    assert result.exit_code == 0, result.output  # a change staff made is information
    page = page_path.read_text(encoding="utf-8")
    assert f"{PORTAL_OWNERS[before]} ({before})" in page
    assert f"{PORTAL_OWNERS[after]} ({after})" in page
    assert not re.search(rf"<td>{after}</td>", page)  # never the bare id

    data = json.loads(runner.invoke(app, ["reconcile", *base, "--format", "json"]).stdout)
    assert data["owner_labels"] == {before: PORTAL_OWNERS[before], after: PORTAL_OWNERS[after]}
