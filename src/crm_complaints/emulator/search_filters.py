"""HubSpot's search filter operators (EQ, NEQ, IN, NOT_IN, CONTAINS_TOKEN, HAS_PROPERTY,
LT/LTE/GT/GTE…) on one object.

A search body's ``filterGroups`` are OR-ed and each group's ``filters`` AND-ed; this module
answers whether one stored object passes one group. The operators are those HubSpot lists for
search (https://developers.hubspot.com/docs/api/crm/search, "Filter search results"): ``IN`` /
``NOT_IN`` take a ``values`` array ("Included within the specified list"; for a string
property they must be given in lowercase), ``CONTAINS_TOKEN`` / ``NOT_CONTAINS_TOKEN`` a
``value`` that is one token of the property's value, ``*`` as a wildcard.

A multiple checkboxes property holds its options joined by ``;``
(https://developers.hubspot.com/docs/faq/how-do-i-set-multiple-values-for-checkbox-properties);
its tokens are those options. ``CONTAINS_TOKEN`` matches an object that has the option ticked,
among others, and ``IN`` one that has any of the given options ticked: what a HubSpot view's
"is any of" filter shows. HubSpot's pages do not spell out these two cases; this is the
emulator's reading, the only one under which a report on one risk flag can work, and EQ / NEQ
stay a comparison of the whole value (so a client that relied on EQ matching one option of
several would fail here rather than only in HubSpot).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from .portal import StoredObject

__all__ = ["matches"]

_WORD = re.compile(r"[\w@.*-]+")


def matches(
    obj: StoredObject,
    filters: list[dict[str, Any]],
    specs: Mapping[str, Mapping[str, Any]] | None = None,
) -> bool:
    """Whether ``obj`` passes every filter; ``specs`` (the object type's properties by name)
    tell a multiple checkboxes property from a text one."""
    for condition in filters:
        name = condition.get("propertyName", "")
        value = obj.properties.get(name)
        spec = (specs or {}).get(name) or {}
        operator = condition.get("operator", "EQ")
        if operator == "EQ" and value != condition.get("value"):
            return False
        if operator == "NEQ" and value == condition.get("value"):
            return False
        if operator in ("IN", "NOT_IN"):
            found = _in(value, [str(v) for v in condition.get("values") or []], spec)
            if found != (operator == "IN"):
                return False
        if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            found = _has_token(value, str(condition.get("value", "")), spec)
            if found != (operator == "CONTAINS_TOKEN"):
                return False
        if operator == "HAS_PROPERTY" and not value:
            return False
        if operator in ("LT", "LTE", "GT", "GTE"):
            if not value:
                return False
            left, right = _comparable(value), _comparable(str(condition.get("value", "")))
            if left is None or right is None:
                return False
            if not {
                "LT": left < right,
                "LTE": left <= right,
                "GT": left > right,
                "GTE": left >= right,
            }[operator]:
                return False
        if operator == "NOT_HAS_PROPERTY" and value:
            return False
    return True


def _checkbox(spec: Mapping[str, Any]) -> bool:
    return spec.get("type") == "enumeration" and spec.get("fieldType") == "checkbox"


def _in(value: str | None, wanted: list[str], spec: Mapping[str, Any]) -> bool:
    """``IN``: the value is one of ``wanted``; a checkbox value has any of them ticked."""
    if not value:
        return False
    if _checkbox(spec):
        return bool(set(value.split(";")) & set(wanted))
    if spec.get("type", "string") == "string":
        # "When searching a string property with this operator, values must be lowercase":
        # the stored value is compared lowercased, the given ones as given.
        return value.lower() in wanted
    return value in wanted


def _has_token(value: str | None, token: str, spec: Mapping[str, Any]) -> bool:
    """``CONTAINS_TOKEN``: one of the value's tokens (a checkbox value's options; a text's
    words, case-insensitive) matches ``token``, where ``*`` stands for any characters."""
    if not value or not token:
        return False
    if _checkbox(spec):
        return any(fnmatchcase(option, token) for option in value.split(";"))
    pattern = token.lower()
    return any(fnmatchcase(word, pattern) for word in _WORD.findall(value.lower()))


def _comparable(text: str) -> float | None:
    """Numbers, epoch milliseconds and ISO datetimes compare as numbers (as HubSpot does)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        return None
