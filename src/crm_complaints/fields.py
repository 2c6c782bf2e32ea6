"""Who owns each remote field: our source data, the CRM's staff, or us only at creation.

Staff work in the CRM: they close tickets, reassign them, move due dates. A sync that rewrote
every field on every change would undo their work, so an update sends only the fields whose
value *we* would send has changed since we last sent it (per-field hashes in the state store,
:func:`value_hash`), and each remote field has an owner (``[sync.fields]``):

``source``
    We win: a changed value is sent, and ``reconcile --repair`` puts back a staff edit.
``create``
    Set when the remote object is created; after that only a change in *our* data moves it (a
    status or routing change in the source still moves stage and owner), and repair leaves a
    staff edit alone. Reconcile reports the difference as "changed in the CRM".
``crm``
    Written when the object is created, never after; staff own it.

Field names are the adapter-neutral names reconcile and ``pull`` use (``stage``, ``owner``,
``task_due``…); an adapter maps its own property names onto them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from enum import StrEnum

__all__ = [
    "DEFAULT_OWNERS",
    "MULTI_VALUED",
    "TASK_FIELDS",
    "TICKET_FIELDS",
    "FieldOwner",
    "FieldOwners",
    "SentFields",
    "same_value",
    "value_hash",
]


class FieldOwner(StrEnum):
    SOURCE = "source"
    CREATE = "create"
    CRM = "crm"


TICKET_FIELDS: tuple[str, ...] = (
    "subject",
    "stage",
    "priority",
    "owner",
    "category",
    "severity",
    "departments",
    "coordinator",
    "channel",
    "clinic",
    "received_at",
    "risk_flags",
    "demand_kind",
    "demand_amount",
    "demand_currency",
    "description",
)
TASK_FIELDS: tuple[str, ...] = (
    "task_due",
    "task_owner",
    "task_status",
    "task_subject",
    "task_body",
    "task_priority",
    "task_type",
    "task_reminder",
)

DEFAULT_OWNERS: Mapping[str, FieldOwner] = {
    # Staff move tickets through the pipeline, reassign work and tick tasks off in the CRM;
    # a change in our data still moves these (that field changed on our side).
    "stage": FieldOwner.CREATE,
    "owner": FieldOwner.CREATE,
    "task_owner": FieldOwner.CREATE,
    "task_status": FieldOwner.CREATE,
}

MULTI_VALUED: frozenset[str] = frozenset({"departments", "risk_flags"})
"""Fields holding a set of codes, ``;`` between them (a HubSpot multiple-checkbox property's
form, also how :meth:`~crm_complaints.adapters.base.Adapter.expected_fields` gives them): their
order carries nothing, and whether a CRM keeps ours is not documented."""


def same_value(field: str, ours: str | None, theirs: str | None) -> bool:
    """Whether the CRM holds our value of ``field``: the same text, or for a
    :data:`MULTI_VALUED` field the same codes in any order. ``None`` is empty."""
    if field in MULTI_VALUED:
        return _codes(ours) == _codes(theirs)
    return (ours or "") == (theirs or "")


def _codes(value: str | None) -> frozenset[str]:
    return frozenset(part.strip() for part in (value or "").split(";") if part.strip())


SentFields = Mapping[str, Mapping[str, str]]
"""What we last sent, per remote object (``ticket``, ``task:<kind>``, as in the refs) and field:
a short hash of the value, never the value (see :func:`value_hash`)."""


def value_hash(values: Iterable[str]) -> str:
    """A short, stable hash of one field's value(s): enough to tell "changed", and not the value,
    so the state store holds no copy of what we sent."""
    return hashlib.sha256("\x1f".join(values).encode("utf-8")).hexdigest()[:16]


class FieldOwners:
    """The owner of each field: the defaults above, overridden by config."""

    def __init__(self, overrides: Mapping[str, FieldOwner | str] | None = None) -> None:
        """``ValueError`` naming the field for an unknown field or owner (a typo would
        otherwise leave a field silently ours)."""
        self._owners: dict[str, FieldOwner] = dict(DEFAULT_OWNERS)
        known = (*TICKET_FIELDS, *TASK_FIELDS)
        for name, owner in (overrides or {}).items():
            if name not in known:
                raise ValueError(f"unknown field {name!r}; known: {sorted(known)}")
            try:
                self._owners[name] = FieldOwner(owner)
            except ValueError:
                choices = [o.value for o in FieldOwner]
                raise ValueError(f"field {name!r}: owner must be one of {choices}") from None

    def of(self, field: str) -> FieldOwner:
        """A field nobody configured is ours (``source``): the safe side for a value we own."""
        return self._owners.get(field, FieldOwner.SOURCE)

    def table(self) -> dict[str, str]:
        """Every known field and its owner (for ``--help`` texts and the README)."""
        return {name: self.of(name).value for name in (*TICKET_FIELDS, *TASK_FIELDS)}

    def fingerprint(self) -> dict[str, str]:
        """The owners that differ from the defaults (part of an adapter's fingerprint)."""
        return {
            name: owner.value
            for name, owner in sorted(self._owners.items())
            if DEFAULT_OWNERS.get(name, FieldOwner.SOURCE) is not owner
        }
