"""Reconciliation: compare the source complaints, the local state and what the CRM holds.

Reports, per complaint: **missing** (no remote ticket, never synced), **deleted in the CRM**
(synced, then deleted there: information; the state store remembers it so sync leaves it
deleted), **drifted** (a ``source`` field differs: field, ours, theirs), **changed in the CRM**
(a ``create`` or ``crm`` field staff changed: information, see :mod:`crm_complaints.fields`),
**orphaned** (a remote ticket with our external id and no complaint),
**stale** (state says synced, the remote says otherwise), **overdue** (open tasks past due,
first responses first), **status moved** (closed or reopened in the CRM) and **owner
fallback** (work that went to a fallback owner: the configured one deactivated or unknown).
Remote reads are bulk: the adapter's ``list_owned`` (HubSpot: a search, 200 tickets to a
request) and ``list_tasks`` for only the overdue and the recently changed tasks. Everything is
compared through the generic :class:`~crm_complaints.adapters.base.RemoteRecord`, never a CRM's own
property names. ``repair`` fixes missing, drifted and stale complaints through the normal sync
path (same remote objects, idempotent), putting back only ``source`` fields, and re-pushes owner
fallbacks so that tasks written before their owner was deactivated move to the fallback owner;
it recreates a deleted ticket only when asked (``recreate_deleted``) and never deletes anything
remote. A ticket is taken as deleted only after an exact read (search lags writes) confirms it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .acks import Acknowledgements, release_acks
from .adapters.base import Adapter, RemoteRecord, RemoteTask
from .config import ReconcileConfig
from .crm_changes import (
    CHANGES_LAG,
    changes_window,
    completed_in_crm,
    crm_changes,
    last_finished,
    last_reconciliation,
    record_seen_completions,
    with_crm_completions,
)
from .errors import RecordError
from .exit_codes import ExitCode
from .fields import FieldOwner
from .findings import (
    INFORMATION,
    Finding,
    FindingKind,
    drifted,
    overdue,
    owner_fallbacks,
    stale,
    status_moved,
    task_drifted,
)
from .policy import PlannedComplaint, Policy, TaskKind
from .readers import QuarantineEntry, ReadResult
from .retry import RetryPolicy
from .schema import Complaint
from .state import RecordState, SqlStateStore, StateStore, StoredRecord
from .sync import SyncSummary, sync

__all__ = ["Finding", "FindingKind", "ReconcileReport", "reconcile"]

log = logging.getLogger(__name__)


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
    strict: bool = False
    """``reconcile.fail_on_crm_changes``: changes made in the CRM count for the exit code."""
    crm_changes: list[dict[str, Any]] = field(default_factory=list)
    """What staff changed in the CRM since the last sync, as ``pull`` writes it (see
    :mod:`.crm_changes`)."""
    owner_labels: dict[str, str] = field(default_factory=dict)
    """Remote owner id → that CRM user's e-mail (staff, not patients) for the owner ids the
    findings name, read while the adapter is open, so a page can show people, not ids."""

    def of(self, kind: FindingKind) -> list[Finding]:
        return [f for f in self.findings if f.kind is kind]

    def counts(self) -> dict[str, int]:
        counted = Counter(f.kind.value for f in self.findings)
        return {kind.value: counted.get(kind.value, 0) for kind in FindingKind}

    @property
    def exit_code(self) -> ExitCode:
        """FINDINGS (5) when anything needs a person's attention (drift or overdue work); what
        staff changed or deleted in the CRM is information only, unless configured to count."""
        counted = [f for f in self.findings if f.kind not in INFORMATION or self.strict]
        return ExitCode.FINDINGS if counted else ExitCode.OK


def reconcile(
    source: Iterable[ReadResult | Complaint],
    *,
    adapter: Adapter[Any],
    store: StateStore,
    policy: Policy | None = None,
    config: ReconcileConfig | None = None,
    repair: bool = False,
    now: datetime | None = None,
    retry: RetryPolicy | None = None,
    lock_wait_seconds: float = 0.0,
    recreate_deleted: bool = False,
) -> ReconcileReport:
    """Compare, report and optionally repair; recorded as a ``reconcile`` run in the store.

    ``policy`` must be the one the complaints were synced with (``Policy.from_settings``),
    or every complaint looks drifted; :class:`crm_complaints.job.Job` wires it from settings.
    """
    policy = policy or Policy()
    config = config or ReconcileConfig()
    moment = now or datetime.now(UTC)
    report = ReconcileReport(
        adapter=adapter.name,
        started_at=datetime.now(UTC),
        now=moment,
        strict=config.fail_on_crm_changes,
    )
    with store.run_lock(adapter.name, lock_wait_seconds):
        run_id = store.start_run("reconcile", adapter.name)
        report.run_id = run_id
        outcome = "error"
        try:
            items = _plan_all(report, source, policy)
            calls = adapter.calls
            _compare(report, items, adapter, store, policy, config, repair=repair)
            report.read_requests = adapter.calls - calls
            report.owner_labels = _owner_labels(report.findings, adapter)
            if repair:
                complaints = [i.complaint for i in items.values()]
                _repair(report, complaints, adapter, store, policy, retry, recreate_deleted)
            outcome = "findings" if report.findings else "ok"
        finally:
            counts = {**report.counts(), "read_requests": report.read_requests}
            if report.repair is not None:
                counts.update({f"repaired_{k}": v for k, v in report.repair.counts().items()})
            store.finish_run(run_id, outcome, counts)
    return report


def _owner_labels(findings: Iterable[Finding], adapter: Adapter[Any]) -> dict[str, str]:
    """E-mails of the owner ids in owner findings (``Adapter.owner_email``; fallbacks name
    config keys, not ids)."""
    ids = {
        value
        for f in findings
        if f.field == "owner" and f.kind is not FindingKind.OWNER_FALLBACK
        for value in (f.ours, f.theirs)
        if value
    }
    labels = {owner_id: adapter.owner_email(owner_id) for owner_id in sorted(ids)}
    return {owner_id: email for owner_id, email in labels.items() if email}


def _plan_all(
    report: ReconcileReport, source: Iterable[ReadResult | Complaint], policy: Policy
) -> dict[str, PlannedComplaint]:
    """Plan every source complaint (the source is read once)."""
    items: dict[str, PlannedComplaint] = {}
    for entry in source:
        if isinstance(entry, QuarantineEntry):
            report.quarantined_input += 1
            continue
        try:
            item = policy.planned(entry)
        except RecordError:  # sync quarantines it too; it has no remote counterpart to compare
            report.quarantined_input += 1
            continue
        items[entry.id] = item
    report.complaints = len(items)
    return items


def _count_open_work(
    report: ReconcileReport,
    items: Mapping[str, PlannedComplaint],
    done: Mapping[tuple[str, str], datetime],
) -> None:
    """Open work by department and category: the plan's tasks not completed, neither in our
    data nor in a CRM (``done``: complaint id, task kind), as the ``plan`` view shows them."""
    for item in items.values():
        category = item.complaint.category.value
        for task in with_crm_completions(item.plan, done).tasks:
            if not task.completed:
                report.open_by_department[task.department.value] += 1
                report.open_by_category[category] += 1


def _completions(
    store: StateStore, items: Mapping[str, PlannedComplaint], seen: Iterable[RemoteTask]
) -> dict[tuple[str, str], datetime]:
    """Steps a CRM reports completed: those stored (by any adapter: a step done in one CRM is
    done), then what this run just read, which is newer (a task seen open again is open)."""
    done: dict[tuple[str, str], datetime] = {}
    if isinstance(store, SqlStateStore):  # the only store with a completions table
        done.update(completed_in_crm(store.engine, store.namespace))
    for task in seen:
        key = (task.complaint_id, task.kind)
        if task.complaint_id not in items:
            continue
        if task.completed:
            done.setdefault(key, task.modified_at or datetime.now(UTC))
        else:
            done.pop(key, None)
    return done


def _compare(
    report: ReconcileReport,
    items: Mapping[str, PlannedComplaint],
    adapter: Adapter[Any],
    store: StateStore,
    policy: Policy,
    config: ReconcileConfig,
    *,
    repair: bool = False,
) -> None:
    """Fill the report's findings, one kind of finding at a time. With ``repair``, a task
    whose due date is ours is late by our due date, the one repair puts back."""
    owned = set(config.owned_fields) - set(config.ignore_fields)
    states = {r.complaint_id: r for r in store.all_records(adapter.name)}
    acked = Acknowledgements.load(store, adapter.name)
    remote = {r.complaint_id: r for r in adapter.list_owned()}
    remote.update(_not_yet_searchable(items, remote, states, adapter))
    report.remote_tickets = len(remote)
    findings = report.findings
    deleted: list[str] = []
    restored = [
        cid
        for cid, state in states.items()
        if state.state is RecordState.DELETED and cid in remote and cid in items
    ]
    if restored:  # back from the recycle bin: synced again (and not reported deleted)
        store.mark_restored(adapter.name, restored)
    for cid, item in items.items():
        record, state = remote.get(cid), states.get(cid)
        if record is None:
            found = _missing(item, state, adapter.remote_deletions)
            findings.append(found)
            if found.kind is FindingKind.DELETED_IN_CRM and state is not None:
                if state.state is not RecordState.DELETED:
                    deleted.append(cid)
            continue
        moved = status_moved(item, record, policy, report.now)
        if moved is not None and not acked.covers(record):  # acknowledged: `crm-complaints ack`
            findings.append(moved)
        in_step = state is not None and state.state is RecordState.SYNCED
        in_step = in_step and state is not None and state.synced_hash == item.version
        expected = adapter.expected_fields(item)
        findings.extend(drifted(item, record, expected, owned, moved, adapter, in_step, state))
        findings.extend(stale(record, state))
        findings.extend(owner_fallbacks(item, adapter))
    findings.extend(
        Finding(FindingKind.ORPHANED, cid, "our external id, no complaint")
        for cid in sorted(set(remote) - set(items))
    )
    since = _tasks_window(store, adapter.name, report.run_id)  # crm_changes: changes_window
    late_work: list[Finding] = []
    seen: list[RemoteTask] = []
    for task in adapter.list_tasks(due_before=report.now, changed_since=since):
        seen.append(task)
        owner = items.get(task.complaint_id)
        if owner is None:
            continue
        put_back = False  # a moved due date this run's repair puts back
        if "task_due" in owned:
            due_owner = adapter.field_owners.of("task_due")
            findings.extend(
                task_drifted(owner, task, due_owner, adapter, states.get(task.complaint_id))
            )
            put_back = repair and due_owner is FieldOwner.SOURCE
        late = overdue(owner, task, report.now, by_plan=put_back)
        if late is not None:
            late_work.append(late)
            if late.department:
                report.overdue_by_department[late.department] += 1
            report.overdue_by_category[owner.complaint.category.value] += 1
    # First responses first: a late apology call loses the customer.
    late_work.sort(key=lambda f: (f.field != TaskKind.INITIAL_RESPONSE.value, f.due_at))
    findings.extend(late_work)
    # Tasks the CRM reports completed are stored (alerts and the plan view skip them), and are
    # no open work here either.
    record_seen_completions(store, adapter.name, [t for t in seen if t.complaint_id in items])
    _count_open_work(report, items, _completions(store, items, seen))
    report.crm_changes = crm_changes(
        items,
        remote.values(),
        seen,
        adapter=adapter,
        policy=policy,
        since=changes_window(store, adapter.name, report.run_id),
        states=states,
    )
    release_acks(store, adapter.name, remote.values())  # stage left: its ack is spent
    store.mark_deleted(adapter.name, deleted)


def _tasks_window(store: StateStore, adapter: str, this_run: int | None) -> datetime | None:
    """Since when tasks are read for drift: since the last reconciliation started, so that a
    due date staff moved before a routine sync is still seen, or since the last sync ended if
    that is earlier (runs killed mid-way do not count: they read or wrote who knows what),
    less :data:`~crm_complaints.crm_changes.CHANGES_LAG` (a search index lags
    writes, and a change in the same millisecond as the run's end is not "after" it). The
    first reconciliation reads from the last sync only (reading every task once would cost
    ~3 requests per 100 tickets). Tickets' changes for ``crm_changes`` have their own window
    (:func:`crm_complaints.crm_changes.changes_window`)."""
    synced = last_finished(store, "sync", adapter, this_run)
    last_sync = synced.finished_at if synced is not None else None
    reconciled = last_reconciliation(store, adapter, this_run)
    start = reconciled.started_at if reconciled is not None else None
    candidates = [t for t in (start, last_sync) if t is not None]
    return min(candidates) - CHANGES_LAG if candidates else None


def _not_yet_searchable(
    items: Mapping[str, PlannedComplaint],
    remote: Mapping[str, RemoteRecord],
    states: Mapping[str, StoredRecord],
    adapter: Adapter[Any],
) -> dict[str, RemoteRecord]:
    """Synced complaints the listing did not return, read exactly by their refs: a listing
    through search lags writes by seconds, and taking a ticket written a moment ago for deleted
    would stop syncing it."""
    wanted = {
        cid: states[cid].refs
        for cid in items
        if cid not in remote and cid in states and states[cid].synced_hash and states[cid].refs
    }
    return dict(adapter.read(wanted)) if wanted else {}


def _missing(
    item: PlannedComplaint, state: StoredRecord | None, deletions_are_deliberate: bool
) -> Finding:
    """No remote record: never synced (repair creates it), or synced and then deleted in the
    CRM (left deleted unless recreating is asked for). A remote whose records only go away by
    losing them (a webhook receiver) has nothing "deleted": repair sends them again."""
    cid, category = item.complaint_id, item.complaint.category.value
    synced = state is not None and bool(state.synced_hash and state.refs)
    if synced and deletions_are_deliberate:
        detail = "deleted in the CRM; recreated only with --recreate-deleted"
        return Finding(FindingKind.DELETED_IN_CRM, cid, detail, category=category)
    why = "synced, no longer held by the remote" if synced else "never synced"
    return Finding(FindingKind.MISSING, cid, why, category=category)


def _repair(
    report: ReconcileReport,
    complaints: list[Complaint],
    adapter: Adapter[Any],
    store: StateStore,
    policy: Policy,
    retry: RetryPolicy | None,
    recreate_deleted: bool = False,
) -> None:
    fixable = {FindingKind.MISSING, FindingKind.DRIFTED, FindingKind.STALE}
    reassign = _still_with_inactive_owners(report, adapter, store)
    force = frozenset(f.complaint_id for f in report.findings if f.kind in fixable)
    force |= frozenset(reassign)
    recreate = frozenset(
        f.complaint_id
        for f in report.findings
        if recreate_deleted and f.kind is FindingKind.DELETED_IN_CRM
    )
    if not force and not recreate:
        return
    chosen = [c for c in complaints if c.id in force | recreate]
    log.info("repairing %d complaint(s)", len(chosen))
    report.repair = sync(
        chosen,
        adapter=adapter,
        store=store,
        policy=policy,
        retry=retry,
        force=force,
        recreate=recreate,
        reassign=reassign,
        lock=False,  # reconcile already holds it
    )


def _still_with_inactive_owners(
    report: ReconcileReport, adapter: Adapter[Any], store: StateStore
) -> dict[str, frozenset[str]]:
    """For owner fallbacks: the ticket and tasks (read exactly) whose owner in the CRM is
    inactive, by complaint. Work written before its owner was deactivated moves to the
    fallback; work staff already gave to someone else stays theirs."""
    wanted = sorted({f.complaint_id for f in report.of(FindingKind.OWNER_FALLBACK)})
    if not wanted:
        return {}
    refs = {cid: r.refs for cid, r in store.get_many(adapter.name, wanted).items() if r.refs}
    moves: dict[str, frozenset[str]] = {}
    for cid, record in adapter.read(refs).items():
        keys = {"ticket"} if record.owner and not adapter.owner_active(record.owner) else set()
        keys |= {
            f"task:{kind}"
            for kind, task in record.tasks.items()
            if task.owner and not task.completed and not adapter.owner_active(task.owner)
        }
        if keys:
            moves[cid] = frozenset(keys)
    return moves
