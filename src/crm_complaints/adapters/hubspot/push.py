"""Writing one batch of complaints to HubSpot: tickets, contacts, tasks and their links.

A new complaint's ticket is made by batch upsert on the unique ``crm_complaint_id`` (unique-value
properties are documented for tickets), 100 to a request, so a rerun never makes a second
ticket. A known complaint's ticket is changed by batch update on that same property, sending
only the fields whose value changed (:mod:`.fields`): an update cannot create, so a ticket
someone deleted in HubSpot is reported deleted (``PushResult.deleted``) instead of coming
back. Contacts (opt-in)
are upserted on ``crm_customer_id`` and linked to their ticket. Tasks are created once with their
links inline and updated by id afterwards (:mod:`.tasks`). A complaint is synced only once its
ticket, all its tasks and their links are written. A transient error part-way keeps what is
finished: complaints completed by then are synced and the rest come back transient, and the
next attempt resumes from :class:`WrittenSoFar` instead of starting over (under a tight rate
limit, starting over could never finish). A batch HubSpot refuses whole is split until the bad
input is found (:mod:`.batching`). Each result lists the writes HubSpot confirmed for its
complaint in this push (:mod:`.writes`), for the audit trail.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert as ContactUpsertBatch,
)
from hubspot.crm.contacts import SimplePublicObjectBatchInputUpsert as ContactUpsert
from hubspot.crm.tickets import BatchInputSimplePublicObjectBatchInput as TicketUpdateBatch
from hubspot.crm.tickets import (
    BatchInputSimplePublicObjectBatchInputUpsert as TicketUpsertBatch,
)
from hubspot.crm.tickets import SimplePublicObjectBatchInput as TicketUpdate
from hubspot.crm.tickets import SimplePublicObjectBatchInputUpsert as TicketUpsert

from ...errors import AdapterError, RateLimitedError, RejectedError, TransientError
from ...fields import FieldOwners
from ...policy import PlannedComplaint
from ...privacy import allowed_view
from ..base import Outcome, PushResult
from .batching import chunks, in_parallel, send_bisecting
from .client import HubSpotClient, errors_by_trace, rejection
from .fields import TICKET_FIELD_OF, Selection, select
from .links import TICKET_TO_CONTACT, Link, Linker
from .properties import Properties
from .tasks import TaskWrites
from .writes import WriteLog

__all__ = ["PushRun", "WrittenSoFar"]

_EXISTING_CONTACT = re.compile(r"Existing ID:\s*(\d+)")


@dataclass
class WrittenSoFar:
    """What earlier attempts of the current retry sequence wrote or learned.

    Kept by the adapter between pushes and forgotten whenever a push starts a new sequence
    (any item with ``attempt == 0``), so it never outlives the engine's retries of a batch.
    """

    tickets: dict[tuple[str, str], str] = field(default_factory=dict)
    """(complaint id, version) → ticket id."""
    task_ids: dict[str, str] = field(default_factory=dict)
    """Task key → task id: tasks created or found in this sequence."""
    written: dict[tuple[str, str], str] = field(default_factory=dict)
    """(task key, version) → task id: tasks written at that version."""
    links: set[tuple[str, str]] = field(default_factory=set)
    """(from id, to id) pairs whose link HubSpot confirmed."""
    unsure: set[str] = field(default_factory=set)
    """Complaints whose task create failed without an answer: it may have happened."""

    def forget(self) -> None:
        self.tickets.clear()
        self.task_ids.clear()
        self.written.clear()
        self.links.clear()
        self.unsure.clear()


class PushRun:
    """One push of one batch: owns the complaints still in play, their results and the ids
    written so far."""

    def __init__(
        self,
        client: HubSpotClient,
        properties: Properties,
        memory: WrittenSoFar,
        batch: Sequence[PlannedComplaint],
        owners: FieldOwners | None = None,
    ) -> None:
        self.client = client
        self.owners = owners or FieldOwners()
        self.properties = properties
        self.memory = memory
        self.batch = batch
        self.adapter = client.adapter
        self.linker = Linker(client, memory.links)
        self.writes = WriteLog()
        self.live = {item.complaint_id: item for item in batch}
        self.versions = {item.complaint_id: item.version for item in batch}
        self.results: dict[str, PushResult] = {}
        self.ticket_ids: dict[str, str] = {}
        self.new_tickets: set[str] = set()
        self.contact_ids: dict[str, str] = {}
        self.ticket_fields: dict[str, Selection] = {}
        self.task_sent: dict[str, dict[str, dict[str, str]]] = {}
        self.task_written: dict[str, dict[str, str]] = {}
        self.unsure_tickets: set[str] = set()
        """Known tickets whose update got no answer: what they hold now is not known."""
        """What each complaint's ticket write sends, and the field hashes it leaves."""
        self._lock = threading.Lock()
        self._workers = properties.config.concurrency

    def run(self) -> list[PushResult]:
        self._write_tickets()
        self._write_contacts()
        self._write_tasks()
        return [
            replace(self._with_partial_sent(item), writes=self.writes.of(item.complaint_id))
            for item in self.batch
        ]

    def _with_partial_sent(self, item: PlannedComplaint) -> PushResult:
        """A complaint left for a retry keeps what did reach HubSpot: its ticket's id and the
        field hashes of its ticket and written tasks, so the next run updates them with what
        changed instead of sending everything again over what staff may have changed in
        between (a reopen after our close, a new ticket reassigned)."""
        result = self.results[item.complaint_id]
        cid = item.complaint_id
        if result.outcome not in (Outcome.RETRY, Outcome.RATE_LIMITED):
            return result
        known = self._known_ticket(item)
        if cid in self.ticket_ids and (item.sent is not None or not known):
            ticket = self.ticket_fields[cid].sent
        elif cid in self.unsure_tickets and item.sent is not None:
            ticket = {}  # no field known: each one we own is sent again next time
        else:
            return result
        sent = {**(item.sent or {}), "ticket": ticket}
        sent.update(self.task_sent.get(cid, {}))
        refs = dict(item.previous or {})
        if cid in self.ticket_ids:
            refs["ticket"] = self.ticket_ids[cid]
        refs.update({f"task:{kind}": tid for kind, tid in self.task_written.get(cid, {}).items()})
        return replace(result, sent=sent, refs=refs)

    # -- outcomes ------------------------------------------------------------------------
    def fail(self, complaint_id: str, error: AdapterError) -> None:
        """This complaint is done for this push: refused, or left for a retry."""
        if complaint_id in self.live:
            self.results[complaint_id] = PushResult.failed(complaint_id, error)
            del self.live[complaint_id]

    def deleted(self, complaint_id: str) -> None:
        """Someone deleted this complaint's ticket in HubSpot: it is left deleted."""
        if complaint_id in self.live:
            self.results[complaint_id] = PushResult.deleted(complaint_id)
            del self.live[complaint_id]

    def fail_rest(self, error: TransientError) -> None:
        for cid in list(self.live):
            self.fail(cid, error)

    # -- tickets -------------------------------------------------------------------------
    def _write_tickets(self) -> None:
        """Upserts of new tickets and updates of known ones, 100 to a request, ``concurrency``
        in flight: a batch's tickets must not wait out one round trip each when the rate limit
        would let them through together."""
        done = self.memory.tickets
        self.ticket_ids = {
            cid: done[(cid, version)]
            for cid, version in self.versions.items()
            if (cid, version) in done
        }
        for item in self.live.values():
            self.ticket_fields[item.complaint_id] = select(
                item,
                "ticket",
                self.properties.ticket(item),
                TICKET_FIELD_OF,
                self.owners,
                new=not self._known_ticket(item),
                hashed={"hubspot_owner_id": self.properties.owner(item, None).wanted},
            )
        items = [item for item in self.live.values() if item.complaint_id not in self.ticket_ids]
        new = [item for item in items if not self._known_ticket(item)]
        updates = [item for item in items if self._known_ticket(item)]
        stop = threading.Event()

        def refuse(item: PlannedComplaint, error: RejectedError) -> None:
            with self._lock:
                self.fail(item.complaint_id, error)

        def refuse_update(item: PlannedComplaint, error: RejectedError) -> None:
            with self._lock:
                if error.status == 404:
                    self.deleted(item.complaint_id)
                else:
                    self.fail(item.complaint_id, error)

        def one(request: tuple[bool, list[PlannedComplaint]]) -> TransientError | None:
            update, chunk = request
            if stop.is_set():  # rate limited: don't pile more requests on it
                return None
            try:
                if update:
                    send_bisecting(
                        chunk,
                        self._update_tickets,
                        self._accept_tickets,
                        refuse_update,
                        splittable=frozenset({400, 404, 409}),
                    )
                else:
                    send_bisecting(chunk, self._upsert_tickets, self._accept_tickets, refuse)
            except TransientError as exc:
                if isinstance(exc, RateLimitedError):
                    stop.set()
                elif update:  # sent, no answer: it may have been written
                    self.unsure_tickets.update(i.complaint_id for i in chunk)
                return exc
            return None

        requests = [(False, c) for c in chunks(new)] + [(True, c) for c in chunks(updates)]
        errors = [e for e in in_parallel(one, requests, self._workers) if e]
        error = errors[0] if errors else TransientError("no ticket result", adapter=self.adapter)
        for cid in [c for c in self.live if c not in self.ticket_ids]:
            self.fail(cid, error)

    def _ticket_inputs(self, model: type[Any], items: list[PlannedComplaint]) -> list[Any]:
        """Upsert and update inputs alike: by our unique ``crm_complaint_id``, traced by it."""
        return [
            model(
                id=item.complaint_id,
                id_property="crm_complaint_id",
                object_write_trace_id=item.complaint_id,
                properties=self.ticket_fields[item.complaint_id].properties,
                local_vars_configuration=self.client.ticket_models,
            )
            for item in items
        ]

    def _upsert_tickets(self, items: list[PlannedComplaint]) -> dict[str, Any]:
        batch = TicketUpsertBatch(inputs=self._ticket_inputs(TicketUpsert, items))
        return self.client.call_json(
            "upsert tickets",
            self.client.tickets.upsert,
            batch_input_simple_public_object_batch_input_upsert=batch,
        )

    def _update_tickets(self, items: list[PlannedComplaint]) -> dict[str, Any]:
        batch = TicketUpdateBatch(inputs=self._ticket_inputs(TicketUpdate, items))
        return self.client.call_json(
            "update tickets",
            self.client.tickets.update,
            batch_input_simple_public_object_batch_input=batch,
        )

    def _known_ticket(self, item: PlannedComplaint) -> bool:
        """Synced before: its ticket is updated (never recreated by accident)."""
        return bool((item.previous or {}).get("ticket"))

    def _accept_tickets(self, items: list[PlannedComplaint], answer: dict[str, Any]) -> None:
        with self._lock:
            self._accept_ticket_answer(answer)

    def _accept_ticket_answer(self, answer: dict[str, Any]) -> None:
        by_ticket = {(item.previous or {}).get("ticket"): cid for cid, item in self.live.items()}
        for result in answer.get("results", []):
            cid = (
                result.get("objectWriteTraceId")
                or (result.get("properties") or {}).get("crm_complaint_id")
                or by_ticket.get(str(result["id"]))
            )
            if cid in self.versions:
                self.ticket_ids[cid] = str(result["id"])
                self.memory.tickets[(cid, self.versions[cid])] = str(result["id"])
                if result.get("new"):
                    self.new_tickets.add(cid)
                self.writes.object(cid, bool(result.get("new")), "ticket", str(result["id"]))
        for error in answer.get("errors", []):
            if error.get("category") == "OBJECT_NOT_FOUND":
                for cid in (error.get("context") or {}).get("objectWriteTraceId", []):
                    self.deleted(cid)
        for cid, refusal in errors_by_trace(answer, "ticket", self.adapter):
            self.fail(cid, refusal)

    # -- contacts (opt-in) ---------------------------------------------------------------
    def _write_contacts(self) -> None:
        """Upsert one contact per customer and link each ticket to it (when enabled)."""
        if not self.properties.config.contacts:
            return
        by_customer: dict[str, list[str]] = {}
        for item in self.live.values():
            customer = item.complaint.customer
            if customer and customer.external_id:
                by_customer.setdefault(customer.external_id, []).append(item.complaint_id)
        adopted: dict[str, str] = {}

        def accept(customers: list[str], answer: dict[str, Any]) -> None:
            for result in answer.get("results", []):
                customer = result.get("objectWriteTraceId") or result["properties"].get(
                    "crm_customer_id"
                )
                for cid in by_customer.get(customer, []):
                    self.contact_ids[cid] = str(result["id"])
                    self.writes.object(cid, bool(result.get("new")), "contact", str(result["id"]))
            for error in answer.get("errors", []):
                for trace in (error.get("context") or {}).get("objectWriteTraceId", []):
                    refusal = rejection("upsert contact", error, trace, self.adapter)
                    refuse(trace, refusal, existing_contact(refusal, error.get("message")))

        def refuse(customer: str, error: RejectedError, existing: str | None = None) -> None:
            existing = existing or existing_contact(error)
            for cid in by_customer.get(customer, []):
                if existing:  # the e-mail is another contact's: link to that one
                    self.contact_ids[cid] = adopted.setdefault(customer, existing)
                else:
                    self.fail(cid, error)

        try:
            for chunk in chunks(sorted(by_customer)):
                send_bisecting(chunk, self._upsert_contacts, accept, refuse)
            links = [
                Link(cid, self.ticket_ids[cid], contact)
                for cid, contact in self.contact_ids.items()
                if cid in self.live and not self._linked_before(cid, contact)
            ]
            for link in self.linker.link(
                links, "tickets", "contacts", TICKET_TO_CONTACT, self.fail
            ):
                self.writes.link(link.complaint_id, {"ticket": link.source, "contact": link.target})
        except TransientError as exc:
            self.fail_rest(exc)

    def _upsert_contacts(self, customers: list[str]) -> dict[str, Any]:
        inputs = []
        holder = {
            i.complaint.customer.external_id: i
            for i in self.live.values()
            if i.complaint.customer and i.complaint.customer.external_id
        }
        for customer_id in customers:
            item = holder[customer_id]
            view = allowed_view(item.complaint, self.properties.allowed_fields).get("customer", {})
            props = {"crm_customer_id": customer_id}
            if "email" in view:
                props["email"] = view["email"]
            if "phone" in view:
                props["phone"] = view["phone"]
            if "name" in view:
                props["lastname"] = view["name"]  # one field: name order differs by language
            inputs.append(
                ContactUpsert(
                    id=customer_id,
                    id_property="crm_customer_id",
                    object_write_trace_id=customer_id,
                    properties=props,
                )
            )
        return self.client.call_json(
            "upsert contacts",
            self.client.contacts.upsert,
            batch_input_simple_public_object_batch_input_upsert=ContactUpsertBatch(inputs=inputs),
        )

    def _linked_before(self, complaint_id: str, contact: str) -> bool:
        previous = self.live[complaint_id].previous or {}
        return (
            previous.get("contact") == contact
            and previous.get("ticket") == self.ticket_ids[complaint_id]
        )

    # -- tasks ---------------------------------------------------------------------------
    def _write_tasks(self) -> None:
        tasks = TaskWrites(self)
        tasks.write(list(self.live.values()))
        self.task_sent, self.task_written = tasks.sent, tasks.written
        for cid in list(self.live):
            if cid in tasks.unfinished:
                self.fail(cid, tasks.unfinished[cid])
                continue
            item = self.live.pop(cid)
            refs = {"ticket": self.ticket_ids[cid]}
            refs.update({f"task:{k}": tid for k, tid in tasks.written.get(cid, {}).items()})
            if cid in self.contact_ids:
                refs["contact"] = self.contact_ids[cid]
            missing = {t.kind.value for t in item.plan.tasks} - set(tasks.written.get(cid, {}))
            if missing:  # no answer is not success
                self.results[cid] = PushResult.failed(
                    cid,
                    TransientError(f"no task result for {sorted(missing)}", adapter=self.adapter),
                )
                continue
            sent = {"ticket": self.ticket_fields[cid].sent, **tasks.sent.get(cid, {})}
            created = item.is_new or cid in self.new_tickets
            self.results[cid] = PushResult.synced(cid, refs, created=created, sent=sent)


def existing_contact(error: RejectedError, message: object = None) -> str | None:
    """The contact id in HubSpot's 409 "Contact already exists. Existing ID: 123" (an e-mail
    already on another contact: https://github.com/HubSpot/hubspot-api-python/issues/51)."""
    if error.status != 409:
        return None
    if message is None:  # a whole-request 409: the SDK's exception holds the body
        message = getattr(error.__cause__, "body", None)
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    found = _EXISTING_CONTACT.search(str(message or ""))
    return found.group(1) if found else None
