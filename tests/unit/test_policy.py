from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crm_complaints.config import ClinicConfig, PolicyConfig, Settings
from crm_complaints.policy import Policy, TaskKind
from crm_complaints.schema import Department, Severity
from tests.conftest import make_complaint

TOKYO = ZoneInfo("Asia/Tokyo")
FD, CS, PH, MG = (
    Department.FRONT_DESK,
    Department.CARE_STAFF,
    Department.PHYSICIAN,
    Department.MANAGEMENT,
)


@pytest.fixture
def policy() -> Policy:
    return Policy()


def severity_of(policy: Policy, **overrides: Any) -> Severity:
    return policy.plan(make_complaint(**overrides)).severity


@pytest.mark.parametrize("flag", ["bodily_harm", "legal_action", "media", "regulator"])
def test_critical_flags(policy: Policy, flag: str) -> None:
    assert severity_of(policy, risk_flags=[flag]) is Severity.CRITICAL


@pytest.mark.parametrize("flag", ["social_media", "repeat_complaint"])
def test_high_flags(policy: Policy, flag: str) -> None:
    assert severity_of(policy, risk_flags=[flag]) is Severity.HIGH


def test_side_effect_is_high(policy: Policy) -> None:
    assert severity_of(policy, category="side_effect") is Severity.HIGH


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("100000", "JPY", Severity.HIGH),
        ("99999", "JPY", Severity.MEDIUM),
        ("5000", "CNY", Severity.HIGH),
        ("4999.99", "CNY", Severity.MEDIUM),
        ("20000", "TWD", Severity.HIGH),
        ("19999", "TWD", Severity.MEDIUM),
        ("1000", "USD", Severity.HIGH),
        ("999.99", "USD", Severity.MEDIUM),
        ("1000", "EUR", Severity.HIGH),
        ("1", "KRW", Severity.HIGH),  # no threshold: counts as over it
    ],
)
@pytest.mark.parametrize("kind", ["refund", "compensation"])
def test_money_thresholds(
    policy: Policy, kind: str, amount: str, currency: str, expected: Severity
) -> None:
    demand = {"kind": kind, "amount": amount, "currency": currency}
    assert severity_of(policy, demand=demand) is expected


def test_large_amount_of_an_apology_demand_is_not_money(policy: Policy) -> None:
    demand = {"kind": "other", "amount": "500000", "currency": "JPY"}
    assert severity_of(policy, demand=demand) is Severity.LOW


@pytest.mark.parametrize("category", ["medical_quality", "treatment_outcome", "product", "privacy"])
def test_medium_categories(policy: Policy, category: str) -> None:
    assert severity_of(policy, category=category) is Severity.MEDIUM


def test_refund_without_amount_is_medium(policy: Policy) -> None:
    assert severity_of(policy, demand={"kind": "refund"}) is Severity.MEDIUM


@pytest.mark.parametrize("category", ["price_billing", "service_attitude", "wait_time", "other"])
def test_low_otherwise(policy: Policy, category: str) -> None:
    assert severity_of(policy, category=category) is Severity.LOW


def test_input_severity_is_never_lowered_but_can_raise(policy: Policy) -> None:
    assert severity_of(policy, severity="high") is Severity.HIGH
    assert severity_of(policy, severity="low", risk_flags=["media"]) is Severity.CRITICAL


@pytest.mark.parametrize(
    ("category", "primary", "supporting"),
    [
        ("medical_quality", PH, [CS, FD]),
        ("treatment_outcome", PH, [CS, FD]),
        ("product", CS, [FD, PH]),
        ("price_billing", FD, []),
        ("service_attitude", FD, []),
        ("wait_time", FD, []),
        ("facility", FD, []),
        ("other", FD, []),
        ("privacy", MG, [FD]),
    ],
)
def test_departments_when_not_escalated(
    policy: Policy, category: str, primary: Department, supporting: list[Department]
) -> None:
    plan = policy.plan(make_complaint(category=category))
    assert plan.primary_department is primary
    assert plan.supporting_departments == supporting
    assert plan.coordinator is primary
    assert plan.escalated is False


def test_escalation_brings_management_as_coordinator(policy: Policy) -> None:
    plan = policy.plan(make_complaint(category="side_effect"))
    assert plan.primary_department is PH
    assert plan.supporting_departments == [CS, FD, MG]
    assert plan.coordinator is MG
    assert plan.escalated is True
    assert plan.priority == "HIGH"


def test_escalated_privacy_never_lists_primary_as_supporting(policy: Policy) -> None:
    plan = policy.plan(make_complaint(category="privacy", risk_flags=["legal_action"]))
    assert plan.primary_department is MG
    assert MG not in plan.supporting_departments
    assert plan.priority == "URGENT"


def test_task_schedule(policy: Policy) -> None:
    received = datetime(2026, 11, 18, 16, 59, tzinfo=TOKYO)
    plan = policy.plan(
        make_complaint(
            received_at=received.isoformat(),
            category="product",
            reporter={"department": "care_staff"},
        )
    )
    due = {t.kind: (t.department, t.due_at) for t in plan.tasks}
    assert due[TaskKind.REPORT_SUPERVISOR] == (CS, received + timedelta(minutes=30))
    assert due[TaskKind.REPORT_EXECUTIVE] == (MG, received + timedelta(minutes=30))
    # Wall clock: 2 hours even though the clinic closes at 17:00.
    assert due[TaskKind.INITIAL_RESPONSE] == (CS, received + timedelta(hours=2))
    assert due[TaskKind.INVESTIGATION] == (CS, datetime(2026, 11, 19, 17, tzinfo=TOKYO))
    assert due[TaskKind.RESOLUTION_PLAN] == (CS, datetime(2026, 11, 21, 17, tzinfo=TOKYO))
    # 10 business days: skips 22 (Sun), 23 (holiday), 29 (Sun).
    assert due[TaskKind.INCIDENT_REPORT] == (MG, datetime(2026, 12, 1, 17, tzinfo=TOKYO))
    assert TaskKind.FOLLOW_UP not in due
    assert [t.title for t in plan.tasks][2] == "お詫びの電話と事実確認(2時間以内)"


def test_unknown_reporter_department_reports_via_front_desk(policy: Policy) -> None:
    plan = policy.plan(make_complaint(reporter=None))
    task = plan.task(TaskKind.REPORT_SUPERVISOR)
    assert task is not None and task.department is FD


def test_follow_up_only_once_resolved(policy: Policy) -> None:
    plan = policy.plan(make_complaint(resolved_at="2026-11-20T11:00:00+09:00", status="resolved"))
    follow_up = plan.task(TaskKind.FOLLOW_UP)
    assert follow_up is not None
    assert follow_up.department is FD
    # 7 business days after Fri 20 Nov: 21, 24, 25, 26, 27, 28, 30.
    assert follow_up.due_at == datetime(2026, 11, 30, 17, tzinfo=TOKYO)
    assert follow_up.completed is False


def test_tasks_complete_as_the_complaint_moves(policy: Policy) -> None:
    fresh = policy.plan(make_complaint())
    assert not any(t.completed for t in fresh.tasks)
    acknowledged = policy.plan(make_complaint(acknowledged_at="2026-11-18T10:40:00+09:00"))
    done = {t.kind for t in acknowledged.tasks if t.completed}
    assert done == {
        TaskKind.REPORT_SUPERVISOR,
        TaskKind.REPORT_EXECUTIVE,
        TaskKind.INITIAL_RESPONSE,
    }
    proposed = policy.plan(make_complaint(status="resolution_proposed"))
    assert {t.kind for t in proposed.tasks if not t.completed} == {TaskKind.INCIDENT_REPORT}


def test_due_dates_carry_the_clinic_offset() -> None:
    settings = Settings(clinics={"taipei": ClinicConfig(time_zone="Asia/Taipei", country="TW")})
    plan = Policy.from_settings(settings).plan(
        make_complaint(clinic="taipei", received_at="2026-11-18T02:00:00+00:00")
    )
    assert {t.due_at.utcoffset() for t in plan.tasks} == {timedelta(hours=8)}


def test_unnamed_clinic_uses_the_default_and_its_language() -> None:
    settings = Settings(default_clinic=ClinicConfig(language="zh-Hant"))
    plan = Policy.from_settings(settings).plan(make_complaint(clinic="nowhere", language=None))
    assert plan.language == "zh-Hant"
    assert plan.tasks[0].title == "立即向上級詳細報告"


def test_every_number_and_mapping_is_overridable() -> None:
    config = PolicyConfig(
        amount_thresholds={"JPY": 10000},  # type: ignore[dict-item]
        initial_response_minutes=60,
        investigation_business_days=2,
        primary_department={**PolicyConfig().primary_department, "wait_time": "management"},  # type: ignore[dict-item]
        priority={"low": "P4", "medium": "P3", "high": "P2", "critical": "P1"},  # type: ignore[dict-item]
    )
    policy = Policy(config)
    plan = policy.plan(
        make_complaint(
            category="wait_time", demand={"kind": "refund", "amount": "10000", "currency": "JPY"}
        )
    )
    assert plan.severity is Severity.HIGH and plan.priority == "P2"
    assert plan.primary_department is MG
    response = plan.task(TaskKind.INITIAL_RESPONSE)
    assert response is not None
    assert response.due_at - make_complaint().received_at == timedelta(hours=1)
    investigation = plan.task(TaskKind.INVESTIGATION)
    assert investigation is not None
    assert investigation.due_at == datetime(2026, 11, 20, 17, tzinfo=TOKYO)


def test_plan_is_deterministic(policy: Policy) -> None:
    complaint = make_complaint(risk_flags=["social_media"])
    assert policy.plan(complaint).content_hash() == policy.plan(complaint).content_hash()


def test_seed_003_dermatology_cases(examples_dir: Any) -> None:
    from crm_complaints.config import load_settings
    from crm_complaints.readers import read_complaints

    policy = Policy.from_settings(load_settings(examples_dir / "config.toml"))
    plans = {
        c.id: policy.plan(c)
        for c in read_complaints(examples_dir / "complaints.jsonl")
        if not hasattr(c, "problems")  # only complaints
    }
    laser, allergy, outcome = plans["TPE-2026-0201"], plans["TPE-2026-0202"], plans["TPE-2026-0203"]
    assert (laser.severity, laser.primary_department) == (Severity.HIGH, PH)
    assert (allergy.severity, allergy.primary_department) == (Severity.CRITICAL, CS)
    assert (outcome.severity, outcome.coordinator) == (Severity.MEDIUM, PH)
    assert laser.tasks[0].title == "立即向上級詳細報告"
