"""The HubSpot adapter, on the official ``hubspot-api-client`` SDK.

A first sync of up to 100 complaints costs one ticket batch upsert on our unique
``crm_complaint_id`` property, plus one task batch create per 100 tasks with each task's link
to its ticket inline: no separate association requests and no lookups. Tickets are upserted, so
a rerun never makes a second one; tasks cannot be (HubSpot has no unique task properties), so
they are created once and updated by id afterwards, and a complaint whose earlier push was
never confirmed has its ticket's tasks looked up before anything is created (see
:mod:`.tasks`). Writes never search to find what exists (search is eventually consistent);
reconciliation's listings do search (see :mod:`.read`).

The package: :mod:`.client` (the edge: limiter, counting, error classification),
:mod:`.portal` (discovery and setup), :mod:`.properties` (what a ticket and a task hold),
:mod:`.push` (one batch's writes: tickets and contacts), :mod:`.tasks` (tasks without a unique
key), :mod:`.links` (associations made after the fact), :mod:`.batching` (100 per request,
bisecting a batch refused whole), :mod:`.read` (reading back), :mod:`.config`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ...policy import PlannedComplaint
from ..base import (
    Adapter,
    OwnerFallback,
    PushResult,
    RemoteRecord,
    RemoteRefs,
    RemoteTask,
    SetupReport,
)
from . import portal as _portal
from .client import HubSpotClient
from .config import HubSpotConfig, task_key
from .fields import TASK_FIELD_OF, TICKET_FIELD_OF, select
from .portal import TASK_PROPERTIES, TICKET_PROPERTIES, Portal
from .properties import Properties, hubspot_time
from .push import PushRun, WrittenSoFar
from .read import Reader

__all__ = [
    "TASK_PROPERTIES",
    "TICKET_PROPERTIES",
    "HubSpotAdapter",
    "HubSpotConfig",
    "task_key",
]


class HubSpotAdapter(Adapter[HubSpotConfig]):
    """Tickets, owners and follow-up tasks in HubSpot."""

    name = "hubspot"
    config_model = HubSpotConfig
    # Tickets go 100 to a request, but tasks pack best across many complaints.
    max_batch_size = 1000
    remote_deletions = True  # staff delete tickets on purpose: left deleted (see .push)

    def __init__(self, config: HubSpotConfig, **kw: Any) -> None:
        super().__init__(config, **kw)
        token = self.secret(
            config.token_env,
            config_key="adapters.hubspot.token_env",
            what="a private app token",
        )
        self.client = HubSpotClient(config, token, self.count_call, self.name)
        self.limiter = self.client.limiter
        self._portal: Portal | None = None
        self._discovered: dict[str, Any] = {}  # discovery's answers, kept across attempts
        self._properties: Properties | None = None
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        """What "now" is when deciding that a task's reminder is already past (tests fix it)."""
        self._written = WrittenSoFar()
        self._reader = Reader(self.client, self.portal)

    def portal(self) -> Portal:
        """The portal's ids behind the config's labels (discovered once per adapter)."""
        if self._portal is None:
            self._portal = _portal.discover(self.client, self.config, self._discovered)
        return self._portal

    @property
    def properties(self) -> Properties:
        if self._properties is None:
            self._properties = Properties(
                self.portal(), self.config, self.allowed_fields, clock=lambda: self.clock()
            )
        return self._properties

    def setup(self) -> SetupReport:
        """Create our property group and properties on tickets and tasks, if missing."""
        self._portal, self._properties = None, None  # discovery sees what setup created
        self._discovered.clear()
        return _portal.setup(self.client, self.config)

    def push(self, batch: Sequence[PlannedComplaint]) -> list[PushResult]:
        """Tickets in requests of 100, then tasks in requests of 100 with their links inline;
        see :mod:`.push`."""
        if len(batch) > self.max_batch_size:
            raise ValueError(f"at most {self.max_batch_size} complaints per push")
        properties = self.properties
        if any(item.attempt == 0 for item in batch):
            self._written.forget()
        return PushRun(self.client, properties, self._written, batch, self.field_owners).run()

    def read(self, refs: Mapping[str, RemoteRefs]) -> dict[str, RemoteRecord]:
        return self._reader.read(refs)

    def list_owned(self) -> Iterator[RemoteRecord]:
        return self._reader.list_owned()

    def list_tasks(
        self, *, due_before: datetime | None = None, changed_since: datetime | None = None
    ) -> Iterator[RemoteTask]:
        return self._reader.list_tasks(due_before=due_before, changed_since=changed_since)

    def list_changed(self, since: datetime) -> Iterator[RemoteRecord]:
        """Tickets changed after ``since``: a search on ``hs_lastmodifieddate``."""
        return self._reader.list_owned(changed_since=since)

    def owner_active(self, owner_id: str) -> bool:
        """Active in the portal's owner directory (deactivated and unknown ids are not)."""
        return owner_id in set(self.portal().owners.active.values())

    def owner_email(self, owner_id: str) -> str | None:
        """From the portal's owner directory (read once at discovery)."""
        active = self.portal().owners.active
        return next((email for email, oid in active.items() if oid == owner_id), None)

    def expected_fields(self, item: PlannedComplaint) -> Mapping[str, str]:
        props = self.properties.ticket(item)
        return {
            "subject": props["subject"],
            "priority": props["hs_ticket_priority"],
            "stage": self.portal().stage_labels[props["hs_pipeline_stage"]],
            "owner": props.get("hubspot_owner_id", ""),
            "departments": props["crm_departments"],
            "coordinator": props["crm_coordinator"],
            "category": props["crm_category"],
            "severity": props["crm_severity"],
            "channel": props["crm_channel"],
            "version": item.version,
        }

    def unsent_fields(self, item: PlannedComplaint, record: RemoteRecord) -> frozenset[str]:
        """Ticket fields whose hash (as :func:`.fields.select` keeps it) moved on since the
        last sync while the ticket still holds the value of that hash."""
        last = (item.sent or {}).get("ticket")
        if not last:
            return frozenset()
        ours = self.properties.ticket(item)
        wanted = {"hubspot_owner_id": self.properties.owner(item, None).wanted}
        now = select(
            item, "ticket", ours, TICKET_FIELD_OF, self.field_owners, new=True, hashed=wanted
        )
        held = {name: str(record.raw.get(name) or "") for name in ours if name in record.raw}
        theirs = select(item, "ticket", held, TICKET_FIELD_OF, self.field_owners, new=True)
        return frozenset(
            name
            for name, digest in now.sent.items()
            if name in last and digest != last[name] and theirs.sent.get(name) == last[name]
        )

    def task_held_as_sent(self, item: PlannedComplaint, task: RemoteTask) -> frozenset[str]:
        """``task_due`` when the task's due date, in the form we send it (``hs_timestamp``,
        UTC milliseconds), hashes (as :func:`.fields.select` keeps it) to the last one sent."""
        last = (item.sent or {}).get(f"task:{task.kind}") or {}
        if "task_due" not in last or task.due_at is None:
            return frozenset()
        held = {"hs_timestamp": hubspot_time(task.due_at)}
        theirs = select(item, f"task:{task.kind}", held, TASK_FIELD_OF, self.field_owners, new=True)
        return (
            frozenset({"task_due"})
            if theirs.sent.get("task_due") == last["task_due"]
            else frozenset()
        )

    def owner_fallbacks(self, item: PlannedComplaint) -> list[OwnerFallback]:
        """The ticket and open tasks of a complaint whose configured owner HubSpot reports as
        deactivated or does not know (they go down the chain in :mod:`.owners`)."""
        return self.properties.owner_fallbacks(item)

    @property
    def owner_fallback_count(self) -> int:
        """Tickets and tasks written to a fallback owner by this adapter (warned in the log)."""
        return self._properties.fallbacks.count if self._properties is not None else 0

    def run_counts(self) -> Mapping[str, int]:
        """``owner_fallbacks`` for the sync summary (see :mod:`.owners`)."""
        return {"owner_fallbacks": self.owner_fallback_count}

    def auth_hint(self) -> str:
        return f"check the private app token in {self.config.token_env}"
