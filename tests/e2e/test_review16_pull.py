"""Hostile review of issue 16, part 3: ``crm-complaints pull`` through the CLI against the
HubSpot emulator, as a clinic that takes the lines back into its own system would use it.

The clinic's system keeps what the last line said. A pull that goes quiet when staff undo
something, or that reports our own unsynced change as theirs, leaves that system wrong.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from click.testing import Result
from typer.testing import CliRunner

from crm_complaints.cli import app
from crm_complaints.emulator import HubSpotEmulator
from crm_complaints.emulator.portal import StoredObject
from crm_complaints.schema import Complaint
from tests.conftest import edited, make_complaint
from tests.hubspot_support import OWNERS

CLOSED_STAGE, NEW_STAGE = "4", "1"  # the demo portal's "Closed" and "New"


@dataclass
class Clinic:
    """A clinic's config and source file, set up and synced through the CLI."""

    emulator: HubSpotEmulator
    path: Path
    config: Path
    source: Path

    @property
    def opts(self) -> list[str]:
        return ["--adapter", "hubspot", "--config", str(self.config)]

    def write(self, complaints: list[Complaint]) -> None:
        text = "".join(c.model_dump_json() + "\n" for c in complaints)
        self.source.write_text(text, encoding="utf-8")

    def run(self, *args: str) -> Result:
        """A command that reads the source (sync, pull, reconcile)."""
        return self.cli(args[0], "--source", str(self.source), *args[1:])

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(app, [args[0], *self.opts, *args[1:]])

    def pull(self, *args: str) -> tuple[Result, list[dict[str, Any]]]:
        answer = self.run("pull", *args)
        assert answer.exit_code == 0, answer.output
        return answer, [json.loads(line) for line in answer.stdout.splitlines()]

    def ticket(self, cid: str) -> StoredObject:
        return next(
            t
            for t in self.emulator.portal.live("tickets")
            if t.properties["crm_complaint_id"] == cid
        )

    def task(self, cid: str, kind: str) -> StoredObject:
        key = f"{cid}:{kind}"
        return next(
            t for t in self.emulator.portal.live("tasks") if t.properties["crm_task_key"] == key
        )

    def staff(self, obj: StoredObject, kind: str = "tickets", **props: str) -> None:
        """A person editing HubSpot directly."""
        self.emulator.portal.update(kind, obj.id, props)


def clinic(
    emulator: HubSpotEmulator, tmp_path: Path, complaints: list[Complaint], extra: str = ""
) -> Clinic:
    """``extra``: more config (TOML sections) before the adapter's."""
    owners = "\n".join(f'{k} = "{v}"' for k, v in OWNERS.items())
    config = tmp_path / "config.toml"
    config.write_text(
        f'[state]\npath = "{tmp_path / "state.db"}"\n{extra}'
        f'[adapters.hubspot]\nhost = "{emulator.base_url}"\n[adapters.hubspot.owners]\n{owners}\n',
        encoding="utf-8",
    )
    made = Clinic(emulator, tmp_path, config, tmp_path / "complaints.jsonl")
    made.write(complaints)
    setup = made.cli("setup")
    assert setup.exit_code == 0, setup.output
    synced = made.run("sync")
    assert synced.exit_code == 0, synced.output
    return made


def recent(cid: str = "PULL-1", **changes: Any) -> Complaint:
    received = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    return make_complaint(id=cid, received_at=received, **changes)


def moment() -> datetime:
    """A --since between two CRM writes (HubSpot's modification times are milliseconds)."""
    time.sleep(0.01)
    now = datetime.now(UTC)
    time.sleep(0.01)
    return now


def other_owner(held: StoredObject) -> str:
    return "102" if held.properties.get("hubspot_owner_id") != "102" else "101"


# -- findings (failing on purpose) ---------------------------------------------------------------


def test_review16_pull_reports_a_task_reopened_after_it_was_completed(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """Task completed, pulled, then reopened in HubSpot: expected the next pull to say completed
    false; actual: no line at all, so the clinic's system keeps the step done."""
    cid = "PULL-1"
    made = clinic(emulator, tmp_path, [recent(cid)])
    first_since = moment()
    made.staff(made.task(cid, "initial_response"), "tasks", hs_task_status="COMPLETED")
    _, done = made.pull("--since", first_since.isoformat())
    assert [line["tasks"]["initial_response"]["completed"] for line in done] == [True]

    second_since = moment()
    made.staff(made.task(cid, "initial_response"), "tasks", hs_task_status="NOT_STARTED")
    _, reopened = made.pull("--since", second_since.isoformat())

    assert [line["complaint_id"] for line in reopened] == [cid]
    assert reopened[0]["tasks"]["initial_response"]["completed"] is False


def test_review16_pull_reports_a_ticket_reopened_after_it_was_closed(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """Ticket closed, pulled, then reopened in HubSpot: expected the next pull to say the stage
    is open again; actual: no line, so the clinic's system keeps the complaint closed."""
    cid = "PULL-2"
    made = clinic(emulator, tmp_path, [recent(cid)])
    first_since = moment()
    made.staff(made.ticket(cid), hs_pipeline_stage=CLOSED_STAGE)
    _, closed = made.pull("--since", first_since.isoformat())
    assert [line["stage"]["moved"] for line in closed] == ["closed"]

    second_since = moment()
    made.staff(made.ticket(cid), hs_pipeline_stage=NEW_STAGE)
    _, reopened = made.pull("--since", second_since.isoformat())

    assert [line["complaint_id"] for line in reopened] == [cid]
    assert reopened[0]["stage"] is not None and reopened[0]["stage"]["closed"] is False


def test_review16_pull_does_not_report_an_unsynced_source_change_as_staffs(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """Front desk moves the status after the last sync, staff only reassign: expected no stage
    in the line (staff never touched it); actual: stage ours 'Waiting on us' / theirs 'New',
    which the clinic's system would take back over its own newer status."""
    cid = "PULL-3"
    complaint = recent(cid)
    made = clinic(emulator, tmp_path, [complaint])
    since = moment()
    held = made.ticket(cid)
    new_owner = other_owner(held)
    made.staff(held, hubspot_owner_id=new_owner)
    acknowledged = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    made.write([edited(complaint, status="investigating", acknowledged_at=acknowledged)])

    _, lines = made.pull("--since", since.isoformat())

    assert [line["complaint_id"] for line in lines] == [cid]
    assert (
        lines[0]["owner"]["theirs"] == OWNERS["care_staff" if new_owner == "102" else "front_desk"]
    )
    assert lines[0]["stage"] is None, lines[0]["stage"]


# -- what holds (no other test covers these) -----------------------------------------------------


def test_review16_pull_since_is_one_instant_whatever_its_offset(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """The same instant written in +09:00, Z and -05:00 gives the same lines; a complaint changed
    twice (closed and reassigned) is one line; a --since after the change gives empty output
    and exit 0 (an empty --output file, written whole); a date without a time is refused."""
    changed, untouched = "PULL-4", "PULL-5"
    made = clinic(emulator, tmp_path, [recent(changed), recent(untouched)])
    since = moment()
    held = made.ticket(changed)
    made.staff(held, hs_pipeline_stage=CLOSED_STAGE)
    made.staff(made.ticket(changed), hubspot_owner_id=other_owner(held))
    after = moment()

    outputs = []
    for zone in (timedelta(hours=9), timedelta(0), timedelta(hours=-5)):
        text = since.astimezone(timezone(zone)).isoformat()
        if zone == timedelta(0):
            text = text.replace("+00:00", "Z")
        answer, lines = made.pull("--since", text)
        outputs.append(answer.stdout)
        assert [line["complaint_id"] for line in lines] == [changed]
        assert lines[0]["stage"]["moved"] == "closed" and lines[0]["owner"] is not None
    assert outputs[0] == outputs[1] == outputs[2]

    nothing, lines = made.pull("--since", after.isoformat())
    assert (nothing.stdout, lines) == ("", [])
    out = tmp_path / "changes.jsonl"
    made.pull("--since", after.isoformat(), "--output", str(out))
    assert out.read_text(encoding="utf-8") == ""

    date_only = made.run("pull", "--since", since.date().isoformat())
    assert date_only.exit_code == 2 and "no offset" in date_only.stderr


def test_review16_pull_reconcile_json_carries_a_close_made_before_the_last_sync(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """Staff close a ticket, then the routine sync runs (nothing to send), then the nightly
    reconcile: expected its crm_changes to carry the close, as `pull` does ("the same data");
    actual: crm_changes is empty (records changed before the last sync are left out) while
    the same reconcile reports the status move."""
    cid = "PULL-6"
    made = clinic(emulator, tmp_path, [recent(cid)])
    since = moment()
    made.staff(made.ticket(cid), hs_pipeline_stage=CLOSED_STAGE)
    assert made.run("sync").exit_code == 0  # the routine sync: nothing of ours changed
    _, pulled = made.pull("--since", since.isoformat())
    assert [line["complaint_id"] for line in pulled] == [cid]

    answer = made.run("reconcile", "--format", "json")
    report = json.loads(answer.stdout)

    assert report["counts"]["status_moved"] == 1
    assert [line["complaint_id"] for line in report["crm_changes"]] == [cid]
    assert report["crm_changes"][0]["stage"] == pulled[0]["stage"]


def test_review16_pull_remembers_what_it_reported_on_each_backend(any_store: Any) -> None:
    """The parts pull reported (table pull_reported) on SQLite and PostgreSQL: remembered once
    (two pulls at once do not fail), forgotten when seen back at ours, kept when not seen."""
    from crm_complaints.crm_changes import CrmChange
    from crm_complaints.pull import _remember, reported_parts

    when = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    ns, engine = any_store.namespace, any_store.engine
    line = {"complaint_id": "R-1"}
    reported = CrmChange(line, frozenset({"stage", "follow_up:completed"}), frozenset({"stage"}))
    _remember(engine, "hubspot", ns, [reported], {}, when)
    _remember(engine, "hubspot", ns, [reported], {}, when)  # a second pull, same moment
    told = reported_parts(engine, "hubspot", ["R-1", "R-2"], ns)
    assert told == {"R-1": {"stage", "follow_up:completed"}}

    back = CrmChange(line, frozenset(), frozenset({"stage", "owner"}))  # task not read
    _remember(engine, "hubspot", ns, [back], told, when)

    assert reported_parts(engine, "hubspot", ["R-1"], ns) == {"R-1": {"follow_up:completed"}}
    assert reported_parts(engine, "webhook", ["R-1"], ns) == {}
