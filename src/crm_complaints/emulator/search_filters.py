"""HubSpot's search filter operators (EQ, NEQ, IN, HAS_PROPERTY, LT/LTE/GT/GTE…) on one object.

A search body's ``filterGroups`` are OR-ed and each group's ``filters`` AND-ed; this module
answers whether one stored object passes one group.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .portal import StoredObject

__all__ = ["matches"]


def matches(obj: StoredObject, filters: list[dict[str, Any]]) -> bool:
    for condition in filters:
        value = obj.properties.get(condition.get("propertyName", ""))
        operator = condition.get("operator", "EQ")
        if operator == "EQ" and value != condition.get("value"):
            return False
        if operator == "NEQ" and value == condition.get("value"):
            return False
        if operator == "IN" and value not in (condition.get("values") or []):
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
