"""What we write on a HubSpot ticket and its tasks, for one planned complaint.

Only fields in the allowlist leave the machine: the subject falls back to the category's label
when the summary is not allowed, and the description goes to ``content`` only when allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ...labels import label
from ...policy import PlannedComplaint, PlannedTask, TaskKind
from ...privacy import allowed_view
from .config import HubSpotConfig, task_key
from .portal import Portal

__all__ = ["Properties", "hubspot_time"]


def hubspot_time(moment: datetime) -> str:
    """HubSpot's datetime form: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Properties:
    """Builds ticket and task properties from a plan and the portal's ids."""

    portal: Portal
    config: HubSpotConfig
    allowed_fields: Sequence[str]

    def ticket(self, item: PlannedComplaint) -> dict[str, str]:
        portal = self.portal
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
            "crm_received_at": hubspot_time(complaint.received_at),
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

    def task(self, item: PlannedComplaint, task: PlannedTask) -> dict[str, str]:
        complaint, plan = item.complaint, item.plan
        props = {
            "crm_task_key": task_key(complaint.id, task.kind),
            "hs_timestamp": hubspot_time(task.due_at),
            "hs_task_subject": f"[{complaint.id}] {task.title}"[:250],
            "hs_task_body": (
                f"{label(complaint.category, plan.language)} · {plan.severity.value} · "
                f"{label(task.department, plan.language)}"
            ),
            "hs_task_status": "COMPLETED" if task.completed else "NOT_STARTED",
            "hs_task_priority": self.config.task_priorities[plan.severity],
            # hs_task_type: the first response is a phone call, the rest are to-dos.
            "hs_task_type": "CALL" if task.kind is TaskKind.INITIAL_RESPONSE else "TODO",
        }
        owner = self.portal.owner_ids.get(task.department)
        if owner:
            props["hubspot_owner_id"] = owner
        return props
