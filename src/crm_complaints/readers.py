"""Streaming readers: JSON Lines and CSV in, complaints and quarantine entries out.

Memory stays flat whatever the file size: one record at a time. A bad record never stops the
stream; it becomes a :class:`QuarantineEntry` that names the source, line, complaint id (when
readable) and the field, with a message a clinic admin understands. Messages never quote the
rejected value: it may be a patient's name.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from .config import CsvConfig
from .quarantine import FieldProblem, QuarantineEntry
from .schema import Complaint

__all__ = [
    "FieldProblem",
    "QuarantineEntry",
    "ReadResult",
    "read_complaints",
    "read_csv",
    "read_jsonl",
]


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
}


def _problem(error: ErrorDetails) -> FieldProblem:
    field = ".".join(str(p) for p in error["loc"]) or "(record)"
    kind = error["type"]
    if kind == "enum":
        expected = (error.get("ctx") or {}).get("expected", "")
        message = f"must be one of {expected}"
    elif kind == "value_error":
        message = str((error.get("ctx") or {}).get("error", error["msg"]))
    else:
        message = _FRIENDLY.get(kind, error["msg"])
    return FieldProblem(field=field, message=message)


def _quarantine(
    source: str, line: int, complaint_id: str | None, problems: Iterable[FieldProblem]
) -> QuarantineEntry:
    return QuarantineEntry(
        source=source, line=line, complaint_id=complaint_id, problems=tuple(problems)
    )


def _readable_id(data: object) -> str | None:
    if isinstance(data, Mapping):
        value = data.get("id")
        if isinstance(value, str | int) and 0 < len(str(value)) <= 128:
            return str(value)
    return None


def _validate(source: str, line: int, data: Any) -> ReadResult:
    try:
        return Complaint.model_validate(data)
    except ValidationError as exc:
        return _quarantine(source, line, _readable_id(data), map(_problem, exc.errors()))


def read_jsonl(stream: BinaryIO, source: str = "<stream>") -> Iterator[ReadResult]:
    """One complaint per line; blank lines are skipped. Line numbers start at 1."""
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            yield Complaint.model_validate_json(raw)
            continue
        except ValidationError:
            pass  # Fall through to the slow path, which says why in clinic words.
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            yield _quarantine(
                source, number, None, [FieldProblem(field="(line)", message="is not valid UTF-8")]
            )
            continue
        except ValueError as exc:
            reason = getattr(exc, "msg", "malformed")
            yield _quarantine(
                source,
                number,
                None,
                [FieldProblem(field="(line)", message=f"is not valid JSON ({reason})")],
            )
            continue
        if not isinstance(data, dict):
            yield _quarantine(
                source,
                number,
                None,
                [FieldProblem(field="(line)", message="must be a JSON object, one per line")],
            )
            continue
        yield _validate(source, number, data)


def _set_path(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = target
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(f"column {dotted!r} clashes with another column")
        node = child
    node[leaf] = value


_LIST_FIELDS = frozenset({"risk_flags"})


def read_csv(
    stream: BinaryIO, config: CsvConfig | None = None, source: str = "<stream>"
) -> Iterator[ReadResult]:
    """CSV with a header row. ``config.columns`` maps headers to dotted field names (default:
    the header *is* the dotted name); ``risk_flags`` and ``attachments`` are split on
    ``list_separator``. Empty cells count as absent. Line numbers are the record's first line."""
    config = config or CsvConfig()
    text = io.TextIOWrapper(stream, encoding=config.encoding, errors="surrogateescape", newline="")
    reader = csv.reader(text, delimiter=config.delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield _quarantine(source, 1, None, [FieldProblem(field="(header)", message=str(exc))])
        return
    fields = [config.columns.get(h.strip(), h.strip()) for h in header]
    line = reader.line_num + 1
    while True:
        start = line
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num + 1
            yield _quarantine(
                source, start, None, [FieldProblem(field="(line)", message=f"bad CSV: {exc}")]
            )
            continue
        line = reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        yield _csv_record(source, start, fields, row, config)


def _csv_record(
    source: str, line: int, fields: list[str], row: list[str], config: CsvConfig
) -> ReadResult:
    if len(row) != len(fields):
        return _quarantine(
            source,
            line,
            None,
            [
                FieldProblem(
                    field="(line)",
                    message=f"has {len(row)} cells but the header has {len(fields)}",
                )
            ],
        )
    data: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for name, cell in zip(fields, row, strict=True):
        if not name:
            continue
        value = cell.strip()
        if not value:
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            problems.append(FieldProblem(field=name, message="is not valid UTF-8"))
            continue
        parsed: Any = value
        if name in _LIST_FIELDS:
            parsed = [v.strip() for v in value.split(config.list_separator) if v.strip()]
        elif name == "attachments":
            parsed = [{"url": v.strip()} for v in value.split(config.list_separator) if v.strip()]
        elif name == "custom":
            try:
                parsed = json.loads(value)
            except ValueError:
                problems.append(FieldProblem(field=name, message="must be a JSON object"))
                continue
        try:
            _set_path(data, name, parsed)
        except ValueError as exc:
            problems.append(FieldProblem(field=name, message=str(exc)))
    if problems:
        return _quarantine(source, line, _readable_id(data), problems)
    return _validate(source, line, data)


def read_complaints(path: Path | str, csv_config: CsvConfig | None = None) -> Iterator[ReadResult]:
    """Pick the reader by extension (``.csv`` / ``.tsv`` → CSV, anything else → JSON Lines)."""
    file = Path(path)
    with file.open("rb") as stream:
        if file.suffix.lower() in (".csv", ".tsv"):
            config = csv_config or CsvConfig()
            if file.suffix.lower() == ".tsv" and csv_config is None:
                config = CsvConfig(delimiter="\t")
            yield from read_csv(stream, config, source=file.name)
        else:
            yield from read_jsonl(stream, source=file.name)
