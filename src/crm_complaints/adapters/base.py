"""The adapter interface: what HubSpot, the webhook and third-party adapters implement.

An adapter turns planned complaints into writes in one remote system and reads them back. The
sync engine owns everything else: reading, planning, diffing, the state store, retries and the
lock. An adapter only has to do four things, each idempotent:

``setup()``
    One-time bootstrap (custom properties, a property group...). Running it twice creates
    nothing the second time; the returned :class:`SetupReport` says what was created and what
    already existed.

``push(batch)``
    Write a batch of :class:`PlannedComplaint` (at most ``max_batch_size``). Return exactly one
    :class:`PushResult` per input, in any order. Pushing the same complaint ``version`` twice
    must not create a second remote object: key remote objects on the complaint id (and a
    task key), never on "did my last call succeed". ``item.previous`` holds the references
    stored after the last successful push, for updating in place.

    Classify per record, never swallow: ``PushResult.synced(...)`` with the remote refs;
    ``PushResult.failed(id, error)`` with a :class:`~crm_complaints.errors.TransientError`
    (retry later; ``retry_after`` if the remote said), a
    :class:`~crm_complaints.errors.RateLimitedError`, or a
    :class:`~crm_complaints.errors.RejectedError` (the remote refused this record; retrying
    won't help; it is quarantined). When the whole call fails, raise instead: a
    ``TransientError`` for the batch, or :class:`~crm_complaints.errors.AuthError` to stop the
    run. Do not retry inside the adapter: the engine retries, with backoff and a time bound.

``read(refs)``
    Read back the remote state of complaints we synced, keyed by complaint id, from the refs
    the state store holds. Bulk reads: never one request per complaint.

``list_owned()``
    Every remote record this adapter owns (carries our external id), paged, for finding orphans.

Count every HTTP request in ``self.calls``: the engine reports it, and tests assert that an
unchanged rerun costs zero. Never put secrets or personal data in an exception message or log
line: ids, status codes and field names only. Only fields in ``self.allowed_fields`` (see
:func:`crm_complaints.privacy.allowed_view`) may leave the machine.

A minimal adapter::

    class MyConfig(BaseModel):
        url: str
        token_env: str = "MYCRM_TOKEN"

    class MyAdapter(Adapter):
        name = "mycrm"
        config_model = MyConfig

        def setup(self) -> SetupReport: ...
        def push(self, batch): ...
        def read(self, refs): ...
        def list_owned(self): ...

Register it under the ``crm_complaints.adapters`` entry-point group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ValidationError

from ..config import DEFAULT_ALLOWED_FIELDS, Settings
from ..errors import AdapterError, ConfigError, RateLimitedError, RejectedError, TransientError
from ..policy import Plan
from ..privacy import check_allowlist
from ..schema import Complaint

__all__ = [
    "Adapter",
    "Outcome",
    "PlannedComplaint",
    "PushResult",
    "RemoteRecord",
    "RemoteRefs",
    "RemoteTask",
    "SetupReport",
]

RemoteRefs = Mapping[str, str]
"""Remote ids an adapter created or updated, e.g. ``{"ticket": "1234", "task:follow_up": "99"}``.
Object ids must stay the same when a complaint is updated. Keys starting with ``delivery``
name one delivery of one version (a webhook's event id) and change with every version."""


@dataclass(frozen=True)
class PlannedComplaint:
    """A complaint, its plan, and what the state store knows about its last sync."""

    complaint: Complaint
    plan: Plan
    version: str
    """Content hash of complaint + plan: equal versions need no remote write."""
    previous: RemoteRefs | None = None
    """Refs from the last successful push; ``None`` if this complaint was never synced."""
    attempt: int = 0
    """0 on the first push of this version in a run; the engine's retry number after that.
    An adapter may skip writes it already completed for this version in an earlier attempt."""
    redelivery: str = ""
    """Non-empty when the engine re-sends a version on purpose (reconciliation's repair). An
    adapter that de-duplicates deliveries by version must treat it as a new delivery; it is
    the same across retries within one run."""

    @property
    def complaint_id(self) -> str:
        return self.complaint.id

    @property
    def is_new(self) -> bool:
        return self.previous is None


class Outcome(StrEnum):
    SYNCED = "synced"
    RETRY = "retry"
    RATE_LIMITED = "rate_limited"
    REJECTED = "rejected"


@dataclass(frozen=True)
class PushResult:
    """What happened to one complaint of a pushed batch."""

    complaint_id: str
    outcome: Outcome
    refs: Mapping[str, str] = field(default_factory=dict)
    created: bool = False
    error: AdapterError | None = None

    @classmethod
    def synced(cls, complaint_id: str, refs: Mapping[str, str], *, created: bool) -> Self:
        return cls(complaint_id, Outcome.SYNCED, dict(refs), created)

    @classmethod
    def failed(cls, complaint_id: str, error: AdapterError) -> Self:
        """Classify by the error's type: rate-limited, transient or rejected."""
        if isinstance(error, RateLimitedError):
            outcome = Outcome.RATE_LIMITED
        elif isinstance(error, TransientError):
            outcome = Outcome.RETRY
        elif isinstance(error, RejectedError):
            outcome = Outcome.REJECTED
        else:
            raise TypeError(f"{type(error).__name__} is not a per-record outcome; raise it")
        return cls(complaint_id, outcome, error=error)


@dataclass(frozen=True)
class RemoteRecord:
    """A complaint as the remote system holds it, for reconciliation."""

    complaint_id: str
    refs: Mapping[str, str]
    fields: Mapping[str, Any] = field(default_factory=dict)
    """Remote values of the fields we own (subject, priority, stage, owner, version...)."""
    tasks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per task kind: due date, status, owner as the remote holds them."""


@dataclass(frozen=True)
class RemoteTask:
    """One follow-up task as the remote holds it, for overdue and drift reports."""

    complaint_id: str
    kind: str
    due_at: datetime | None
    completed: bool
    id: str = ""
    owner: str | None = None


@dataclass(frozen=True)
class SetupReport:
    created: tuple[str, ...] = ()
    existing: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.created)


class Adapter(ABC):
    """Base class of every adapter; see the module docstring for the contract."""

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    max_batch_size: ClassVar[int] = 100

    def __init__(
        self, config: BaseModel, *, allowed_fields: Sequence[str] = DEFAULT_ALLOWED_FIELDS
    ):
        self.config = config
        self.allowed_fields = check_allowlist(allowed_fields)
        self.calls = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Build from ``[adapters.<name>]``; errors name the config key."""
        raw = settings.adapter_settings(cls.name)
        fields = raw.pop("fields", None)
        try:
            config = cls.config_model.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(["adapters", cls.name, *(str(p) for p in first["loc"])])
            raise ConfigError(first["msg"], key=key) from exc
        allowed = settings.allowed_fields if fields is None else tuple(fields)
        check_allowlist(allowed, key=f"adapters.{cls.name}.fields" if fields else "allowed_fields")
        return cls(config, allowed_fields=allowed)

    @abstractmethod
    def setup(self) -> SetupReport:
        """Idempotent one-time bootstrap of the remote side."""

    @abstractmethod
    def push(self, batch: Sequence[PlannedComplaint]) -> list[PushResult]:
        """Write a batch; one result per input. Raise only for whole-call failures."""

    @abstractmethod
    def read(self, refs: Mapping[str, RemoteRefs]) -> dict[str, RemoteRecord]:
        """Remote state of the given complaints (by id → stored refs); absent ones are left out."""

    @abstractmethod
    def list_owned(self) -> Iterator[RemoteRecord]:
        """Every remote record carrying our external id, paged."""

    def expected_fields(self, item: PlannedComplaint) -> Mapping[str, str]:
        """What the remote should hold for the fields we own, keyed as ``RemoteRecord.fields``
        reports them (``subject``, ``priority``, ``stage``, ``owner``, ``departments``,
        ``version``…). Reconciliation compares the two to find drift."""
        return {"version": item.version}

    def list_tasks(
        self, *, due_before: datetime | None = None, changed_since: datetime | None = None
    ) -> Iterator[RemoteTask]:
        """Tasks that are open and due before ``due_before``, or changed remotely after
        ``changed_since``. The default walks :meth:`list_owned`; adapters whose CRM can filter
        server-side should override it to read only those."""
        for record in self.list_owned():
            for kind, task in record.tasks.items():
                due = task.get("due_at")
                due_at = datetime.fromisoformat(due) if isinstance(due, str) else None
                done = bool(task.get("completed"))
                overdue = due_before is not None and due_at is not None and due_at < due_before
                if (overdue and not done) or changed_since is not None:
                    yield RemoteTask(record.complaint_id, kind, due_at, done)

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
