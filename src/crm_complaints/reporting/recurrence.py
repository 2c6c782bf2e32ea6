"""Recurrence: the same treatment, product, lot number, practitioner or customer again within
a window (the definition is in :mod:`.compute`'s docstring).

Customers are matched by ``external_id``, else e-mail, else phone digits, through a keyed hash
whose random key lives only for the run; they are counted, never listed or stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from ..schema import Complaint

__all__ = ["RECURRENCE_KEYS", "Recurrence"]

RECURRENCE_KEYS = ("treatment", "product", "lot_number", "practitioner", "customer")


def _customer_key(complaint: Complaint) -> str | None:
    customer = complaint.customer
    if customer is None:
        return None
    if customer.external_id:
        return f"id:{customer.external_id}"
    if customer.email:
        return f"email:{customer.email.strip().casefold()}"
    if customer.phone:
        digits = re.sub(r"\D", "", customer.phone)
        return f"phone:{digits}" if digits else None
    return None


_RELATED_KEYS = RECURRENCE_KEYS[:4]


def _related_values(complaint: Complaint) -> list[tuple[str, str]]:
    """(key, value) of each treatment, product, lot number and practitioner named."""
    related = complaint.related
    if related is None:
        return []
    found = []
    for key in _RELATED_KEYS:
        value = getattr(related, key)
        if isinstance(value, str) and value.strip():
            found.append((key, value.strip()))
    return found


class Recurrence:
    """The recurrence section, fed one complaint at a time in any order (``add``), told at the
    end (``result``). Each complaint leaves only what the section needs: when it came, its id
    and clinic, the related values it names and its customer's keyed hash."""

    def __init__(self, date_from: date, date_to: date, *, window_days: int = 90) -> None:
        self.date_from, self.date_to = date_from, date_to
        self.window = timedelta(days=window_days)
        # Customers are only counted (never listed): a hash each, keyed by a salt that lives
        # for this run only, so the hashes mean nothing later.
        self._keyed = hashlib.blake2b(key=secrets.token_bytes(32), digest_size=16)
        # (received in UTC, id, clinic, in the period, related values, customer hash)
        self._seen: list[tuple[datetime, str, str, bool, list[tuple[str, str]], bytes | None]]
        self._seen = []

    def add(self, complaint: Complaint, day: date, received: datetime) -> None:
        """One complaint (``day``: clinic-local day received; ``received``: in UTC)."""
        related = _related_values(complaint)
        customer = _customer_key(complaint)
        if not related and customer is None:
            return
        digest = None
        if customer is not None:
            hashed = self._keyed.copy()
            hashed.update(customer.encode())
            digest = hashed.digest()
        in_period = self.date_from <= day <= self.date_to
        self._seen.append((received, complaint.id, complaint.clinic, in_period, related, digest))

    def result(self) -> dict[str, Any]:
        window = self.window
        last_seen: dict[tuple[str, str], datetime] = {}
        complaints: Counter[tuple[str, str]] = Counter()
        recurrences: Counter[tuple[str, str]] = Counter()
        clinics: dict[tuple[str, str], set[str]] = defaultdict(set)
        customer_seen: dict[bytes, datetime] = {}
        repeat_customers: set[bytes] = set()
        repeat_complaints = 0
        self._seen.sort(key=lambda item: (item[0], item[1]))  # received, in UTC; then id
        for received, _, clinic, in_period, related, digest in self._seen:
            for slot in related:
                before = last_seen.get(slot)
                last_seen[slot] = received
                if not in_period:
                    continue
                complaints[slot] += 1
                clinics[slot].add(clinic)
                if before is not None and received - before <= window:
                    recurrences[slot] += 1
            if digest is not None:
                before = customer_seen.get(digest)
                customer_seen[digest] = received
                if in_period and before is not None and received - before <= window:
                    repeat_customers.add(digest)
                    repeat_complaints += 1
        listed = sorted(recurrences, key=lambda s: (-recurrences[s], -complaints[s], s[0], s[1]))
        by_key: Counter[str] = Counter()
        for (key, _), n in recurrences.items():
            by_key[key] += n
        return {
            "items": [
                {
                    "rank": rank,
                    "key": key,
                    "value": value,
                    "complaints": complaints[(key, value)],
                    "recurrences": recurrences[(key, value)],
                    "clinics": len(clinics[(key, value)]),
                }
                for rank, (key, value) in enumerate(listed, start=1)
            ],
            "by_key": {
                **{key: by_key[key] for key in _RELATED_KEYS},
                "customer": repeat_complaints,
            },
            "repeat_complainants": len(repeat_customers),
            "repeat_complaints": repeat_complaints,
        }
