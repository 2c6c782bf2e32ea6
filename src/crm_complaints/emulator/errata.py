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
    for target in _targets(body):
        for kind in target.get("associationTypes", []):
            if isinstance(kind, dict) and kind.get("label", "") is None:
                del kind["label"]
    return body


def _targets(body: Json) -> list[dict[str, Any]]:
    """The linked objects of a v4 answer: ``results[].to[]`` (batch) or ``results[]`` (one)."""
    found: list[dict[str, Any]] = []
    for result in body.get("results", []) if isinstance(body, dict) else []:
        for target in result.get("to", []) if isinstance(result, dict) else []:
            found.append(target)
        if isinstance(result, dict) and "toObjectId" in result:
            found.append(result)
    return [t for t in found if isinstance(t, dict)]


def _ids_as_strings(body: Json) -> Json:
    for target in _targets(body):
        if isinstance(target.get("toObjectId"), int):
            target["toObjectId"] = str(target["toObjectId"])
    return body


def _sub_category_as_object(body: Json) -> Json:
    for error in body.get("errors", []) if isinstance(body, dict) else []:
        if isinstance(error, dict) and isinstance(error.get("subCategory"), str):
            del error["subCategory"]
    return body


def _batch_read_defaults(body: Json) -> Json:
    if isinstance(body, dict):
        body.setdefault("properties", [])
        body.setdefault("propertiesWithHistory", [])
    return body


def _search_defaults(body: Json) -> Json:
    if isinstance(body, dict):
        body.setdefault("after", "0")
        body.setdefault("sorts", [])
        body.setdefault("properties", [])
        body.setdefault("filterGroups", [])
        body.setdefault("limit", 10)
    return body


_BATCH_READ = r"/crm/v4/associations/[^/]+/[^/]+/batch/read"
_ONE_LIST = r"/crm/v4/objects/[^/]+/[^/]+/associations/[^/]+"
_NULL_LABEL = 'an unlabeled association carries "label": null; the spec allows only a string'
_NUMBER_ID = "toObjectId is a JSON number (HubSpot's v4 ids are numbers); the spec says string"
_V4_DOCS = "https://developers.hubspot.com/docs/api/crm/associations"

ERRATA: tuple[Erratum, ...] = (
    Erratum(
        "response",
        "POST",
        _BATCH_READ,
        _NULL_LABEL,
        f'{_V4_DOCS} (example answers show "label": null); '
        "https://github.com/HubSpot/hubspot-api-nodejs/issues/371",
        _drop_null_labels,
    ),
    Erratum("response", "GET", _ONE_LIST, _NULL_LABEL, _V4_DOCS, _drop_null_labels),
    Erratum(
        "response",
        "POST",
        _BATCH_READ,
        _NUMBER_ID,
        f'{_V4_DOCS} (example answers: "toObjectId": 12345); '
        "https://github.com/HubSpot/hubspot-api-php/issues/261",
        _ids_as_strings,
    ),
    Erratum(
        "response",
        "GET",
        _ONE_LIST,
        _NUMBER_ID,
        f"{_V4_DOCS}; https://github.com/HubSpot/hubspot-api-php/issues/261",
        _ids_as_strings,
    ),
    Erratum(
        "response",
        "POST",
        _BATCH_READ,
        "errors[].subCategory is a string (crm.associations.NO_ASSOCIATIONS_FOUND); the spec's "
        "StandardError declares an object",
        "https://github.com/HubSpot/hubspot-api-nodejs/issues/656 (a 207 with errors[]); "
        "clients' fixtures of the answer, e.g. subCategory "
        '"crm.associations.NO_ASSOCIATIONS_FOUND"',
        _sub_category_as_object,
    ),
    Erratum(
        "request",
        "POST",
        r"/crm/v3/objects/[^/]+/batch/read",
        "properties and propertiesWithHistory are optional (the spec marks them required): "
        "without them HubSpot answers the objects with their default properties",
        'https://developers.hubspot.com/docs/api/crm/contacts ("Retrieve contacts by record ID '
        'or custom property": the batch read examples send no propertiesWithHistory)',
        _batch_read_defaults,
    ),
    Erratum(
        "request",
        "POST",
        r"/crm/v3/objects/[^/]+/search",
        "after, sorts, properties, filterGroups and limit are optional (the spec marks them "
        "required); HubSpot documents {} as a basic search",
        'https://developers.hubspot.com/docs/api/crm/search ("include only an empty object '
        'in the request body")',
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
