"""HubSpot's published OpenAPI specs (packaged beside this file), held against every exchange.

A request that breaks the contract is the client's bug: it gets HubSpot's 400 and is recorded
in ``violations`` so a test can fail on it. An answer of ours that breaks it is an emulator bug:
it is replaced by a 500 and recorded too. Checked with ``openapi-core``.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Any

from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_schema_validator import OAS30Validator
from werkzeug.wrappers import Request, Response

from .errata import tolerated
from .wire import HubSpotError, error_response, json_response

__all__ = ["SPEC_FILES", "Contract"]

_log = logging.getLogger(__name__)

SPEC_FILES = {
    "/crm/v3/objects/tickets": "tickets.json",
    "/crm/v3/objects/tasks": "tasks.json",
    "/crm/v3/objects/contacts": "contacts.json",
    "/crm/v3/properties": "properties.json",
    "/crm/v3/owners": "crmOwners.json",
    "/crm/v3/pipelines": "pipelines.json",
    "/crm/v4": "associations.json",
}


@dataclass(frozen=True)
class _Spec:
    """One HubSpot spec: the openapi-core view, and a validator for its ``Error`` schema."""

    api: OpenAPI
    error_validator: Any


class Contract:
    """Validation against the specs, and the ``violations`` it found, oldest first."""

    def __init__(self, base_url: str, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.violations: list[str] = []
        self._specs = _load_specs(base_url) if enabled else {}

    def check_request(self, request: Request, environ: dict[str, Any]) -> Response | None:
        """None for a request that keeps the contract; HubSpot's 400 for one that breaks it."""
        spec = self._spec_for(request)
        if spec is None:
            return None
        try:
            checked = _as_spec_request(_canonical(request, environ), environ)
            spec.api.validate_request(WerkzeugOpenAPIRequest(checked))
        except Exception as exc:
            message = f"{request.method} {request.path}: {type(exc).__name__}: {_cause(exc)}"
            self.violations.append("request " + message)
            return error_response(HubSpotError(400, f"Invalid input JSON: {message}"))
        return None

    def check_response(
        self, request: Request, environ: dict[str, Any], response: Response
    ) -> Response:
        """The answer itself if it keeps the contract; a 500 in its place if it does not."""
        spec = self._spec_for(request)
        if spec is None:
            return response
        try:
            if response.status_code >= 400:
                spec.error_validator.validate(json.loads(response.get_data()))
            else:
                spec.api.validate_response(
                    WerkzeugOpenAPIRequest(_canonical(request, environ)),
                    WerkzeugOpenAPIResponse(_as_spec_response(request, response)),
                )
        except Exception as exc:
            self.violations.append(f"response {request.method} {request.path}: {_cause(exc)}")
            # Shown wherever the emulator runs; the route and the kind only, since a violation's
            # text can quote the answer's values.
            _log.warning(
                "the emulator's answer to %s %s broke HubSpot's contract (%s)",
                request.method,
                request.path,
                type(exc).__name__,
            )
            return json_response(
                500,
                {
                    "status": "error",
                    "message": "emulator broke the contract",
                    "category": "EMULATOR",
                },
            )
        return response

    def _spec_for(self, request: Request) -> _Spec | None:
        """The spec that covers the request's path, if validation is on and one does."""
        if not self.enabled:
            return None
        for prefix, spec in self._specs.items():
            if request.path.startswith(prefix):
                return spec
        return None


def _load_specs(base_url: str) -> dict[str, _Spec]:
    loaded: dict[str, _Spec] = {}
    folder = resources.files("crm_complaints.emulator") / "specs"
    for prefix, name in SPEC_FILES.items():
        spec = json.loads((folder / name).read_text(encoding="utf-8"))
        spec["servers"] = [{"url": base_url}]
        # openapi-core cannot check oauth2 and warns on every request; we check the bearer
        # token ourselves, so the security requirements are dropped from our copy.
        spec.pop("security", None)
        for operations in spec["paths"].values():
            for operation in operations.values():
                if isinstance(operation, dict):
                    operation.pop("security", None)
                    # `"content": {}` declares no body (the archives' 204); openapi-core would
                    # demand one and turn HubSpot's own empty 204 into a violation.
                    for answer in (operation.get("responses") or {}).values():
                        if isinstance(answer, dict) and answer.get("content") == {}:
                            del answer["content"]
        # Error answers are declared as */*, which openapi-core does not parse as JSON; their
        # bodies are checked against the spec's own Error schema instead.
        root = {"$ref": "#/components/schemas/Error", "components": spec["components"]}
        loaded[prefix] = _Spec(OpenAPI.from_dict(spec), OAS30Validator(root))
    return loaded


def _as_spec_request(request: Request, environ: dict[str, Any]) -> Request:
    """The request as the spec would have it, where HubSpot is known to differ (errata)."""
    fixes = tolerated("request", request.method, request.path)
    if not fixes:
        return request
    try:
        body = json.loads(request.get_data() or b"null")
    except ValueError:
        return request
    for erratum in fixes:
        body = erratum.fix(body)
    data = json.dumps(body).encode("utf-8")
    copy = dict(environ)
    copy["PATH_INFO"] = request.path
    copy["wsgi.input"] = io.BytesIO(data)
    copy["CONTENT_LENGTH"] = str(len(data))
    return Request(copy)


def _as_spec_response(request: Request, response: Response) -> Response:
    """A copy of our answer as the spec would have it, where HubSpot is known to differ."""
    fixes = tolerated("response", request.method, request.path)
    if not fixes:
        return response
    body = json.loads(response.get_data() or b"null")
    for erratum in fixes:
        body = erratum.fix(body)
    return json_response(response.status_code, body)


def _canonical(request: Request, environ: dict[str, Any]) -> Request:
    """The SDK asks for ``/crm/v3/owners/``; HubSpot and the spec mean ``/crm/v3/owners``."""
    path = request.path
    if len(path) > 1 and path.endswith("/"):
        copy = dict(environ)
        copy["PATH_INFO"] = path.rstrip("/")
        return Request(copy)
    return request


def _cause(exc: BaseException) -> str:
    """What broke the contract, in the spec's words, never quoting a value: a request's and an
    answer's values are property values (patients' names, e-mails), and this text is answered,
    listed in ``violations``, served by the stats endpoint and printed by the CLI."""
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and len(chain) < 10:
        chain.append(link)
        link = link.__cause__
    for link in chain:
        schema_errors = getattr(link, "schema_errors", None)
        if schema_errors:
            return "; ".join(sorted({_where(e) for e in schema_errors}))[:500]
    for link in chain:
        name, location = getattr(link, "name", None), getattr(link, "location", None)
        if isinstance(name, str) and isinstance(location, str):
            kinds = " ".join(type(e).__name__ for e in chain)
            return f"{location} parameter {name} ({kinds})"
    return " ".join(type(e).__name__ for e in chain)


def _where(error: Any) -> str:
    """One JSON Schema error as its place and rule: ``$.limit: type "integer"``."""
    path = getattr(error, "json_path", "$")
    rule = getattr(error, "validator", "schema")
    if rule in ("required", "additionalProperties"):
        return f"{path}: {getattr(error, 'message', rule)}"  # names from the schema, or keys
    expected = json.dumps(getattr(error, "validator_value", None), default=str)
    return f"{path}: {rule} {expected[:80]}"
