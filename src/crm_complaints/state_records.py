"""What the state store holds about one complaint and one run, and the interface the sync engine
uses (:class:`StateStore`); :mod:`crm_complaints.state` implements it in SQL."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from .migrations import DEFAULT_NAMESPACE
from .quarantine import QuarantineEntry

__all__ = [
    "FailedWrite",
    "RecordState",
    "RunRecord",
    "StateStore",
    "StoredRecord",
    "SyncedWrite",
    "aware",
    "utc_now",
]


class RecordState(StrEnum):
    PENDING = "pending"  # a write was intended; its outcome is unknown (in flight or crashed)
    SYNCED = "synced"  # the remote confirmed ``synced_hash``
    QUARANTINED = "quarantined"  # the remote rejected ``pending_hash``; needs a changed record
    FAILED = "failed"  # retries ran out this run; the next run tries again
    DELETED = "deleted"  # someone deleted it in the CRM; left deleted unless asked to recreate


@dataclass(frozen=True)
class SyncedWrite:
    """The remote confirmed ``version`` of a complaint; ``refs`` are its ids over there."""

    version: str
    refs: Mapping[str, str]
    sent: Mapping[str, Mapping[str, str]] | None = None
    """Hashes of the field values the remote now holds from us (see
    :mod:`crm_complaints.fields`); ``None`` keeps what the store had."""


@dataclass(frozen=True)
class FailedWrite:
    """Writing ``version`` failed with ``error``; ``quarantined`` when the remote rejected it
    (retrying the same version cannot help), otherwise it is left for the next run."""

    version: str
    error: str
    quarantined: bool
    fingerprint: str | None = None
    """The adapter settings that decided what was sent (see ``Adapter.fingerprint``): a
    quarantined record is tried again once they change."""
    deleted: bool = False
    """The remote object is gone (deleted in the CRM): the record becomes ``deleted``."""
    sent: Mapping[str, Mapping[str, str]] | None = None
    """Field hashes of what did reach the remote before the failure (``None``: keep)."""
    refs: Mapping[str, str] | None = None
    """Ids of what did reach the remote before the failure (``None``: keep)."""


@dataclass(frozen=True)
class StoredRecord:
    adapter: str
    complaint_id: str
    state: RecordState
    synced_hash: str | None
    pending_hash: str | None
    refs: Mapping[str, str]
    attempts: int
    last_error: str | None
    updated_at: datetime
    synced_at: datetime | None
    revision: int = 0
    """Counts the distinct versions handed to the adapter (1 for the first); a retry of the
    same version keeps it. Webhook event ids derive from it."""
    fingerprint: str | None = None
    """For a quarantined record: the adapter fingerprint it was rejected under."""
    sent: Mapping[str, Mapping[str, str]] | None = None
    """Hashes of the field values last sent, per remote object (``None``: not known)."""


@dataclass(frozen=True)
class RunRecord:
    id: int
    kind: str
    adapter: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    counts: Mapping[str, int] = field(default_factory=dict)
    namespace: str = DEFAULT_NAMESPACE


def utc_now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    # SQLite hands datetimes back naive; they were written in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class StateStore(ABC):
    """What the sync engine needs from a state backend."""

    @abstractmethod
    def get_many(self, adapter: str, complaint_ids: Sequence[str]) -> dict[str, StoredRecord]: ...

    @abstractmethod
    def mark_pending(self, adapter: str, versions: Mapping[str, str]) -> dict[str, int]:
        """Write-ahead: these complaint ids are about to be written at these versions.
        Returns each one's revision: unchanged when the version is the one last marked (a
        retry or a rerun after a crash), one more when it is a new version."""

    @abstractmethod
    def record_results(
        self,
        adapter: str,
        synced: Mapping[str, SyncedWrite],
        failed: Mapping[str, FailedWrite],
    ) -> None:
        """Commit outcomes by complaint id, ``synced`` and ``failed``, in one transaction."""

    @abstractmethod
    def start_run(self, kind: str, adapter: str) -> int: ...

    @abstractmethod
    def finish_run(self, run_id: int, outcome: str, counts: Mapping[str, int]) -> None: ...

    @abstractmethod
    def add_quarantine(self, run_id: int, entries: Iterable[QuarantineEntry]) -> None: ...

    @abstractmethod
    def recent_runs(self, limit: int = 10) -> list[RunRecord]: ...

    @abstractmethod
    def problem_records(self, adapter: str | None = None) -> list[StoredRecord]:
        """Records not synced (pending, failed, quarantined)."""

    @abstractmethod
    def quarantine_of_run(self, run_id: int) -> list[dict[str, Any]]: ...

    @abstractmethod
    def all_records(self, adapter: str) -> Iterator[StoredRecord]: ...

    @abstractmethod
    def run_of(
        self, kind: str, adapter: str, *, first: bool = False, before: int | None = None
    ) -> RunRecord | None:
        """The last (or ``first``) run of ``kind`` for ``adapter``, before run id ``before``."""

    @abstractmethod
    def mark_restored(self, adapter: str, complaint_ids: Iterable[str]) -> None:
        """Deleted records whose remote object is back: synced again from the next run."""

    @abstractmethod
    def mark_deleted(self, adapter: str, complaint_ids: Iterable[str]) -> None:
        """Reconciliation found these synced complaints deleted in the CRM: later syncs leave
        them deleted (until recreated on request)."""

    @abstractmethod
    @contextmanager
    def run_lock(self, adapter: str, wait_seconds: float = 0.0) -> Iterator[None]:
        """Exclusive lock for one sync/reconcile run of this namespace and ``adapter``; raises
        LockHeldError when another process (or another store object) holds it."""
        yield  # pragma: no cover

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
