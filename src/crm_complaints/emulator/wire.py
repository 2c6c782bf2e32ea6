"""HubSpot's wire formats: its timestamps, its error bodies, and the JSON answers that carry them.

Shared by the portal (which raises :class:`HubSpotError`) and by every HTTP stage (which turns
one into an answer), so that an error looks the same wherever it comes from.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Response

__all__ = ["HubSpotError", "error_response", "iso", "json_response"]


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
