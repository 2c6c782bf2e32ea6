"""The report's due-dates-only planner gives Policy.plan's due dates, task for task.

The report plans a year of complaints through :class:`DeadlinePlanner` instead of
``Policy.plan``; if the two ever disagreed, the compliance numbers would be wrong without any
error. These tests plan random complaints both ways (four clinics in four zones, pauses, an
imported history cut-off, dates at the ends of the calendar) and compare every task.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_complaints.config import load_settings
from crm_complaints.deadlines import DeadlinePlanner
from crm_complaints.errors import RecordError
from crm_complaints.policy import Policy
from crm_complaints.reporting.command import deadline_policy
from crm_complaints.reporting.compute import _OpeningClock, business_hours_between
from crm_complaints.schema import (
    Category,
    Complaint,
    Department,
    RiskFlag,
    Severity,
    Status,
)
from tests.conftest import complaint_data

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "config.toml"
SETTINGS = load_settings(EXAMPLES)
CLINICS = sorted(SETTINGS.clinics)  # Tokyo, Shanghai, Taipei, New York: four zones, DST
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Mostly the years a report covers (DST changes, holidays), sometimes the ends of the calendar
# where a plan refuses the record.
usual = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31))
extreme = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
moments = st.one_of(usual, usual, usual, extreme).flatmap(
    lambda naive: st.timezones().map(lambda zone: naive.replace(tzinfo=zone))
)


@st.composite
def complaints(draw: Any) -> Complaint:
    received = draw(moments)
    data: dict[str, Any] = complaint_data(
        id="HYP-1",
        clinic=draw(st.sampled_from([*CLINICS, "unknown-clinic"])),
        received_at=received,
        category=draw(st.sampled_from(list(Category))),
        status=draw(st.sampled_from(list(Status))),
        risk_flags=draw(st.frozensets(st.sampled_from(list(RiskFlag)))),
        severity=draw(st.none() | st.sampled_from(list(Severity))),
        reporter={"department": draw(st.sampled_from(list(Department)))},
    )
    later = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)).map(
        lambda gap: received + gap
    )
    for name in ("acknowledged_at", "resolved_at", "closed_at"):
        data[name] = draw(st.none() | later | moments)
    changes = draw(st.lists(st.tuples(st.sampled_from(list(Status)), later), max_size=4))
    data["status_changes"] = [{"status": s, "at": at} for s, at in changes]
    return Complaint.model_validate(data)


def policies() -> list[Policy]:
    """The report's policy as it is, with pauses, and with an imported history cut-off."""
    plain = deadline_policy(SETTINGS)
    paused = plain.config.model_copy(
        update={"pause_statuses": frozenset({Status.RESOLUTION_PROPOSED, Status.INVESTIGATING})}
    )
    history = plain.config.model_copy(update={"history_before": datetime(2026, 6, 1, tzinfo=UTC)})
    lookup = SETTINGS.clinic
    return [plain, Policy(paused, lookup), Policy(history, lookup)]


POLICIES = policies()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(complaint=complaints(), which=st.sampled_from(range(len(POLICIES))))
def test_due_dates_equal_the_plans(complaint: Complaint, which: int) -> None:
    policy = POLICIES[which]
    try:
        plan = policy.plan(complaint)
    except RecordError as exc:
        for utc in (False, True):
            try:
                DeadlinePlanner(policy, utc=utc).deadlines(complaint)
            except RecordError as again:
                assert (again.record, again.field) == (exc.record, exc.field)
            else:
                raise AssertionError("the plan refused the record, the planner did not")
        return
    expected = [(t.kind, t.department, t.due_at, t.completed, t.paused_since) for t in plan.tasks]
    in_zone = DeadlinePlanner(policy).deadlines(complaint)
    assert in_zone == expected
    assert [task[2].tzinfo for task in in_zone] == [task[2].tzinfo for task in expected]
    # UTC: the same instants (compared as offsets from the epoch: == between zones is False
    # for a time in a repeated hour, PEP 495), the same order against any moment.
    in_utc = DeadlinePlanner(policy, utc=True).deadlines(
        complaint, received_utc=complaint.received_at.astimezone(UTC)
    )
    assert [(k, d, c, p) for k, d, _, c, p in in_utc] == [
        (k, d, c, p) for k, d, _, c, p in expected
    ]
    assert [t[2] - EPOCH for t in in_utc] == [t[2] - EPOCH for t in expected]
    assert all(task[2].tzinfo is UTC for task in in_utc)


def test_caches_per_clinic_day_do_not_mix_clinics() -> None:
    """Two clinics, the same local day: each gets its own calendar's closing times."""
    planner = DeadlinePlanner(deadline_policy(SETTINGS))
    tokyo = Complaint.model_validate(
        complaint_data(clinic="tokyo-ginza", received_at="2026-12-28T10:00:00+09:00")
    )
    new_york = Complaint.model_validate(
        complaint_data(clinic="new-york-soho", received_at="2026-12-28T10:00:00-05:00")
    )
    for complaint in (tokyo, new_york, tokyo):
        expected = [t.due_at for t in deadline_policy(SETTINGS).plan(complaint).tasks]
        assert [task[2] for task in planner.deadlines(complaint)] == expected


@settings(max_examples=150, deadline=None)
@given(
    clinic=st.sampled_from(CLINICS),
    start=usual.map(lambda naive: naive.replace(tzinfo=UTC)),
    length=st.timedeltas(min_value=timedelta(days=-2), max_value=timedelta(days=60)),
)
def test_opening_clock_equals_business_hours_between(
    clinic: str, start: datetime, length: timedelta
) -> None:
    calendar = SETTINGS.clinic(clinic).calendar()
    clock = _OpeningClock(calendar)
    end = start + length
    assert clock.hours(start, end) == business_hours_between(calendar, start, end)
