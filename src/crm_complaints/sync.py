"""The sync engine: read → validate → plan → diff against state → push in batches → record.

Guarantees: an unchanged complaint costs zero remote calls; a changed one is pushed with its
previous remote refs so the adapter updates in place; every complaint is marked pending before
its remote write and synced only after the adapter confirms, so a crash anywhere followed by a
rerun converges with no duplicates and nothing lost. Rejected records are quarantined, the rest
of the run goes on; transient failures are retried within bounds and otherwise left for the
next run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

from .adapters.base import Adapter, Outcome, PushResult
from .audit import AuditEntry, entries_for, record_writes
from .errors import AuthError, ConfigError, RateLimitedError, RecordError, TransientError
from .exit_codes import ExitCode
from .policy import PlannedComplaint, Policy
from .quarantine import duplicate_entry, from_record_error
from .readers import QuarantineEntry, ReadResult
from .retry import RetryPolicy
from .schema import Complaint
from .state import FailedWrite, RecordState, StateStore, StoredRecord, SyncedWrite

__all__ = ["Action", "PlannedAction", "SyncSummary", "sync"]

log = logging.getLogger(__name__)


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"


@dataclass(frozen=True)
class PlannedAction:
    """What a dry run would do to one complaint."""

    complaint_id: str
    action: Action


@dataclass
class SyncSummary:
    """Counts of one run; ``exit_code`` is what the CLI returns."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    failed: int = 0
    deleted_in_crm: int = 0
    """Complaints whose ticket someone deleted in the CRM: left deleted, not recreated."""
    remote_calls: int = 0
    run_id: int | None = None
    dry_run: bool = False
    stopped: str | None = None
    actions: list[PlannedAction] = field(default_factory=list)
    adapter_counts: dict[str, int] = field(default_factory=dict)
    """What the adapter counted in this run beyond writes (``Adapter.run_counts``), e.g. the
    HubSpot adapter's ``owner_fallbacks``: listed only when not zero."""

    @property
    def exit_code(self) -> ExitCode:
        failed = self.quarantined or self.failed or self.stopped
        return ExitCode.PARTIAL if failed else ExitCode.OK

    @property
    def outcome(self) -> Literal["ok", "partial", "stopped"]:
        if self.stopped:
            return "stopped"
        return "partial" if self.exit_code else "ok"

    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "quarantined": self.quarantined,
            "failed": self.failed,
            "deleted_in_crm": self.deleted_in_crm,
            "remote_calls": self.remote_calls,
            **self.adapter_counts,
        }

    def line(self) -> str:
        prefix = "dry run: would have " if self.dry_run else ""
        text = (
            f"{prefix}created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
            f"quarantined {self.quarantined}, failed {self.failed}, "
            f"remote calls {self.remote_calls}"
        )
        if self.deleted_in_crm:
            text += f", deleted in the CRM {self.deleted_in_crm} (left deleted)"
        for name, count in self.adapter_counts.items():
            text += f", {name.replace('_', ' ')} {count}"
        return f"{text} (stopped: {self.stopped})" if self.stopped else text


class _RunStopped(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


class _BatchRetry(TransientError):
    """Some records of a batch are still transient; tenacity retries just those."""


def sync(
    complaints: Iterable[ReadResult | Complaint],
    *,
    adapter: Adapter[Any],
    store: StateStore,
    policy: Policy | None = None,
    batch_size: int = 500,
    dry_run: bool = False,
    retry: RetryPolicy | None = None,
    lock_wait_seconds: float = 0.0,
    on_progress: Callable[[int], None] | None = None,
    force: frozenset[str] = frozenset(),
    lock: bool = True,
    retry_quarantined: bool = False,
    recreate: frozenset[str] = frozenset(),
    reassign: Mapping[str, frozenset[str]] | None = None,
) -> SyncSummary:
    """Sync complaints (or reader results, quarantine entries included) into ``adapter``.

    Raises :class:`~crm_complaints.errors.LockHeldError` when another run holds the state lock
    and :class:`~crm_complaints.errors.AuthError` when the remote refuses our credentials (the
    run is recorded as stopped first). ``force`` names complaints to push even if unchanged
    (reconciliation's repair: ``source`` fields someone changed in the CRM are put back);
    ``recreate`` names complaints whose remote objects someone deleted, to create again (by
    default a deleted ticket stays deleted); ``lock=False`` is for a caller that already holds
    the lock. ``reassign`` names, per complaint, the remote objects still with an inactive
    owner, to give their fallback owner (reconciliation's repair of owner fallbacks).
    A quarantined record is pushed again when it changed, when the adapter's
    :meth:`~crm_complaints.adapters.base.Adapter.fingerprint` changed (a fixed mapping), or
    with ``retry_quarantined``.
    """
    engine = _Engine(
        adapter=adapter,
        store=store,
        policy=policy or Policy(),
        batch_size=max(1, min(batch_size, adapter.max_batch_size)),
        dry_run=dry_run,
        retry=retry or RetryPolicy(),
        on_progress=on_progress,
        force=force,
        retry_quarantined=retry_quarantined,
        recreate=recreate,
        reassign=dict(reassign or {}),
        fingerprint=adapter.fingerprint(),
    )
    if dry_run or not lock:
        return engine.run(complaints)
    with store.run_lock(adapter.name, lock_wait_seconds):
        return engine.run(complaints)


@dataclass
class _Engine:
    adapter: Adapter[Any]
    store: StateStore
    policy: Policy
    batch_size: int
    dry_run: bool
    retry: RetryPolicy
    on_progress: Callable[[int], None] | None
    force: frozenset[str] = frozenset()
    retry_quarantined: bool = False
    recreate: frozenset[str] = frozenset()
    reassign: dict[str, frozenset[str]] = field(default_factory=dict)
    fingerprint: str = ""
    summary: SyncSummary = field(default_factory=SyncSummary)
    seen: dict[str, int] = field(default_factory=dict)
    # One batch is pushed in the background while the next is read, planned and diffed, so
    # a rate-limited CRM is kept busy. At most one batch is in flight; the next is marked
    # pending (write-ahead) while it is, so only the results' bookkeeping stands between the
    # last request of one batch and the first of the next.
    _pusher: ThreadPoolExecutor | None = None
    _in_flight: Future[None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # The pusher's writes (audit rows, results) and the main thread's write-ahead take turns:
    # on SQLite a transaction that reads and then writes (mark_pending) fails at once when
    # another connection committed in between, instead of waiting out the busy timeout.
    _store_lock: threading.Lock = field(default_factory=threading.Lock)
    _partial: dict[str, tuple[Mapping[str, Mapping[str, str]], dict[str, str]]] = field(
        default_factory=dict
    )
    """Per complaint left for a retry: the field hashes and ids of what its adapter wrote."""

    def _unchanged(self, record: StoredRecord | None, version: str) -> bool:
        if record is None:
            return False
        if record.state is RecordState.SYNCED:
            return record.synced_hash == version
        # A rejected version stays rejected until the record or the adapter's settings change
        # (or the caller asks): don't hammer the CRM with what it refused.
        return (
            record.state is RecordState.QUARANTINED
            and record.pending_hash == version
            and record.fingerprint == self.fingerprint
            and not self.retry_quarantined
        )

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self.summary, name, getattr(self.summary, name) + n)

    def _wait_in_flight(self) -> None:
        pending, self._in_flight = self._in_flight, None
        if pending is not None:
            pending.result()  # re-raises _RunStopped / AuthError from the pusher

    def run(self, complaints: Iterable[ReadResult | Complaint]) -> SyncSummary:
        summary = self.summary
        summary.dry_run = self.dry_run
        calls_before = self.adapter.calls
        counted_before = dict(self.adapter.run_counts())
        run_id = None if self.dry_run else self.store.start_run("sync", self.adapter.name)
        summary.run_id = run_id
        outcome_error: BaseException | None = None
        signalled: str | None = None
        if not self.dry_run:
            self._pusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="push")
        try:
            self._stream(complaints, run_id)
            self._wait_in_flight()
        except _RunStopped as stop:
            summary.stopped = stop.reason
        except (AuthError, ConfigError) as exc:  # every record would fail the same way
            summary.stopped = "auth" if isinstance(exc, AuthError) else "config"
            outcome_error = exc
        except Exception as exc:
            summary.stopped = f"error: {type(exc).__name__}"  # the run record must not say ok
            raise
        except KeyboardInterrupt as interrupt:
            # Ctrl-C, or a signal the CLI raised as one: its message names the signal. The
            # batch in flight finishes below; what was not confirmed stays pending.
            signalled = str(interrupt) or "SIGINT"
            summary.stopped = signalled
            raise
        finally:
            if self._in_flight is not None:  # the main thread failed: let the push finish
                try:
                    self._wait_in_flight()
                except (_RunStopped, AuthError, ConfigError) as late:
                    summary.stopped = summary.stopped or str(late)
            if self._pusher is not None:
                self._pusher.shutdown(wait=True)
            summary.remote_calls = self.adapter.calls - calls_before
            summary.adapter_counts = {
                name: count - counted_before.get(name, 0)
                for name, count in self.adapter.run_counts().items()
                if count - counted_before.get(name, 0)
            }
            if run_id is not None:
                outcome = f"stopped: {signalled}"[:32] if signalled else summary.outcome
                self.store.finish_run(run_id, outcome, summary.counts())
            log.info("sync finished: %s", summary.line())
        if outcome_error is not None:
            raise outcome_error
        return summary

    def _stream(self, complaints: Iterable[ReadResult | Complaint], run_id: int | None) -> None:
        batch: list[Complaint] = []
        processed = 0
        for position, item in enumerate(complaints, start=1):
            processed += 1
            if isinstance(item, QuarantineEntry):
                self._quarantine([item], run_id)
            elif item.id in self.seen:
                self._quarantine([duplicate_entry(item.id, self.seen[item.id], position)], run_id)
            else:
                self.seen[item.id] = position
                batch.append(item)
                if len(batch) >= self.batch_size:
                    self._process(batch)
                    batch = []
            if self.on_progress:
                self.on_progress(processed)
        if batch:
            self._process(batch)

    def _quarantine(self, entries: Sequence[QuarantineEntry], run_id: int | None) -> None:
        self._count("quarantined", len(entries))
        for entry in entries:
            log.warning(
                "quarantined %s line %d (complaint %s): %s",
                entry.source,
                entry.line,
                entry.complaint_id or "?",
                entry.message,
            )
        if run_id is not None:
            self.store.add_quarantine(run_id, entries)

    def _process(self, complaints: Sequence[Complaint]) -> None:
        """Diff one batch against the state, then push what changed."""
        stored = self.store.get_many(self.adapter.name, [c.id for c in complaints])
        todo: list[PlannedComplaint] = []
        for complaint in complaints:
            record = stored.get(complaint.id)
            deleted = record is not None and record.state is RecordState.DELETED
            if deleted and complaint.id not in self.recreate:
                self._count("deleted_in_crm")  # deleted on purpose: not ours to bring back
                continue
            # Refs without a synced version: a failed first push that did write its ticket.
            previous = record.refs if record is not None and record.refs else None
            recreating = complaint.id in self.recreate
            if recreating:  # a new ticket; its tasks, if still there, are written and relinked
                kept = record.refs if record is not None else {}
                previous = {k: v for k, v in kept.items() if k.startswith("task:")} or None
            redelivery = f"repair-{self.summary.run_id}" if complaint.id in self.force else ""
            try:
                item = self.policy.planned(
                    complaint,
                    previous,
                    redelivery=redelivery,
                    # Recreating: should the ticket still exist after all, its tasks are
                    # looked up rather than made twice.
                    unconfirmed=recreating
                    or (record is not None and record.pending_hash is not None),
                )
            except RecordError as exc:  # this record cannot be planned; the rest go on
                line = self.seen.get(complaint.id, 0)
                self._quarantine([from_record_error(exc, "(plan)", line)], self.summary.run_id)
                continue
            if previous is not None and record is not None:
                item = replace(
                    item,
                    sent=_last_sent(record, recreating),
                    repair=complaint.id in self.force,
                    reassign=self.reassign.get(complaint.id, frozenset()),
                )
            forced = complaint.id in self.force or complaint.id in self.recreate
            if not forced and self._unchanged(record, item.version):
                quarantined = record is not None and record.state is RecordState.QUARANTINED
                self._count("quarantined" if quarantined else "unchanged")
                continue
            todo.append(item)
        if not todo:
            return
        if self.dry_run:
            for item in todo:
                action = Action.CREATE if item.is_new else Action.UPDATE
                self.summary.actions.append(PlannedAction(item.complaint_id, action))
                self._count("created" if action is Action.CREATE else "updated")
            return
        with self._store_lock:
            revisions = self.store.mark_pending(
                self.adapter.name, {i.complaint_id: i.version for i in todo}
            )
        todo = [replace(i, revision=revisions.get(i.complaint_id, 0)) for i in todo]
        self._wait_in_flight()
        assert self._pusher is not None
        self._in_flight = self._pusher.submit(self._push_with_retries, todo)

    def _push_with_retries(self, todo: list[PlannedComplaint]) -> None:
        outstanding = {item.complaint_id: item for item in todo}
        last_errors: dict[str, str] = {}
        try:
            for attempt in self.retry.retrying():
                with attempt:
                    number = attempt.retry_state.attempt_number - 1
                    batch = [replace(item, attempt=number) for item in outstanding.values()]
                    try:
                        results = self.adapter.push(batch)
                    except AuthError:
                        raise
                    except TransientError as exc:
                        for cid in outstanding:
                            last_errors[cid] = str(exc)
                        raise
                    pending_again = self._record(outstanding, results, last_errors)
                    outstanding = {cid: outstanding[cid] for cid in pending_again}
                    if outstanding:
                        hints = [r.error for r in results if r.complaint_id in pending_again]
                        raise _retry_signal(hints)
        except AuthError as exc:
            self._leave_failed(outstanding, {cid: str(exc) for cid in outstanding})
            raise
        except TransientError as exc:
            self._leave_failed(outstanding, last_errors)
            if isinstance(exc, RateLimitedError) and exc.stop_run:
                raise _RunStopped("rate limit quota exhausted; rerun after the reset") from exc

    def _record(
        self,
        outstanding: dict[str, PlannedComplaint],
        results: list[PushResult],
        last_errors: dict[str, str],
    ) -> set[str]:
        synced: dict[str, SyncedWrite] = {}
        rejected: dict[str, FailedWrite] = {}
        again: set[str] = set()
        answered: set[str] = set()
        audit: list[AuditEntry] = []
        for result in results:
            item = outstanding.get(result.complaint_id)
            if item is None or result.complaint_id in answered:
                continue  # an adapter answering for something we did not send is ignored
            answered.add(result.complaint_id)
            audit.extend(self._audit_entries(item, result.outcome.value, result))
            if result.outcome is Outcome.SYNCED:
                synced[item.complaint_id] = SyncedWrite(
                    item.version, dict(result.refs), sent=result.sent
                )
                self._count("created" if item.is_new or result.created else "updated")
            elif result.outcome is Outcome.DELETED:
                rejected[item.complaint_id] = FailedWrite(
                    item.version, "deleted in the CRM", quarantined=False, deleted=True
                )
                self._count("deleted_in_crm")
                log.info("complaint %s: deleted in %s; left deleted", item.complaint_id,
                         self.adapter.name)  # fmt: skip
            elif result.outcome is Outcome.REJECTED:
                reason = str(result.error) if result.error else "rejected"
                rejected[item.complaint_id] = FailedWrite(
                    item.version, reason, quarantined=True, fingerprint=self.fingerprint
                )
                self._count("quarantined")
                log.warning("rejected by %s: %s", self.adapter.name, reason)
            else:
                again.add(item.complaint_id)
                last_errors[item.complaint_id] = str(result.error)
                if result.sent is not None:  # what did reach the remote, kept if retries end
                    with self._lock:
                        self._partial[item.complaint_id] = (result.sent, dict(result.refs))
        for cid in set(outstanding) - answered:
            again.add(cid)  # no answer is not success: keep it pending
            last_errors[cid] = f"{self.adapter.name} returned no result for this complaint"
            audit.extend(self._audit_entries(outstanding[cid], "no_result"))
        with self._store_lock:
            # Before the state: a write the adapter confirmed is in the trail even if we crash.
            record_writes(self.store, self.adapter.name, audit)
            self.store.record_results(self.adapter.name, synced, rejected)
        return again

    def _leave_failed(
        self, outstanding: dict[str, PlannedComplaint], errors: dict[str, str]
    ) -> None:
        if not outstanding:
            return
        self._count("failed", len(outstanding))
        failed = {
            cid: FailedWrite(
                item.version,
                errors.get(cid, "failed"),
                quarantined=False,
                sent=self._partial[cid][0] if cid in self._partial else None,
                refs=self._partial[cid][1] if cid in self._partial else None,
            )
            for cid, item in outstanding.items()
        }
        for cid in outstanding:
            log.warning("left for the next run: complaint %s: %s", cid, errors.get(cid, "failed"))
        audit = [e for item in outstanding.values() for e in self._audit_entries(item, "failed")]
        with self._store_lock:
            record_writes(self.store, self.adapter.name, audit)
            self.store.record_results(self.adapter.name, {}, failed)

    def _audit_entries(
        self, item: PlannedComplaint, outcome: str, result: PushResult | None = None
    ) -> list[AuditEntry]:
        """A row per remote write the adapter listed (see :func:`~.audit.entries_for`)."""
        return entries_for(
            item.complaint_id,
            item.revision,
            is_new=item.is_new,
            outcome=outcome,
            remote_ids=result.refs if result is not None else {},
            run_id=self.summary.run_id,
            # A recreate is reconciliation's repair of a deletion (reconcile --recreate-deleted).
            repair=item.complaint_id in self.force or item.complaint_id in self.recreate,
            writes=result.writes if result is not None else (),
        )


def _last_sent(record: StoredRecord, recreating: bool) -> Mapping[str, Mapping[str, str]] | None:
    """What the remote holds from us, as far as we know. A record left ``pending`` was cut off
    mid-write (a crash): any field of it may or may not have arrived, so none is known and
    every field we own is sent once. A ticket being recreated is new, its surviving tasks not."""
    if record.state is RecordState.PENDING or record.sent is None:
        return None
    if recreating:
        return {key: fields for key, fields in record.sent.items() if key.startswith("task:")}
    return record.sent


def _retry_signal(errors: Sequence[object]) -> TransientError:
    hints = [e for e in errors if isinstance(e, TransientError)]
    stop_runs = [e for e in hints if isinstance(e, RateLimitedError) and e.stop_run]
    if stop_runs:
        return stop_runs[0]
    retry_after = max((e.retry_after or 0.0 for e in hints), default=0.0)
    limited = [e for e in hints if isinstance(e, RateLimitedError)]
    if limited:
        return RateLimitedError(str(limited[0].reason), retry_after=retry_after or None)
    return _BatchRetry(f"{len(errors)} record(s) to retry", retry_after=retry_after or None)
