"""Workbooks read directly: ``.xlsx``, ``.xlsm``, ``.xls`` and ``.ods``, through python-calamine
(https://github.com/dimastbk/python-calamine), with cells typed as dates kept as dates.

A date cell has no time zone, so it follows ``csv.local_time`` like any written date-time.
The whole sheet is read by calamine at once (workbooks are zip archives of XML: there is no
cheap way to stream one), then mapped row by row.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from python_calamine import CalamineError, CalamineSheet, CalamineWorkbook

from ..config import CsvConfig
from ..errors import ConfigError
from ..quarantine import FieldProblem
from .problems import ReadResult, quarantine
from .rows import ClinicLocales, RowMapper, cell_text
from .summary import SourceInfo

__all__ = ["SPREADSHEET_SUFFIXES", "read_spreadsheet"]

SPREADSHEET_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".ods"})
_NO_HEADER = (
    "names no complaint field; is the header row missing? (csv.columns maps headers to fields)"
)


def _sheet(workbook: CalamineWorkbook, wanted: str | int | None, source: str) -> CalamineSheet:
    names = workbook.sheet_names
    if wanted is None:
        return workbook.get_sheet_by_index(0)
    if isinstance(wanted, int):
        if not 1 <= wanted <= len(names):
            raise ConfigError(
                f"{source} has {len(names)} sheet(s); csv.sheet counts from 1", key="csv.sheet"
            )
        return workbook.get_sheet_by_index(wanted - 1)
    if wanted not in names:
        raise ConfigError(
            f"{source} has no sheet of that name; its sheets: {', '.join(names)}",
            key="csv.sheet",
        )
    return workbook.get_sheet_by_name(wanted)


def read_spreadsheet(
    path: Path,
    config: CsvConfig | None = None,
    source: str | None = None,
    *,
    locales: ClinicLocales | None = None,
    info: SourceInfo | None = None,
) -> Iterator[ReadResult]:
    """Rows of one sheet (``csv.sheet``: a name, or a position from 1; default the first),
    the first row its header. Line numbers are the sheet's row numbers, as Excel shows them."""
    config = config or CsvConfig()
    source = source or path.name
    info = info if info is not None else SourceInfo(kind="spreadsheet")
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except (CalamineError, OSError, ValueError) as exc:
        raise ConfigError(
            f"{source} cannot be read as a workbook ({type(exc).__name__}); save it again as "
            ".xlsx, or export it as CSV"
        ) from exc
    with workbook:
        sheet = _sheet(workbook, config.sheet, source)
        info.sheet = sheet.name
        first_row = sheet.start[0] if sheet.start else 0
        rows = iter(sheet.to_python(skip_empty_area=True))
        header = next(rows, None)
        if header is None:
            return
        mapper = RowMapper([cell_text(cell) for cell in header], config, source, locales=locales)
        info.columns = mapper.columns
        info.missing_required = mapper.missing_required
        if not mapper.knows_any_column:
            problem = FieldProblem(field="(header)", message=_NO_HEADER)
            yield quarantine(source, first_row + 1, None, [problem])
        for offset, row in enumerate(rows, start=2):
            if all(cell == "" or cell is None for cell in row):
                continue
            yield mapper.map_row(first_row + offset, row)
