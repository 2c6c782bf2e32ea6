"""Where HubSpot's real answers differ from its published specs: the emulator follows HubSpot.

Each entry names the operation, what differs and where that is documented. The contract
validator (:mod:`.contract`) tolerates exactly these differences, by bringing a copy of the
request or answer to the spec's shape before validating it, and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ERRATA", "Erratum", "tolerated"]

Json = Any


@dataclass(frozen=True)
class Erratum:
    side: str  # "request" or "response"
    method: str
    path: str  # a regular expression over the request path
    what: str
    source: str
    fix: Callable[[Json], Json]
    """Turns HubSpot's real shape into the spec's, on a copy, for validation only."""


def _drop_null_labels(body: Json) -> Json:
    for result in body.get("results", []) if isinstance(body, dict) else []:
        targets = result.get("to", [result]) if isinstance(result, dict) else []
        for target in targets:  # batch read: results[].to[]; one object's list: results[]
            for kind in target.get("associationTypes", []) if isinstance(target, dict) else []:
                if isinstance(kind, dict) and kind.get("label", "") is None:
                    del kind["label"]
    return body


def _search_defaults(body: Json) -> Json:
    if isinstance(body, dict):
        body.setdefault("after", "0")
        body.setdefault("sorts", [])
        body.setdefault("properties", [])
        body.setdefault("filterGroups", [])
        body.setdefault("limit", 10)
    return body


ERRATA: tuple[Erratum, ...] = (
    Erratum(
        "response",
        "POST",
        r"/crm/v4/associations/[^/]+/[^/]+/batch/read",
        'an unlabeled association carries "label": null; the spec allows only a string',
        "https://developers.hubspot.com/docs/api/crm/associations (example answers show "
        '"label": null); https://github.com/HubSpot/hubspot-api-nodejs/issues/371',
        _drop_null_labels,
    ),
    Erratum(
        "response",
        "GET",
        r"/crm/v4/objects/[^/]+/[^/]+/associations/[^/]+",
        'an unlabeled association carries "label": null; the spec allows only a string',
        "https://developers.hubspot.com/docs/api/crm/associations",
        _drop_null_labels,
    ),
    Erratum(
        "request",
        "POST",
        r"/crm/v3/objects/[^/]+/search",
        "after, sorts, properties, filterGroups and limit are optional (the spec marks them "
        "required)",
        "https://developers.hubspot.com/docs/api/crm/search (requests without after or sorts)",
        _search_defaults,
    ),
)


def tolerated(side: str, method: str, path: str) -> list[Erratum]:
    """The errata that apply to one request or answer."""
    return [
        e
        for e in ERRATA
        if e.side == side and e.method == method and re.fullmatch(e.path, path.rstrip("/"))
    ]
