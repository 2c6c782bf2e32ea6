"""Turning a bad record into a quarantine entry an admin understands, never quoting a value.

Shared by every reader (JSON Lines, CSV, spreadsheets, SQL): pydantic's errors are translated
into clinic words here, and a message that would carry the rejected value is replaced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ..field_paths import FIELD_NAMES
from ..quarantine import FieldProblem, QuarantineEntry
from ..schema import Complaint

__all__ = ["ReadResult", "is_utf8_text", "quarantine", "readable_id", "validate_record"]

ReadResult = Complaint | QuarantineEntry

_FRIENDLY: dict[str, str] = {
    "missing": "is required but missing",
    "extra_forbidden": "is not a field of the complaint schema (check the spelling)",
    "timezone_aware": "has no time-zone offset; write it like 2026-11-23T10:00:00+09:00",
    "datetime_from_date_parsing": "is not a date and time like 2026-11-23T10:00:00+09:00",
    "datetime_parsing": "is not a date and time like 2026-11-23T10:00:00+09:00",
    "datetime_type": "must be a date and time like 2026-11-23T10:00:00+09:00",
    "string_too_long": "is too long",
    "string_too_short": "must not be empty",
    "string_type": "must be text",
    "string_pattern_mismatch": "is not in the expected format",
    "decimal_parsing": "must be a number",
    "greater_than_equal": "must not be negative",
    "model_type": "must be an object",
    "dict_type": "must be an object",
    "literal_error": 'must be "1" (the only schema version)',
    "string_unicode": "is not valid text (it holds a lone surrogate escape such as \\ud800)",
    "recursion_loop": "is nested too deeply",
}


def unknown_field(name: str) -> str:
    return f"unknown field ({len(name)} chars)"


def _field_path(loc: Sequence[int | str]) -> str:
    parts = [
        str(part) if isinstance(part, int) or part in FIELD_NAMES else unknown_field(part)
        for part in loc
    ]
    return ".".join(parts) or "(record)"


def _problem(error: ErrorDetails) -> FieldProblem:
    kind = error["type"]
    if kind == "enum":
        expected = (error.get("ctx") or {}).get("expected", "")
        message = f"must be one of {expected}"
    elif kind == "value_error":
        message = str((error.get("ctx") or {}).get("error", error["msg"]))
    else:
        message = _FRIENDLY.get(kind, error["msg"])
        quoted = error.get("input")
        if isinstance(quoted, str) and quoted and quoted in message:
            message = "is not valid"  # a message pydantic wrote around the value itself
    return FieldProblem(field=_field_path(error["loc"]), message=message)


def quarantine(
    source: str, line: int, complaint_id: str | None, problems: Iterable[FieldProblem]
) -> QuarantineEntry:
    return QuarantineEntry(
        source=source, line=line, complaint_id=complaint_id, problems=tuple(problems)
    )


def readable_id(data: object) -> str | None:
    """The record's id when it can be shown: printable text that can be written as UTF-8."""
    if isinstance(data, Mapping):
        value = data.get("id")
        if isinstance(value, str | int) and 0 < len(str(value)) <= 128:
            text = str(value)
            if text.isprintable() and is_utf8_text(text):
                return text
    return None


def is_utf8_text(text: str) -> bool:
    """False for lone surrogates: a JSON ``\\ud800`` escape or bytes ``surrogateescape`` kept."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_record(source: str, line: int, data: Any) -> ReadResult:
    """The complaint, or a quarantine entry naming each field pydantic refused."""
    try:
        return Complaint.model_validate(data)
    except ValidationError as exc:
        return quarantine(source, line, readable_id(data), map(_problem, exc.errors()))
    except RecursionError:
        problem = FieldProblem(field="(record)", message="is nested too deeply")
        return quarantine(source, line, readable_id(data), [problem])
