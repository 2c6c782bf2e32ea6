"""Steps 4 and 5, the synthetic complaint: pushed, read back and compared (version, owners, due
dates, task links), then archived, found again by its unique id and the ticket's task links so
that a push that failed half-way is cleaned up too. Once archived, a new version of it is pushed
once more: that the portal answers "not found" to an update of a deleted ticket (and makes no new
one) is what lets a sync leave tickets staff deleted alone, and how HubSpot answers it is not
documented, so the check asks this portal."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.objects.tasks import BatchInputSimplePublicObjectId as TaskIdBatch
from hubspot.crm.objects.tasks import SimplePublicObjectId as TaskId
from hubspot.crm.tickets import BatchInputSimplePublicObjectId as TicketIdBatch
from hubspot.crm.tickets import BatchReadInputSimplePublicObjectId as TicketReadBatch
from hubspot.crm.tickets import SimplePublicObjectId as TicketId

from ....errors import AdapterError
from ....policy import PlannedComplaint, Policy
from ....preflight import Step
from ....schema import Complaint, Department
from ...base import Outcome, RemoteRecord
from ..links import TASK_TO_TICKET
from ..properties import hubspot_time
from .context import STEP_CLEAN_UP, STEP_ROUND_TRIP, _Context

CHECK_PREFIX = "CHECK-"


class _RoundTripSteps(_Context):
    """Steps 4 and 5, mixed into the preflight run."""

    # -- 4. round trip ----------------------------------------------------------------------
    def _round_trip(self, leftovers: _Leftovers) -> Step:
        item = self._synthetic()
        leftovers.complaint_id = item.complaint_id
        [result] = self.adapter.push([item])
        leftovers.item, leftovers.refs = item, dict(result.refs)
        leftovers.task_ids.update(v for k, v in result.refs.items() if k.startswith("task:"))
        if "ticket" in result.refs:
            leftovers.ticket_id = result.refs["ticket"]
        if result.outcome is not Outcome.SYNCED:
            kind = {
                Outcome.REJECTED: "refused it",
                Outcome.RETRY: "failed part-way (retryable)",
                Outcome.RATE_LIMITED: "rate limited it",
            }.get(result.outcome, str(result.outcome))
            return Step.failed(
                STEP_ROUND_TRIP,
                f"pushing synthetic complaint {item.complaint_id}: HubSpot {kind}: {result.error}",
                "fix what the message names (a scope, a property, an option) and check again"
                if result.outcome is Outcome.REJECTED
                else "HubSpot was busy or unreachable: run the check again",
            )
        records = self.adapter.read({item.complaint_id: result.refs})
        record = records.get(item.complaint_id)
        if record is None:
            return Step.failed(
                STEP_ROUND_TRIP,
                f"ticket {result.refs.get('ticket')} of {item.complaint_id} was written but "
                "reading it back by crm_complaint_id found nothing",
                "check that crm_complaint_id on tickets is unique-valued; then check again",
            )
        problems = self._compare(item, record)
        problems += self._check_links(record)
        if problems:
            return Step.failed(
                STEP_ROUND_TRIP,
                f"{item.complaint_id} read back differently: " + "; ".join(problems),
                "a HubSpot workflow or another app may rewrite our tickets or tasks: exclude "
                "tickets with crm_complaint_id set, then check again",
            )
        return Step.passed(
            STEP_ROUND_TRIP,
            f"wrote {item.complaint_id} (ticket {record.refs['ticket']}, "
            f"{len(item.plan.tasks)} tasks linked to it) and read back the same version, "
            "owners and due dates",
        )

    def _synthetic(self) -> PlannedComplaint:
        """A complaint with no personal data and an id no clinic uses, at a configured clinic
        (its calendar and routing) received now."""
        clinic_id = next(iter(self.settings.clinics), "preflight-check")
        clinic = self.settings.clinic(clinic_id)
        received = datetime.now(ZoneInfo(clinic.time_zone)).replace(microsecond=0)
        complaint = Complaint.model_validate(
            {
                "id": f"{CHECK_PREFIX}{secrets.token_hex(6).upper()}",
                "clinic": clinic_id,
                "received_at": received.isoformat(),
                "channel": "other",
                "category": "other",
                "summary": "crm-complaints check: synthetic complaint, safe to delete",
                "reporter": {"staff_id": "CHECK", "department": Department.FRONT_DESK.value},
            }
        )
        return Policy.from_settings(self.settings).planned(complaint)

    def _compare(self, item: PlannedComplaint, record: RemoteRecord) -> list[str]:
        problems: list[str] = []
        if record.version != item.version:
            problems.append("the ticket's crm_version is not the version written")
        properties = self.adapter.properties
        ticket_owner = properties.owner(item, None).owner_id
        if (record.owner or None) != ticket_owner:
            problems.append(f"ticket owner {record.owner or 'none'}, expected {ticket_owner}")
        for task in item.plan.tasks:
            remote = record.tasks.get(task.kind.value)
            if remote is None:
                problems.append(f"task {task.kind.value} missing")
                continue
            if remote.due_at is None or hubspot_time(remote.due_at) != hubspot_time(task.due_at):
                due = hubspot_time(remote.due_at) if remote.due_at else "none"
                problems.append(
                    f"task {task.kind.value} due {due}, written {hubspot_time(task.due_at)}"
                )
            owner = properties.owner(item, task).owner_id
            if (remote.owner or None) != owner:
                problems.append(
                    f"task {task.kind.value} owner {remote.owner or 'none'}, expected {owner}"
                )
            if remote.completed != task.completed:
                problems.append(f"task {task.kind.value} completion differs")
        return problems

    def _check_links(self, record: RemoteRecord) -> list[str]:
        ticket = record.refs["ticket"]
        task_ids = [v for k, v in record.refs.items() if k.startswith("task:")]
        linked = self._links("tasks", "tickets", task_ids)
        kinds = {v: k.removeprefix("task:") for k, v in record.refs.items()}
        return [
            f"task {kinds[tid]} is not linked to ticket {ticket} (association type "
            f"{TASK_TO_TICKET})"
            for tid in task_ids
            if (ticket, TASK_TO_TICKET) not in linked.get(tid, set())
        ]

    def _links(
        self, from_type: str, to_type: str, ids: list[str]
    ) -> dict[str, set[tuple[str, int]]]:
        """Each id's links: (target id, association type id) pairs, by v4 batch read."""
        if not ids:
            return {}
        models = self.client.link_models
        request = BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[
                PublicFetchAssociationsBatchRequest(id=i, local_vars_configuration=models)
                for i in ids
            ],
            local_vars_configuration=models,
        )
        answer = self.client.call_json(
            f"read {from_type} → {to_type} links",
            self.client.associations.get_page,
            from_object_type=from_type,
            to_object_type=to_type,
            batch_input_public_fetch_associations_batch_request=request,
        )
        found: dict[str, set[tuple[str, int]]] = {}
        for result in answer.get("results", []):
            source = str((result.get("from") or {}).get("id"))
            for target in result.get("to", []):
                for kind in target.get("associationTypes", []):
                    found.setdefault(source, set()).add(
                        (str(target["toObjectId"]), int(kind["typeId"]))
                    )
        return found

    # -- 5. clean up --------------------------------------------------------------------------
    def _clean_up(self, leftovers: _Leftovers) -> Step:
        if leftovers.complaint_id is None:
            return Step.skipped(STEP_CLEAN_UP, "nothing was written")
        cid = leftovers.complaint_id
        try:
            self._find_leftovers(leftovers)
        except AdapterError as exc:
            return Step.failed(
                STEP_CLEAN_UP,
                f"could not look up what {cid} left in HubSpot: {exc}",
                f"in HubSpot, delete the ticket whose Complaint ID is {cid} and its tasks "
                f"{leftovers.describe()}",
            )
        if leftovers.ticket_id is None and not leftovers.task_ids:
            return Step.passed(STEP_CLEAN_UP, f"{cid} left nothing in HubSpot")
        failures: list[str] = []
        if leftovers.task_ids:
            try:
                self.client.call(
                    "archive the synthetic tasks",
                    self.client.tasks.archive,
                    batch_input_simple_public_object_id=TaskIdBatch(
                        inputs=[TaskId(id=i) for i in sorted(leftovers.task_ids)]
                    ),
                )
            except AdapterError as exc:
                failures.append(f"tasks: {exc}")
        if leftovers.ticket_id is not None:
            try:
                self.client.call(
                    "archive the synthetic ticket",
                    self.client.tickets.archive,
                    batch_input_simple_public_object_id=TicketIdBatch(
                        inputs=[TicketId(id=leftovers.ticket_id)]
                    ),
                )
            except AdapterError as exc:
                failures.append(f"ticket: {exc}")
        if failures:
            return Step.failed(
                STEP_CLEAN_UP,
                f"archiving {cid} failed ({'; '.join(failures)})",
                f"delete by hand in HubSpot: {leftovers.describe()}",
            )
        deleted = self._update_after_delete(leftovers)
        if isinstance(deleted, Step):
            return deleted
        return Step.passed(STEP_CLEAN_UP, f"archived {leftovers.describe()}; {deleted}")

    def _update_after_delete(self, leftovers: _Leftovers) -> Step | str:
        """Push a new version of the archived synthetic complaint, as a sync would after staff
        deleted its ticket: it must come back "deleted", creating nothing."""
        if leftovers.item is None or "ticket" not in leftovers.refs:
            return "the update of a deleted ticket was not tried (nothing to update)"
        probe = replace(
            leftovers.item, previous=leftovers.refs, version="check-after-delete", attempt=0
        )
        [result] = self.adapter.push([probe])
        if result.outcome is Outcome.DELETED:
            return "an update of the deleted ticket was answered 'not found' and made nothing"
        if result.outcome is Outcome.SYNCED:  # the portal made a ticket again: remove it
            again = TicketIdBatch(inputs=[TicketId(id=result.refs.get("ticket", ""))])
            self.client.call(
                "archive the recreated synthetic ticket",
                self.client.tickets.archive,
                batch_input_simple_public_object_id=again,
            )
            return Step.failed(
                STEP_CLEAN_UP,
                f"updating the deleted ticket of {leftovers.complaint_id} made ticket "
                f"{result.refs.get('ticket')} instead of answering 'not found' (archived again)",
                "tickets staff delete would come back on the next change: report this portal's "
                "behaviour to the crm-complaints maintainers",
            )
        return Step.failed(
            STEP_CLEAN_UP,
            f"updating the deleted ticket of {leftovers.complaint_id} was answered "
            f"{result.outcome.value}: {result.error}",
            "complaints whose ticket staff deleted will be quarantined with this error instead "
            "of being left deleted; nothing is lost or duplicated",
        )

    def _find_leftovers(self, leftovers: _Leftovers) -> None:
        """The ticket by its unique complaint id, and every task linked to it: exact reads,
        so whatever a failed push left behind is found too."""
        answer = self.client.call_json(
            "find the synthetic ticket",
            self.client.tickets.read,
            batch_read_input_simple_public_object_id=TicketReadBatch(
                id_property="crm_complaint_id",
                inputs=[TicketId(id=leftovers.complaint_id)],
                properties=["crm_complaint_id"],
                properties_with_history=[],
            ),
        )
        for result in answer.get("results", []):
            leftovers.ticket_id = str(result["id"])
        if leftovers.ticket_id is not None:
            linked = self._links("tickets", "tasks", [leftovers.ticket_id])
            leftovers.task_ids.update(t for t, _ in linked.get(leftovers.ticket_id, set()))


@dataclass
class _Leftovers:
    """What the round trip may have written, for the clean-up step."""

    complaint_id: str | None = None
    ticket_id: str | None = None
    task_ids: set[str] = field(default_factory=set)
    item: PlannedComplaint | None = None
    refs: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        ticket = f"ticket {self.ticket_id}" if self.ticket_id else "no ticket"
        tasks = ", ".join(sorted(self.task_ids)) or "none"
        return f"{ticket}, tasks {tasks}"
