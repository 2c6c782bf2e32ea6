"""Writing one batch of complaints to HubSpot: tickets, contacts, tasks and their links.

Tickets go 100 to a request (a batch upsert on the unique ``crm_complaint_id``); tasks of the
whole batch are packed 100 to a request whatever complaint they belong to (a batch upsert on
``crm_task_key``), ``concurrency`` requests in flight; then one v4 association request per 100
tasks not yet linked. A complaint is synced only once its ticket, all its tasks and their links
are written. A transient error part-way keeps what is finished: complaints completed by then are
synced and the rest come back transient, and the next attempt resumes from
:class:`WrittenSoFar` instead of starting over (under a tight rate limit, starting over could
never finish).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicAssociationMultiPost,
    PublicAssociationMultiPost,
    PublicObjectId,
)
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert as ContactUpsertBatch,
)
from hubspot.crm.contacts import SimplePublicObjectBatchInputUpsert as ContactUpsert
from hubspot.crm.objects.tasks import (
    BatchInputSimplePublicObjectBatchInputUpsert as TaskUpsertBatch,
)
from hubspot.crm.objects.tasks import SimplePublicObjectBatchInputUpsert as TaskUpsert
from hubspot.crm.tickets import (
    BatchInputSimplePublicObjectBatchInputUpsert as TicketUpsertBatch,
)
from hubspot.crm.tickets import SimplePublicObjectBatchInputUpsert as TicketUpsert

from ...errors import AdapterError, RateLimitedError, RejectedError, TransientError
from ...policy import PlannedComplaint, PlannedTask
from ...privacy import allowed_view
from ..base import PushResult
from .client import HubSpotClient, errors_by_trace, rejection
from .config import task_key
from .properties import Properties

__all__ = ["MAX_INPUTS", "PushRun", "WrittenSoFar"]

MAX_INPUTS = 100
TASK_TO_TICKET = 230
TICKET_TO_CONTACT = 16
TASK_TO_CONTACT = 204

Reject = Callable[[str, RejectedError], None]
PlannedPair = tuple[PlannedComplaint, PlannedTask]


@dataclass
class WrittenSoFar:
    """Writes completed in earlier attempts of the current retry sequence, by version.

    Kept by the adapter between pushes and forgotten whenever a push starts a new sequence
    (any item with ``attempt == 0``), so it never outlives the engine's retries of a batch.
    """

    tickets: dict[tuple[str, str], str] = field(default_factory=dict)
    """(complaint id, version) → ticket id."""
    tasks: dict[tuple[str, str], str] = field(default_factory=dict)
    """(task key, version) → task id."""
    links: set[tuple[str, str]] = field(default_factory=set)
    """(from id, to id) pairs linked."""

    def forget(self) -> None:
        self.tickets.clear()
        self.tasks.clear()
        self.links.clear()


@dataclass
class _ChunkOutcome:
    written: dict[str, dict[str, str]] = field(default_factory=dict)
    rejections: list[tuple[str, RejectedError]] = field(default_factory=list)
    error: TransientError | None = None


class PushRun:
    """One push of one batch: owns the complaints still in play, their results and the ids
    written so far."""

    def __init__(
        self,
        client: HubSpotClient,
        properties: Properties,
        memory: WrittenSoFar,
        batch: Sequence[PlannedComplaint],
    ) -> None:
        self.client = client
        self.properties = properties
        self.memory = memory
        self.batch = batch
        self.adapter = client.adapter
        self.live = {item.complaint_id: item for item in batch}
        self.versions = {item.complaint_id: item.version for item in batch}
        self.results: dict[str, PushResult] = {}
        self.ticket_ids: dict[str, str] = {}
        self.contact_ids: dict[str, str] = {}
        self.task_ids: dict[str, dict[str, str]] = {}

    def run(self) -> list[PushResult]:
        self._write_tickets()
        self._write_contacts()
        self._write_tasks()
        return [self.results[item.complaint_id] for item in self.batch]

    # -- outcomes ------------------------------------------------------------------------
    def fail(self, complaint_id: str, error: AdapterError) -> None:
        """This complaint is done for this push: refused, or left for a retry."""
        self.results[complaint_id] = PushResult.failed(complaint_id, error)
        self.live.pop(complaint_id, None)

    def fail_rest(self, error: TransientError) -> None:
        for cid in list(self.live):
            self.fail(cid, error)

    def _synced(self, complaint_id: str) -> None:
        item = self.live.pop(complaint_id)
        refs = {"ticket": self.ticket_ids[complaint_id]}
        refs.update({f"task:{k}": tid for k, tid in self.task_ids.get(complaint_id, {}).items()})
        if complaint_id in self.contact_ids:
            refs["contact"] = self.contact_ids[complaint_id]
        self.results[complaint_id] = PushResult.synced(complaint_id, refs, created=item.is_new)

    # -- tickets -------------------------------------------------------------------------
    def _write_tickets(self) -> None:
        done = self.memory.tickets
        self.ticket_ids = {
            cid: done[(cid, version)]
            for cid, version in self.versions.items()
            if (cid, version) in done
        }
        items = [item for item in self.live.values() if item.complaint_id not in self.ticket_ids]
        for start in range(0, len(items), MAX_INPUTS):
            chunk = [i for i in items[start : start + MAX_INPUTS] if i.complaint_id in self.live]
            try:
                written = self._upsert_tickets(chunk)
            except TransientError as exc:
                self.fail_rest(exc)
                break
            self.ticket_ids.update(written)
            for cid, ticket in written.items():
                done[(cid, self.versions[cid])] = ticket
        for cid in [c for c in self.live if c not in self.ticket_ids]:
            self.fail(cid, TransientError("no ticket result", adapter=self.adapter))

    def _upsert_tickets(self, items: list[PlannedComplaint]) -> dict[str, str]:
        if not items:
            return {}
        inputs = [
            TicketUpsert(
                id=item.complaint_id,
                id_property="crm_complaint_id",
                object_write_trace_id=item.complaint_id,
                properties=self.properties.ticket(item),
                local_vars_configuration=self.client.ticket_models,
            )
            for item in items
        ]
        try:
            answer = self.client.call_json(
                "upsert tickets",
                self.client.tickets.upsert,
                batch_input_simple_public_object_batch_input_upsert=TicketUpsertBatch(
                    inputs=inputs
                ),
            )
        except RejectedError as exc:
            for item in items:
                self.fail(item.complaint_id, exc)
            return {}
        ids: dict[str, str] = {}
        for result in answer.get("results", []):
            cid = result.get("objectWriteTraceId") or result["properties"].get("crm_complaint_id")
            if cid:
                ids[cid] = str(result["id"])
        for cid, error in errors_by_trace(answer, "ticket", self.adapter):
            self.fail(cid, error)
        return ids

    # -- contacts (opt-in) ---------------------------------------------------------------
    def _write_contacts(self) -> None:
        """Upsert one contact per customer and link each ticket to it (when enabled)."""
        if not self.properties.config.contacts:
            return
        with_customer = [
            i
            for i in self.live.values()
            if i.complaint.customer and i.complaint.customer.external_id
        ]
        try:
            for start in range(0, len(with_customer), MAX_INPUTS):
                self.contact_ids.update(
                    self._upsert_contacts(with_customer[start : start + MAX_INPUTS])
                )
            links = []
            for item in with_customer:
                contact = self.contact_ids.get(item.complaint_id)
                ticket = self.ticket_ids[item.complaint_id]
                if contact and self._needs_link(item, "ticket", ticket, contact, "contact"):
                    links.append((item.complaint_id, ticket, contact))
            for start in range(0, len(links), MAX_INPUTS):
                self._link(
                    links[start : start + MAX_INPUTS],
                    "tickets",
                    "contacts",
                    TICKET_TO_CONTACT,
                    self.fail,
                )
        except TransientError as exc:
            self.fail_rest(exc)

    def _upsert_contacts(self, items: list[PlannedComplaint]) -> dict[str, str]:
        by_customer: dict[str, list[str]] = {}
        inputs: dict[str, ContactUpsert] = {}
        for item in items:
            customer = item.complaint.customer
            assert customer is not None and customer.external_id
            by_customer.setdefault(customer.external_id, []).append(item.complaint_id)
            view = allowed_view(item.complaint, self.properties.allowed_fields).get("customer", {})
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
            answer = self.client.call_json(
                "upsert contacts",
                self.client.contacts.upsert,
                batch_input_simple_public_object_batch_input_upsert=ContactUpsertBatch(
                    inputs=list(inputs.values())
                ),
            )
        except RejectedError as exc:
            for complaint_ids in by_customer.values():
                for cid in complaint_ids:
                    self.fail(cid, exc)
            return {}
        ids: dict[str, str] = {}
        for result in answer.get("results", []):
            customer_id = result.get("objectWriteTraceId") or result["properties"].get(
                "crm_customer_id"
            )
            for cid in by_customer.get(customer_id, []):
                ids[cid] = str(result["id"])
        for trace, error in errors_by_trace(answer, "contact", self.adapter):
            for cid in by_customer.get(trace, []):
                self.fail(cid, error)
        return ids

    # -- tasks ---------------------------------------------------------------------------
    def _write_tasks(self) -> None:
        pending: list[PlannedPair] = []
        for item in self.live.values():
            for task in item.plan.tasks:
                done = self.memory.tasks.get((task_key(item.complaint_id, task.kind), item.version))
                if done is None or self._task_needs_links(item, task, done):
                    pending.append((item, task))
                else:
                    self.task_ids.setdefault(item.complaint_id, {})[task.kind.value] = done
        remaining = Counter(item.complaint_id for item, _ in pending)
        for cid in [c for c in self.live if remaining[c] == 0]:  # everything written before
            self._synced(cid)
        chunks = [pending[s : s + MAX_INPUTS] for s in range(0, len(pending), MAX_INPUTS)]
        unfinished: set[str] = set()
        first_error: TransientError | None = None
        for chunk, outcome in zip(chunks, self._write_chunks(chunks), strict=True):
            for cid, refusal in outcome.rejections:
                self.fail(cid, refusal)
            if outcome.error is not None:
                first_error = first_error or outcome.error
                unfinished.update(planned.complaint_id for planned, _ in chunk)
                continue
            for cid, kinds in outcome.written.items():
                self.task_ids.setdefault(cid, {}).update(kinds)
            for planned, _ in chunk:
                remaining[planned.complaint_id] -= 1
        for cid in list(self.live):
            if cid in unfinished or remaining[cid] > 0:
                self.fail(
                    cid, first_error or TransientError("tasks unfinished", adapter=self.adapter)
                )
            else:
                self._synced(cid)

    def _write_chunks(self, chunks: list[list[PlannedPair]]) -> list[_ChunkOutcome]:
        """Upsert and link each chunk of ≤ 100 tasks, ``concurrency`` chunks at a time.

        Requests overlap so that the rate limit, not the round trip, sets the pace; the
        limiter is shared, so concurrency never raises the request rate. An AuthError in any
        chunk stops everything; other errors are reported per chunk.
        """
        stop = threading.Event()
        workers = min(self.properties.config.concurrency, len(chunks))
        if workers <= 1:
            return [self._write_chunk(chunk, stop) for chunk in chunks]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hubspot") as pool:
            return list(pool.map(lambda chunk: self._write_chunk(chunk, stop), chunks))

    def _write_chunk(self, chunk: list[PlannedPair], stop: threading.Event) -> _ChunkOutcome:
        """One chunk, on a worker thread: touches only the outcome and ``WrittenSoFar``."""
        outcome = _ChunkOutcome()
        if stop.is_set():  # a rate limit was hit: don't pile more requests on it
            outcome.error = TransientError("skipped after a rate limit", adapter=self.adapter)
            return outcome

        def collect(cid: str, error: RejectedError) -> None:
            outcome.rejections.append((cid, error))

        to_write = []
        for planned, task in chunk:  # tasks an earlier attempt wrote only need their links
            key = (task_key(planned.complaint_id, task.kind), planned.version)
            if key in self.memory.tasks:
                outcome.written.setdefault(planned.complaint_id, {})[task.kind.value] = (
                    self.memory.tasks[key]
                )
            else:
                to_write.append((planned, task))
        try:
            for cid, kinds in self._upsert_tasks(to_write, collect).items():
                outcome.written.setdefault(cid, {}).update(kinds)
                for kind, tid in kinds.items():
                    self.memory.tasks[(task_key(cid, kind), self.versions[cid])] = tid
            rejected = {cid for cid, _ in outcome.rejections}
            linkable = [(i, t) for i, t in chunk if i.complaint_id not in rejected]
            missing = [
                i
                for i, t in linkable
                if t.kind.value not in outcome.written.get(i.complaint_id, {})
            ]
            if missing:  # no answer is not success
                raise TransientError(
                    f"no task result for {len(missing)} task(s)", adapter=self.adapter
                )
            self._associate(linkable, outcome.written, collect)
        except TransientError as exc:
            if isinstance(exc, RateLimitedError):
                stop.set()
            return _ChunkOutcome(rejections=outcome.rejections, error=exc)
        return outcome

    def _upsert_tasks(self, chunk: list[PlannedPair], reject: Reject) -> dict[str, dict[str, str]]:
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
                properties=self.properties.task(item, task),
                local_vars_configuration=self.client.task_models,
            )
            for item, task in chunk
        ]
        try:
            answer = self.client.call_json(
                "upsert tasks",
                self.client.tasks.upsert,
                batch_input_simple_public_object_batch_input_upsert=TaskUpsertBatch(inputs=inputs),
            )
        except RejectedError as exc:
            for cid in set(owner_of.values()):
                reject(cid, exc)
            return {}
        ids: dict[str, dict[str, str]] = {}
        for result in answer.get("results", []):
            written = str(
                result.get("objectWriteTraceId") or result["properties"].get("crm_task_key") or ""
            )
            if written in owner_of:
                ids.setdefault(owner_of[written], {})[written.rsplit(":", 1)[1]] = str(result["id"])
        for trace, error in errors_by_trace(answer, "task", self.adapter):
            reject(owner_of.get(trace, trace.rsplit(":", 1)[0]), error)
        return ids

    # -- links ---------------------------------------------------------------------------
    def _task_needs_links(self, item: PlannedComplaint, task: PlannedTask, task_id: str) -> bool:
        kind = task.kind.value
        if self._needs_link(item, kind, task_id, self.ticket_ids[item.complaint_id]):
            return True
        contact = self.contact_ids.get(item.complaint_id)
        return contact is not None and self._needs_link(item, kind, task_id, contact, "contact")

    def _needs_link(
        self, item: PlannedComplaint, kind: str, source: str, target: str, to: str = "ticket"
    ) -> bool:
        """False when a completed push (state refs) or an earlier attempt already linked it.
        ``kind`` names the source in the refs (a task kind, or "ticket")."""
        previous = item.previous or {}
        source_ref = "ticket" if kind == "ticket" else f"task:{kind}"
        if previous.get(to) == target and previous.get(source_ref) == source:
            return False
        return (source, target) not in self.memory.links

    def _associate(
        self,
        chunk: list[PlannedPair],
        task_ids: Mapping[str, Mapping[str, str]],
        reject: Reject,
    ) -> None:
        """Link tasks to tickets (and to contacts): only links not made by a push we know
        completed, or by an earlier attempt of this one."""
        to_tickets: list[tuple[str, str, str]] = []
        to_contacts: list[tuple[str, str, str]] = []
        for item, task in chunk:
            cid = item.complaint_id
            tid = task_ids.get(cid, {}).get(task.kind.value)
            if tid is None or cid not in self.ticket_ids:
                continue
            if self._needs_link(item, task.kind.value, tid, self.ticket_ids[cid]):
                to_tickets.append((cid, tid, self.ticket_ids[cid]))
            contact = self.contact_ids.get(cid)
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
        reject: Reject,
    ) -> None:
        """One v4 batch association request for up to 100 (complaint, from, to) pairs."""
        if not pairs:
            return
        models = self.client.link_models
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
            answer = self.client.call_json(
                what,
                self.client.associations.create,
                from_object_type=from_type,
                to_object_type=to_type,
                batch_input_public_association_multi_post=BatchInputPublicAssociationMultiPost(
                    inputs=inputs
                ),
            )
        except RejectedError as exc:
            for cid in {c for c, _, _ in pairs}:
                reject(cid, exc)
            return
        by_source = {source: cid for cid, source, _ in pairs}
        self.memory.links.update((source, target) for _, source, target in pairs)
        for error in answer.get("errors", []):
            for source in (error.get("context") or {}).get("fromObjectId", []):
                linked = by_source.get(str(source))
                if linked:
                    reject(linked, rejection(what, error, linked, self.adapter))
