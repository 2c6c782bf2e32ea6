"""The operations HubSpot's specs declare, and what the emulator answers before any handler.

Every request on a path the packaged specs know is held to what they declare, the way a real
gateway does, before it reaches a handler:

- a method the spec does not declare for the path: 405 with ``Allow``;
- a token without the scopes the operation's ``security`` names (any one alternative
  suffices): HubSpot's 403 ``MISSING_SCOPES``;
- a body that is not UTF-8 JSON: HubSpot's 400 ``Invalid input JSON``;
- an operation the spec declares but the emulator does not emulate: a 400 that says so (never a
  500; a 4xx because retrying cannot help, and the specs declare only ``default`` errors).
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
            operation = _operation(path, request.method)
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            error = HubSpotError(
                405,
                f"Method {request.method} is not allowed on {path}",
                category="METHOD_NOT_ALLOWED",
                headers={"Allow": allowed},
            )
            return error_response(error)
        except NotFound:
            return None  # not HubSpot's CRM API as specified: the handlers decide
        missing = self._missing_scopes(operation)
        if missing is not None:
            return error_response(_missing_scopes_error(missing))
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

    def _missing_scopes(self, operation: _Operation) -> list[str] | None:
        """None when the token may call it; else the scopes of the cheapest alternative."""
        if self.scopes is None or not operation.security:
            return None
        held = self.scopes
        if any(needed <= held for needed in operation.security):
            return None

        alternatives = sorted(operation.security, key=lambda needed: len(needed - held))
        return sorted(alternatives[0])


def all_scopes() -> frozenset[str]:
    """Every scope the packaged specs name."""
    return frozenset(
        scope
        for operation in _catalogue()[1]
        for alternative in operation.security
        for scope in alternative
    )


def _missing_scopes_error(required: list[str]) -> HubSpotError:
    """HubSpot's answer to a token without a needed scope (shape as HubSpot sends it, e.g.
    https://github.com/HubSpot/hubspot-api-nodejs/issues/397)."""
    return HubSpotError(
        403,
        "This app hasn't been granted all required scopes to make this call. Read more about "
        "required scopes here: https://developers.hubspot.com/scopes.",
        category="MISSING_SCOPES",
        extra={
            "errors": [
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": required},
                }
            ],
        },
    )


def _canonical(path: str) -> str:
    return path.rstrip("/") if len(path) > 1 else path


def _operation(path: str, method: str) -> _Operation:
    url_map, operations = _catalogue()
    endpoint, _ = url_map.bind("hubspot").match(path, method=method)
    return next(op for op in operations if op.path == endpoint and op.method == method)


@cache
def _catalogue() -> tuple[Map, tuple[_Operation, ...]]:
    """A URL map of every path in the packaged specs, and their operations."""
    folder = resources.files("crm_complaints.emulator") / "specs"
    operations: list[_Operation] = []
    rules: dict[str, set[str]] = {}
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
                operations.append(_Operation(method.upper(), path, security))
                rules.setdefault(path, set()).add(method.upper())
    url_map = Map(
        [
            Rule(path.replace("{", "<").replace("}", ">"), endpoint=path, methods=sorted(methods))
            for path, methods in rules.items()
        ],
        strict_slashes=False,
    )
    return url_map, tuple(operations)
