"""One table row (a CSV line, a spreadsheet row, a database row) → a complaint or a quarantine
entry: headers to fields, the clinic's words to schema values, written dates to aware ones.

Shared by every tabular reader, so a column means the same in a CSV, a workbook and a query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pydantic_core

from ..config import CsvConfig, Settings
from ..field_paths import is_column_target
from ..labels import FIELD_LABELS, RISK_FLAG_LABELS
from ..quarantine import FieldProblem
from .dates import DateError, to_aware
from .problems import ReadResult, is_utf8_text, quarantine, readable_id, validate_record
from .values import AmountError, Vocabulary, normalize_word, parse_amount

__all__ = ["REQUIRED_FIELDS", "Cell", "ClinicLocales", "ColumnSummary", "RowMapper", "cell_text"]

Cell = str | int | float | bool | Decimal | date | datetime | time | timedelta | None
"""What a cell may hold: text from a CSV, typed values from a workbook or a database."""

REQUIRED_FIELDS = ("id", "clinic", "received_at", "summary")
DATE_FIELDS = frozenset(
    {"received_at", "occurred_at", "acknowledged_at", "resolved_at", "closed_at", "updated_at"}
)
_ENUM_PATHS = frozenset(
    {"category", "channel", "status", "severity", "demand.kind", "reporter.department"}
)
_FLAG_PREFIX = "risk_flags."
# Headers a reader knows without csv.columns: the field paths, and the template's headers in
# en / ja / zh-Hans / zh-Hant (field labels and one yes/no column per risk flag).
_KNOWN_HEADERS: dict[str, str] = {
    **{
        normalize_word(text): path
        for path, texts in FIELD_LABELS.items()
        for text in texts.values()
    },
    **{
        normalize_word(text): _FLAG_PREFIX + flag.value
        for flag, texts in RISK_FLAG_LABELS.items()
        for text in texts.values()
    },
}


@dataclass(frozen=True)
class ClinicLocales:
    """Each clinic's time zone and country (for local date-times and currency signs)."""

    default: tuple[ZoneInfo, str] = (ZoneInfo("Asia/Tokyo"), "JP")
    clinics: dict[str, tuple[ZoneInfo, str]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> ClinicLocales:
        default = settings.default_clinic
        return cls(
            default=(ZoneInfo(default.time_zone), default.country),
            clinics={
                name: (ZoneInfo(clinic.time_zone), clinic.country)
                for name, clinic in settings.clinics.items()
            },
        )

    def of(self, clinic: str | None) -> tuple[ZoneInfo, str]:
        """The row's clinic's zone and country, else the default clinic's."""
        return self.clinics.get(clinic or "", self.default)


@dataclass
class ColumnSummary:
    """One column as ``validate`` reports it. An unknown column's header is never kept: without
    a header row it would be the first patient's cell."""

    number: int  # 1-based, as a spreadsheet shows it
    header: str | None  # shown only for a column that maps to a field
    target: str | None  # the dotted field it fills; None when unknown or without a header
    filled: int = 0  # rows with a value in it
    repeats: str | None = None  # the field an earlier column already fills

    @property
    def label(self) -> str:
        if self.target is None:
            known = self.header == "" or self.repeats
            return f"column {self.number}" if known else f"unknown column {self.number}"
        return self.target


def _resolve(header: str, config: CsvConfig) -> str | None:
    name = header.strip()
    if name in config.columns:
        return config.columns[name]
    if is_column_target(name):
        return name
    return _KNOWN_HEADERS.get(normalize_word(name))


def cell_text(cell: Cell) -> str:
    """A typed cell as text: a workbook's 1234.0 in an id column is "1234"."""
    if isinstance(cell, str):
        return cell.strip()
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, date | datetime | time):
        return cell.isoformat()
    return str(cell)


class RowMapper:
    """Maps the rows of one table, given its header row."""

    def __init__(
        self,
        header: Sequence[str],
        config: CsvConfig,
        source: str,
        *,
        locales: ClinicLocales | None = None,
        vocabulary: Vocabulary | None = None,
        encoding_name: str = "UTF-8",
    ) -> None:
        self.config = config
        self.source = source
        self.locales = locales or ClinicLocales()
        self.vocabulary = vocabulary or Vocabulary.build(config.values)
        self.encoding_name = encoding_name
        self.columns: list[ColumnSummary] = []
        taken: set[str] = set()
        for number, cell in enumerate(header, start=1):
            name = cell.strip()
            target = _resolve(name, config) if name else None
            if target is not None and target in taken:
                # Two columns for one field: the second would overwrite the first unseen.
                self.columns.append(ColumnSummary(number, name, None, repeats=target))
                continue
            if target is not None:
                taken.add(target)
            self.columns.append(
                ColumnSummary(
                    number=number, header=name if target or not name else None, target=target
                )
            )
        targets = [c.target for c in self.columns if c.target]
        self._clinic_index = next(
            (i for i, c in enumerate(self.columns) if c.target == "clinic"), None
        )
        self.missing_required = [name for name in REQUIRED_FIELDS if name not in targets]

    @property
    def knows_any_column(self) -> bool:
        return any(c.target for c in self.columns)

    def map_row(self, line: int, row: Sequence[Cell]) -> ReadResult:
        """The row's complaint, or its quarantine entry naming each bad column."""
        if len(row) != len(self.columns):
            return quarantine(
                self.source,
                line,
                None,
                [
                    FieldProblem(
                        field="(line)",
                        message=f"has {len(row)} cells but the header has {len(self.columns)}",
                    )
                ],
            )
        clinic: str | None = None
        if self._clinic_index is not None:
            clinic_cell = row[self._clinic_index]
            clinic = self.vocabulary.clinic(cell_text(clinic_cell)) if clinic_cell else None
        data: dict[str, Any] = {}
        flags: list[str] = []
        problems: list[FieldProblem] = []
        for column, cell in zip(self.columns, row, strict=True):
            if cell is None or (isinstance(cell, str) and not cell.strip()):
                continue
            column.filled += 1
            if column.target is None:
                if column.header == "":
                    continue  # a column without a header is ignored
                if column.repeats:
                    message = f"fills {column.repeats} like an earlier column; map only one"
                    problems.append(FieldProblem(field=column.label, message=message))
                    continue
                problems.append(
                    FieldProblem(
                        field=column.label,
                        message="is not a complaint field (map its header in csv.columns)",
                    )
                )
                continue
            if isinstance(cell, str) and not is_utf8_text(cell):
                problems.append(
                    FieldProblem(field=column.target, message=f"is not valid {self.encoding_name}")
                )
                continue
            try:
                self._fill(data, flags, column.target, cell, clinic)
            except ValueError as exc:
                problems.append(FieldProblem(field=column.target, message=str(exc)))
        if flags:
            data["risk_flags"] = sorted({*data.get("risk_flags", []), *flags})
        if problems:
            return quarantine(self.source, line, readable_id(data), problems)
        return validate_record(self.source, line, data)

    def _fill(
        self, data: dict[str, Any], flags: list[str], path: str, cell: Cell, clinic: str | None
    ) -> None:
        if path in DATE_FIELDS:
            zone = self.locales.of(clinic)[0]
            try:
                value: Any = to_aware(cell, path, zone, local_time=self.config.local_time)
            except DateError as exc:
                raise ValueError(str(exc)) from exc
        elif path.startswith(_FLAG_PREFIX):
            answer = self.vocabulary.yes_no(cell_text(cell))
            if answer is None:
                raise ValueError("is not yes or no (あり / なし, 是 / 否, yes / no)")
            if answer:
                flags.append(path.removeprefix(_FLAG_PREFIX))
            return
        elif path == "risk_flags":
            value = self.vocabulary.flags(cell_text(cell), [self.config.list_separator])
        elif path == "clinic":
            value = self.vocabulary.clinic(cell_text(cell))
        elif path in _ENUM_PATHS:
            value = self.vocabulary.value(path, cell_text(cell))
        elif path == "demand.amount":
            value = self._amount(data, cell, clinic)
        elif path == "attachments":
            value = [
                {"url": v.strip()}
                for v in cell_text(cell).split(self.config.list_separator)
                if v.strip()
            ]
        elif path == "custom":
            try:
                # pydantic's parser, as for JSON Lines: it refuses nesting deep enough to crash
                value = pydantic_core.from_json(cell_text(cell))
            except ValueError as exc:
                raise ValueError("must be a JSON object") from exc
        elif path.startswith("custom."):
            value = cell if isinstance(cell, int | float | bool) else cell_text(cell)
        else:
            value = cell_text(cell)
        _set_path(data, path, value)

    def _amount(self, data: dict[str, Any], cell: Cell, clinic: str | None) -> Decimal:
        if isinstance(cell, int | float | Decimal) and not isinstance(cell, bool):
            return Decimal(str(cell))
        try:
            amount, currency = parse_amount(cell_text(cell), self.locales.of(clinic)[1])
        except AmountError as exc:
            raise ValueError(str(exc)) from exc
        if currency is not None:
            demand = data.setdefault("demand", {})
            if isinstance(demand, dict):
                stated = demand.setdefault("currency", currency)
                if str(stated).upper() != currency:
                    raise ValueError("has a currency sign that differs from demand.currency")
        return amount


def _set_path(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = target
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(f"column {dotted!r} clashes with another column")
        node = child
    if leaf == "currency" and isinstance(value, str):
        value = value.strip().upper()
    if leaf == "currency" and leaf in node and node[leaf] != value:
        raise ValueError("differs from the currency sign in demand.amount")
    node[leaf] = value
