"""What we write on a HubSpot ticket and its tasks, for one planned complaint.

Only fields in the allowlist leave the machine: the subject falls back to the category's label
when the summary is not allowed, and the description goes to ``content`` only when allowed.
Owners follow the clinic's routing down a chain (see :mod:`.owners`). A task's reminder
(``hs_task_reminders``: "the timestamp for when to send a reminder for the due date of the
task. You must use Unix timestamp in milliseconds", https://developers.hubspot.com/docs/api/crm/tasks)
comes from the plan's ``remind_at``; an empty value clears an earlier one (a task done, reminders
switched off). A reminder already past when written is left out: whether HubSpot refuses one
is not documented, and a refusal would keep the whole task out of HubSpot. Enumerations carry
our stable codes (their labels are the portal's, see :mod:`.definitions`); a task's subject and
body are in the complaint's language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ...labels import label
from ...policy import PlannedComplaint, PlannedTask, TaskKind
from ...privacy import allowed_view
from ...schema import Complaint
from ..base import OwnerFallback
from .config import HubSpotConfig, task_key
from .owners import FallbackLog, OwnerChoice, choose_owner
from .portal import Portal

__all__ = ["Properties", "hubspot_millis", "hubspot_time"]


def hubspot_time(moment: datetime) -> str:
    """HubSpot's datetime form: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def hubspot_millis(moment: datetime) -> str:
    """Unix milliseconds, as ``hs_task_reminders`` wants them."""
    return str(int(moment.timestamp() * 1000))


def _now() -> datetime:
    return datetime.now(UTC)


def _risk_and_demand(complaint: Complaint, view: Mapping[str, Any]) -> dict[str, str]:
    """Risk flags (checkbox form, ``;`` between values) and the demand, each only when the
    allowlist lets it leave (``risk_flags``, ``demand`` or its parts); empty otherwise, which
    clears a value once sent. The amount is plain decimal notation (never ``1E+5``)."""
    shown = view.get("demand") or {}  # the allowed parts of the demand
    demand = complaint.demand
    amount = demand.amount if demand is not None and "amount" in shown else None
    return {
        "crm_risk_flags": ";".join(sorted(f.value for f in complaint.risk_flags))
        if "risk_flags" in view
        else "",
        "crm_demand_kind": demand.kind.value if demand and "kind" in shown else "",
        "crm_demand_amount": format(amount, "f") if amount is not None else "",
        "crm_demand_currency": (demand.currency or "") if demand and "currency" in shown else "",
    }


@dataclass(frozen=True)
class Properties:
    """Builds ticket and task properties from a plan and the portal's ids."""

    portal: Portal
    config: HubSpotConfig
    allowed_fields: Sequence[str]
    fallbacks: FallbackLog = field(default_factory=FallbackLog)
    clock: Callable[[], datetime] = _now

    def owner(self, item: PlannedComplaint, task: PlannedTask | None) -> OwnerChoice:
        """The owner of the ticket (``task=None``: the coordinator's) or of one task."""
        plan = item.plan
        source = plan if task is None else task
        return choose_owner(
            directory=self.portal.owners,
            adapter_owners=self.portal.owner_ids,
            adapter_configured=self.config.owners,
            complaint_id=item.complaint_id,
            clinic=item.complaint.clinic,
            task="ticket" if task is None else task.kind.value,
            department=plan.coordinator if task is None else task.department,
            owners=source.owners,
            management_owners=source.management_owners,
        )

    def owner_fallbacks(self, item: PlannedComplaint) -> list[OwnerFallback]:
        """The ticket and open tasks of a complaint that go to a fallback owner (pure)."""
        choices = [self.owner(item, None)]
        choices += [self.owner(item, t) for t in item.plan.tasks if not t.completed]
        return [c.fallback for c in choices if c.fallback is not None]

    def _owner_id(self, item: PlannedComplaint, task: PlannedTask | None) -> str | None:
        choice = self.owner(item, task)
        if choice.fallback is not None:
            self.fallbacks.record(choice.fallback)
        return choice.owner_id

    def ticket(self, item: PlannedComplaint) -> dict[str, str]:
        portal = self.portal
        complaint, plan = item.complaint, item.plan
        view = allowed_view(complaint, self.allowed_fields)
        summary = view.get("summary") or label(complaint.category, plan.language)
        pipeline_id, stage_ids = portal.pipeline_for(complaint.clinic)
        props = {
            "subject": f"[{complaint.id}] {summary}"[:250],
            "hs_pipeline": pipeline_id,
            "hs_pipeline_stage": stage_ids[complaint.status],
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
            "crm_received_at": hubspot_time(complaint.received_at),
            **_risk_and_demand(complaint, view),
            "crm_version": item.version,
        }
        owner = self._owner_id(item, None)
        if owner:
            props["hubspot_owner_id"] = owner
        category = portal.category_values.get(complaint.category)
        if category:
            props["hs_ticket_category"] = category
        if "description" in view:
            props["content"] = str(view["description"])
        return props

    def task(self, item: PlannedComplaint, task: PlannedTask) -> dict[str, str]:
        complaint, plan = item.complaint, item.plan
        props = {
            "crm_task_key": task_key(complaint.id, task.kind),
            "hs_timestamp": hubspot_time(task.due_at),
            "hs_task_subject": f"[{complaint.id}] {task.title}"[:250],
            # Labels, not codes: the body reads in the complaint's language throughout.
            "hs_task_body": " · ".join(
                label(value, plan.language)
                for value in (complaint.category, plan.severity, task.department)
            ),
            "hs_task_status": "COMPLETED" if task.completed else "NOT_STARTED",
            "hs_task_priority": self.config.task_priorities[plan.severity],
            # hs_task_type: the first response is a phone call, the rest are to-dos.
            "hs_task_type": "CALL" if task.kind is TaskKind.INITIAL_RESPONSE else "TODO",
        }
        owner = self._owner_id(item, task)
        if owner:
            props["hubspot_owner_id"] = owner
        if self.config.reminders:
            remind = task.remind_at
            due_soon = remind is not None and remind > self.clock()
            props["hs_task_reminders"] = hubspot_millis(remind) if remind and due_soon else ""
        return props
