"""JSON Lines: one complaint object per line, UTF-8 (a leading byte order mark is skipped)."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import BinaryIO

from pydantic import ValidationError

from ..quarantine import FieldProblem
from ..schema import Complaint
from .problems import ReadResult, quarantine, readable_id, validate_record

__all__ = ["read_jsonl"]

_BOM = codecs.BOM_UTF8
_TOO_DEEP = "is not valid JSON (nested too deeply)"


def read_jsonl(stream: BinaryIO, source: str = "<stream>") -> Iterator[ReadResult]:
    """One complaint per line; blank lines are skipped. Line numbers start at 1. A UTF-8 byte
    order mark at the start of the file (as Windows tools write one) is skipped."""
    for number, raw in enumerate(stream, start=1):
        if number == 1:
            raw = raw.removeprefix(_BOM)
        if not raw.strip():
            continue
        try:
            yield Complaint.model_validate_json(raw)
            continue
        except ValidationError as exc:
            # Fall through to the slow path, which says why in clinic words. The fast parser's
            # nesting limit still holds there: deeper data would crash json and what follows.
            too_deep = any(
                e["type"] == "json_invalid"
                and "recursion" in str((e.get("ctx") or {}).get("error"))
                for e in exc.errors()
            )
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            yield quarantine(
                source, number, None, [FieldProblem(field="(line)", message="is not valid UTF-8")]
            )
            continue
        except RecursionError:
            yield quarantine(
                source, number, None, [FieldProblem(field="(line)", message=_TOO_DEEP)]
            )
            continue
        except ValueError as exc:
            reason = getattr(exc, "msg", "malformed")
            yield quarantine(
                source,
                number,
                None,
                [FieldProblem(field="(line)", message=f"is not valid JSON ({reason})")],
            )
            continue
        if not isinstance(data, dict):
            yield quarantine(
                source,
                number,
                None,
                [FieldProblem(field="(line)", message="must be a JSON object, one per line")],
            )
            continue
        if too_deep:
            problem = FieldProblem(field="(line)", message=_TOO_DEEP)
            yield quarantine(source, number, readable_id(data), [problem])
            continue
        yield validate_record(source, number, data)
