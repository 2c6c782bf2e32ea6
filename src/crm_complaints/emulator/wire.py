"""HubSpot's wire formats: its timestamps, its error bodies, and the JSON answers that carry them.

Shared by the portal (which raises :class:`HubSpotError`) and by every HTTP stage (which turns
one into an answer), so that an error looks the same wherever it comes from.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

__all__ = [
    "MAX_BATCH",
    "HubSpotError",
    "batch_answer",
    "batch_body",
    "batch_inputs",
    "error_response",
    "iso",
    "json_response",
    "request_body",
]

MAX_BATCH = 100
"""HubSpot's limit of inputs per batch request."""


def iso(moment: float) -> str:
    """HubSpot's timestamp format: ISO 8601 in UTC with milliseconds and a Z."""
    return (
        datetime.fromtimestamp(moment, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


class HubSpotError(Exception):
    """An error answer in HubSpot's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        category: str = "VALIDATION_ERROR",
        sub_category: str | None = None,
        context: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.sub_category = sub_category
        self.context = dict(context or {})
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
            "category": self.category,
        }
        if self.sub_category:
            body["subCategory"] = self.sub_category
        if self.context:
            body["context"] = self.context
        body.update(self.extra)
        return body

    def standard_error(self) -> dict[str, Any]:
        """The ``StandardError`` form used inside 207 batch answers."""
        return {
            "status": "error",
            "category": self.category,
            "message": self.message,
            "context": self.context,
            "errors": [],
            "links": {},
        }


def json_response(status: int, body: Any) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json"
    )


def error_response(error: HubSpotError) -> Response:
    response = json_response(error.status, error.body())
    for key, value in error.headers.items():
        response.headers[key] = value
    return response


def request_body(request: Request) -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise HubSpotError(400, "Invalid input JSON: the body must be a JSON object")
    return data


def batch_inputs(request: Request) -> list[dict[str, Any]]:
    inputs = request_body(request).get("inputs")
    if not isinstance(inputs, list):
        raise HubSpotError(400, "Invalid input JSON: inputs must be a list")
    if len(inputs) > MAX_BATCH:
        raise HubSpotError(
            400,
            f"Batch input is too large: {len(inputs)} inputs, the limit is {MAX_BATCH}",
            sub_category="TOO_MANY_INPUTS",
            context={"limit": [str(MAX_BATCH)]},
        )
    return inputs


def batch_body(results: list[dict[str, Any]]) -> dict[str, Any]:
    now = iso(time.time())
    return {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}


def batch_answer(
    results: list[dict[str, Any]], errors: list[dict[str, Any]], ok_status: int
) -> Response:
    """HubSpot's batch answer: ``ok_status`` when every input worked, else 207 with ``errors``."""
    body = batch_body(results)
    if errors:
        body["errors"] = errors
        body["numErrors"] = len(errors)
        return json_response(207, body)
    return json_response(ok_status, body)
