"""Reconciliation: compare the source complaints, the local state and what the CRM holds.

Reports, per complaint: **missing** (no remote ticket), **drifted** (a field we own differs:
field, ours, theirs), **orphaned** (a remote ticket with our external id and no complaint),
**stale** (state says synced, the remote says otherwise), **overdue** (open tasks past due,
first responses first) and **status moved** (closed or reopened in the CRM). Remote reads are
bulk: tickets are listed 100 to a request; tasks are searched for only the overdue and the
recently changed. ``repair`` fixes missing, drifted and stale complaints through the normal
sync path (same remote objects, idempotent) and never deletes anything remote.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from .adapters.base import Adapter, PlannedComplaint
from .config import ReconcileConfig
from .policy import Policy, TaskKind
from .readers import QuarantineEntry, ReadResult
from .retry import RetryPolicy
from .schema import Complaint, Status
from .state import RecordState, StateStore
from .sync import SyncSummary, sync, version_of

__all__ = ["EXIT_FINDINGS", "Finding", "FindingKind", "ReconcileReport", "reconcile"]

log = logging.getLogger(__name__)

EXIT_FINDINGS = 5
_CLOSED = {Status.RESOLVED, Status.CLOSED}


class FindingKind(StrEnum):
    MISSING = "missing"
    DRIFTED = "drifted"
    ORPHANED = "orphaned"
    STALE = "stale"
    OVERDUE = "overdue"
    STATUS_MOVED = "status_moved"


@dataclass(frozen=True)
class Finding:
    """One thing reconciliation found. Holds ids, field names and values we own; no PII."""

    kind: FindingKind
    complaint_id: str
    detail: str = ""
    field: str | None = None
    ours: str | None = None
    theirs: str | None = None
    department: str | None = None
    category: str | None = None
    due_at: datetime | None = None


@dataclass
class ReconcileReport:
    adapter: str
    started_at: datetime
    now: datetime
    complaints: int = 0
    remote_tickets: int = 0
    quarantined_input: int = 0
    findings: list[Finding] = field(default_factory=list)
    open_by_department: Counter[str] = field(default_factory=Counter)
    open_by_category: Counter[str] = field(default_factory=Counter)
    overdue_by_department: Counter[str] = field(default_factory=Counter)
    overdue_by_category: Counter[str] = field(default_factory=Counter)
    read_requests: int = 0
    repair: SyncSummary | None = None
    run_id: int | None = None

    def of(self, kind: FindingKind) -> list[Finding]:
        return [f for f in self.findings if f.kind is kind]

    def counts(self) -> dict[str, int]:
        counted = Counter(f.kind.value for f in self.findings)
        return {kind.value: counted.get(kind.value, 0) for kind in FindingKind}

    @property
    def exit_code(self) -> int:
        """5 when anything needs a person's attention (drift or overdue work), else 0."""
        return EXIT_FINDINGS if self.findings else 0


def reconcile(
    source: Iterable[ReadResult | Complaint],
    *,
    adapter: Adapter,
    store: StateStore,
    policy: Policy | None = None,
    config: ReconcileConfig | None = None,
    repair: bool = False,
    now: datetime | None = None,
    retry: RetryPolicy | None = None,
    lock_wait_seconds: float = 0.0,
) -> ReconcileReport:
    """Compare, report and optionally repair; recorded as a ``reconcile`` run in the store."""
    policy = policy or Policy()
    config = config or ReconcileConfig()
    moment = now or datetime.now(UTC)
    report = ReconcileReport(adapter=adapter.name, started_at=datetime.now(UTC), now=moment)
    with store.run_lock(lock_wait_seconds):
        run_id = store.start_run("reconcile", adapter.name)
        report.run_id = run_id
        outcome = "error"
        try:
            complaints = _compare(report, source, adapter, store, policy, config)
            if repair:
                _repair(report, complaints, adapter, store, policy, retry)
            outcome = "findings" if report.findings else "ok"
        finally:
            counts = {**report.counts(), "read_requests": report.read_requests}
            if report.repair is not None:
                counts.update({f"repaired_{k}": v for k, v in report.repair.counts().items()})
            store.finish_run(run_id, outcome, counts)
    return report


def _compare(
    report: ReconcileReport,
    source: Iterable[ReadResult | Complaint],
    adapter: Adapter,
    store: StateStore,
    policy: Policy,
    config: ReconcileConfig,
) -> list[Complaint]:
    """Fill the report's findings; returns the source complaints (the source is read once)."""
    owned = set(config.owned_fields) - set(config.ignore_fields)
    items: dict[str, PlannedComplaint] = {}
    for entry in source:
        if isinstance(entry, QuarantineEntry):
            report.quarantined_input += 1
            continue
        plan = policy.plan(entry)
        items[entry.id] = PlannedComplaint(entry, plan, version_of(entry, plan.content_hash()))
    report.complaints = len(items)
    states = {r.complaint_id: r for r in store.all_records(adapter.name)}
    calls = adapter.calls
    remote = {r.complaint_id: r for r in adapter.list_owned()}
    report.remote_tickets = len(remote)
    findings = report.findings

    for cid, item in items.items():
        complaint, plan = item.complaint, item.plan
        category = complaint.category.value
        for task in plan.tasks:
            if not task.completed:
                report.open_by_department[task.department.value] += 1
                report.open_by_category[category] += 1
        record = remote.get(cid)
        state = states.get(cid)
        if record is None:
            synced = state is not None and state.state is RecordState.SYNCED
            why = "deleted in the CRM" if synced else "never synced"
            findings.append(Finding(FindingKind.MISSING, cid, why, category=category))
            if synced:
                findings.append(
                    Finding(FindingKind.STALE, cid, "state says synced; the CRM has no ticket")
                )
            continue
        fields = record.fields
        ours_closed = complaint.status in _CLOSED
        theirs_closed = bool(fields.get("closed"))
        if "closed" in fields and ours_closed != theirs_closed:
            moved = "closed" if theirs_closed else "reopened"
            detail = f"{moved} in the CRM (stage {fields.get('stage')!s})"
            due = None
            if theirs_closed:  # the satisfaction follow-up falls due once the CRM says resolved
                calendar = policy.calendar_for(complaint.clinic)
                since = _parse(fields.get("modified_at")) or report.now
                due = calendar.closing_time_after(since, policy.config.follow_up_business_days)
            findings.append(
                Finding(
                    FindingKind.STATUS_MOVED,
                    cid,
                    detail,
                    field="stage",
                    ours=complaint.status.value,
                    theirs=str(fields.get("stage")),
                    category=category,
                    due_at=due,
                )
            )
        expected = adapter.expected_fields(item)
        for name, ours in expected.items():
            if name == "version" or name not in owned:
                continue
            if name == "stage" and "closed" in fields and ours_closed != theirs_closed:
                continue  # reported as a status move, not as drift
            theirs = fields.get(name)
            if str(theirs or "") != str(ours or ""):
                findings.append(
                    Finding(
                        FindingKind.DRIFTED,
                        cid,
                        f"{name} differs",
                        field=name,
                        ours=str(ours),
                        theirs=str(theirs) if theirs is not None else None,
                        category=category,
                    )
                )
        if state is not None and state.state is RecordState.SYNCED:
            remote_version = fields.get("version")
            if remote_version and remote_version != state.synced_hash:
                findings.append(
                    Finding(FindingKind.STALE, cid, "the CRM holds another version than synced")
                )

    for cid in sorted(set(remote) - set(items)):
        findings.append(Finding(FindingKind.ORPHANED, cid, "our external id, no complaint"))

    last_sync = next(
        (r.finished_at for r in store.recent_runs(50) if r.kind == "sync" and r.finished_at),
        None,
    )
    overdue: list[Finding] = []
    for remote_task in adapter.list_tasks(due_before=report.now, changed_since=last_sync):
        owner_item = items.get(remote_task.complaint_id)
        if owner_item is None:
            continue
        planned = next((t for t in owner_item.plan.tasks if t.kind.value == remote_task.kind), None)
        category = owner_item.complaint.category.value
        if (
            "task_due" in owned
            and planned is not None
            and remote_task.due_at is not None
            and abs((remote_task.due_at - planned.due_at).total_seconds()) >= 1
        ):
            findings.append(
                Finding(
                    FindingKind.DRIFTED,
                    remote_task.complaint_id,
                    f"due date of {remote_task.kind} differs",
                    field=f"task_due:{remote_task.kind}",
                    ours=planned.due_at.isoformat(),
                    theirs=remote_task.due_at.astimezone(planned.due_at.tzinfo).isoformat(),
                    category=category,
                )
            )
        if (
            not remote_task.completed
            and remote_task.due_at is not None
            and remote_task.due_at < report.now
        ):
            department = planned.department.value if planned else None
            overdue.append(
                Finding(
                    FindingKind.OVERDUE,
                    remote_task.complaint_id,
                    f"{remote_task.kind} overdue by {_late(report.now - remote_task.due_at)}",
                    field=remote_task.kind,
                    department=department,
                    category=category,
                    due_at=remote_task.due_at,
                )
            )
            if department:
                report.overdue_by_department[department] += 1
            report.overdue_by_category[category] += 1
    # First responses first: a late apology call loses the customer.
    overdue.sort(key=lambda f: (f.field != TaskKind.INITIAL_RESPONSE.value, f.due_at))
    findings.extend(overdue)
    report.read_requests = adapter.calls - calls
    return [item.complaint for item in items.values()]


def _repair(
    report: ReconcileReport,
    complaints: list[Complaint],
    adapter: Adapter,
    store: StateStore,
    policy: Policy,
    retry: RetryPolicy | None,
) -> None:
    fixable = {FindingKind.MISSING, FindingKind.DRIFTED, FindingKind.STALE}
    force = frozenset(f.complaint_id for f in report.findings if f.kind in fixable)
    if not force:
        return
    chosen = [c for c in complaints if c.id in force]
    log.info("repairing %d complaint(s)", len(chosen))
    report.repair = sync(
        chosen,
        adapter=adapter,
        store=store,
        policy=policy,
        retry=retry,
        force=force,
        lock=False,  # reconcile already holds it
    )


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _late(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} d"
