"""Per-clinic routing and reminders in the plan (issue 12, parts 1 and 2)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import responses

from crm_complaints.adapters.base import Outcome
from crm_complaints.adapters.webhook import WebhookAdapter, WebhookConfig
from crm_complaints.config import (
    ClinicConfig,
    PolicyConfig,
    ReminderConfig,
    Settings,
    load_settings,
)
from crm_complaints.errors import ConfigError
from crm_complaints.policy import Plan, Policy, TaskKind
from crm_complaints.routing import OwnerRef, OwnerRole
from crm_complaints.schema import Department, canonical_hash
from tests.conftest import make_complaint

TOKYO = ZoneInfo("Asia/Tokyo")
SHANGHAI = ZoneInfo("Asia/Shanghai")
FD, CS, PH, MG = (
    Department.FRONT_DESK,
    Department.CARE_STAFF,
    Department.PHYSICIAN,
    Department.MANAGEMENT,
)


def chain() -> Settings:
    """Three clinics of one chain in two time zones, each with its own owners."""
    return Settings(
        clinics={
            "tokyo-ginza": ClinicConfig(
                owners={
                    "physician": {"owner": "dr.ginza@chain.example"},
                    "front_desk": "desk.ginza@chain.example",
                    "management": "boss.ginza@chain.example",
                },
                staff={"PH-7": "dr.kato@chain.example"},
            ),
            "osaka-umeda": ClinicConfig(
                owners={
                    "physician": {
                        "owner": "dr.osaka@chain.example",
                        "deputy": "dr.osaka2@chain.example",
                        "away": ["2026-12-24..2026-12-31"],
                    },
                    "front_desk": "desk.osaka@chain.example",
                },
            ),
            "shanghai-jingan": ClinicConfig(
                time_zone="Asia/Shanghai",
                country="CN",
                language="zh-Hans",
                owners={"physician": "dr.sh@chain.example", "management": "boss.sh@chain.example"},
            ),
        }
    )


def keys(refs: tuple[OwnerRef, ...]) -> list[str]:
    return [r.key for r in refs]


def plan_of(settings: Settings, **overrides: Any) -> Plan:
    return Policy.from_settings(settings).plan(make_complaint(**overrides))


def owners_by_kind(plan: Plan) -> dict[TaskKind, list[str]]:
    return {t.kind: keys(t.owners) for t in plan.tasks}


def test_three_clinics_in_two_zones_route_to_their_own_owners() -> None:
    settings = chain()
    received = "2026-11-18T01:00:00+00:00"  # 10:00 in Tokyo and Osaka, 09:00 in Shanghai
    common = {"category": "side_effect", "received_at": received}
    ginza = plan_of(settings, id="G-1", clinic="tokyo-ginza", **common)
    osaka = plan_of(settings, id="O-1", clinic="osaka-umeda", **common)
    shanghai = plan_of(settings, id="S-1", clinic="shanghai-jingan", **common)

    assert owners_by_kind(ginza)[TaskKind.INITIAL_RESPONSE] == ["dr.ginza@chain.example"]
    assert owners_by_kind(osaka)[TaskKind.INITIAL_RESPONSE] == [
        "dr.osaka@chain.example",
        "dr.osaka2@chain.example",  # backs the owner up while not away
    ]
    assert owners_by_kind(shanghai)[TaskKind.INITIAL_RESPONSE] == ["dr.sh@chain.example"]
    # The reporter (front desk) reports to their own clinic's front desk.
    assert owners_by_kind(ginza)[TaskKind.REPORT_SUPERVISOR] == ["desk.ginza@chain.example"]
    assert owners_by_kind(osaka)[TaskKind.REPORT_SUPERVISOR] == ["desk.osaka@chain.example"]
    # Shanghai names no front desk owner: the adapter's own mapping applies (empty here).
    assert owners_by_kind(shanghai)[TaskKind.REPORT_SUPERVISOR] == []
    # Management, the last resort, per clinic; Osaka names none.
    investigation = {p.complaint_id: p.task(TaskKind.INVESTIGATION) for p in (ginza, osaka)}
    assert keys(investigation["G-1"].management_owners) == ["boss.ginza@chain.example"]  # type: ignore[union-attr]
    assert keys(investigation["O-1"].management_owners) == []  # type: ignore[union-attr]
    # Side effects escalate: management coordinates, so the ticket goes to management.
    assert keys(ginza.owners) == ["boss.ginza@chain.example"]
    assert keys(shanghai.owners) == ["boss.sh@chain.example"]
    # Each clinic's business-day deadlines are in its own zone.
    sh_due = shanghai.task(TaskKind.INVESTIGATION)
    assert sh_due is not None
    assert sh_due.due_at == datetime(2026, 11, 19, 17, tzinfo=SHANGHAI)


def test_deputy_takes_over_while_the_owner_is_away_judged_in_the_clinic_zone() -> None:
    settings = chain()
    # 2026-12-23 15:10 UTC is already 2026-12-24 00:10 in Osaka: the owner is away.
    plan = plan_of(
        settings,
        clinic="osaka-umeda",
        category="medical_quality",
        received_at="2026-12-23T15:10:00+00:00",
    )
    by_kind = owners_by_kind(plan)
    assert by_kind[TaskKind.INITIAL_RESPONSE] == ["dr.osaka2@chain.example"]
    assert [r.role for r in plan.tasks[2].owners] == [OwnerRole.DEPUTY]
    # The investigation falls due on the next business day, still within the away dates.
    assert by_kind[TaskKind.INVESTIGATION] == ["dr.osaka2@chain.example"]
    # 2026-12-23 12:00 UTC is 21:00 on the 23rd in Osaka: the first response falls due at
    # 23:00 local, before the away dates: the owner is in charge.
    before = plan_of(
        settings,
        clinic="osaka-umeda",
        category="medical_quality",
        received_at="2026-12-23T12:00:00+00:00",
    )
    assert owners_by_kind(before)[TaskKind.INITIAL_RESPONSE][0] == "dr.osaka@chain.example"


def test_deputy_only_for_tasks_due_within_the_away_dates() -> None:
    settings = Settings(
        clinics={
            "tokyo-ginza": ClinicConfig(
                owners={
                    "physician": {
                        "owner": "dr.a@chain.example",
                        "deputy": "dr.b@chain.example",
                        "away": ["2026-11-18"],
                    }
                }
            )
        }
    )
    plan = plan_of(settings, category="medical_quality")  # received Wed 18 Nov 10:00
    by_kind = owners_by_kind(plan)
    assert by_kind[TaskKind.INITIAL_RESPONSE] == ["dr.b@chain.example"]  # due 18th 12:00
    assert by_kind[TaskKind.INVESTIGATION][0] == "dr.a@chain.example"  # due 19th 17:00


def test_assignee_owns_the_primary_departments_tasks_when_it_maps() -> None:
    settings = chain()
    plan = plan_of(settings, category="medical_quality", assignee="PH-7")
    by_kind = owners_by_kind(plan)
    # A staff id through the clinic's staff table, then the department's owner behind it.
    assert by_kind[TaskKind.INITIAL_RESPONSE] == ["dr.kato@chain.example", "dr.ginza@chain.example"]
    assert by_kind[TaskKind.INVESTIGATION][0] == "dr.kato@chain.example"
    assert plan.tasks[2].owners[0].role is OwnerRole.ASSIGNEE
    # Reports go up the line and other departments' tasks are not the assignee's.
    assert by_kind[TaskKind.REPORT_SUPERVISOR] == ["desk.ginza@chain.example"]
    assert "dr.kato@chain.example" not in by_kind[TaskKind.INCIDENT_REPORT]
    # An e-mail is used as is; a staff id nobody maps is ignored.
    by_mail = owners_by_kind(
        plan_of(settings, category="medical_quality", assignee="dr.x@chain.example")
    )
    assert by_mail[TaskKind.INITIAL_RESPONSE][0] == "dr.x@chain.example"
    unknown = owners_by_kind(plan_of(settings, category="medical_quality", assignee="PH-99"))
    assert unknown[TaskKind.INITIAL_RESPONSE] == ["dr.ginza@chain.example"]


def test_assignee_who_is_the_away_owner_gives_way_to_the_deputy() -> None:
    plan = plan_of(
        chain(),
        clinic="osaka-umeda",
        category="medical_quality",
        received_at="2026-12-24T10:00:00+09:00",
        assignee="dr.osaka@chain.example",
    )
    assert owners_by_kind(plan)[TaskKind.INITIAL_RESPONSE] == ["dr.osaka2@chain.example"]


def test_assignee_changes_the_version_and_no_assignee_keeps_it() -> None:
    complaint = make_complaint()
    data = complaint.model_dump(mode="json")
    del data["assignee"]
    del data["status_changes"]  # unset too; left out like the assignee
    assert complaint.content_hash() == canonical_hash(data)
    assert make_complaint(assignee="PH-7").content_hash() != complaint.content_hash()


def test_management_reporter_makes_one_report_task() -> None:
    policy = Policy()
    plan = policy.plan(make_complaint(reporter={"department": "management"}))
    kinds = [t.kind for t in plan.tasks]
    assert TaskKind.REPORT_SUPERVISOR not in kinds
    assert kinds.count(TaskKind.REPORT_EXECUTIVE) == 1
    report = plan.task(TaskKind.REPORT_EXECUTIVE)
    assert report is not None and report.department is MG
    assert report.due_at == datetime(2026, 11, 18, 10, 30, tzinfo=TOKYO)
    # Anyone else: two reports, two people.
    other = policy.plan(make_complaint(reporter={"department": "care_staff"}))
    assert [t.kind for t in other.tasks][:2] == [
        TaskKind.REPORT_SUPERVISOR,
        TaskKind.REPORT_EXECUTIVE,
    ]
    assert len(other.tasks) == len(plan.tasks) + 1


def reminders(plan: Plan) -> dict[TaskKind, datetime | None]:
    return {t.kind: t.remind_at for t in plan.tasks}


def test_default_reminders_per_kind_exact() -> None:
    plan = Policy().plan(
        make_complaint(
            received_at="2026-11-18T10:07:00+09:00", resolved_at=None, category="product"
        )
    )
    got = reminders(plan)
    assert got[TaskKind.REPORT_SUPERVISOR] == datetime(2026, 11, 18, 10, 27, tzinfo=TOKYO)
    assert got[TaskKind.REPORT_EXECUTIVE] == datetime(2026, 11, 18, 10, 27, tzinfo=TOKYO)
    assert got[TaskKind.INITIAL_RESPONSE] == datetime(2026, 11, 18, 11, 37, tzinfo=TOKYO)
    # Business-day tasks: the due day's opening time (due at 17:00, remind at 08:00).
    assert got[TaskKind.INVESTIGATION] == datetime(2026, 11, 19, 8, 0, tzinfo=TOKYO)
    assert got[TaskKind.RESOLUTION_PLAN] == datetime(2026, 11, 21, 8, 0, tzinfo=TOKYO)
    assert got[TaskKind.INCIDENT_REPORT] == datetime(2026, 12, 1, 8, 0, tzinfo=TOKYO)
    for task in plan.tasks:
        assert task.remind_at is not None and task.remind_at <= task.due_at
        assert task.remind_at.utcoffset() == timedelta(hours=9)


def test_business_day_reminder_uses_that_clinics_opening_time() -> None:
    settings = Settings(
        clinics={
            "shanghai-jingan": ClinicConfig(
                time_zone="Asia/Shanghai",
                country="CN",
                hours={
                    "mon": ["09:00-18:00"],
                    "tue": ["09:00-18:00"],
                    "wed": ["09:00-18:00"],
                    "thu": ["09:00-18:00"],
                    "fri": ["09:00-18:00"],
                    "sat": ["10:30-19:00"],
                },
            )
        }
    )
    # Received Thursday 19 Nov: the investigation is due Friday 18:00, the plan Tuesday.
    plan = plan_of(settings, clinic="shanghai-jingan", received_at="2026-11-19T15:00:00+08:00")
    investigation = plan.task(TaskKind.INVESTIGATION)
    assert investigation is not None
    assert investigation.due_at == datetime(2026, 11, 20, 18, tzinfo=SHANGHAI)
    assert investigation.remind_at == datetime(2026, 11, 20, 9, tzinfo=SHANGHAI)
    # Three business days: Fri 20, Sat 21 (late shift), Mon 23: opening 09:00 on Monday.
    plan_task = plan.task(TaskKind.RESOLUTION_PLAN)
    assert plan_task is not None and plan_task.remind_at == datetime(
        2026, 11, 23, 9, tzinfo=SHANGHAI
    )


def test_reminders_are_configurable_and_off_switchable() -> None:
    custom = PolicyConfig(
        reminders=ReminderConfig(initial_response=45, investigation="off", report_executive=0)
    )
    got = reminders(Policy(custom).plan(make_complaint()))
    assert got[TaskKind.INITIAL_RESPONSE] == datetime(2026, 11, 18, 11, 15, tzinfo=TOKYO)
    assert got[TaskKind.INVESTIGATION] is None
    assert got[TaskKind.REPORT_EXECUTIVE] == datetime(2026, 11, 18, 10, 30, tzinfo=TOKYO)
    assert got[TaskKind.REPORT_SUPERVISOR] == datetime(2026, 11, 18, 10, 20, tzinfo=TOKYO)
    off = PolicyConfig(reminders=ReminderConfig(enabled=False))
    assert set(reminders(Policy(off).plan(make_complaint())).values()) == {None}


def test_done_tasks_get_no_reminder() -> None:
    plan = Policy().plan(make_complaint(acknowledged_at="2026-11-18T10:05:00+09:00"))
    got = reminders(plan)
    assert got[TaskKind.INITIAL_RESPONSE] is None
    assert got[TaskKind.INVESTIGATION] is not None


def test_opening_reminder_is_dropped_when_it_would_follow_the_due_time() -> None:
    # A wall-clock task set to "opening": due 07:30 before the 08:00 opening → no reminder.
    custom = PolicyConfig(reminders=ReminderConfig(initial_response="opening"))
    plan = Policy(custom).plan(make_complaint(received_at="2026-11-18T05:30:00+09:00"))
    assert reminders(plan)[TaskKind.INITIAL_RESPONSE] is None
    later = Policy(custom).plan(make_complaint(received_at="2026-11-18T09:00:00+09:00"))
    assert reminders(later)[TaskKind.INITIAL_RESPONSE] == datetime(2026, 11, 18, 8, tzinfo=TOKYO)


def test_routing_and_reminders_change_the_plan_version_only_when_set() -> None:
    quiet = PolicyConfig(reminders=ReminderConfig(enabled=False))
    plan = Policy(quiet).plan(make_complaint())
    data = plan.model_dump(mode="json")
    for name in ("owners", "management_owners"):
        del data[name]
    for task in data["tasks"]:
        for name in ("owners", "management_owners", "remind_at", "paused_since"):
            del task[name]
    assert plan.content_hash() == canonical_hash(data)  # as before the fields existed
    routed = Policy.from_settings(Settings(policy=quiet, clinics=chain().clinics)).plan(
        make_complaint()
    )
    assert routed.content_hash() != plan.content_hash()


@pytest.mark.parametrize(
    ("away", "fragment"),
    [("2026-12-31..2026-12-24", "ends before it starts"), ("24 Dec", "not a date")],
)
def test_bad_away_dates_name_the_key(tmp_path: Any, away: str, fragment: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[clinics.tokyo-ginza.owners.physician]\nowner = "a@b.example"\naway = ["{away}"]\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert "clinics.tokyo-ginza.owners.physician.away" in str(caught.value)
    assert fragment in str(caught.value)


def test_reminder_setting_must_be_minutes_opening_or_off(tmp_path: Any) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[policy.reminders]\ninvestigation = "noon"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert "policy.reminders.investigation" in str(caught.value)


@responses.activate
def test_webhook_payload_carries_the_clinics_routing_and_reminders(webhook_secret: str) -> None:
    url = "https://crm.example.org/hooks/complaints"
    responses.post(url, status=204)
    adapter = WebhookAdapter(WebhookConfig(url=url))
    settings = chain()
    item = Policy.from_settings(settings).planned(
        make_complaint(
            id="O-9",
            clinic="osaka-umeda",
            category="medical_quality",
            received_at="2026-12-24T10:00:00+09:00",
            assignee="dr.k@chain.example",
        )
    )
    [result] = adapter.push([item])
    assert result.outcome is Outcome.SYNCED
    body = json.loads(responses.calls[0].request.body)
    plan = body["data"]["plan"]
    tasks = {t["kind"]: t for t in plan["tasks"]}
    # Owner keys as configured, best first, with why each is a candidate: a receiver can route.
    assert tasks["initial_response"]["owners"] == [
        {"key": "dr.k@chain.example", "role": "assignee"},
        {"key": "dr.osaka2@chain.example", "role": "deputy"},  # the owner is away
    ]
    assert tasks["report_supervisor"]["owners"] == [
        {"key": "desk.osaka@chain.example", "role": "owner"}
    ]
    assert tasks["incident_report"]["owners"] == []  # Osaka names no management owner
    assert plan["owners"] == [{"key": "dr.osaka2@chain.example", "role": "deputy"}]
    assert tasks["initial_response"]["remind_at"] == "2026-12-24T11:30:00+09:00"
    # The complaint's own assignee field stays under the allowlist (not in it by default).
    assert "assignee" not in body["data"]["complaint"]
