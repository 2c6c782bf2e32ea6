"""Which HubSpot properties make up each adapter-neutral field, and which of them an update sends.

An update sends a field only when the value we would send changed since we last sent it (see
:mod:`crm_complaints.fields`), so a staff edit to a field we did not change survives; a ``crm``
field is never sent after the object was created; reconciliation's repair also sends the
``source`` fields unchanged on our side, putting back what someone changed in HubSpot. A new
object gets every property. A property not listed here is its own field, owned by us.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...fields import FieldOwner, FieldOwners, value_hash
from ...policy import PlannedComplaint

__all__ = ["ALWAYS_SENT", "TASK_FIELD_OF", "TICKET_FIELD_OF", "Selection", "select"]

TICKET_FIELD_OF: dict[str, str] = {
    "subject": "subject",
    "content": "description",
    "hs_pipeline": "stage",
    "hs_pipeline_stage": "stage",
    "hs_ticket_priority": "priority",
    "hubspot_owner_id": "owner",
    "hs_ticket_category": "category",
    "crm_category": "category",
    "crm_severity": "severity",
    "crm_departments": "departments",
    "crm_coordinator": "coordinator",
    "crm_channel": "channel",
    "crm_clinic": "clinic",
    "crm_received_at": "received_at",
    "crm_risk_flags": "risk_flags",
    "crm_demand_kind": "demand_kind",
    "crm_demand_amount": "demand_amount",
    "crm_demand_currency": "demand_currency",
}
TASK_FIELD_OF: dict[str, str] = {
    "hs_timestamp": "task_due",
    "hs_task_reminders": "task_reminder",
    "hubspot_owner_id": "task_owner",
    "hs_task_status": "task_status",
    "hs_task_subject": "task_subject",
    "hs_task_body": "task_body",
    "hs_task_priority": "task_priority",
    "hs_task_type": "task_type",
}
OWNER_FIELDS = frozenset({"owner", "task_owner"})
CLEARED_WHEN_GONE = frozenset({"description"})
"""Fields whose absence means the source removed the value (free text that may name a patient:
it must not stay in the CRM). Others are left out by settings (reminders switched off, no
owner configured), which leave the CRM's value alone."""
ALWAYS_SENT = frozenset({"crm_complaint_id", "crm_version", "crm_task_key"})
"""Our keys and the version marker: on every write (reconciliation reads the version back)."""


@dataclass(frozen=True)
class Selection:
    """What to send of one object's properties, and the field hashes it will then hold."""

    properties: dict[str, str]
    sent: dict[str, str]


def select(
    item: PlannedComplaint,
    key: str,
    properties: Mapping[str, str],
    field_of: Mapping[str, str],
    owners: FieldOwners,
    *,
    new: bool,
    hashed: Mapping[str, str] | None = None,
) -> Selection:
    """The properties of object ``key`` (``ticket``, ``task:<kind>``) to send for ``item``.

    ``new``: the object is being created (everything goes). Otherwise a field goes when its
    hash differs from the one stored for it, or on repair when ours (``source``); a field whose
    last value we do not know (synced by an older release) goes too. ``hashed`` replaces a
    property's value in the hash where what is sent moves without our data changing (a
    reminder already past is left out; an owner deactivated gives way to a fallback), so that
    neither counts as a change on our side. ``item.reassign`` sends owners anyway."""
    hashed = hashed or {}
    grouped: dict[str, list[str]] = {}
    chosen: dict[str, str] = {}
    for name, value in properties.items():
        if name in ALWAYS_SENT:
            chosen[name] = value
        else:
            grouped.setdefault(field_of.get(name, name), []).append(name)
    before = item.sent.get(key) if item.sent is not None else None
    sent: dict[str, str] = {}
    for field, names in grouped.items():
        if len(names) == 1:  # most fields are one property: no sorting, no joining
            digest = value_hash((f"{names[0]}={hashed.get(names[0], properties[names[0]])}",))
        else:
            digest = value_hash(f"{n}={hashed.get(n, properties[n])}" for n in sorted(names))
        owner = owners.of(field)
        last = before.get(field) if before is not None else None
        if new:
            go = True  # a crm field too: it is set once, when the object is made
        elif owner is FieldOwner.CRM:
            go = False
        elif before is None:
            go = True  # sent by an older release that kept no hashes: send once to know
        else:
            go = last != digest or (item.repair and owner is FieldOwner.SOURCE)
            go = go or (field in OWNER_FIELDS and key in item.reassign)
        if go:
            for name in names:
                chosen[name] = properties[name]
            sent[field] = digest
        else:
            sent[field] = last if last is not None else digest
    for field in (set(before or {}) - set(grouped)) & CLEARED_WHEN_GONE:
        # Sent before, nothing to send now (a description removed at the source, or no longer
        # allowed out): cleared, unless staff own it; forgotten, so it goes if it returns.
        if not new and owners.of(field) is not FieldOwner.CRM:
            names = [n for n, f in field_of.items() if f == field] or [field]
            chosen.update({name: "" for name in names})
    return Selection(chosen, sent)
