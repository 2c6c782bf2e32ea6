"""The field allowlist: which complaint fields may leave the clinic for a CRM.

Patients' names, phones, e-mails and free-text descriptions stay home unless a clinic opts in.
Allowlist entries are dotted paths (``customer.external_id``); a parent (``related``) allows all
of its children.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import ConfigError
from .schema import Complaint

__all__ = ["allowed_view", "check_allowlist"]


def _known_paths() -> set[str]:
    paths: set[str] = set()
    for name, info in Complaint.model_fields.items():
        paths.add(name)
        annotation = info.annotation
        for candidate in getattr(annotation, "__args__", (annotation,)):
            sub = getattr(candidate, "model_fields", None)
            if sub:
                paths.update(f"{name}.{child}" for child in sub)
    return paths


_KNOWN = _known_paths()


def check_allowlist(fields: Iterable[str], key: str = "allowed_fields") -> tuple[str, ...]:
    """Validate an allowlist against the schema; a typo must not silently send nothing."""
    result = tuple(fields)
    unknown = sorted(set(result) - _KNOWN)
    if unknown:
        raise ConfigError(f"unknown complaint field(s) {unknown}", key=key)
    return result


def allowed_view(complaint: Complaint, fields: Iterable[str]) -> dict[str, Any]:
    """The JSON form of a complaint with only the allowed fields (and always its id)."""
    full = complaint.model_dump(mode="json", exclude_none=True)
    view: dict[str, Any] = {"id": complaint.id}
    for path in fields:
        head, _, child = path.partition(".")
        if head not in full:
            continue
        if not child:
            view[head] = full[head]
            continue
        parent = full[head]
        if isinstance(parent, dict) and child in parent:
            existing = view.get(head)
            target = existing if isinstance(existing, dict) else {}
            target[child] = parent[child]
            view[head] = target
    return view
