"""The operations HubSpot's specs declare, and what the emulator answers before any handler.

Every request on a path the packaged specs know is held to what they declare, the way a real
gateway does, before it reaches a handler:

- a method the spec does not declare for the path: 405 with ``Allow``;
- a token without the scopes the operation's ``security`` names (any one alternative
  suffices): HubSpot's 403 ``MISSING_SCOPES`` (see :mod:`.scopes`);
- a body that is not UTF-8 JSON: HubSpot's 400 ``Invalid input JSON``;
- an operation the spec declares but the emulator does not emulate: a 400 ``NOT_EMULATED``
  that says so, never a 500. 400 because the specs declare only ``default`` for errors (any
  status keeps them) and every client classifies a 400 as rejected, not retryable (this
  project's HubSpot client: "other 4xx reject"), so nothing loops on it.

Which path template a request falls under follows HubSpot's (JAX-RS) routing: the template
with the most literal text wins and alone decides the methods, so ``GET …/tickets/merge`` is a
405 on the merge path, not a read of a ticket whose id is "merge".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .contract import SPEC_FILES
from .scopes import missing, missing_scopes_error
from .wire import HubSpotError, error_response

__all__ = ["Operations", "all_scopes"]

_WITH_BODY = ("POST", "PUT", "PATCH")


@dataclass(frozen=True)
class _Operation:
    method: str
    path: str
    security: tuple[frozenset[str], ...]
    """Alternatives: the token must hold every scope of at least one."""


class Operations:
    """The specs' operations, checked against a request; ``emulated`` is the emulator's own
    URL map, to tell a declared-but-not-emulated operation from one a handler answers."""

    def __init__(self, emulated: Map, scopes: Iterable[str] | None = None) -> None:
        self.emulated = emulated
        self.scopes = frozenset(scopes) if scopes is not None else None

    def check(self, request: Request, environ: dict[str, Any]) -> Response | None:
        path = _canonical(request.path)
        try:
            template = _template(path)
        except NotFound:
            return None  # not HubSpot's CRM API as specified: the handlers decide
        operation = _operations_of(template).get(request.method)
        if operation is None:
            allowed = ", ".join(sorted(_operations_of(template)))
            error = HubSpotError(
                405,
                f"Method {request.method} is not allowed on {path}",
                category="METHOD_NOT_ALLOWED",
                headers={"Allow": allowed},
            )
            return error_response(error)
        required = missing(operation.security, self.scopes)
        if required is not None:
            return error_response(missing_scopes_error(required))
        if request.method in _WITH_BODY and request.get_data():
            try:
                json.loads(request.get_data().decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                return error_response(
                    HubSpotError(
                        400, f"Invalid input JSON on line 1, column 1: {type(exc).__name__}"
                    )
                )
        try:
            self.emulated.bind("emulator").match(path, method=request.method)
        except (NotFound, MethodNotAllowed):
            return error_response(
                HubSpotError(
                    400,
                    f"{request.method} {operation.path} is part of HubSpot's API but this local "
                    "emulator does not emulate it",
                    category="NOT_EMULATED",
                )
            )
        return None


def all_scopes() -> frozenset[str]:
    """Every scope the packaged specs name."""
    return frozenset(
        scope
        for by_method in _catalogue()[1].values()
        for operation in by_method.values()
        for alternative in operation.security
        for scope in alternative
    )


def _canonical(path: str) -> str:
    return path.rstrip("/") if len(path) > 1 else path


def _template(path: str) -> str:
    """The spec's path template a request path falls under. As in HubSpot's (JAX-RS) routing,
    the template with the most literal text wins and alone decides which methods exist:
    ``/crm/v3/objects/contacts/merge`` is the merge path, whose only method is POST, never a
    contact whose id is "merge"."""
    template, _ = _catalogue()[0].bind("hubspot").match(path)
    return str(template)


def _operations_of(template: str) -> dict[str, _Operation]:
    return _catalogue()[1].get(template, {})


@cache
def _catalogue() -> tuple[Map, dict[str, dict[str, _Operation]]]:
    """A URL map of every path template in the packaged specs, and each one's operations."""
    folder = resources.files("crm_complaints.emulator") / "specs"
    operations: dict[str, dict[str, _Operation]] = {}
    for name in SPEC_FILES.values():
        spec = json.loads((folder / name).read_text(encoding="utf-8"))
        default = spec.get("security") or []
        for path, declared in spec["paths"].items():
            for method, operation in declared.items():
                if not isinstance(operation, dict) or method.startswith("x-"):
                    continue
                security = tuple(
                    frozenset(scope for scopes in alternative.values() for scope in scopes)
                    for alternative in (operation.get("security") or default)
                )
                found = _Operation(method.upper(), path, security)
                operations.setdefault(path, {})[found.method] = found
    url_map = Map(
        [Rule(path.replace("{", "<").replace("}", ">"), endpoint=path) for path in operations],
        strict_slashes=False,
    )
    return url_map, operations
