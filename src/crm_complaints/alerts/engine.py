"""``crm-complaints alerts``: find tasks due soon or overdue and notify, each alert once.

Reads the complaints and plans them (no CRM call); with an adapter (``--check-remote``) one bulk
read of the CRM's open tasks skips work people completed there; work a CRM reported completed
to an earlier ``pull`` or ``reconcile`` is skipped without one (see
:mod:`crm_complaints.crm_changes`). Levels (see :class:`Level`): ``due_soon`` to the task's
department, ``overdue`` to the department and the coordinator,
``escalation`` to management for a first response or dual-path report late by more than
``alerts.escalate_after_minutes``. Outside the clinic's opening hours alerts are held (sent by
the first run after opening) unless the complaint's severity is in
``alerts.always_severities``. Deliveries are recorded per complaint, task, level and channel
in :mod:`~crm_complaints.alerts.ledger` (claim, send, settle): a SIGKILL costs at most one
duplicate, never a lost alert; a failed channel is tried again by the next run.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ..adapters.base import Adapter
from ..calendar import BusinessCalendar
from ..crm_changes import completed_in_crm
from ..errors import RecordError
from ..exit_codes import ExitCode
from ..policy import Plan, PlannedTask, Policy
from ..readers import QuarantineEntry, ReadResult
from ..schema import Complaint, Department
from ..state import RecordState, SqlStateStore
from .ledger import Delivery, Ledger, deadline_key
from .message import AlertText, render
from .notify import Notifier
from .settings import AlertsConfig, Level

__all__ = ["Alert", "AlertsReport", "Outcome", "find_alerts", "run_alerts"]

log = logging.getLogger(__name__)

LOCK_NAME = "alerts"
"""The run lock's name in the state store: one alerts run per namespace at a time."""


class Outcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    HELD = "held"  # the clinic is closed; sent after opening
    ALREADY_SENT = "already_sent"
    WOULD_SEND = "would_send"  # --dry-run
    UNROUTED = "unrouted"  # no channel configured for it: fix the config
    DONE_IN_CRM = "done_in_crm"  # --check-remote: completed in the CRM
    DEFERRED = "deferred"  # over this run's message budget: the next run sends it


@dataclass
class Alert:
    """One level of one task of one complaint, and what became of it per channel."""

    complaint_id: str
    clinic: str
    task: str
    level: Level
    department: Department
    due_at: datetime
    severity: str
    text: AlertText
    channels: tuple[str, ...]
    held_until: datetime | None = None
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    outcome: Outcome = Outcome.WOULD_SEND


@dataclass
class AlertsReport:
    now: datetime
    dry_run: bool
    complaints: int = 0
    quarantined_input: int = 0
    alerts: list[Alert] = field(default_factory=list)
    remote_reads: int = 0

    def counts(self) -> dict[str, int]:
        counted = Counter(a.outcome.value for a in self.alerts)
        return {o.value: counted.get(o.value, 0) for o in Outcome}

    @property
    def exit_code(self) -> ExitCode:
        """PARTIAL (3) when a channel failed: those alerts are tried again by the next run."""
        return (
            ExitCode.PARTIAL
            if any(a.outcome is Outcome.FAILED for a in self.alerts)
            else ExitCode.OK
        )


_ORDER = {Level.ESCALATION: 0, Level.OVERDUE: 1, Level.DUE_SOON: 2}


def find_alerts(
    complaints: Iterable[tuple[Complaint, Plan]],
    *,
    policy: Policy,
    config: AlertsConfig,
    now: datetime,
    allowed_fields: Sequence[str] = (),
) -> list[Alert]:
    """Every alert the plans call for at ``now`` (most urgent first), held ones included."""
    soon = timedelta(minutes=config.due_soon_minutes)
    escalate = timedelta(minutes=config.escalate_after_minutes)
    found: list[Alert] = []
    for complaint, plan in complaints:
        calendar = policy.calendar_for(complaint.clinic)
        urgent = plan.severity in config.always_severities
        closed = config.quiet_outside_hours and not urgent and not calendar.is_open_at(now)
        for task in plan.tasks:
            if task.completed or task.paused_since is not None:
                continue  # done, or waiting on the patient (its clock is stopped)
            for level in _levels(task, now, soon, escalate, config):
                found.append(
                    _alert(complaint, plan, task, level, calendar, now, config, allowed_fields)
                )
                if closed:
                    found[-1].held_until = _next_opening(calendar, now)
    found.sort(key=lambda a: (_ORDER[a.level], a.due_at, a.complaint_id, a.task))
    return found


def _levels(
    task: PlannedTask,
    now: datetime,
    soon: timedelta,
    escalate: timedelta,
    config: AlertsConfig,
) -> list[Level]:
    if task.due_at > now:
        return [Level.DUE_SOON] if soon and task.due_at - now <= soon else []
    levels = [Level.OVERDUE]
    if task.kind.value in config.escalate_kinds and now - task.due_at > escalate:
        levels.append(Level.ESCALATION)
    return levels


def _alert(
    complaint: Complaint,
    plan: Plan,
    task: PlannedTask,
    level: Level,
    calendar: BusinessCalendar,
    now: datetime,
    config: AlertsConfig,
    allowed_fields: Sequence[str],
) -> Alert:
    if level is Level.DUE_SOON:
        keys = [task.department.value]
    elif level is Level.OVERDUE:
        keys = [task.department.value, plan.coordinator.value]
    else:
        keys = [Department.MANAGEMENT.value]
    keys.append(level.value)
    channels: dict[str, None] = {}
    for key in keys:
        channels.update(dict.fromkeys(config.channel_names(complaint.clinic, key)))
    text = render(
        level=level,
        language=plan.language,
        complaint_id=complaint.id,
        clinic=complaint.clinic,
        task=task.kind.value,
        department=task.department,
        due_at=task.due_at,
        now=now,
        zone=calendar.zone,
        category=complaint.category if "category" in allowed_fields else None,
        severity=plan.severity.value,
    )
    return Alert(
        complaint_id=complaint.id,
        clinic=complaint.clinic,
        task=task.kind.value,
        level=level,
        department=task.department,
        due_at=task.due_at,
        severity=plan.severity.value,
        text=text,
        channels=tuple(channels),
    )


def _next_opening(calendar: BusinessCalendar, now: datetime) -> datetime | None:
    """The start of the clinic's next opening interval after ``now`` (within a month)."""
    local = now.astimezone(calendar.zone)
    for offset in range(32):
        day = local.date() + timedelta(days=offset)
        for interval in calendar.intervals_on(day):
            start = datetime.combine(day, interval.start, tzinfo=calendar.zone)
            if start > now:
                return start
    return None


def run_alerts(
    source: Iterable[ReadResult | Complaint],
    *,
    policy: Policy,
    config: AlertsConfig,
    store: SqlStateStore,
    notifier: Notifier | None,
    now: datetime,
    dry_run: bool = False,
    allowed_fields: Sequence[str] = (),
    remote: Adapter[Any] | None = None,
    lock_wait_seconds: float = 0.0,
) -> AlertsReport:
    """Find and send alerts; ``remote`` (``--check-remote``) skips tasks done in the CRM.
    ``notifier`` may be ``None`` only for a dry run."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    report = AlertsReport(now=now, dry_run=dry_run)
    with store.run_lock(LOCK_NAME, lock_wait_seconds):
        planned = _plan_all(report, source, policy)
        report.alerts = find_alerts(
            planned, policy=policy, config=config, now=now, allowed_fields=allowed_fields
        )
        done_remote = _done_in_crm(report, store, remote, now, config) if remote else set()
        # Steps a CRM reported completed to an earlier pull or reconcile: done, no CRM call.
        ids = {a.complaint_id for a in report.alerts}
        done_remote |= set(completed_in_crm(store.engine, store.namespace, complaint_ids=ids))
        ledger = Ledger(store.engine, store.namespace)
        sent = ledger.sent({a.complaint_id for a in report.alerts})
        due: dict[tuple[str, Level], list[Alert]] = {}
        for alert in report.alerts:
            for channel in _triage(alert, sent, done_remote, dry_run):
                due.setdefault((channel, alert.level), []).append(alert)
        budget: dict[str, int] = {}  # messages per channel this run
        size = config.max_alerts_per_message
        for (channel, level), group in due.items():
            if notifier is None:
                raise ValueError("a notifier is needed unless dry_run")
            for start in range(0, len(group), size):
                piece = group[start : start + size]
                if budget.get(channel, 0) >= config.max_messages_per_channel:
                    for alert in piece:  # not recorded: the next run sends them
                        alert.outcomes[channel] = Outcome.DEFERRED
                    continue
                budget[channel] = budget.get(channel, 0) + 1
                _send(channel, level, piece, ledger, notifier)
        for alert in report.alerts:
            if alert.outcomes:
                alert.outcome = _overall(alert.outcomes.values())
    _warn_unrouted(report.alerts)
    deferred = sum(a.outcome is Outcome.DEFERRED for a in report.alerts)
    if deferred:
        log.warning(
            "%d alert(s) left for the next runs (alerts.max_messages_per_channel); a first sync "
            "of old complaints? see sync --history",
            deferred,
        )
    return report


def _warn_unrouted(alerts: Sequence[Alert]) -> None:
    """One warning per run for alerts no channel receives, naming what to configure."""
    missing = sorted(
        {
            (a.clinic, a.level.value, a.department.value)
            for a in alerts
            if a.outcome is Outcome.UNROUTED
        }
    )
    if missing:
        log.warning(
            "%d alert(s) reach no channel; configure alerts.channels (or alerts.clinics.<id>) "
            "for: %s",
            sum(a.outcome is Outcome.UNROUTED for a in alerts),
            "; ".join(f"{clinic} {level} {department}" for clinic, level, department in missing),
        )


def _plan_all(
    report: AlertsReport, source: Iterable[ReadResult | Complaint], policy: Policy
) -> list[tuple[Complaint, Plan]]:
    planned: list[tuple[Complaint, Plan]] = []
    seen: set[str] = set()
    for entry in source:
        if isinstance(entry, QuarantineEntry) or entry.id in seen:
            report.quarantined_input += 1
            continue
        seen.add(entry.id)
        try:
            planned.append((entry, policy.plan(entry)))
        except RecordError:  # sync quarantines it too; nothing to alert on
            report.quarantined_input += 1
    report.complaints = len(planned)
    return planned


def _done_in_crm(
    report: AlertsReport,
    store: SqlStateStore,
    remote: Adapter[Any],
    now: datetime,
    config: AlertsConfig,
) -> set[tuple[str, str]]:
    """(complaint, task) pairs the CRM holds as completed: synced complaints whose task is not
    among the CRM's open tasks due by the horizon. One bulk read (``list_tasks``); a
    complaint never synced is alerted on from the plan alone."""
    synced = {
        r.complaint_id for r in store.all_records(remote.name) if r.state is RecordState.SYNCED
    }
    horizon = now + timedelta(minutes=config.due_soon_minutes)
    calls = remote.calls
    still_open = {
        (t.complaint_id, t.kind) for t in remote.list_tasks(due_before=horizon) if not t.completed
    }
    report.remote_reads = remote.calls - calls
    return {
        (a.complaint_id, a.task)
        for a in report.alerts
        if a.complaint_id in synced and (a.complaint_id, a.task) not in still_open
    }


def _triage(
    alert: Alert,
    sent: set[Delivery],
    done_remote: set[tuple[str, str]],
    dry_run: bool,
) -> list[str]:
    """The channels this alert must be sent to now; the others get their outcome here."""
    if (alert.complaint_id, alert.task) in done_remote:
        alert.outcome = Outcome.DONE_IN_CRM
        return []
    if not alert.channels:
        alert.outcome = Outcome.UNROUTED  # one warning per run names the missing keys
        return []
    to_send = []
    for channel in alert.channels:
        if _delivery(alert, alert.level, channel) in sent:
            alert.outcomes[channel] = Outcome.ALREADY_SENT
        elif alert.held_until is not None:
            alert.outcomes[channel] = Outcome.HELD
        elif dry_run:
            alert.outcomes[channel] = Outcome.WOULD_SEND
        else:
            to_send.append(channel)
    return to_send


def _delivery(alert: Alert, level: Level, channel: str) -> Delivery:
    return Delivery(
        alert.complaint_id, alert.task, level.value, channel, deadline_key(alert.due_at)
    )


def _send(
    channel: str, level: Level, group: list[Alert], ledger: Ledger, notifier: Notifier
) -> None:
    """One message per channel and level and run (apprise spaces a channel's messages by
    seconds, and people read one list better than ten pings); claimed, sent, settled."""
    deliveries = [_delivery(a, level, channel) for a in group]
    ledger.claim([(d, a.due_at) for d, a in zip(deliveries, group, strict=True)])
    error = notifier.send(channel, combine(group))
    ledger.settle(deliveries, error)
    for alert in group:
        alert.outcomes[channel] = Outcome.SENT if error is None else Outcome.FAILED
    if error is not None:
        log.warning("%d %s alert(s) to %s failed: %s", len(group), level.value, channel, error)


def combine(group: Sequence[Alert]) -> AlertText:
    """One alert as is; several as a list under a title counting them."""
    if len(group) == 1:
        return group[0].text
    first = group[0].text.title
    level = first[: first.index("]") + 1]
    ids = sorted({a.complaint_id for a in group})
    shown = ", ".join(ids[:3]) + (" …" if len(ids) > 3 else "")
    title = f"{level} {len(group)} · {shown}"
    return AlertText(title=title, body="\n\n".join(f"{a.text.title}\n{a.text.body}" for a in group))


def _overall(outcomes: Iterable[Outcome]) -> Outcome:
    """The alert's outcome: failed, deferred, held, sent or would-send, else already sent."""
    seen = set(outcomes)
    for outcome in (
        Outcome.FAILED,
        Outcome.DEFERRED,
        Outcome.HELD,
        Outcome.SENT,
        Outcome.WOULD_SEND,
    ):
        if outcome in seen:
            return outcome
    return Outcome.ALREADY_SENT
