"""Writing tasks without a unique key: create once with the link inline, then update by id.

HubSpot documents unique-value properties for contacts, companies, deals, tickets and custom
objects, never for tasks
(https://developers.hubspot.com/docs/api/crm/properties#create-unique-identifier-properties),
so tasks cannot be upserted. Instead:

- A task we know (its id in the state store's refs, or learned earlier in this retry sequence)
  is updated by id: batch update, 100 per request.
- A new task is made by batch create with its task→ticket (and task→contact) association
  inline: one request per 100 tasks, packed across complaints, links included.
- A create whose answer never came may still have happened. So for a complaint whose earlier
  push was not confirmed (the state store held it pending from an earlier run, or a create of
  its tasks failed transiently in this sequence), a task without a known id is first looked up
  through the ticket's task associations (v4 batch read, which sees writes at once, unlike
  search) and those tasks' ``crm_task_key`` (batch read by id): found ones are updated, only
  missing ones created. A ticket the upsert has just created has no tasks to find, so a first
  sync costs no lookups.
- A known task is sent only with the fields whose value changed (:mod:`.fields`), and not at all
  when none did: a due date or an owner a person changed in HubSpot survives.
- A known task that HubSpot no longer has (deleted by someone) is created again, when it has
  something to write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.objects.tasks import AssociationSpec as TaskAssociationSpec
from hubspot.crm.objects.tasks import BatchInputSimplePublicObjectBatchInput as TaskUpdateBatch
from hubspot.crm.objects.tasks import (
    BatchInputSimplePublicObjectBatchInputForCreate as TaskCreateBatch,
)
from hubspot.crm.objects.tasks import BatchReadInputSimplePublicObjectId as TaskReadBatch
from hubspot.crm.objects.tasks import PublicAssociationsForObject, PublicObjectId
from hubspot.crm.objects.tasks import SimplePublicObjectBatchInput as TaskUpdate
from hubspot.crm.objects.tasks import SimplePublicObjectBatchInputForCreate as TaskCreate
from hubspot.crm.objects.tasks import SimplePublicObjectId as TaskId

from ...errors import AdapterError, RateLimitedError, RejectedError, TransientError
from ...policy import PlannedComplaint, PlannedTask
from .batching import chunks, in_parallel, send_bisecting
from .client import errors_by_trace, rejection
from .config import task_key
from .fields import ALWAYS_SENT, TASK_FIELD_OF, select
from .links import TASK_TO_CONTACT, TASK_TO_TICKET, Link
from .properties import hubspot_millis

if TYPE_CHECKING:
    from .push import PushRun

__all__ = ["TaskWrite", "TaskWrites"]

NOT_FOUND = "OBJECT_NOT_FOUND"


@dataclass
class TaskWrite:
    """One planned task of one complaint, and the id it has on HubSpot if we know it."""

    item: PlannedComplaint
    task: PlannedTask
    task_id: str | None = None
    linked: bool = False
    """Known to be linked to the complaint's current ticket (found through that ticket)."""
    properties: dict[str, str] = field(default_factory=dict)
    """What the task should hold (all of it), computed once."""
    send: dict[str, str] = field(default_factory=dict)
    """What this write sends: everything for a create, the changed fields for an update."""
    sent: dict[str, str] = field(default_factory=dict)
    """The field hashes the task holds once written."""
    complaint_id: str = field(init=False)
    kind: str = field(init=False)
    key: str = field(init=False)

    def __post_init__(self) -> None:  # computed once: a batch has thousands of tasks
        self.complaint_id = self.item.complaint_id
        self.kind = self.task.kind.value
        self.key = task_key(self.complaint_id, self.task.kind)


@dataclass
class _Outcome:
    """What one request of ≤ 100 tasks did; built on a worker thread, applied on the caller's."""

    written: list[tuple[TaskWrite, str]] = field(default_factory=list)
    refused: list[tuple[str, AdapterError]] = field(default_factory=list)
    gone: list[TaskWrite] = field(default_factory=list)
    error: TransientError | None = None
    sent: bool = True
    """False when the request was never sent (skipped after a rate limit)."""


class TaskWrites:
    """The task half of one push: sorts tasks into updates and creates, sends them, and
    reports per complaint which tasks are written."""

    def __init__(self, run: PushRun) -> None:
        self.run = run
        self.client = run.client
        self.memory = run.memory
        self.written: dict[str, dict[str, str]] = {}
        """complaint id → task kind → task id, for tasks written (or confirmed) at this version."""
        self.sent: dict[str, dict[str, dict[str, str]]] = {}
        """complaint id → ``task:<kind>`` → field hashes, for the written tasks."""
        self.unfinished: dict[str, AdapterError] = {}
        self._unsent: list[TaskWrite] = []
        """Known tasks with nothing to write: still relinked if their ticket is a new one."""

    def write(self, items: Iterable[PlannedComplaint]) -> None:
        creates: list[TaskWrite] = []
        updates: list[TaskWrite] = []
        unknown: list[TaskWrite] = []
        for item in items:
            for task in item.plan.tasks:
                write = TaskWrite(item, task)
                done = self.memory.written.get((write.key, item.version))
                write.properties = self.run.properties.task(item, task)
                previous = (item.previous or {}).get(f"task:{write.kind}")
                write.task_id = self.memory.task_ids.get(write.key) or previous
                if done is not None:
                    self._prepare(write, new=False)
                    self._confirm(write, done)
                    if previous == done:  # known before this sequence: its link is checked again
                        self._unsent.append(write)
                elif write.task_id:
                    self._update_or_confirm(write, updates)
                elif self._may_exist(item):
                    unknown.append(write)
                else:
                    creates.append(self._prepare(write, new=True))
        if unknown:
            found = self._look_up(unknown)
            for write in unknown:
                if write.complaint_id in self.unfinished:
                    continue  # not knowing what exists, creating could duplicate
                write.task_id = found.get(write.key)
                write.linked = write.task_id is not None
                if write.task_id:
                    self._update_or_confirm(write, updates)
                else:
                    creates.append(self._prepare(write, new=True))
        creates += self._gone_with_their_ticket()
        gone = self._send(creates, updates)
        if gone:  # deleted on HubSpot's side: make them again, linked inline
            for write in gone:
                write.task_id, write.linked = None, True
                self._prepare(write, new=True)
            self._send(gone, [])
        self._link_known([*updates, *self._unsent])

    def _prepare(self, write: TaskWrite, *, new: bool) -> TaskWrite:
        """Choose what to send: everything for a new task, the changed fields otherwise."""
        remind = write.task.remind_at
        chosen = select(
            write.item,
            f"task:{write.kind}",
            write.properties,
            TASK_FIELD_OF,
            self.run.owners,
            new=new,
            hashed={
                "hs_task_reminders": hubspot_millis(remind) if remind else "",
                "hubspot_owner_id": self.run.properties.owner(write.item, write.task).wanted,
            },
        )
        write.send, write.sent = chosen.properties, chosen.sent
        return write

    def _update_or_confirm(self, write: TaskWrite, updates: list[TaskWrite]) -> None:
        """A known task is updated with its changed fields; with none, it is left alone."""
        self._prepare(write, new=False)
        if set(write.send) <= ALWAYS_SENT:
            assert write.task_id is not None
            self._confirm(write, write.task_id)
            self._unsent.append(write)
        else:
            updates.append(write)

    # -- sorting -------------------------------------------------------------------------
    def _may_exist(self, item: PlannedComplaint) -> bool:
        """Could tasks of this complaint exist on HubSpot without us holding their ids?"""
        cid = item.complaint_id
        if cid in self.run.new_tickets:
            return False
        return item.unconfirmed or cid in self.memory.unsure

    def _gone_with_their_ticket(self) -> list[TaskWrite]:
        """Known tasks with nothing to write whose ticket was just made again (staff deleted
        the old one) may be gone too: a link to a task HubSpot no longer has is refused, and
        the complaint would fail on every run. They are read by id (a request per 100, only
        when tickets are recreated); the missing ones are made again, linked inline. A read
        that fails makes nothing (the complaint is left for the next run)."""
        doubtful = [w for w in self._unsent if w.complaint_id in self.run.new_tickets]
        if not doubtful:
            return []
        try:
            alive = {
                str(result["id"])
                for chunk in chunks(sorted({str(w.task_id) for w in doubtful}, key=int))
                for result in self._read_tasks(chunk)
            }
        except (TransientError, RejectedError) as exc:
            for cid in {w.complaint_id for w in doubtful}:
                self.unfinished.setdefault(cid, exc)
            return []
        gone = [w for w in doubtful if w.task_id not in alive]
        for write in gone:
            self._unsent.remove(write)
            write.task_id, write.linked = None, True
            self._prepare(write, new=True)
        return gone

    def _look_up(self, unknown: list[TaskWrite]) -> dict[str, str]:
        """Task key → task id of the tasks linked to these complaints' tickets (two batch reads
        per 100 tickets). Where a key is on more than one task, the oldest one wins."""
        tickets = sorted({self.run.ticket_ids[w.complaint_id] for w in unknown})
        task_ids: set[str] = set()
        try:
            for chunk in chunks(tickets):
                task_ids.update(self._linked_tasks(chunk))
            found: dict[str, str] = {}
            for chunk in chunks(sorted(task_ids, key=int)):
                for result in self._read_tasks(chunk):
                    key = (result.get("properties") or {}).get("crm_task_key")
                    if key and key not in found:
                        found[key] = str(result["id"])
        except (TransientError, RejectedError) as exc:
            for cid in {w.complaint_id for w in unknown}:
                self.unfinished.setdefault(cid, exc)
            return {}
        for key, tid in found.items():
            self.memory.task_ids[key] = tid
        return found

    def _linked_tasks(self, ticket_ids: list[str]) -> set[str]:
        models = self.client.link_models
        request = BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[
                PublicFetchAssociationsBatchRequest(id=tid, local_vars_configuration=models)
                for tid in ticket_ids
            ],
            local_vars_configuration=models,
        )
        answer = self.client.call_json(
            "read the tickets' task links",
            self.client.associations.get_page,
            from_object_type="tickets",
            to_object_type="tasks",
            batch_input_public_fetch_associations_batch_request=request,
        )
        found: set[str] = set()
        for result in answer.get("results", []):
            for target in result.get("to", []):
                found.add(str(target["toObjectId"]))
            if (result.get("paging") or {}).get("next"):
                raise TransientError(
                    "a ticket has more task links than one page; not guessing which exist",
                    adapter=self.client.adapter,
                )
        return found

    def _read_tasks(self, task_ids: list[str]) -> list[dict[str, Any]]:
        answer = self.client.call_json(
            "read tasks by id",
            self.client.tasks.read,
            batch_read_input_simple_public_object_id=TaskReadBatch(
                inputs=[TaskId(id=tid) for tid in task_ids],
                properties=["crm_task_key"],
                properties_with_history=[],
            ),
        )
        return list(answer.get("results", []))

    # -- sending -------------------------------------------------------------------------
    def _send(self, creates: list[TaskWrite], updates: list[TaskWrite]) -> list[TaskWrite]:
        """Creates and updates, 100 to a request, ``concurrency`` requests in flight (the
        shared limiter still caps the rate). Returns the known tasks HubSpot no longer has."""
        requests: list[tuple[Callable[[list[TaskWrite]], _Outcome], list[TaskWrite]]] = [
            *((self._create, chunk) for chunk in chunks(creates)),
            *((self._update, chunk) for chunk in chunks(updates)),
        ]
        stop = threading.Event()

        def one(request: tuple[Callable[[list[TaskWrite]], _Outcome], list[TaskWrite]]) -> _Outcome:
            send, chunk = request
            if stop.is_set():  # rate limited: don't pile more requests on it
                return _Outcome(error=TransientError("skipped after a rate limit"), sent=False)
            outcome = send(chunk)
            if isinstance(outcome.error, RateLimitedError):
                stop.set()
            return outcome

        outcomes = in_parallel(one, requests, self.run.properties.config.concurrency)
        gone: list[TaskWrite] = []
        for (send, chunk), outcome in zip(requests, outcomes, strict=True):
            for write, tid in outcome.written:
                self._confirm(write, tid)
                self._log(write, tid, created=send == self._create)
            for cid, error in outcome.refused:
                self.unfinished.setdefault(cid, error)
            gone.extend(outcome.gone)
            if outcome.error is not None:
                for write in chunk:
                    self.unfinished.setdefault(write.complaint_id, outcome.error)
                    refused = isinstance(outcome.error, RateLimitedError) or not outcome.sent
                    if send == self._create and not refused:
                        self.memory.unsure.add(write.complaint_id)  # may have been created
        return gone

    def _confirm(self, write: TaskWrite, task_id: str) -> None:
        self.written.setdefault(write.complaint_id, {})[write.kind] = task_id
        self.sent.setdefault(write.complaint_id, {})[f"task:{write.kind}"] = write.sent
        self.memory.task_ids[write.key] = task_id
        self.memory.written[(write.key, write.item.version)] = task_id

    def _log(self, write: TaskWrite, task_id: str, *, created: bool) -> None:
        """For the audit trail: the task's write; a create names the objects it was linked to
        inline (one request, one row)."""
        key = f"task:{write.kind}"
        ids = {key: task_id}
        if created:
            for target, type_id in self._inline_targets(write.complaint_id):
                ids["ticket" if type_id == TASK_TO_TICKET else "contact"] = target
        self.run.writes.add(write.complaint_id, "create" if created else "update", key, ids)

    def _create(self, chunk: list[TaskWrite]) -> _Outcome:
        """Batch create with the links inline; answers map back by ``objectWriteTraceId``."""
        outcome = _Outcome()
        by_key = {write.key: write for write in chunk}

        def send(writes: list[TaskWrite]) -> dict[str, Any]:
            inputs = [
                TaskCreate(
                    object_write_trace_id=write.key,
                    properties=write.send,
                    associations=self._inline_links(write.complaint_id),
                    local_vars_configuration=self.client.task_models,
                )
                for write in writes
            ]
            return self.client.call_json(
                "create tasks",
                self.client.tasks.create,
                batch_input_simple_public_object_batch_input_for_create=TaskCreateBatch(
                    inputs=inputs
                ),
            )

        def accept(writes: list[TaskWrite], answer: dict[str, Any]) -> None:
            for result in answer.get("results", []):
                key = result.get("objectWriteTraceId") or (result.get("properties") or {}).get(
                    "crm_task_key"
                )
                if key in by_key:
                    outcome.written.append((by_key[key], str(result["id"])))
            for trace, error in errors_by_trace(answer, "task", self.client.adapter):
                outcome.refused.append((by_key[trace].complaint_id if trace in by_key else trace,
                                        error))  # fmt: skip

        self._guarded(chunk, send, accept, outcome)
        return outcome

    def _update(self, chunk: list[TaskWrite]) -> _Outcome:
        """Batch update by id. A task HubSpot no longer has comes back as ``gone``."""
        outcome = _Outcome()
        by_key = {write.key: write for write in chunk}

        def send(writes: list[TaskWrite]) -> dict[str, Any]:
            inputs = [
                TaskUpdate(
                    id=write.task_id,
                    object_write_trace_id=write.key,
                    properties=write.send,
                    local_vars_configuration=self.client.task_models,
                )
                for write in writes
            ]
            return self.client.call_json(
                "update tasks",
                self.client.tasks.update,
                batch_input_simple_public_object_batch_input=TaskUpdateBatch(inputs=inputs),
            )

        adapter = self.client.adapter

        def accept(writes: list[TaskWrite], answer: dict[str, Any]) -> None:
            by_id = {write.task_id: write for write in writes}
            for result in answer.get("results", []):
                write = by_id.get(str(result["id"]))
                if write is not None:
                    outcome.written.append((write, str(result["id"])))
            for error in answer.get("errors", []):
                context = error.get("context") or {}
                named = [by_key[t] for t in context.get("objectWriteTraceId", []) if t in by_key]
                named += [by_id[i] for i in context.get("ids", []) if i in by_id]
                for write in named:
                    if error.get("category") == NOT_FOUND:
                        outcome.gone.append(write)
                    else:
                        outcome.refused.append(
                            (
                                write.complaint_id,
                                rejection("update task", error, write.complaint_id, adapter),
                            )
                        )

        def refuse(write: TaskWrite, error: RejectedError) -> None:
            if error.status == 404:
                outcome.gone.append(write)
            else:
                outcome.refused.append((write.complaint_id, error))

        try:
            send_bisecting(chunk, send, accept, refuse, splittable=frozenset({400, 404, 409}))
        except TransientError as exc:
            outcome.error = exc
        return outcome

    def _guarded(
        self,
        chunk: list[TaskWrite],
        send: Callable[[list[TaskWrite]], dict[str, Any]],
        accept: Callable[[list[TaskWrite], dict[str, Any]], None],
        outcome: _Outcome,
    ) -> None:
        def refuse(write: TaskWrite, error: RejectedError) -> None:
            outcome.refused.append((write.complaint_id, error))

        try:
            send_bisecting(chunk, send, accept, refuse)
        except TransientError as exc:
            outcome.error = exc

    def _inline_targets(self, complaint_id: str) -> list[tuple[str, int]]:
        """(object id, association type) of the links a new task is created with."""
        targets = [(self.run.ticket_ids[complaint_id], TASK_TO_TICKET)]
        contact = self.run.contact_ids.get(complaint_id)
        if contact:
            targets.append((contact, TASK_TO_CONTACT))
        return targets

    def _inline_links(self, complaint_id: str) -> list[PublicAssociationsForObject]:
        models = self.client.task_models
        return [
            PublicAssociationsForObject(
                to=PublicObjectId(id=target, local_vars_configuration=models),
                types=[
                    TaskAssociationSpec(
                        association_category="HUBSPOT_DEFINED",
                        association_type_id=type_id,
                        local_vars_configuration=models,
                    )
                ],
                local_vars_configuration=models,
            )
            for target, type_id in self._inline_targets(complaint_id)
        ]

    # -- links of known tasks ------------------------------------------------------------
    def _link_known(self, updates: list[TaskWrite]) -> None:
        """A known task keeps its links, unless the ticket (or contact) is a new one: a ticket
        deleted in HubSpot comes back with a new id, and its tasks must follow."""
        to_tickets: list[Link] = []
        to_contacts: list[Link] = []
        key_of: dict[str, str] = {}  # task id → its refs key, for the audit trail
        for write in updates:
            cid = write.complaint_id
            tid = self.written.get(cid, {}).get(write.kind)
            if tid is None or cid in self.unfinished:
                continue
            key_of[tid] = f"task:{write.kind}"
            previous = write.item.previous or {}
            same_task = previous.get(f"task:{write.kind}") == tid
            ticket = self.run.ticket_ids[cid]
            if not write.linked and not (same_task and previous.get("ticket") == ticket):
                to_tickets.append(Link(cid, tid, ticket))
            contact = self.run.contact_ids.get(cid)
            if contact and not (same_task and previous.get("contact") == contact):
                to_contacts.append(Link(cid, tid, contact))
        for links, to_type, end, type_id in (
            (to_tickets, "tickets", "ticket", TASK_TO_TICKET),
            (to_contacts, "contacts", "contact", TASK_TO_CONTACT),
        ):
            for link in self.run.linker.link(links, "tasks", to_type, type_id, self._fail):
                ends = {key_of[link.source]: link.source, end: link.target}
                self.run.writes.link(link.complaint_id, ends)

    def _fail(self, complaint_id: str, error: AdapterError) -> None:
        self.unfinished.setdefault(complaint_id, error)
