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
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from ..schema import Complaint

__all__ = ["RECURRENCE_KEYS", "recurrence"]

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


def recurrence(
    chosen: Sequence[tuple[Complaint, date, datetime]],
    date_from: date,
    date_to: date,
    *,
    window_days: int = 90,
) -> dict[str, Any]:
    """The recurrence section from (complaint, clinic-local day received, received in UTC)
    of every complaint chosen, the period's and earlier ones alike."""
    window = timedelta(days=window_days)
    salt = secrets.token_bytes(32)  # lives for this run only: the hashes mean nothing later
    ordered = sorted(chosen, key=lambda item: (item[2], item[0].id))  # received, in UTC
    last_seen: dict[tuple[str, str], datetime] = {}
    complaints: Counter[tuple[str, str]] = Counter()
    recurrences: Counter[tuple[str, str]] = Counter()
    clinics: dict[tuple[str, str], set[str]] = defaultdict(set)
    # Customers are only counted (never listed): a hash each, when they came last.
    keyed = hashlib.blake2b(key=salt, digest_size=16)
    customer_seen: dict[bytes, datetime] = {}
    repeat_customers: set[bytes] = set()
    repeat_complaints = 0
    for complaint, day, received in ordered:
        in_period = date_from <= day <= date_to
        for slot in _related_values(complaint):
            before = last_seen.get(slot)
            last_seen[slot] = received
            if not in_period:
                continue
            complaints[slot] += 1
            clinics[slot].add(complaint.clinic)
            if before is not None and received - before <= window:
                recurrences[slot] += 1
        customer = _customer_key(complaint)
        if customer is not None:
            hashed = keyed.copy()
            hashed.update(customer.encode())
            digest = hashed.digest()
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
        "by_key": {**{key: by_key[key] for key in _RELATED_KEYS}, "customer": repeat_complaints},
        "repeat_complainants": len(repeat_customers),
        "repeat_complaints": repeat_complaints,
    }
