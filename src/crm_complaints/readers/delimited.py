"""CSV and tab-separated text: the encoding detected (or configured), the delimiter sniffed from
the header row, and quotes that run away over rows caught so no row is lost inside a cell."""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from ..config import CsvConfig
from ..errors import ConfigError
from ..quarantine import FieldProblem, QuarantineEntry
from .encodings import open_text
from .problems import ReadResult, is_utf8_text, quarantine
from .rows import ClinicLocales, ColumnSummary, RowMapper
from .summary import SourceInfo

__all__ = ["read_csv"]

# id, clinic, received_at and summary: a narrower file holds no valid complaint, and in one that
# narrow any line of free text would look like a row of its own.
_MIN_ROW_WIDTH = 4
_NO_HEADER = (
    "names no complaint field; is the header row missing? (csv.columns maps headers to fields)"
)


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

    def peek_first(self) -> str:
        """The first physical line, kept to be read again (for sniffing the delimiter)."""
        try:
            line = next(self._source)
        except StopIteration:
            return ""
        self._again.append((1, line))
        self._next_number = 2
        return line

    def start_record(self) -> None:
        self.record = []
        self.ran_out = False

    def read_again(self, lines: list[tuple[int, str]]) -> None:
        self._again.extendleft(reversed(lines))


def _delimiter(config: CsvConfig, first_line: str) -> str:
    if config.delimiter is not None:
        return config.delimiter
    return "\t" if first_line.count("\t") > first_line.count(",") else ","


def read_csv(
    stream: BinaryIO,
    config: CsvConfig | None = None,
    source: str = "<stream>",
    *,
    locales: ClinicLocales | None = None,
    info: SourceInfo | None = None,
) -> Iterator[ReadResult]:
    """CSV with a header row. ``config.columns`` maps headers to dotted field names (default:
    the header *is* the dotted name, or the template's header in any of our four languages);
    ``risk_flags`` and ``attachments`` are split on ``list_separator``. Empty cells count as
    absent. Line numbers are the record's first line.

    The encoding is ``csv.encoding`` when set, else detected (see :mod:`.encodings`). A quote
    that is never closed, or that runs on over lines shaped like rows, quarantines its row and
    the lines it swallowed are read again, so no record is lost inside a cell. A header row
    that is not text in the encoding is a :class:`ConfigError`: every row would be wrong.
    """
    config = config or CsvConfig()
    info = info if info is not None else SourceInfo(kind="csv")
    text, encoding = open_text(stream, config.encoding)
    info.encoding = encoding.describe()
    lines = _PhysicalLines(text)
    delimiter = _delimiter(config, lines.peek_first())
    info.delimiter = "tab" if delimiter == "\t" else delimiter
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield quarantine(source, 1, None, [FieldProblem(field="(header)", message=str(exc))])
        return
    if lines.ran_out or any(
        _width(line, delimiter) >= _MIN_ROW_WIDTH for _, line in lines.record[1:]
    ):
        # The header's own quote ran away with rows: take its first line alone as the header.
        yield _runaway_quote(source, lines, header, [], field="(header)")
        header = next(csv.reader([lines.record[0][1]], delimiter=delimiter), [])
    if not all(is_utf8_text(cell) for cell in header):
        raise ConfigError(
            f"the header row of {source} is not {encoding.name} text; set csv.encoding to the "
            "file's encoding (cp932 for Shift_JIS, as Excel in Japan writes)",
            key="csv.encoding",
        )
    mapper = RowMapper(header, config, source, locales=locales, encoding_name=encoding.name)
    info.columns = mapper.columns
    info.missing_required = mapper.missing_required
    if not mapper.knows_any_column:
        yield quarantine(source, 1, None, [FieldProblem(field="(header)", message=_NO_HEADER)])
    columns = mapper.columns
    while True:
        lines.start_record()
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _unreadable_row(source, lines, f"bad CSV: {exc}")
            continue
        if lines.ran_out or _swallows_rows(lines.record, len(columns), delimiter):
            yield _runaway_quote(source, lines, row, columns)
            continue
        if not any(cell.strip() for cell in row):
            continue
        yield mapper.map_row(lines.record[0][0], row)


def _swallows_rows(record: list[tuple[int, str]], width: int, delimiter: str) -> bool:
    """Whether a cell spanning lines holds lines that parse as full rows on their own."""
    if width < _MIN_ROW_WIDTH:
        return False
    return any(_width(line, delimiter) == width for _, line in record[1:])


def _width(line: str, delimiter: str) -> int:
    """How many cells one physical line holds when parsed on its own."""
    try:
        return len(next(csv.reader([line], delimiter=delimiter), []))
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
    return quarantine(source, start, None, [FieldProblem(field="(line)", message=message)])


def _runaway_quote(
    source: str,
    lines: _PhysicalLines,
    row: list[str],
    columns: list[ColumnSummary],
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
    return quarantine(source, start, None, [FieldProblem(field=field, message=message)])
