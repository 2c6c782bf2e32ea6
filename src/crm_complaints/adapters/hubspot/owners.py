"""Which HubSpot owner a ticket or task goes to, and saying so when it is not the configured one.

The plan carries the clinic's candidates (owner keys: e-mails) for the task's department and for
management (see :mod:`crm_complaints.routing`). The chain, first usable owner wins:

1. the clinic's candidates for the department (assignee, owner, deputy),
2. ``adapters.hubspot.owners.<department>`` (the adapter-wide mapping),
3. the clinic's management candidates,
4. ``adapters.hubspot.owners.management``.

An owner HubSpot lists only with ``archived=true`` is a deactivated user: the owners API keeps
its id but moves ``userId`` to ``userIdIncludingInactive``
(https://developers.hubspot.com/docs/guides/api/crm/owners; a known pain in integrations, e.g.
https://github.com/HubSpot/hubspot-api-python/issues/314). Assigning work to it would leave the
work with nobody, so it is never used. When the first configured candidate is deactivated or
unknown, the work goes down the chain and :class:`FallbackLog` records it: one warning per
configured owner (config keys and roles, never an e-mail) and a count; reconciliation reports
each complaint (:meth:`HubSpotAdapter.owner_fallbacks`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from ...routing import OwnerRef, OwnerRole
from ...schema import Department
from ..base import OwnerFallback

__all__ = ["FallbackLog", "OwnerChoice", "OwnerDirectory", "choose_owner"]

log = logging.getLogger(__name__)

DEACTIVATED = "deactivated"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class OwnerDirectory:
    """The portal's owners by e-mail (lower case): active ones by id, deactivated ones known."""

    active: Mapping[str, str] = field(default_factory=dict)
    deactivated: frozenset[str] = frozenset()

    def find(self, key: str) -> str | None:
        return self.active.get(key.strip().lower())

    def why_not(self, key: str) -> str:
        """Why a key has no active owner: deactivated, or unknown to the portal."""
        return DEACTIVATED if key.strip().lower() in self.deactivated else UNKNOWN


class _Link(NamedTuple):
    label: str  # a config key and role: never the key itself (an e-mail)
    owner_id: str | None
    reason: str | None  # why it is unusable; None when usable or not configured
    key: str = ""  # what the config names (an e-mail or staff key), for the wanted owner only


class OwnerChoice(NamedTuple):
    owner_id: str | None
    fallback: OwnerFallback | None
    wanted: str = ""
    """Whom the routing wants (config key and what it names), the same whether that owner is
    active or deactivated: what counts as "our owner changed" (see :mod:`.fields`), so an
    owner leaving is not a change in our data."""


def choose_owner(
    *,
    directory: OwnerDirectory,
    adapter_owners: Mapping[Department, str],
    adapter_configured: Mapping[Department, str],
    complaint_id: str,
    clinic: str,
    task: str,
    department: Department,
    owners: Sequence[OwnerRef],
    management_owners: Sequence[OwnerRef],
) -> OwnerChoice:
    """The owner id for one ticket or task (``None``: nobody configured anywhere), and the
    fallback when the first configured candidate could not be used."""
    chain: list[_Link] = []
    chain += _clinic_links(directory, clinic, department, owners)
    chain += _adapter_link(adapter_owners, adapter_configured, department)
    chain += _clinic_links(directory, clinic, Department.MANAGEMENT, management_owners)
    chain += _adapter_link(adapter_owners, adapter_configured, Department.MANAGEMENT)
    if not chain:
        return OwnerChoice(None, None)
    used = next((link for link in chain if link.owner_id), None)
    wanted = chain[0]
    identity = f"{wanted.label}={wanted.key}"
    if wanted.owner_id:
        return OwnerChoice(wanted.owner_id, None, identity)
    fallback = OwnerFallback(
        complaint_id=complaint_id,
        task=task,
        department=department.value,
        wanted=wanted.label,
        reason=wanted.reason or UNKNOWN,
        used=used.label if used else "nobody",
    )
    return OwnerChoice(used.owner_id if used else None, fallback, identity)


def _clinic_links(
    directory: OwnerDirectory, clinic: str, department: Department, refs: Sequence[OwnerRef]
) -> list[_Link]:
    links = []
    for ref in refs:
        if ref.role is OwnerRole.ASSIGNEE:
            label = "the complaint's assignee"
        else:
            label = f"clinics.{clinic}.owners.{department.value} ({ref.role.value})"
        found = directory.find(ref.key)
        reason = None if found else directory.why_not(ref.key)
        links.append(_Link(label, found, reason, ref.key))
    return links


def _adapter_link(
    adapter_owners: Mapping[Department, str],
    configured: Mapping[Department, str],
    department: Department,
) -> list[_Link]:
    if department not in configured:
        return []
    found = adapter_owners.get(department)
    # Discovery refuses an adapter-wide e-mail the portal does not know at all: unresolved
    # means deactivated.
    label = f"adapters.hubspot.owners.{department.value}"
    return [_Link(label, found, None if found else DEACTIVATED, configured[department])]


class FallbackLog:
    """Tickets and tasks that went to a fallback owner in this adapter's life: a warning the
    first time each configured owner is passed over, and a count. Thread-safe (tasks are
    written concurrently); recording the same task twice counts once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], OwnerFallback] = {}
        self._warned: set[tuple[str, str, str]] = set()

    def record(self, fallback: OwnerFallback) -> None:
        warn_key = (fallback.wanted, fallback.reason, fallback.used)
        with self._lock:
            self._seen[(fallback.complaint_id, fallback.task)] = fallback
            first = warn_key not in self._warned
            self._warned.add(warn_key)
        if first:
            log.warning(
                "HubSpot owner of %s is %s: its work goes to %s (reported by reconcile)",
                fallback.wanted,
                fallback.reason,
                fallback.used,
            )

    @property
    def count(self) -> int:
        """Tickets and tasks that went to a fallback owner."""
        with self._lock:
            return len(self._seen)

    def complaints(self) -> set[str]:
        with self._lock:
            return {cid for cid, _ in self._seen}
