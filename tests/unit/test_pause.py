"""Pause and resume (``policy.pause_statuses``): due dates move by the opening time paused."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crm_complaints.alerts.engine import find_alerts
from crm_complaints.alerts.settings import AlertsConfig
from crm_complaints.calendar import BusinessCalendar
from crm_complaints.config import ClinicConfig, PolicyConfig
from crm_complaints.errors import RecordError
from crm_complaints.pause import add_opening_time, opening_time_between
from crm_complaints.policy import Plan, Policy, TaskKind
from crm_complaints.schema import Status
from tests.conftest import make_complaint

TOKYO = ZoneInfo("Asia/Tokyo")
PAUSING = PolicyConfig(pause_statuses=frozenset({Status.RESOLUTION_PROPOSED}))
YEAR_END = ClinicConfig(annual_closures=["12-29", "12-30", "12-31", "01-01", "01-02", "01-03"])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def changes(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"status": status, "at": moment} for status, moment in pairs]


def due(plan: Plan, kind: TaskKind) -> datetime:
    task = plan.task(kind)
    assert task is not None
    return task.due_at


def plan_of(config: PolicyConfig = PAUSING, clinic: ClinicConfig | None = None, **kw: Any) -> Plan:
    chosen = clinic or ClinicConfig()
    return Policy(config, lambda _clinic: chosen).plan(make_complaint(**kw))


# Received Monday 16 November 2026, 10:00 at Ginza (default hours: Mon-Sat 08:00-12:00 and
# 13:30-17:00): investigation due Tue 17 at 17:00, resolution plan Thu 19 at 17:00.
LUNCH = {
    "received_at": "2026-11-16T10:00:00+09:00",
    "status": "coordinating",
    "status_changes": changes(
        ("received", "2026-11-16T10:00:00+09:00"),
        ("resolution_proposed", "2026-11-17T11:00:00+09:00"),
        ("coordinating", "2026-11-17T15:00:00+09:00"),  # the patient said no
    ),
}


def test_off_by_default_nothing_moves() -> None:
    plain = plan_of(PolicyConfig(), **{k: v for k, v in LUNCH.items() if k != "status_changes"})
    with_changes = plan_of(PolicyConfig(), **LUNCH)
    assert [t.due_at for t in with_changes.tasks] == [t.due_at for t in plain.tasks]
    assert plain.content_hash() == with_changes.content_hash()
    assert all(t.paused_since is None for t in with_changes.tasks)


def test_lunch_break_is_not_counted_as_paused_time() -> None:
    plan = plan_of(**LUNCH)
    # Paused 11:00-15:00 on Tuesday: opening time 11:00-12:00 and 13:30-15:00 = 2.5 h.
    assert due(plan, TaskKind.RESOLUTION_PLAN) == at("2026-11-20T10:30:00+09:00")
    assert due(plan, TaskKind.INVESTIGATION) == at("2026-11-18T10:30:00+09:00")
    # The wall-clock tasks never pause.
    unpaused = plan_of(PolicyConfig(), **LUNCH)
    for kind in (TaskKind.REPORT_SUPERVISOR, TaskKind.INITIAL_RESPONSE):
        assert due(plan, kind) == due(unpaused, kind)
    assert plan.content_hash() != unpaused.content_hash()


def test_holiday_and_weekend_inside_the_pause_cost_nothing() -> None:
    # Received Thu 19 Nov: resolution plan due Tue 24 17:00 (Mon 23 is Labour Thanksgiving).
    # Paused Fri 20 16:00 → Tue 24 09:00: Fri 1 h + Sat 7.5 h + Tue 1 h = 9.5 h of opening.
    plan = plan_of(
        received_at="2026-11-19T10:00:00+09:00",
        status="coordinating",
        status_changes=changes(
            ("resolution_proposed", "2026-11-20T16:00:00+09:00"),
            ("coordinating", "2026-11-24T09:00:00+09:00"),
        ),
    )
    unpaused = plan_of(PolicyConfig(), received_at="2026-11-19T10:00:00+09:00")
    assert due(unpaused, TaskKind.RESOLUTION_PLAN) == at("2026-11-24T17:00:00+09:00")
    # Tue 17:00 + 9.5 h: Wed 25 (7.5 h), then Thu 26 08:00 + 2 h.
    assert due(plan, TaskKind.RESOLUTION_PLAN) == at("2026-11-26T10:00:00+09:00")


def test_year_end_closure_inside_the_pause_costs_nothing() -> None:
    # Received Fri 25 Dec: resolution plan due Mon 4 Jan 2027 17:00 (29 Dec - 3 Jan closed).
    # Paused Mon 28 Dec 16:00 → Tue 5 Jan 09:00: 1 h + 4 Jan 7.5 h + 1 h = 9.5 h.
    kwargs: dict[str, Any] = {"received_at": "2026-12-25T10:00:00+09:00"}
    unpaused = plan_of(PolicyConfig(), YEAR_END, **kwargs)
    assert due(unpaused, TaskKind.RESOLUTION_PLAN) == at("2027-01-04T17:00:00+09:00")
    plan = plan_of(
        PAUSING,
        YEAR_END,
        status="coordinating",
        status_changes=changes(
            ("resolution_proposed", "2026-12-28T16:00:00+09:00"),
            ("coordinating", "2027-01-05T09:00:00+09:00"),
        ),
        **kwargs,
    )
    assert due(plan, TaskKind.RESOLUTION_PLAN) == at("2027-01-06T10:00:00+09:00")


def test_a_pause_after_the_due_date_moves_nothing() -> None:
    late = plan_of(
        received_at="2026-11-16T10:00:00+09:00",
        status="coordinating",
        status_changes=changes(
            ("resolution_proposed", "2026-11-25T10:00:00+09:00"),
            ("coordinating", "2026-11-26T10:00:00+09:00"),
        ),
    )
    assert due(late, TaskKind.RESOLUTION_PLAN) == at("2026-11-19T17:00:00+09:00")


def test_still_paused_tasks_are_marked_and_never_alerted() -> None:
    kwargs: dict[str, Any] = {
        "received_at": "2026-11-16T10:00:00+09:00",
        "status": "resolution_proposed",
        "status_changes": changes(("resolution_proposed", "2026-11-19T10:00:00+09:00")),
    }
    plan = plan_of(**kwargs)
    incident = plan.task(TaskKind.INCIDENT_REPORT)
    assert incident is not None and not incident.completed
    assert incident.paused_since == at("2026-11-19T10:00:00+09:00")
    assert incident.remind_at is None  # no reminder while the clock is stopped
    done = plan.task(TaskKind.RESOLUTION_PLAN)
    assert done is not None and done.completed and done.paused_since is None

    # Long past the incident report's due date: alerted without pausing, silent with it.
    now = at("2026-12-10T10:00:00+09:00")
    complaint = make_complaint(**kwargs)
    config = AlertsConfig()

    def alerted(policy: Policy) -> set[str]:
        pairs = [(complaint, policy.plan(complaint))]
        return {a.task for a in find_alerts(pairs, policy=policy, config=config, now=now)}

    assert "incident_report" in alerted(Policy())
    assert "incident_report" not in alerted(Policy(PAUSING))


def test_two_pauses_add_up() -> None:
    plan = plan_of(
        received_at="2026-11-16T10:00:00+09:00",
        status="coordinating",
        status_changes=changes(
            ("resolution_proposed", "2026-11-17T08:00:00+09:00"),
            ("coordinating", "2026-11-17T09:00:00+09:00"),  # 1 h
            ("resolution_proposed", "2026-11-18T16:00:00+09:00"),
            ("coordinating", "2026-11-18T17:00:00+09:00"),  # 1 h
        ),
    )
    assert due(plan, TaskKind.RESOLUTION_PLAN) == at("2026-11-20T10:00:00+09:00")


def test_opening_time_arithmetic_round_trips() -> None:
    calendar = BusinessCalendar()
    start = at("2026-11-20T16:00:00+09:00")
    end = at("2026-11-24T09:00:00+09:00")
    spent = opening_time_between(calendar, start, end)
    assert spent == timedelta(hours=9, minutes=30)
    assert add_opening_time(calendar, start, spent) == end
    # Ending exactly at the lunch break stays at 12:00, not 13:30.
    assert add_opening_time(calendar, at("2026-11-24T11:00:00+09:00"), timedelta(hours=1)) == at(
        "2026-11-24T12:00:00+09:00"
    )


def test_a_pause_too_long_for_a_deadline_names_the_record_and_field() -> None:
    with pytest.raises(RecordError) as caught:
        plan_of(
            received_at="2026-11-16T10:00:00+09:00",
            status="coordinating",
            status_changes=changes(
                ("resolution_proposed", "2026-11-17T08:00:00+09:00"),
                ("coordinating", "9999-12-30T09:00:00+09:00"),
            ),
        )
    assert caught.value.field == "status_changes"
