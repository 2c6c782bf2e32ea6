"""What a reader learned about its source, for ``validate``'s summary: the kind, the encoding
it used, and each column (mapped, unknown by position, required but missing)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .rows import ColumnSummary

__all__ = ["SourceInfo"]


@dataclass
class SourceInfo:
    """Filled in by the reader as it goes (the columns once the header row is read)."""

    kind: str  # "jsonl", "csv", "spreadsheet", "sql"
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    columns: list[ColumnSummary] = field(default_factory=list)
    missing_required: list[str] = field(default_factory=list)
