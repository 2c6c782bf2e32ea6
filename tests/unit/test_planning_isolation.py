"""A record no plan can be computed for is quarantined with its field; the run goes on."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from crm_complaints.cli import app
from crm_complaints.errors import RecordError
from crm_complaints.policy import Policy
from crm_complaints.retry import RetryPolicy
from crm_complaints.schema import Category, Channel, Complaint, RiskFlag, Severity, Status
from crm_complaints.state import SqlStateStore
from crm_complaints.sync import sync
from tests.conftest import complaint_data, make_complaint, realistic_complaints
from tests.fakes import FakeAdapter

STILL_OPEN = "9999-12-31T00:00:00+09:00"  # a common "still open" placeholder


def test_a_poison_record_is_quarantined_and_the_rest_sync(store: SqlStateStore) -> None:
    good = realistic_complaints(5)
    poison = [
        make_complaint(id="POISON-1", resolved_at=STILL_OPEN, status="resolved"),
        make_complaint(id="POISON-2", received_at="0001-01-01T00:00:00+09:00"),
    ]
    adapter = FakeAdapter()
    summary = sync(
        [*good[:2], *poison, *good[2:]], adapter=adapter, store=store, retry=RetryPolicy.no_wait()
    )
    assert (summary.created, summary.quarantined, summary.exit_code) == (5, 2, 3)
    assert set(adapter.crm.tickets) == {c.id for c in good}
    stored = store.quarantine_of_run(summary.run_id or 0)
    fields = {q["complaint_id"]: q["problems"][0] for q in stored}
    assert fields["POISON-1"]["field"] == "resolved_at"
    assert "leave resolved_at empty" in fields["POISON-1"]["message"]
    assert fields["POISON-2"]["field"] == "received_at"
    assert {q["line"] for q in stored} == {3, 4}  # their positions in the input


def test_plan_command_quarantines_instead_of_crashing(tmp_path: Path) -> None:
    source = tmp_path / "c.jsonl"
    rows = [complaint_data(id="OK-1"), complaint_data(id="BAD-1", resolved_at=STILL_OPEN)]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = CliRunner().invoke(app, ["plan", str(source), "--format", "json"])
    assert result.exit_code == 3, result.output
    assert [json.loads(line)["complaint_id"] for line in result.stdout.splitlines()] == ["OK-1"]
    assert "BAD-1" in result.stderr and "resolved_at" in result.stderr


moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
)


@st.composite
def complaints(draw: Any) -> Complaint:
    """Any schema-valid complaint: any zone, any year, any status, category, flags, severity."""
    data: dict[str, Any] = complaint_data(id="HYP-1")
    data.update(
        received_at=draw(moments),
        category=draw(st.sampled_from(list(Category))),
        channel=draw(st.sampled_from(list(Channel))),
        status=draw(st.sampled_from(list(Status))),
        risk_flags=draw(st.frozensets(st.sampled_from(list(RiskFlag)))),
        severity=draw(st.none() | st.sampled_from(list(Severity))),
    )
    for name in ("acknowledged_at", "resolved_at", "closed_at"):
        data[name] = draw(st.none() | moments)
    return Complaint.model_validate(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(complaints())
def test_any_valid_complaint_plans_or_is_a_record_error(complaint: Complaint) -> None:
    try:
        plan = Policy().plan(complaint)
    except RecordError as exc:
        assert exc.record == complaint.id and exc.field in ("received_at", "resolved_at")
        return
    assert all(task.due_at.tzinfo is not None for task in plan.tasks)
