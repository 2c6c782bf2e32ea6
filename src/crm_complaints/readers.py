"""Streaming readers: JSON Lines and CSV in, complaints and quarantine entries out.

Memory stays flat whatever the file size: one record at a time. A bad record never stops the
stream; it becomes a :class:`QuarantineEntry` that names the source, line, complaint id (when
readable) and the field, with a message a clinic admin understands. Messages never quote the
rejected value: it may be a patient's name.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, get_args

import pydantic_core
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .config import CsvConfig
from .errors import ConfigError
from .quarantine import FieldProblem, QuarantineEntry, duplicate_entry
from .schema import Complaint

__all__ = [
    "FieldProblem",
    "QuarantineEntry",
    "ReadResult",
    "mark_duplicates",
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
    "string_unicode": "is not valid text (it holds a lone surrogate escape such as \\ud800)",
    "recursion_loop": "is nested too deeply",
}


def _schema_paths(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every dotted field path of the complaint schema: ``id``, ``demand``, ``demand.kind``…"""
    for name, info in model.model_fields.items():
        yield prefix + name
        for nested in _models_in(info.annotation):
            yield from _schema_paths(nested, f"{prefix}{name}.")


def _models_in(annotation: object) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in get_args(annotation):
        yield from _models_in(argument)


_SCHEMA_PATHS = frozenset(_schema_paths(Complaint))
# Names a message may quote: the schema's own. Any other key came from the input and may be a
# patient's name (a CSV without its header row makes the first patient's cells the "names").
_FIELD_NAMES = frozenset(path.rsplit(".", 1)[-1] for path in _SCHEMA_PATHS)


def _unknown_field(name: str) -> str:
    return f"unknown field ({len(name)} chars)"


def _field_path(loc: Sequence[int | str]) -> str:
    parts = [
        str(part) if isinstance(part, int) or part in _FIELD_NAMES else _unknown_field(part)
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


def _quarantine(
    source: str, line: int, complaint_id: str | None, problems: Iterable[FieldProblem]
) -> QuarantineEntry:
    return QuarantineEntry(
        source=source, line=line, complaint_id=complaint_id, problems=tuple(problems)
    )


def _readable_id(data: object) -> str | None:
    """The record's id when it can be shown: printable text that can be written as UTF-8."""
    if isinstance(data, Mapping):
        value = data.get("id")
        if isinstance(value, str | int) and 0 < len(str(value)) <= 128:
            text = str(value)
            if text.isprintable() and _is_utf8_text(text):
                return text
    return None


def _is_utf8_text(text: str) -> bool:
    """False for lone surrogates: a JSON ``\\ud800`` escape or bytes ``surrogateescape`` kept."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _validate(source: str, line: int, data: Any) -> ReadResult:
    try:
        return Complaint.model_validate(data)
    except ValidationError as exc:
        return _quarantine(source, line, _readable_id(data), map(_problem, exc.errors()))
    except RecursionError:
        problem = FieldProblem(field="(record)", message="is nested too deeply")
        return _quarantine(source, line, _readable_id(data), [problem])


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
            yield _quarantine(
                source, number, None, [FieldProblem(field="(line)", message="is not valid UTF-8")]
            )
            continue
        except RecursionError:
            yield _quarantine(
                source, number, None, [FieldProblem(field="(line)", message=_TOO_DEEP)]
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
        if too_deep:
            problem = FieldProblem(field="(line)", message=_TOO_DEEP)
            yield _quarantine(source, number, _readable_id(data), [problem])
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
# id, clinic, received_at and summary: a narrower file holds no valid complaint, and in one that
# narrow any line of free text would look like a row of its own.
_MIN_ROW_WIDTH = 4
_NO_HEADER = (
    "names no complaint field; is the header row missing? (csv.columns maps headers to fields)"
)


@dataclass(frozen=True)
class _Column:
    """One CSV column: the dotted field it fills, and how a message may name it."""

    number: int  # 1-based, as a spreadsheet shows it
    path: str  # "" for a column without a header, which is ignored
    known: bool  # a schema field, a custom.* key or a header csv.columns maps

    @property
    def label(self) -> str:
        # An unknown header is never quoted: without a header row it is a patient's cell.
        if not self.path:
            return f"column {self.number}"
        return self.path if self.known else f"unknown column {self.number}"


def _columns(header: list[str], config: CsvConfig, source: str) -> list[_Column]:
    if not all(_is_utf8_text(cell) for cell in header):
        raise ConfigError(
            f"the header row of {source} is not {_encoding_name(config.encoding)} text; set "
            "csv.encoding to the file's encoding (cp932 for Shift_JIS, as Excel in Japan writes)",
            key="csv.encoding",
        )
    columns = []
    for number, cell in enumerate(header, start=1):
        name = cell.strip()
        path = config.columns.get(name, name)
        known = name in config.columns or path in _SCHEMA_PATHS or path.startswith("custom.")
        columns.append(_Column(number=number, path=path if name else "", known=known))
    return columns


def _encoding_name(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    return "UTF-8" if name in ("utf-8", "utf-8-sig") else name


class _PhysicalLines:
    """The file's physical lines for :mod:`csv`, numbered, with the lines of the record being
    parsed kept so that those a runaway quote swallowed can be read again as rows."""

    def __init__(self, text: Iterable[str]) -> None:
        self._source = iter(text)
        self._again: deque[tuple[int, str]] = deque()
        self._next_number = 1
        self.record: list[tuple[int, str]] = []
        # The csv module asks for another line mid-record only from inside a quoted cell, so
        # running out of lines mid-record means the file ended inside a quote.
        self.ran_out = False

    def __iter__(self) -> _PhysicalLines:
        return self

    def __next__(self) -> str:
        if self._again:
            number, line = self._again.popleft()
        else:
            try:
                line = next(self._source)
            except StopIteration:
                self.ran_out = bool(self.record)
                raise
            number = self._next_number
            self._next_number += 1
        self.record.append((number, line))
        return line

    def start_record(self) -> None:
        self.record = []
        self.ran_out = False

    def read_again(self, lines: list[tuple[int, str]]) -> None:
        self._again.extendleft(reversed(lines))


def read_csv(
    stream: BinaryIO, config: CsvConfig | None = None, source: str = "<stream>"
) -> Iterator[ReadResult]:
    """CSV with a header row. ``config.columns`` maps headers to dotted field names (default:
    the header *is* the dotted name); ``risk_flags`` and ``attachments`` are split on
    ``list_separator``. Empty cells count as absent. Line numbers are the record's first line.

    A quote that is never closed, or that runs on over lines shaped like rows, quarantines its
    row and the lines it swallowed are read again, so no record is lost inside a cell. A header
    row that is not text in ``csv.encoding`` is a :class:`ConfigError`: every row would be wrong.
    """
    config = config or CsvConfig()
    try:
        text = io.TextIOWrapper(
            stream, encoding=config.encoding, errors="surrogateescape", newline=""
        )
    except LookupError as exc:
        raise ConfigError(
            f"{config.encoding!r} is not a text encoding Python knows (utf-8-sig, cp932…)",
            key="csv.encoding",
        ) from exc
    lines = _PhysicalLines(text)
    reader = csv.reader(lines, delimiter=config.delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield _quarantine(source, 1, None, [FieldProblem(field="(header)", message=str(exc))])
        return
    if lines.ran_out or any(_width(line, config) >= _MIN_ROW_WIDTH for _, line in lines.record[1:]):
        # The header's own quote ran away with rows: take its first line alone as the header.
        yield _runaway_quote(source, lines, header, [], field="(header)")
        header = next(csv.reader([lines.record[0][1]], delimiter=config.delimiter), [])
    columns = _columns(header, config, source)
    if not any(column.known for column in columns):
        yield _quarantine(source, 1, None, [FieldProblem(field="(header)", message=_NO_HEADER)])
    while True:
        lines.start_record()
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _unreadable_row(source, lines, f"bad CSV: {exc}")
            continue
        if lines.ran_out or _swallows_rows(lines.record, len(columns), config):
            yield _runaway_quote(source, lines, row, columns)
            continue
        if not any(cell.strip() for cell in row):
            continue
        yield _csv_record(source, lines.record[0][0], columns, row, config)


def _swallows_rows(record: list[tuple[int, str]], width: int, config: CsvConfig) -> bool:
    """Whether a cell spanning lines holds lines that parse as full rows on their own."""
    if width < _MIN_ROW_WIDTH:
        return False
    return any(_width(line, config) == width for _, line in record[1:])


def _width(line: str, config: CsvConfig) -> int:
    """How many cells one physical line holds when parsed on its own."""
    try:
        return len(next(csv.reader([line], delimiter=config.delimiter), []))
    except csv.Error:
        return 0


def _again_note(lines: _PhysicalLines) -> str:
    again = lines.record[1:]
    if not again:
        return ""
    if len(again) == 1:
        return f"; line {again[0][0]} is read again as a row"
    return f"; lines {again[0][0]}–{again[-1][0]} are read again as rows"


def _unreadable_row(source: str, lines: _PhysicalLines, message: str) -> QuarantineEntry:
    start = lines.record[0][0] if lines.record else 0
    message += _again_note(lines)
    lines.read_again(lines.record[1:])
    return _quarantine(source, start, None, [FieldProblem(field="(line)", message=message)])


def _runaway_quote(
    source: str,
    lines: _PhysicalLines,
    row: list[str],
    columns: list[_Column],
    field: str | None = None,
) -> QuarantineEntry:
    if field is None:
        # The open cell is the last one when the file ended inside it, else the first spanning
        # lines.
        spanning = [i for i, cell in enumerate(row) if "\n" in cell or "\r" in cell]
        index = len(row) - 1 if lines.ran_out or not spanning else spanning[0]
        field = columns[index].label if index < len(columns) else f"unknown column {index + 1}"
    if lines.ran_out:
        message = "opens a quote that is never closed"
    else:
        message = (
            f"opens a quote that runs on to line {lines.record[-1][0]}, "
            "over lines that look like rows of their own"
        )
    message += _again_note(lines) + '; check the quotes (") in this cell'
    start = lines.record[0][0]
    lines.read_again(lines.record[1:])
    return _quarantine(source, start, None, [FieldProblem(field=field, message=message)])


def _csv_record(
    source: str, line: int, columns: list[_Column], row: list[str], config: CsvConfig
) -> ReadResult:
    if len(row) != len(columns):
        return _quarantine(
            source,
            line,
            None,
            [
                FieldProblem(
                    field="(line)",
                    message=f"has {len(row)} cells but the header has {len(columns)}",
                )
            ],
        )
    data: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for column, cell in zip(columns, row, strict=True):
        name = column.path
        if not name:
            continue
        value = cell.strip()
        if not value:
            continue
        if not column.known:
            problems.append(
                FieldProblem(
                    field=column.label,
                    message="is not a complaint field (map its header in csv.columns)",
                )
            )
            continue
        if not _is_utf8_text(value):
            problems.append(
                FieldProblem(
                    field=column.label, message=f"is not valid {_encoding_name(config.encoding)}"
                )
            )
            continue
        parsed: Any = value
        if name in _LIST_FIELDS:
            parsed = [v.strip() for v in value.split(config.list_separator) if v.strip()]
        elif name == "attachments":
            parsed = [{"url": v.strip()} for v in value.split(config.list_separator) if v.strip()]
        elif name == "custom":
            try:
                # pydantic's parser, as for JSON Lines: it refuses nesting deep enough to crash
                parsed = pydantic_core.from_json(value)
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


def mark_duplicates(results: Iterable[ReadResult]) -> Iterator[ReadResult]:
    """Pass results through, but a complaint whose id was already read becomes a quarantine
    entry (the later copy), exactly as the sync engine skips it. Positions count records."""
    seen: dict[str, int] = {}
    for position, result in enumerate(results, start=1):
        if isinstance(result, Complaint):
            first = seen.setdefault(result.id, position)
            if first != position:
                yield duplicate_entry(result.id, first=first, position=position)
                continue
        yield result


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
