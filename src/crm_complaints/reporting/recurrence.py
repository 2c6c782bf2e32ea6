"""Recurrence: the same treatment, product, lot number, practitioner or customer again within
a window (the definition is in :mod:`.compute`'s docstring).

Customers are matched through a keyed hash whose random key lives only for the run; they are
counted, never listed or stored. Two complaints are the same customer when they carry the same
``external_id``; or when one of them has none and they share an e-mail (case aside) or a phone
number (its digits: write numbers in one form, with or without the country code); two
different ``external_id`` are two customers, whatever else they share (a family's e-mail).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ..schema import Complaint

__all__ = ["RECURRENCE_KEYS", "Recurrence"]

RECURRENCE_KEYS = ("treatment", "product", "lot_number", "practitioner", "customer")


def _customer_keys(complaint: Complaint) -> tuple[str | None, list[str]]:
    """The customer's ``external_id`` key, if any, and the keys of its e-mail and phone."""
    customer = complaint.customer
    if customer is None:
        return None, []
    others = []
    if customer.email and customer.email.strip():
        others.append(f"email:{customer.email.strip().casefold()}")
    digits = re.sub(r"\D", "", customer.phone) if customer.phone else ""
    if digits:
        others.append(f"phone:{digits}")
    return (f"id:{customer.external_id}" if customer.external_id else None), others


@dataclass(slots=True)
class _Seen:
    """The last complaint seen under one customer key: when, the ``external_id`` key it came
    with (``None``: none), and which customer it was counted as."""

    at: datetime
    owner: bytes | None
    person: int


_RELATED_KEYS = RECURRENCE_KEYS[:4]
_CustomerKeys = tuple[bytes | None, tuple[bytes, ...]]


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
    and clinic, the related values it names and its customer's keyed hashes."""

    def __init__(self, date_from: date, date_to: date, *, window_days: int = 90) -> None:
        self.date_from, self.date_to = date_from, date_to
        self.window = timedelta(days=window_days)
        # Customers are only counted (never listed): a hash each, keyed by a salt that lives
        # for this run only, so the hashes mean nothing later.
        self._keyed = hashlib.blake2b(key=secrets.token_bytes(32), digest_size=16)
        # (received in UTC, id, clinic, in the period, related values, customer hashes: the
        # external id's, and the e-mail's and phone's)
        self._seen: list[tuple[datetime, str, str, bool, list[tuple[str, str]], _CustomerKeys]]
        self._seen = []

    def add(self, complaint: Complaint, day: date, received: datetime) -> None:
        """One complaint (``day``: clinic-local day received; ``received``: in UTC)."""
        related = _related_values(complaint)
        own_id, others = _customer_keys(complaint)
        if not related and own_id is None and not others:
            return
        customer = (
            None if own_id is None else self._digest(own_id),
            tuple(self._digest(key) for key in others),
        )
        in_period = self.date_from <= day <= self.date_to
        self._seen.append((received, complaint.id, complaint.clinic, in_period, related, customer))

    def _digest(self, key: str) -> bytes:
        hashed = self._keyed.copy()
        hashed.update(key.encode())
        return hashed.digest()

    def result(self) -> dict[str, Any]:
        window = self.window
        last_seen: dict[tuple[str, str], datetime] = {}
        complaints: Counter[tuple[str, str]] = Counter()
        recurrences: Counter[tuple[str, str]] = Counter()
        clinics: dict[tuple[str, str], set[str]] = defaultdict(set)
        customers = _Customers()
        repeat_customers: set[int] = set()
        repeat_complaints = 0
        self._seen.sort(key=lambda item: (item[0], item[1]))  # received, in UTC; then id
        for received, _, clinic, in_period, related, customer in self._seen:
            for slot in related:
                before = last_seen.get(slot)
                last_seen[slot] = received
                if not in_period:
                    continue
                complaints[slot] += 1
                clinics[slot].add(clinic)
                if before is not None and received - before <= window:
                    recurrences[slot] += 1
            own_id, others = customer
            if own_id is not None or others:
                person, before = customers.seen(own_id, others, received)
                if in_period and before is not None and received - before <= window:
                    repeat_customers.add(person)
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


class _Customers:
    """Customer keys in time order: who each complaint's customer is, and when that customer
    was last seen (the rule is in the module docstring)."""

    def __init__(self) -> None:
        self._keys: dict[bytes, _Seen] = {}
        self._people = 0

    def seen(
        self, own_id: bytes | None, others: tuple[bytes, ...], at: datetime
    ) -> tuple[int, datetime | None]:
        """Record one complaint's customer; returns (customer, when last seen before)."""
        matches = [] if own_id is None or own_id not in self._keys else [self._keys[own_id]]
        for key in others:
            found = self._keys.get(key)
            if found is not None and (own_id is None or found.owner in (None, own_id)):
                matches.append(found)
        if matches:
            person = matches[0].person
            before: datetime | None = max(m.at for m in matches)
        else:
            self._people += 1
            person, before = self._people, None
        for key in (own_id, *others) if own_id is not None else others:
            self._keys[key] = _Seen(at, own_id, person)
        return person, before
