"""The HubSpot adapter, on the official ``hubspot-api-client`` SDK.

One batch of up to 100 complaints costs: one ticket batch upsert on our unique
``crm_complaint_id`` property, one task batch upsert per 100 tasks on the unique
``crm_task_key`` (``<complaint id>:<task kind>``), and one v4 association batch per 100 tasks
that are not yet linked to their ticket. Upserts make every write idempotent: a rerun, a retry
or a crash never creates a second ticket or task. Search is never used to find what exists:
it is eventually consistent.

Errors are translated here, at the edge: 429 (``policyName``: the rolling window, or the daily
quota that stops the run), 423, 5xx and dropped connections are transient; per-record 400/409
answers in a 207 are mapped back by ``objectWriteTraceId`` and reject only that complaint;
401/403 stop the run. The SDK's own urllib3 retries are switched off: retrying is the engine's
job (tenacity). Messages never carry the token, property values or response bodies.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.client import HTTPException
from typing import Any, TypeVar

import urllib3
from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicAssociationMultiPost,
    PublicAssociationMultiPost,
    PublicObjectId,
)
from hubspot.crm.associations.v4 import (
    Configuration as AssociationsConfiguration,
)
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert as ContactUpsertBatch,
)
from hubspot.crm.contacts import (
    SimplePublicObjectBatchInputUpsert as ContactUpsert,
)
from hubspot.crm.objects.tasks import (
    BatchInputSimplePublicObjectBatchInputUpsert as TaskUpsertBatch,
)
from hubspot.crm.objects.tasks import (
    BatchReadInputSimplePublicObjectId as TaskReadBatch,
)
from hubspot.crm.objects.tasks import (
    Configuration as TasksConfiguration,
)
from hubspot.crm.objects.tasks import (
    PublicObjectSearchRequest as TaskSearch,
)
from hubspot.crm.objects.tasks import (
    SimplePublicObjectBatchInputUpsert as TaskUpsert,
)
from hubspot.crm.objects.tasks import (
    SimplePublicObjectId as TaskId,
)
from hubspot.crm.properties import (
    BatchInputPropertyCreate,
    PropertyCreate,
    PropertyGroupCreate,
)
from hubspot.crm.tickets import (
    BatchInputSimplePublicObjectBatchInputUpsert as TicketUpsertBatch,
)
from hubspot.crm.tickets import (
    BatchReadInputSimplePublicObjectId as TicketReadBatch,
)
from hubspot.crm.tickets import (
    Configuration as TicketsConfiguration,
)
from hubspot.crm.tickets import (
    PublicObjectSearchRequest as TicketSearch,
)
from hubspot.crm.tickets import (
    SimplePublicObjectBatchInputUpsert as TicketUpsert,
)
from hubspot.crm.tickets import (
    SimplePublicObjectId as TicketId,
)
from pydantic import BaseModel, ConfigDict, Field
from urllib3.util.retry import Retry

from ..errors import (
    AdapterError,
    AuthError,
    ConfigError,
    RateLimitedError,
    RejectedError,
    TransientError,
)
from ..labels import label
from ..policy import PlannedTask, TaskKind
from ..privacy import allowed_view
from ..ratelimit import SlidingWindowLimiter
from ..schema import Category, Department, Severity, Status
from ..urls import check_url
from .base import (
    Adapter,
    PlannedComplaint,
    PushResult,
    RemoteRecord,
    RemoteRefs,
    RemoteTask,
    SetupReport,
)

__all__ = [
    "TASK_PROPERTIES",
    "TICKET_PROPERTIES",
    "HubSpotAdapter",
    "HubSpotConfig",
    "task_key",
]

DEFAULT_HOST = "https://api.hubapi.com"
TASK_TO_TICKET = 230
TICKET_TO_CONTACT = 16
TASK_TO_CONTACT = 204
MAX_INPUTS = 100
SEARCH_PAGE = 200
SEARCH_RESULT_CAP = 10_000
T = TypeVar("T")

# The custom properties we own: (name, label, type, fieldType, unique)
TICKET_PROPERTIES: tuple[tuple[str, str, str, str, bool], ...] = (
    ("crm_complaint_id", "Complaint ID", "string", "text", True),
    ("crm_category", "Complaint category", "string", "text", False),
    ("crm_severity", "Complaint severity", "string", "text", False),
    ("crm_departments", "Departments involved", "string", "text", False),
    ("crm_coordinator", "Coordinating department", "string", "text", False),
    ("crm_channel", "Complaint channel", "string", "text", False),
    ("crm_clinic", "Clinic", "string", "text", False),
    ("crm_received_at", "Complaint received", "datetime", "date", False),
    ("crm_version", "Synced version", "string", "text", False),
)
TASK_PROPERTIES: tuple[tuple[str, str, str, str, bool], ...] = (
    ("crm_task_key", "Complaint task key", "string", "text", True),
)
CONTACT_PROPERTIES: tuple[tuple[str, str, str, str, bool], ...] = (
    ("crm_customer_id", "Complaint customer id", "string", "text", True),
)
TICKET_READ_PROPERTIES = [
    "subject",
    "hs_lastmodifieddate",
    "hs_pipeline",
    "hs_pipeline_stage",
    "hs_ticket_priority",
    "hs_ticket_category",
    "hubspot_owner_id",
    *(p[0] for p in TICKET_PROPERTIES),
]
TASK_READ_PROPERTIES = [
    "crm_task_key",
    "hs_lastmodifieddate",
    "hs_timestamp",
    "hs_task_status",
    "hs_task_priority",
    "hs_task_type",
    "hs_task_subject",
    "hubspot_owner_id",
]


def task_key(complaint_id: str, kind: TaskKind | str) -> str:
    return f"{complaint_id}:{TaskKind(kind).value}"


def _hubspot_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class HubSpotConfig(BaseModel):
    """``[adapters.hubspot]``: mappings by label or e-mail, discovered from the portal at start."""

    model_config = ConfigDict(extra="forbid")

    token_env: str = "HUBSPOT_ACCESS_TOKEN"
    host: str = DEFAULT_HOST
    allow_insecure_http: bool = False
    pipeline: str = "Support Pipeline"
    stages: dict[Status, str] = Field(
        default_factory=lambda: {
            Status.RECEIVED: "New",
            Status.ACKNOWLEDGED: "Waiting on us",
            Status.INVESTIGATING: "Waiting on us",
            Status.COORDINATING: "Waiting on us",
            Status.RESOLUTION_PROPOSED: "Waiting on contact",
            Status.RESOLVING: "Waiting on contact",
            Status.RESOLVED: "Closed",
            Status.CLOSED: "Closed",
        }
    )
    owners: dict[Department, str] = Field(default_factory=dict)
    priorities: dict[Severity, str] = Field(
        default_factory=lambda: {
            Severity.LOW: "LOW",
            Severity.MEDIUM: "MEDIUM",
            Severity.HIGH: "HIGH",
            Severity.CRITICAL: "URGENT",
        }
    )
    task_priorities: dict[Severity, str] = Field(
        default_factory=lambda: {
            Severity.LOW: "LOW",
            Severity.MEDIUM: "MEDIUM",
            Severity.HIGH: "HIGH",
            Severity.CRITICAL: "HIGH",
        }
    )
    categories: dict[Category, str] = Field(default_factory=dict)
    property_group: str = "crm_complaints"
    rate_limit_requests: int = Field(100, ge=1)
    rate_limit_window_seconds: float = Field(10.0, gt=0)
    timeout_seconds: float = Field(30.0, gt=0)
    contacts: bool = False
    """Also upsert a contact per customer (keyed on customer.external_id) and link the ticket and
    its tasks to it. Only allowed fields go on the contact (by default none but the id)."""
    concurrency: int = Field(4, ge=1, le=16)
    """Task requests in flight at once; the rate limiter still caps the request rate."""


@dataclass(frozen=True)
class _Portal:
    """What discovery found: ids behind the labels and e-mails of the config."""

    pipeline_id: str
    stage_ids: Mapping[Status, str]
    stage_labels: Mapping[str, str]
    closed_stage_ids: frozenset[str]
    owner_ids: Mapping[Department, str]
    priority_values: Mapping[Severity, str]
    category_values: Mapping[Category, str]


_ChunkOutcome = tuple[
    dict[str, dict[str, str]], list[tuple[str, RejectedError]], "TransientError | None"
]


class HubSpotAdapter(Adapter):
    """Tickets, owners and follow-up tasks in HubSpot."""

    name = "hubspot"
    config_model = HubSpotConfig
    # Tickets go 100 to a request, but tasks pack best across many complaints.
    max_batch_size = 1000

    def __init__(self, config: BaseModel, **kw: Any) -> None:
        super().__init__(config, **kw)
        if not isinstance(config, HubSpotConfig):
            raise TypeError("HubSpotAdapter needs a HubSpotConfig")
        self.settings: HubSpotConfig = config
        host = check_url(
            config.host.rstrip("/"),
            allow_insecure_http=config.allow_insecure_http,
            key="adapters.hubspot.host",
        )
        token = os.environ.get(config.token_env, "")
        if not token:
            raise ConfigError(
                f"environment variable {config.token_env} must hold a private app token",
                key="adapters.hubspot.token_env",
            )
        no_retries = Retry(total=0, connect=0, read=0, redirect=0, status=0, raise_on_status=False)
        client = HubSpot(access_token=token, host=host, retry=no_retries)
        # Cache the API objects: every attribute access on the SDK builds a new pool.
        self._tickets = client.crm.tickets.batch_api
        self._tasks = client.crm.objects.tasks.batch_api
        self._task_search = client.crm.objects.tasks.search_api
        self._ticket_search = client.crm.tickets.search_api
        self._contacts_batch = client.crm.contacts.batch_api
        self._associations = client.crm.associations.v4.batch_api
        self._pipelines = client.crm.pipelines.pipelines_api
        self._owners = client.crm.owners.owners_api
        self._properties = client.crm.properties.core_api
        self._property_batch = client.crm.properties.batch_api
        self._groups = client.crm.properties.groups_api
        self.limiter = SlidingWindowLimiter(
            config.rate_limit_requests, config.rate_limit_window_seconds
        )
        self._portal_cache: _Portal | None = None
        self._count_lock = threading.Lock()
        # One model configuration per SDK package: by default every request model copies a
        # fresh Configuration (and resets loggers), which costs more than the request itself.
        self._ticket_models = TicketsConfiguration()
        self._task_models = TasksConfiguration()
        self._link_models = AssociationsConfiguration()
        # Writes completed in earlier attempts of the current retry sequence, by version, so
        # a retry resumes where the last attempt stopped instead of starting over (under a
        # tight rate limit, starting over could never finish). Cleared by every first attempt.
        self._done_tickets: dict[tuple[str, str], str] = {}
        self._done_tasks: dict[tuple[str, str], str] = {}
        self._done_links: set[tuple[str, str]] = set()

    # -- the edge: one request, limited, counted and classified -------------------------------
    def _call(self, what: str, method: Callable[..., T], **kwargs: Any) -> T:
        """One SDK call: rate-limited, counted, with a timeout, errors classified."""
        with self._count_lock:
            self.calls += 1
        try:
            with self.limiter.slot():
                return method(**kwargs, _request_timeout=self.settings.timeout_seconds)
        except (urllib3.exceptions.HTTPError, HTTPException, OSError) as exc:
            raise TransientError(
                f"{what}: connection failed ({type(exc).__name__})", adapter=self.name
            ) from exc
        except Exception as exc:
            status = getattr(exc, "status", None)
            if not isinstance(status, int):
                raise
            raise self._classify(what, exc, status) from exc

    def _call_json(self, what: str, method: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
        """An SDK call whose answer we parse ourselves, for the hot batch endpoints.

        The SDK's own deserialization builds a model per object and parses every timestamp
        with dateutil, which costs more than the request; and at DEBUG it logs whole response
        bodies, which hold property values. Requests are still built and sent by the SDK.
        """
        response = self._call(what, method, _preload_content=False, **kwargs)
        try:
            raw = response.data
        finally:
            response.release_conn()
        if not raw:
            return {}
        data = json.loads(raw)
        return data if isinstance(data, dict) else {}

    def _classify(self, what: str, exc: Exception, status: int) -> AdapterError:
        body = _json_body(getattr(exc, "body", None))
        category = str(body.get("category", "")) if body else ""
        kw: dict[str, Any] = {"adapter": self.name, "status": status}
        if status in (401, 403):
            return AuthError(
                f"{what}: HubSpot refused the token in {self.settings.token_env} ({status} "
                f"{category or 'unauthorized'}); check the private app's token and scopes",
                **kw,
            )
        if status == 429:
            policy = str(body.get("policyName", "")) if body else ""
            if policy.upper() == "DAILY":
                return RateLimitedError(
                    f"{what}: daily API quota exhausted",
                    retry_after=_seconds_to_utc_midnight(),
                    stop_run=True,
                    **kw,
                )
            window = _header(exc, "X-HubSpot-RateLimit-Interval-Milliseconds")
            wait = float(window) / 1000 if window and window.isdigit() else 10.0
            retry_after = _header(exc, "Retry-After")
            if retry_after and retry_after.replace(".", "", 1).isdigit():
                wait = float(retry_after)
            return RateLimitedError(
                f"{what}: rate limited ({policy or 'rolling window'})", retry_after=wait, **kw
            )
        if status == 423:
            return TransientError(f"{what}: locked (423)", retry_after=2.0, **kw)
        if status >= 500 or status in (0, 408):  # 0: the SDK's code for TLS failures
            return TransientError(f"{what}: HubSpot answered {status}", **kw)
        return RejectedError(f"{what}: {status} {_describe(body)}", **kw)

    # -- discovery --------------------------------------------------------------------------
    def portal(self) -> _Portal:
        """Resolve labels and e-mails to the portal's ids (once per adapter)."""
        if self._portal_cache is None:
            self._portal_cache = self._discover()
        return self._portal_cache

    def _discover(self) -> _Portal:
        cfg = self.settings
        pipelines = self._call("read pipelines", self._pipelines.get_all, object_type="tickets")
        pipeline = next((p for p in pipelines.results if p.label == cfg.pipeline), None)
        if pipeline is None:
            known = sorted(p.label for p in pipelines.results)
            raise ConfigError(
                f"no ticket pipeline labelled {cfg.pipeline!r} (the portal has {known})",
                key="adapters.hubspot.pipeline",
            )
        by_label = {s.label: s.id for s in pipeline.stages}
        stage_ids: dict[Status, str] = {}
        for status in Status:
            wanted = cfg.stages.get(status)
            if wanted is None or wanted not in by_label:
                raise ConfigError(
                    f"pipeline {cfg.pipeline!r} has no stage {wanted!r} "
                    f"(it has {sorted(by_label)})",
                    key=f"adapters.hubspot.stages.{status.value}",
                )
            stage_ids[status] = by_label[wanted]
        closed = frozenset(
            s.id for s in pipeline.stages if (s.metadata or {}).get("ticketState") == "CLOSED"
        )
        owners = self._owner_emails()
        owner_ids: dict[Department, str] = {}
        for department, email in cfg.owners.items():
            found = owners.get(email.lower())
            if found is None:
                raise ConfigError(
                    f"no HubSpot owner with e-mail {email!r}",
                    key=f"adapters.hubspot.owners.{department.value}",
                )
            owner_ids[department] = found
        priorities = self._option_values("hs_ticket_priority")
        categories = self._option_values("hs_ticket_category") if cfg.categories else {}
        return _Portal(
            pipeline_id=pipeline.id,
            stage_ids=stage_ids,
            stage_labels={s.id: s.label for s in pipeline.stages},
            closed_stage_ids=closed,
            owner_ids=owner_ids,
            priority_values={
                severity: _option(
                    priorities, wanted, f"adapters.hubspot.priorities.{severity.value}"
                )
                for severity, wanted in cfg.priorities.items()
            },
            category_values={
                category: _option(
                    categories, wanted, f"adapters.hubspot.categories.{category.value}"
                )
                for category, wanted in cfg.categories.items()
            },
        )

    def _owner_emails(self) -> dict[str, str]:
        found: dict[str, str] = {}
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": 500}
            if after:
                kwargs["after"] = after
            page = self._call("read owners", self._owners.get_page, **kwargs)
            for owner in page.results:
                if owner.email:
                    found[owner.email.lower()] = str(owner.id)
            after = page.paging.next.after if page.paging and page.paging.next else None
            if not after:
                return found

    def _option_values(self, prop: str) -> dict[str, str]:
        spec = self._call(
            f"read property {prop}",
            self._properties.get_by_name,
            object_type="tickets",
            property_name=prop,
        )
        options: dict[str, str] = {}
        for option in spec.options or []:
            options[option.value] = option.value
            options[option.label] = option.value
        return options

    # -- setup ------------------------------------------------------------------------------
    def setup(self) -> SetupReport:
        """Create our property group and properties on tickets and tasks, if missing."""
        created: list[str] = []
        existing: list[str] = []
        group = self.settings.property_group
        objects = [("tickets", TICKET_PROPERTIES), ("tasks", TASK_PROPERTIES)]
        if self.settings.contacts:
            objects.append(("contacts", CONTACT_PROPERTIES))
        for object_type, wanted in objects:
            groups = self._call(
                f"read {object_type} property groups",
                self._groups.get_all,
                object_type=object_type,
            )
            if any(g.name == group for g in groups.results):
                existing.append(f"{object_type} property group {group}")
            else:
                self._call(
                    f"create {object_type} property group",
                    self._groups.create,
                    object_type=object_type,
                    property_group_create=PropertyGroupCreate(
                        name=group, label="Complaints (crm-complaints)", display_order=-1
                    ),
                )
                created.append(f"{object_type} property group {group}")
            have = self._call(
                f"read {object_type} properties",
                self._properties.get_all,
                object_type=object_type,
            )
            names = {p.name for p in have.results}
            missing = [spec for spec in wanted if spec[0] not in names]
            existing += [f"{object_type}.{spec[0]}" for spec in wanted if spec[0] in names]
            if missing:
                inputs = [
                    PropertyCreate(
                        name=name,
                        label=prop_label,
                        type=prop_type,
                        field_type=field_type,
                        group_name=group,
                        has_unique_value=unique,
                        description="Written by crm-complaints; do not edit by hand.",
                    )
                    for name, prop_label, prop_type, field_type, unique in missing
                ]
                self._call(
                    f"create {object_type} properties",
                    self._property_batch.create,
                    object_type=object_type,
                    batch_input_property_create=BatchInputPropertyCreate(inputs=inputs),
                )
                created += [f"{object_type}.{spec[0]}" for spec in missing]
        return SetupReport(created=tuple(created), existing=tuple(existing))

    # -- building properties ----------------------------------------------------------------
    def ticket_properties(self, item: PlannedComplaint) -> dict[str, str]:
        portal = self.portal()
        complaint, plan = item.complaint, item.plan
        view = allowed_view(complaint, self.allowed_fields)
        summary = view.get("summary") or label(complaint.category, plan.language)
        props = {
            "subject": f"[{complaint.id}] {summary}"[:250],
            "hs_pipeline": portal.pipeline_id,
            "hs_pipeline_stage": portal.stage_ids[complaint.status],
            "hs_ticket_priority": portal.priority_values[plan.severity],
            "crm_complaint_id": complaint.id,
            "crm_category": complaint.category.value,
            "crm_severity": plan.severity.value,
            "crm_departments": ";".join(
                d.value for d in [plan.primary_department, *plan.supporting_departments]
            ),
            "crm_coordinator": plan.coordinator.value,
            "crm_channel": complaint.channel.value,
            "crm_clinic": complaint.clinic,
            "crm_received_at": _hubspot_time(complaint.received_at),
            "crm_version": item.version,
        }
        owner = portal.owner_ids.get(plan.coordinator)
        if owner:
            props["hubspot_owner_id"] = owner
        category = portal.category_values.get(complaint.category)
        if category:
            props["hs_ticket_category"] = category
        if "description" in view:
            props["content"] = str(view["description"])
        return props

    def task_properties(self, item: PlannedComplaint, task: PlannedTask) -> dict[str, str]:
        portal = self.portal()
        complaint, plan = item.complaint, item.plan
        props = {
            "crm_task_key": task_key(complaint.id, task.kind),
            "hs_timestamp": _hubspot_time(task.due_at),
            "hs_task_subject": f"[{complaint.id}] {task.title}"[:250],
            "hs_task_body": (
                f"{label(complaint.category, plan.language)} · {plan.severity.value} · "
                f"{label(task.department, plan.language)}"
            ),
            "hs_task_status": "COMPLETED" if task.completed else "NOT_STARTED",
            "hs_task_priority": self.settings.task_priorities[plan.severity],
            "hs_task_type": "CALL" if task.kind is TaskKind.INITIAL_RESPONSE else "TODO",
        }
        owner = portal.owner_ids.get(task.department)
        if owner:
            props["hubspot_owner_id"] = owner
        return props

    # -- push -------------------------------------------------------------------------------
    def push(self, batch: Sequence[PlannedComplaint]) -> list[PushResult]:
        """Tickets in requests of 100, then tasks in requests of 100 with their links.

        Tasks of the whole batch are packed 100 to a request whatever complaint they belong
        to, so a batch costs close to the fewest requests possible. A complaint is reported
        synced only once its ticket, all its tasks and their links are written. A transient
        error part-way keeps what is finished: complaints completed by then are synced, the
        rest come back as transient failures for the engine to retry, so every attempt makes
        progress even under a tight rate limit.
        """
        if len(batch) > self.max_batch_size:
            raise ValueError(f"at most {self.max_batch_size} complaints per push")
        self.portal()
        if any(item.attempt == 0 for item in batch):
            self._done_tickets.clear()
            self._done_tasks.clear()
            self._done_links.clear()
        results: dict[str, PushResult] = {}
        live = {item.complaint_id: item for item in batch}
        versions = {item.complaint_id: item.version for item in batch}

        def reject(cid: str, error: RejectedError) -> None:
            results[cid] = PushResult.failed(cid, error)
            live.pop(cid, None)

        def fail_rest(error: TransientError) -> None:
            for cid in list(live):
                results[cid] = PushResult.failed(cid, _again(error, cid))
            live.clear()

        ticket_ids: dict[str, str] = {
            item.complaint_id: self._done_tickets[(item.complaint_id, item.version)]
            for item in batch
            if (item.complaint_id, item.version) in self._done_tickets
        }
        items = [item for item in live.values() if item.complaint_id not in ticket_ids]
        for start in range(0, len(items), MAX_INPUTS):
            chunk = [i for i in items[start : start + MAX_INPUTS] if i.complaint_id in live]
            try:
                written_tickets = self._upsert_tickets(chunk, reject)
            except TransientError as exc:
                fail_rest(exc)
                break
            ticket_ids.update(written_tickets)
            for cid, ticket in written_tickets.items():
                self._done_tickets[(cid, versions[cid])] = ticket
        for cid in [c for c in live if c not in ticket_ids]:
            reject_error = TransientError("no ticket result", adapter=self.name, complaint_id=cid)
            results[cid] = PushResult.failed(cid, reject_error)
            live.pop(cid)

        contact_ids = self._contacts(list(live.values()), ticket_ids, reject, fail_rest)

        task_ids: dict[str, dict[str, str]] = {}
        pending = []
        for item in live.values():
            for task in item.plan.tasks:
                done = self._done_tasks.get((task_key(item.complaint_id, task.kind), item.version))
                ticket = ticket_ids[item.complaint_id]
                contact = contact_ids.get(item.complaint_id)
                if (
                    done is None
                    or self._needs_link(item, task.kind.value, done, ticket)
                    or (
                        contact
                        and self._needs_link(item, task.kind.value, done, contact, "contact")
                    )
                ):
                    pending.append((item, task))
                else:
                    task_ids.setdefault(item.complaint_id, {})[task.kind.value] = done
        remaining = Counter(item.complaint_id for item, _ in pending)
        for cid in [c for c in live if remaining[c] == 0]:  # everything written before
            item = live.pop(cid)
            refs = {"ticket": ticket_ids[cid]}
            refs.update({f"task:{k}": tid for k, tid in task_ids.get(cid, {}).items()})
            if cid in contact_ids:
                refs["contact"] = contact_ids[cid]
            results[cid] = PushResult.synced(cid, refs, created=item.previous is None)
        chunks = [
            pending[start : start + MAX_INPUTS] for start in range(0, len(pending), MAX_INPUTS)
        ]
        unfinished: set[str] = set()
        first_error: TransientError | None = None
        outcomes = self._write_chunks(chunks, ticket_ids, versions, contact_ids)
        for task_chunk, (written, rejections, error) in zip(chunks, outcomes, strict=True):
            for cid, rejection in rejections:
                reject(cid, rejection)
            if error is not None:
                first_error = first_error or error
                unfinished.update(planned.complaint_id for planned, _ in task_chunk)
                continue
            for cid, kinds in written.items():
                task_ids.setdefault(cid, {}).update(kinds)
            for planned, _ in task_chunk:
                remaining[planned.complaint_id] -= 1
        for cid in list(live):
            item = live.pop(cid)
            if cid in unfinished or remaining[cid] > 0:
                error = first_error or TransientError("tasks unfinished", adapter=self.name)
                results[cid] = PushResult.failed(cid, _again(error, cid))
                continue
            refs = {"ticket": ticket_ids[cid]}
            refs.update({f"task:{k}": tid for k, tid in task_ids.get(cid, {}).items()})
            if cid in contact_ids:
                refs["contact"] = contact_ids[cid]
            results[cid] = PushResult.synced(cid, refs, created=item.previous is None)
        return [results[item.complaint_id] for item in batch]

    def _write_chunks(
        self,
        chunks: list[list[tuple[PlannedComplaint, PlannedTask]]],
        ticket_ids: Mapping[str, str],
        versions: Mapping[str, str],
        contact_ids: Mapping[str, str],
    ) -> list[_ChunkOutcome]:
        """Upsert and link each chunk of ≤ 100 tasks, ``concurrency`` chunks at a time.

        Requests overlap so that the rate limit, not the round trip, sets the pace; the
        limiter is shared, so concurrency never raises the request rate. An AuthError in any
        chunk stops everything; other errors are reported per chunk.
        """

        stop = threading.Event()

        def write(chunk: list[tuple[PlannedComplaint, PlannedTask]]) -> _ChunkOutcome:
            rejections: list[tuple[str, RejectedError]] = []

            def collect(cid: str, error: RejectedError) -> None:
                rejections.append((cid, error))

            if stop.is_set():  # a rate limit was hit: don't pile more requests on it
                return (
                    {},
                    rejections,
                    TransientError("skipped after a rate limit", adapter=self.name),
                )
            # Tasks an earlier attempt already wrote only need their link.
            written: dict[str, dict[str, str]] = {}
            to_write = []
            for planned, task in chunk:
                key = (task_key(planned.complaint_id, task.kind), planned.version)
                if key in self._done_tasks:
                    written.setdefault(planned.complaint_id, {})[task.kind.value] = (
                        self._done_tasks[key]
                    )
                else:
                    to_write.append((planned, task))
            try:
                for cid, kinds in self._upsert_tasks(to_write, collect).items():
                    written.setdefault(cid, {}).update(kinds)
                    for kind, tid in kinds.items():
                        self._done_tasks[(task_key(cid, kind), versions[cid])] = tid
                rejected = {cid for cid, _ in rejections}
                linkable = [(i, t) for i, t in chunk if i.complaint_id not in rejected]
                missing = [
                    i.complaint_id
                    for i, t in linkable
                    if t.kind.value not in written.get(i.complaint_id, {})
                ]
                if missing:  # no answer is not success
                    raise TransientError(
                        f"no task result for {len(missing)} task(s)", adapter=self.name
                    )
                self._associate(linkable, ticket_ids, written, collect, contact_ids)
            except TransientError as exc:
                if isinstance(exc, RateLimitedError):
                    stop.set()
                return {}, rejections, exc
            return written, rejections, None

        workers = min(self.settings.concurrency, len(chunks))
        if workers <= 1:
            return [write(chunk) for chunk in chunks]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hubspot") as pool:
            return list(pool.map(write, chunks))

    def _contacts(
        self,
        items: list[PlannedComplaint],
        ticket_ids: Mapping[str, str],
        reject: Callable[[str, RejectedError], None],
        fail_rest: Callable[[TransientError], None],
    ) -> dict[str, str]:
        """Upsert one contact per customer and link each ticket to it (when enabled)."""
        if not self.settings.contacts:
            return {}
        with_customer = [
            i for i in items if i.complaint.customer and i.complaint.customer.external_id
        ]
        contact_ids: dict[str, str] = {}
        try:
            for start in range(0, len(with_customer), MAX_INPUTS):
                chunk = with_customer[start : start + MAX_INPUTS]
                contact_ids.update(self._upsert_contacts(chunk, reject))
            links = [
                (item.complaint_id, ticket_ids[item.complaint_id], contact_ids[item.complaint_id])
                for item in with_customer
                if item.complaint_id in contact_ids
                and self._needs_link(
                    item,
                    "ticket",
                    ticket_ids[item.complaint_id],
                    contact_ids[item.complaint_id],
                    "contact",
                )
            ]
            for start in range(0, len(links), MAX_INPUTS):
                self._link(
                    links[start : start + MAX_INPUTS],
                    "tickets",
                    "contacts",
                    TICKET_TO_CONTACT,
                    reject,
                )
        except TransientError as exc:
            fail_rest(exc)
        return contact_ids

    def _upsert_contacts(
        self, items: list[PlannedComplaint], reject: Callable[[str, RejectedError], None]
    ) -> dict[str, str]:
        by_customer: dict[str, list[str]] = {}
        inputs: dict[str, ContactUpsert] = {}
        for item in items:
            customer = item.complaint.customer
            assert customer is not None and customer.external_id
            by_customer.setdefault(customer.external_id, []).append(item.complaint_id)
            view = allowed_view(item.complaint, self.allowed_fields).get("customer", {})
            props = {"crm_customer_id": customer.external_id}
            if "email" in view:
                props["email"] = view["email"]
            if "phone" in view:
                props["phone"] = view["phone"]
            if "name" in view:
                props["lastname"] = view["name"]  # one field: name order differs by language
            inputs[customer.external_id] = ContactUpsert(
                id=customer.external_id,
                id_property="crm_customer_id",
                object_write_trace_id=customer.external_id,
                properties=props,
            )
        try:
            answer = self._call_json(
                "upsert contacts",
                self._contacts_batch.upsert,
                batch_input_simple_public_object_batch_input_upsert=ContactUpsertBatch(
                    inputs=list(inputs.values())
                ),
            )
        except RejectedError as exc:
            for complaint_ids in by_customer.values():
                for cid in complaint_ids:
                    reject(cid, _for(exc, cid))
            return {}
        ids: dict[str, str] = {}
        for result in answer.get("results", []):
            customer_id = result.get("objectWriteTraceId") or result["properties"].get(
                "crm_customer_id"
            )
            for cid in by_customer.get(customer_id, []):
                ids[cid] = str(result["id"])
        for trace, error in self._errors_by_trace(answer, "contact"):
            for cid in by_customer.get(trace, []):
                reject(cid, _for(error, cid))
        return ids

    def _upsert_tickets(
        self, items: list[PlannedComplaint], reject: Callable[[str, RejectedError], None]
    ) -> dict[str, str]:
        if not items:
            return {}
        inputs = [
            TicketUpsert(
                id=item.complaint_id,
                id_property="crm_complaint_id",
                object_write_trace_id=item.complaint_id,
                properties=self.ticket_properties(item),
                local_vars_configuration=self._ticket_models,
            )
            for item in items
        ]
        try:
            answer = self._call_json(
                "upsert tickets",
                self._tickets.upsert,
                batch_input_simple_public_object_batch_input_upsert=TicketUpsertBatch(
                    inputs=inputs
                ),
            )
        except RejectedError as exc:
            for item in items:
                reject(item.complaint_id, _for(exc, item.complaint_id))
            return {}
        ids: dict[str, str] = {}
        for result in answer.get("results", []):
            cid = result.get("objectWriteTraceId") or result["properties"].get("crm_complaint_id")
            if cid:
                ids[cid] = str(result["id"])
        for cid, error in self._errors_by_trace(answer, "ticket"):
            reject(cid, error)
        return ids

    def _upsert_tasks(
        self,
        chunk: list[tuple[PlannedComplaint, PlannedTask]],
        reject: Callable[[str, RejectedError], None],
    ) -> dict[str, dict[str, str]]:
        """One upsert request for up to 100 tasks; returns complaint id → kind → task id."""
        if not chunk:
            return {}
        owner_of = {
            task_key(item.complaint_id, task.kind): item.complaint_id for item, task in chunk
        }
        inputs = [
            TaskUpsert(
                id=task_key(item.complaint_id, task.kind),
                id_property="crm_task_key",
                object_write_trace_id=task_key(item.complaint_id, task.kind),
                properties=self.task_properties(item, task),
                local_vars_configuration=self._task_models,
            )
            for item, task in chunk
        ]
        try:
            answer = self._call_json(
                "upsert tasks",
                self._tasks.upsert,
                batch_input_simple_public_object_batch_input_upsert=TaskUpsertBatch(inputs=inputs),
            )
        except RejectedError as exc:
            for cid in set(owner_of.values()):
                reject(cid, _for(exc, cid))
            return {}
        ids: dict[str, dict[str, str]] = {}
        for result in answer.get("results", []):
            written = str(
                result.get("objectWriteTraceId") or result["properties"].get("crm_task_key") or ""
            )
            if written in owner_of:
                ids.setdefault(owner_of[written], {})[written.rsplit(":", 1)[1]] = str(result["id"])
        for trace, error in self._errors_by_trace(answer, "task"):
            cid = owner_of.get(trace, trace.rsplit(":", 1)[0])
            reject(cid, _for(error, cid))
        return ids

    def _associate(
        self,
        chunk: list[tuple[PlannedComplaint, PlannedTask]],
        ticket_ids: Mapping[str, str],
        task_ids: Mapping[str, Mapping[str, str]],
        reject: Callable[[str, RejectedError], None],
        contact_ids: Mapping[str, str] | None = None,
    ) -> None:
        """Link tasks to tickets (and to contacts): only links not made by a push we know
        completed, or by an earlier attempt of this one."""
        to_tickets: list[tuple[str, str, str]] = []
        to_contacts: list[tuple[str, str, str]] = []
        for item, task in chunk:
            cid = item.complaint_id
            tid = task_ids.get(cid, {}).get(task.kind.value)
            if tid is None or cid not in ticket_ids:
                continue
            if self._needs_link(item, task.kind.value, tid, ticket_ids[cid]):
                to_tickets.append((cid, tid, ticket_ids[cid]))
            contact = (contact_ids or {}).get(cid)
            if contact and self._needs_link(item, task.kind.value, tid, contact, "contact"):
                to_contacts.append((cid, tid, contact))
        self._link(to_tickets, "tasks", "tickets", TASK_TO_TICKET, reject)
        self._link(to_contacts, "tasks", "contacts", TASK_TO_CONTACT, reject)

    def _link(
        self,
        pairs: list[tuple[str, str, str]],
        from_type: str,
        to_type: str,
        type_id: int,
        reject: Callable[[str, RejectedError], None],
    ) -> None:
        """One v4 batch association request for up to 100 (complaint, from, to) pairs."""
        if not pairs:
            return
        models = self._link_models
        inputs = [
            PublicAssociationMultiPost(
                _from=PublicObjectId(id=source, local_vars_configuration=models),
                to=PublicObjectId(id=target, local_vars_configuration=models),
                types=[
                    AssociationSpec(
                        association_category="HUBSPOT_DEFINED",
                        association_type_id=type_id,
                        local_vars_configuration=models,
                    )
                ],
                local_vars_configuration=models,
            )
            for _, source, target in pairs
        ]
        what = f"associate {from_type} with {to_type}"
        try:
            answer = self._call_json(
                what,
                self._associations.create,
                from_object_type=from_type,
                to_object_type=to_type,
                batch_input_public_association_multi_post=BatchInputPublicAssociationMultiPost(
                    inputs=inputs
                ),
            )
        except RejectedError as exc:
            for cid in {c for c, _, _ in pairs}:
                reject(cid, _for(exc, cid))
            return
        by_source = {source: cid for cid, source, _ in pairs}
        self._done_links.update((source, target) for _, source, target in pairs)
        for error in answer.get("errors", []):
            for source in (error.get("context") or {}).get("fromObjectId", []):
                linked = by_source.get(str(source))
                if linked:
                    reject(linked, self._rejected(what, error, linked))

    def _needs_link(
        self, item: PlannedComplaint, kind: str, source: str, target: str, to: str = "ticket"
    ) -> bool:
        """False when a completed push (state refs) or an earlier attempt already linked it.
        ``kind`` names the source in the refs (a task kind, or "ticket")."""
        previous = item.previous or {}
        source_ref = "ticket" if kind == "ticket" else f"task:{kind}"
        if previous.get(to) == target and previous.get(source_ref) == source:
            return False
        return (source, target) not in self._done_links

    def _errors_by_trace(
        self, answer: Mapping[str, Any], what: str
    ) -> Iterator[tuple[str, RejectedError]]:
        for error in answer.get("errors", []):
            for trace in (error.get("context") or {}).get("objectWriteTraceId", []):
                yield trace, self._rejected(what, error, trace.split(":")[0])

    def _rejected(self, what: str, error: Mapping[str, Any], complaint_id: str) -> RejectedError:
        context = error.get("context") or {}
        props = context.get("propertyName") or []
        detail = f" on {', '.join(props)}" if props else ""
        category = error.get("category") or "error"
        return RejectedError(
            f"{what} refused: {category}{detail}",
            adapter=self.name,
            complaint_id=complaint_id,
            status=409 if category == "CONFLICT" else 400,
        )

    # -- reading back -----------------------------------------------------------------------
    def read(self, refs: Mapping[str, RemoteRefs]) -> dict[str, RemoteRecord]:
        """Batch read tickets by complaint id and their tasks by task key, 100 per request."""
        tickets: dict[str, Any] = {}
        for result in self._read_by(
            "tickets", self._tickets.read, TicketReadBatch, TicketId, "crm_complaint_id",
            list(refs), TICKET_READ_PROPERTIES,
        ):  # fmt: skip
            tickets[result["properties"]["crm_complaint_id"]] = result
        keys = [
            task_key(cid, ref.split(":", 1)[1])
            for cid in tickets
            for ref in refs[cid]
            if ref.startswith("task:")
        ]
        tasks: dict[str, dict[str, dict[str, Any]]] = {}
        for result in self._read_by(
            "tasks", self._tasks.read, TaskReadBatch, TaskId, "crm_task_key",
            keys, TASK_READ_PROPERTIES,
        ):  # fmt: skip
            props = result["properties"]
            cid, _, kind = props["crm_task_key"].rpartition(":")
            tasks.setdefault(cid, {})[kind] = {"id": str(result["id"]), **props}
        return {
            cid: self._record(cid, ticket, tasks.get(cid, {})) for cid, ticket in tickets.items()
        }

    def _record(
        self, cid: str, ticket: Mapping[str, Any], tasks: Mapping[str, Mapping[str, Any]]
    ) -> RemoteRecord:
        props: dict[str, Any] = dict(ticket.get("properties") or {})
        refs = {"ticket": str(ticket["id"])}
        refs.update({f"task:{kind}": str(task["id"]) for kind, task in tasks.items()})
        portal = self.portal()
        stage = props.get("hs_pipeline_stage") or ""
        props["stage_label"] = portal.stage_labels.get(stage, stage)
        props["stage_closed"] = stage in portal.closed_stage_ids
        # The generic names reconciliation compares with expected_fields().
        props.update(
            {
                "subject": props.get("subject"),
                "priority": props.get("hs_ticket_priority"),
                "stage": props["stage_label"],
                "closed": props["stage_closed"],
                "owner": props.get("hubspot_owner_id"),
                "departments": props.get("crm_departments"),
                "version": props.get("crm_version"),
                "modified_at": props.get("hs_lastmodifieddate"),
            }
        )
        return RemoteRecord(complaint_id=cid, refs=refs, fields=props, tasks=dict(tasks))

    def expected_fields(self, item: PlannedComplaint) -> Mapping[str, str]:
        props = self.ticket_properties(item)
        portal = self.portal()
        return {
            "subject": props["subject"],
            "priority": props["hs_ticket_priority"],
            "stage": portal.stage_labels[props["hs_pipeline_stage"]],
            "owner": props.get("hubspot_owner_id", ""),
            "departments": props["crm_departments"],
            "version": item.version,
        }

    def list_tasks(
        self, *, due_before: datetime | None = None, changed_since: datetime | None = None
    ) -> Iterator[RemoteTask]:
        """Search, not a full read: open tasks of ours due before a moment, and tasks of ours
        changed after one. Search lags writes by seconds; for a report that is fine."""
        groups = []
        ours = {"propertyName": "crm_task_key", "operator": "HAS_PROPERTY"}
        if due_before is not None:
            groups.append(
                {
                    "filters": [
                        ours,
                        {"propertyName": "hs_task_status", "operator": "NEQ", "value": "COMPLETED"},
                        {
                            "propertyName": "hs_timestamp",
                            "operator": "LT",
                            "value": _ms(due_before),
                        },
                    ]
                }
            )
        if changed_since is not None:
            groups.append(
                {
                    "filters": [
                        ours,
                        {
                            "propertyName": "hs_lastmodifieddate",
                            "operator": "GT",
                            "value": _ms(changed_since),
                        },
                    ]
                }
            )
        if not groups:
            return
        after = "0"
        while True:
            page = self._call_json(
                "search tasks",
                self._task_search.do_search,
                public_object_search_request=TaskSearch(
                    filter_groups=groups,
                    properties=TASK_READ_PROPERTIES,
                    limit=SEARCH_PAGE,
                    after=after,
                    sorts=["hs_object_id"],
                ),
            )
            for result in page.get("results", []):
                props = result["properties"]
                cid, _, kind = (props.get("crm_task_key") or "").rpartition(":")
                due = props.get("hs_timestamp")
                yield RemoteTask(
                    complaint_id=cid,
                    kind=kind,
                    due_at=datetime.fromisoformat(due.replace("Z", "+00:00")) if due else None,
                    completed=props.get("hs_task_status") == "COMPLETED",
                    id=str(result["id"]),
                    owner=props.get("hubspot_owner_id"),
                )
            following = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not following:
                return
            after = str(following)

    def _read_by(
        self,
        what: str,
        method: Callable[..., Any],
        batch_model: Callable[..., Any],
        id_model: Callable[..., Any],
        id_property: str,
        values: list[str],
        properties: list[str],
    ) -> Iterator[dict[str, Any]]:
        """Objects whose unique ``id_property`` is one of ``values``, 100 per request."""
        for start in range(0, len(values), MAX_INPUTS):
            chunk = values[start : start + MAX_INPUTS]
            answer = self._call_json(
                f"read {what}",
                method,
                batch_read_input_simple_public_object_id=batch_model(
                    id_property=id_property,
                    inputs=[id_model(id=value) for value in chunk],
                    properties=properties,
                    properties_with_history=[],
                ),
                archived=False,
            )
            for result in answer.get("results", []):
                if result["properties"].get(id_property):
                    yield result

    def list_owned(self) -> Iterator[RemoteRecord]:
        """Every ticket carrying our external id, 200 to a request through search.

        Search answers twice as many objects per request as the list endpoint (and we only want
        ours), at the price of lagging writes by seconds: a ticket written a moment ago may be
        reported missing, and a repair of it is a harmless upsert. A query stops at 10,000
        results, so the walk restarts above the last id seen.
        """
        last_id = 0
        while True:
            floor = last_id  # fixed for this query; paging moves within it
            seen = 0
            after = "0"
            while True:
                page = self._call_json(
                    "search tickets",
                    self._ticket_search.do_search,
                    public_object_search_request=TicketSearch(
                        filter_groups=[
                            {
                                "filters": [
                                    {
                                        "propertyName": "crm_complaint_id",
                                        "operator": "HAS_PROPERTY",
                                    },
                                    {
                                        "propertyName": "hs_object_id",
                                        "operator": "GT",
                                        "value": str(floor),
                                    },
                                ]
                            }
                        ],
                        sorts=["hs_object_id"],
                        properties=TICKET_READ_PROPERTIES,
                        limit=SEARCH_PAGE,
                        after=after,
                    ),
                )
                results = page.get("results", [])
                for ticket in results:
                    seen += 1
                    last_id = max(last_id, int(ticket["id"]))
                    cid = ticket["properties"].get("crm_complaint_id")
                    if cid:
                        yield self._record(cid, ticket, {})
                following = ((page.get("paging") or {}).get("next") or {}).get("after")
                if following and int(following) < SEARCH_RESULT_CAP:
                    after = str(following)
                    continue
                if int(after) + len(results) < SEARCH_RESULT_CAP:
                    return  # the query ran out before the cap: that was everything
                break  # the query hit the cap: start a new one above the last id seen
            if not seen:
                return


def _again(error: TransientError, complaint_id: str) -> TransientError:
    """The same transient error, for one complaint (rate limits stay rate limits)."""
    if isinstance(error, RateLimitedError):
        return RateLimitedError(
            error.reason,
            retry_after=error.retry_after,
            stop_run=error.stop_run,
            adapter=error.adapter,
            complaint_id=complaint_id,
            status=error.status,
        )
    return TransientError(
        error.reason,
        retry_after=error.retry_after,
        adapter=error.adapter,
        complaint_id=complaint_id,
        status=error.status,
    )


def _for(error: AdapterError, complaint_id: str) -> RejectedError:
    return RejectedError(
        error.reason, adapter=error.adapter, complaint_id=complaint_id, status=error.status
    )


def _json_body(raw: object) -> dict[str, Any]:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str):
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _describe(body: Mapping[str, Any]) -> str:
    """Category and property names only: HubSpot's messages can quote property values."""
    if not body:
        return "refused"
    context = body.get("context") or {}
    props = context.get("propertyName") if isinstance(context, dict) else None
    sub = body.get("subCategory")
    parts = [str(body.get("category") or "refused")]
    if sub:
        parts.append(str(sub))
    if props:
        parts.append("on " + ", ".join(map(str, props)))
    return " ".join(parts)


def _header(exc: Exception, name: str) -> str | None:
    headers = getattr(exc, "headers", None)
    if not headers:
        return None
    for key, value in dict(headers).items():
        if str(key).lower() == name.lower():
            return str(value)
    return None


def _option(options: Mapping[str, str], wanted: str, key: str) -> str:
    value = options.get(wanted)
    if value is None:
        raise ConfigError(
            f"the portal has no option {wanted!r} (it has {sorted(set(options.values()))})",
            key=key,
        )
    return value


def _ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def _seconds_to_utc_midnight() -> float:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()
