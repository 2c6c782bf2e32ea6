"""The adapter interface: what HubSpot, the webhook and third-party adapters implement.

An adapter turns planned complaints into writes in one remote system and reads them back. The
sync engine owns everything else: reading, planning, diffing, the state store, retries and the
lock. The base class owns what every adapter would otherwise repeat: the typed ``self.config``,
the secret from the environment, counting requests (thread-safe), and turning HTTP answers into
the error tree. An adapter has four things to do, each idempotent:

``setup()``
    One-time bootstrap (custom properties, a property group...). Running it twice creates
    nothing the second time; the returned :class:`SetupReport` says what was created and what
    already existed.

``push(batch)``
    Write a batch of :class:`PlannedComplaint` (at most ``max_batch_size``). Return exactly one
    :class:`PushResult` per input, in any order. Pushing the same complaint ``version`` twice
    must not create a second remote object: key remote objects on the complaint id (and a
    task key), never on "did my last call succeed". ``item.previous`` holds the references
    stored after the last successful push, for updating in place. Every task of
    ``item.plan.tasks`` must reach the remote with its ``due_at`` (and ``completed``): that is
    the point of the product.

    Classify per record, never swallow: ``PushResult.synced(...)`` with the remote refs;
    ``PushResult.failed(id, error)`` with a :class:`~crm_complaints.errors.TransientError`
    (retry later; ``retry_after`` if the remote said), a
    :class:`~crm_complaints.errors.RateLimitedError`, or a
    :class:`~crm_complaints.errors.RejectedError` (the remote refused this record; retrying
    won't help; it is quarantined). When the whole call fails, raise instead: a
    ``TransientError`` for the batch, or :class:`~crm_complaints.errors.AuthError` to stop the
    run (401/403: a wrong token would otherwise quarantine every record). Do not retry inside
    the adapter: the engine retries, with backoff and a time bound. :meth:`Adapter.http`
    (a :class:`requests.Session` that counts) and :meth:`Adapter.error_for` (status → error,
    ``Retry-After`` included) do the classifying for HTTP APIs.

    ``PushResult.writes`` may list the remote writes made for the complaint
    (:class:`RemoteWrite`: create, update, link or archive, of which object, with its ids), one
    audit row each; left empty, the engine records one ``create`` or ``update`` row per push.

``read(refs)``
    Read back the remote state of complaints we synced, keyed by complaint id, from the refs
    the state store holds, as :class:`RemoteRecord`: the version we wrote, the stage and
    whether the remote counts it closed, the owner, when it last changed, and every task with
    its due date and completion. Reconciliation depends on each of these. Bulk reads: never
    one request per complaint.

``list_owned()``
    Every remote record this adapter owns (carries our external id), paged, for finding
    orphans and drift; the same :class:`RemoteRecord` shape (tasks may be left empty when
    :meth:`Adapter.list_tasks` reads them more cheaply).

Requests are counted for the engine (an unchanged rerun must cost zero): through
:meth:`Adapter.http` automatically, or by calling :meth:`Adapter.count_call` at an SDK's edge.
Never put secrets or personal data in an exception message or log line: ids, status codes and
field names only. Only fields in ``self.allowed_fields`` (see
:func:`crm_complaints.privacy.allowed_view`) may leave the machine.

A minimal adapter::

    class MyConfig(BaseModel):
        url: str
        token_env: str = "MYCRM_TOKEN"

    class MyAdapter(Adapter[MyConfig]):
        name = "mycrm"
        config_model = MyConfig

        def setup(self) -> SetupReport: ...
        def push(self, batch): ...
        def read(self, refs): ...
        def list_owned(self): ...

Register it under the ``crm_complaints.adapters`` entry-point group.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar, get_args

import requests
from pydantic import BaseModel, ValidationError

from ..config import DEFAULT_ALLOWED_FIELDS, Settings
from ..errors import (
    AdapterError,
    ConfigError,
    RateLimitedError,
    RejectedError,
    TransientError,
    from_http_status,
)
from ..fields import FieldOwners
from ..policy import PlannedComplaint
from ..privacy import check_allowlist
from ..schema import canonical_hash

__all__ = [
    "Adapter",
    "CountedSession",
    "Outcome",
    "OwnerFallback",
    "PlannedComplaint",
    "PushResult",
    "RemoteRecord",
    "RemoteRefs",
    "RemoteTask",
    "RemoteWrite",
    "SetupReport",
    "WriteOperation",
]

ConfigT = TypeVar("ConfigT", bound=BaseModel)

RemoteRefs = Mapping[str, str]
"""Remote ids an adapter created or updated, e.g. ``{"ticket": "1234", "task:follow_up": "99"}``.
Object ids must stay the same when a complaint is updated. Keys starting with ``delivery``
name one delivery of one version (a webhook's event id) and change with every version."""


WriteOperation = Literal["create", "update", "link", "archive"]


@dataclass(frozen=True)
class RemoteWrite:
    """One write an adapter made in the remote for a complaint: one row of the audit trail.

    ``object`` names what was written, as the refs name it (``ticket``, ``task:follow_up``,
    ``contact``) or ``association`` for a link, whose ``remote_ids`` name both ends
    (``{"task:follow_up": "99", "ticket": "1234"}``). Ids only, never a field value."""

    operation: WriteOperation
    object: str
    remote_ids: Mapping[str, str]

    def __post_init__(self) -> None:  # out-of-tree adapters are not type-checked with us
        if self.operation not in get_args(WriteOperation):
            raise ValueError(f"unknown write operation {self.operation!r}")


class Outcome(StrEnum):
    SYNCED = "synced"
    RETRY = "retry"
    RATE_LIMITED = "rate_limited"
    REJECTED = "rejected"
    DELETED = "deleted"
    """The remote object was deleted there (by a person): not recreated unless asked."""


@dataclass(frozen=True)
class PushResult:
    """What happened to one complaint of a pushed batch."""

    complaint_id: str
    outcome: Outcome
    refs: Mapping[str, str] = field(default_factory=dict)
    created: bool = False
    error: AdapterError | None = None
    sent: Mapping[str, Mapping[str, str]] | None = None
    """Hashes of the field values the remote now holds from us, per remote object (see
    :mod:`crm_complaints.fields`); ``None`` when the adapter does not track fields."""
    writes: tuple[RemoteWrite, ...] = ()
    """The remote writes this push made for the complaint, in order, also when it failed
    part-way (what did reach the remote); empty: the engine records one create or update."""

    @classmethod
    def synced(
        cls,
        complaint_id: str,
        refs: Mapping[str, str],
        *,
        created: bool,
        sent: Mapping[str, Mapping[str, str]] | None = None,
        writes: Sequence[RemoteWrite] = (),
    ) -> Self:
        return cls(
            complaint_id, Outcome.SYNCED, dict(refs), created, sent=sent, writes=tuple(writes)
        )

    @classmethod
    def deleted(cls, complaint_id: str) -> Self:
        """Someone deleted the complaint's remote record; it is left deleted."""
        return cls(complaint_id, Outcome.DELETED)

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
        return cls(complaint_id, outcome, error=error.for_complaint(complaint_id))


@dataclass(frozen=True)
class RemoteTask:
    """One follow-up task as the remote holds it."""

    complaint_id: str
    kind: str
    """A :class:`~crm_complaints.policy.TaskKind` value."""
    due_at: datetime | None
    completed: bool
    id: str = ""
    owner: str | None = None
    modified_at: datetime | None = None
    """When the remote last changed it; ``None`` if the remote does not say."""


@dataclass(frozen=True)
class RemoteRecord:
    """A complaint as the remote system holds it: what reconciliation compares.

    The typed attributes are what reconciliation reasons about; ``fields`` holds any other
    value we own, keyed as :meth:`Adapter.expected_fields` keys it (``subject``,
    ``priority``…); ``raw`` is the remote's own answer, for display and debugging only.
    """

    complaint_id: str
    refs: Mapping[str, str]
    version: str | None = None
    """The complaint version we last wrote there."""
    stage: str | None = None
    """The remote's name for where the complaint stands (a pipeline stage, a status)."""
    closed: bool | None = None
    """Whether the remote counts it closed; ``None`` when the remote has no such notion."""
    owner: str | None = None
    modified_at: datetime | None = None
    tasks: Mapping[str, RemoteTask] = field(default_factory=dict)
    """By task kind."""
    fields: Mapping[str, str | None] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)

    def value(self, name: str) -> str | None:
        """The remote value of an owned field, by the name ``expected_fields`` uses."""
        if name in ("version", "stage", "owner"):
            held: str | None = getattr(self, name)
            return held
        return self.fields.get(name)


@dataclass(frozen=True)
class OwnerFallback:
    """A ticket or task that went to another owner than configured, because the CRM reports
    the configured one as deactivated or does not know it. Names config keys and roles, never
    an owner's e-mail; reconciliation reports each one."""

    complaint_id: str
    task: str
    """A task kind, or ``ticket``."""
    department: str
    wanted: str
    """Whose it should have been: a config key and role, or ``the complaint's assignee``."""
    reason: str
    """``deactivated`` or ``unknown`` (no such owner in the CRM)."""
    used: str
    """Whose it became (a config key and role), or ``nobody``."""


@dataclass(frozen=True)
class SetupReport:
    created: tuple[str, ...] = ()
    existing: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    """Existing things setup changed (a property's options, labels or type)."""

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


class _CallCounter:
    """A request counter several threads may bump at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.value += n


class CountedSession(requests.Session):
    """A :class:`requests.Session` that counts every request it sends (failed ones too)."""

    def __init__(self, counter: _CallCounter) -> None:
        super().__init__()
        self._counter = counter
        self.trust_env = False  # no proxies or netrc from the environment for our writes

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self._counter.add()
        return super().send(request, **kwargs)


class Adapter(ABC, Generic[ConfigT]):
    """Base class of every adapter; see the module docstring for the contract."""

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    max_batch_size: ClassVar[int] = 100
    user_agent: ClassVar[str] = "crm-complaints"
    remote_deletions: ClassVar[bool] = False
    """True when a record gone from the remote was deleted there on purpose (staff in a CRM):
    it is reported and left deleted. False (a webhook receiver): a record it no longer holds
    was lost, and repair sends it again."""

    def __init__(
        self,
        config: ConfigT,
        *,
        allowed_fields: Sequence[str] = DEFAULT_ALLOWED_FIELDS,
        environ: Mapping[str, str] | None = None,
        field_owners: FieldOwners | None = None,
    ) -> None:
        if not isinstance(config, self.config_model):
            raise TypeError(f"{type(self).__name__} needs a {self.config_model.__name__}")
        self.config: ConfigT = config
        self.allowed_fields = check_allowlist(allowed_fields)
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.field_owners = field_owners or FieldOwners()
        """Who owns each remote field (``[sync.fields]``, see :mod:`crm_complaints.fields`)."""
        self._counter = _CallCounter()
        self._session: CountedSession | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, environ: Mapping[str, str] | None = None) -> Self:
        """Build from ``[adapters.<name>]``; errors name the config key. ``environ`` (default
        ``os.environ``) is where secrets are looked up."""
        raw = settings.adapter_settings(cls.name)
        fields = raw.pop("fields", None)
        owners = {**settings.sync.fields, **raw.pop("field_owners", {})}
        try:
            config = cls.config_model.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(["adapters", cls.name, *(str(p) for p in first["loc"])])
            raise ConfigError(first["msg"], key=key) from exc
        allowed = settings.allowed_fields if fields is None else tuple(fields)
        check_allowlist(allowed, key=f"adapters.{cls.name}.fields" if fields else "allowed_fields")
        try:
            field_owners = FieldOwners(owners)
        except ValueError as exc:
            raise ConfigError(str(exc), key=f"adapters.{cls.name}.field_owners") from exc
        return cls(
            config,  # type: ignore[arg-type]
            allowed_fields=allowed,
            environ=environ,
            field_owners=field_owners,
        )

    # -- what the framework does for every adapter -------------------------------------------
    @property
    def calls(self) -> int:
        """Requests made so far (the engine reports the difference over a run)."""
        return self._counter.value

    def count_call(self, n: int = 1) -> None:
        """Count requests made outside :meth:`http` (e.g. through a vendor SDK); thread-safe."""
        self._counter.add(n)

    def secret(self, env_name: str, *, config_key: str, what: str, prefix: str = "") -> str:
        """The secret held by environment variable ``env_name``; a ConfigError naming
        ``config_key`` (never the value) if it is unset or lacks ``prefix``."""
        value = self.environ.get(env_name, "")
        if not value or not value.startswith(prefix):
            raise ConfigError(f"environment variable {env_name} must hold {what}", key=config_key)
        return value

    @property
    def http(self) -> CountedSession:
        """A shared HTTP session that counts each request; closed by :meth:`close`."""
        if self._session is None:
            self._session = CountedSession(self._counter)
            self._session.headers["User-Agent"] = self.user_agent
        return self._session

    def error_for(
        self,
        status: int,
        headers: Mapping[str, str] | None = None,
        *,
        what: str,
        complaint_id: str | None = None,
        detail: str = "",
    ) -> AdapterError:
        """The error a non-2xx answer means (see :func:`crm_complaints.errors.from_http_status`),
        attributed to this adapter."""
        return from_http_status(
            status,
            headers,
            what=what,
            adapter=self.name,
            complaint_id=complaint_id,
            auth_hint=self.auth_hint(),
            detail=detail,
        )

    def auth_hint(self) -> str:
        """What to check when the remote refuses our credentials (names a variable, never a
        secret); adapters say which environment variable."""
        return "check the credentials"

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        timeout: float,
        complaint_id: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """One counted HTTP request; a dropped connection, a timeout or a non-2xx answer is
        raised as the matching error. Redirects are never followed; TLS is verified."""
        try:
            response = self.http.request(
                method, url, timeout=timeout, allow_redirects=False, verify=True, **kwargs
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(
                f"{what}: {type(exc).__name__}", adapter=self.name, complaint_id=complaint_id
            ) from exc
        if not 200 <= response.status_code < 300:
            response.close()
            raise self.error_for(
                response.status_code, response.headers, what=what, complaint_id=complaint_id
            )
        return response

    def fingerprint(self) -> str:
        """A hash of the settings that decide what this adapter sends (its config and the
        field allowlist; secrets are never in the config). A record the remote refused is
        tried again once it changes: fixing a mapping must not leave records quarantined."""
        settings = {
            "adapter": self.name,
            "config": self.config.model_dump(mode="json"),
            "allowed_fields": sorted(self.allowed_fields),
        }
        owners = self.field_owners.fingerprint()
        if owners:  # absent at the defaults: upgrading must not change every fingerprint
            settings["field_owners"] = owners
        return canonical_hash(settings)[:32]

    # -- what each adapter implements ----------------------------------------------------------
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
        """What the remote should hold for the fields we own, keyed as
        :meth:`RemoteRecord.value` reads them (``subject``, ``priority``, ``stage``, ``owner``,
        ``departments``, ``version``…). Reconciliation compares the two to find drift."""
        return {"version": item.version}

    def unsent_fields(self, item: PlannedComplaint, record: RemoteRecord) -> frozenset[str]:
        """Fields of :meth:`expected_fields` whose value we would send now is not the one we
        last sent (``item.sent``: the source changed since the last sync) while ``record``
        still holds what we last sent: the next sync sends them, so a difference there is
        ours, not staff's (``pull``, reconcile). Default: none known."""
        return frozenset()

    def task_held_as_sent(self, item: PlannedComplaint, task: RemoteTask) -> frozenset[str]:
        """The fields of one task (``task_due``) the remote holds as we last sent them
        (``item.sent``): a difference from ours there is ours (a ``crm`` due date is never
        sent again), not staff's (reconcile). Default: none known."""
        return frozenset()

    def run_counts(self) -> Mapping[str, int]:
        """Running totals an adapter wants in the sync summary beyond writes (the engine
        reports each one's growth over a run when not zero), e.g. work sent to fallback
        owners. Default: none."""
        return {}

    def owner_fallbacks(self, item: PlannedComplaint) -> Sequence[OwnerFallback]:
        """Tickets and tasks of a complaint that go to another owner than configured (the
        configured one deactivated or unknown in the CRM). Reconciliation reports them. The
        default: none (an adapter that does not resolve owners)."""
        return ()

    def list_tasks(
        self, *, due_before: datetime | None = None, changed_since: datetime | None = None
    ) -> Iterator[RemoteTask]:
        """Tasks that are open and due before ``due_before``, or changed remotely after
        ``changed_since``. The default walks :meth:`list_owned`; a task whose remote does not
        say when it changed counts as changed. Adapters whose CRM can filter server-side
        should override it to read only those."""
        for record in self.list_owned():
            for task in record.tasks.values():
                overdue = (
                    due_before is not None
                    and not task.completed
                    and task.due_at is not None
                    and task.due_at < due_before
                )
                changed = changed_since is not None and (
                    task.modified_at is None or task.modified_at > changed_since
                )
                if overdue or changed:
                    yield task

    def list_changed(self, since: datetime) -> Iterator[RemoteRecord]:
        """Records of ours the remote changed after ``since`` (``pull``). The default filters
        :meth:`list_owned` (a record whose remote does not say when it changed counts as
        changed); adapters whose CRM can filter server-side should override it."""
        for record in self.list_owned():
            if record.modified_at is None or record.modified_at > since:
                yield record

    def owner_active(self, owner_id: str) -> bool:
        """Whether the remote user ``owner_id`` can still own work (not deactivated or gone);
        repair moves work off inactive owners. Default: every owner is active."""
        return True

    def owner_email(self, owner_id: str) -> str | None:
        """The e-mail of the remote user ``owner_id`` (staff, not patients), for reports
        people read; ``None`` when the adapter has no user directory."""
        return None

    def close(self) -> None:
        """Release connections."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
