"""``validate``'s report: counts, each column (mapped, unknown by position, required but
missing), the encoding used, and problems grouped so a header problem is one line, not one per
row. Only field names, positions, counts and line numbers: never a value."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..quarantine import QuarantineEntry
from .problems import ReadResult
from .rows import ColumnSummary
from .summary import SourceInfo

__all__ = ["ProblemGroup", "ValidationReport", "summarize"]

_LINES_SHOWN = 10


@dataclass
class ProblemGroup:
    """One kind of problem (a field and a message) and where it occurred."""

    field: str
    message: str
    count: int = 0
    lines: list[int] = dataclasses.field(default_factory=list)  # the first few

    def where(self) -> str:
        shown = ", ".join(map(str, self.lines))
        return shown + (", …" if self.count > len(self.lines) else "")


@dataclass
class ValidationReport:
    source: str
    info: SourceInfo
    valid: int = 0
    quarantined: int = 0
    groups: list[ProblemGroup] = dataclasses.field(default_factory=list)

    @property
    def records_read(self) -> int:
        return self.valid + self.quarantined

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.info.kind,
            "encoding": self.info.encoding,
            "delimiter": self.info.delimiter,
            "sheet": self.info.sheet,
            "records_read": self.records_read,
            "valid": self.valid,
            "quarantined": self.quarantined,
            "columns": [
                {
                    "number": c.number,
                    "header": c.header,
                    "field": c.target,
                    "status": _status(c),
                    "filled": c.filled,
                }
                for c in self.info.columns
            ],
            "required_missing": list(self.info.missing_required),
            "problems": [
                {"field": g.field, "message": g.message, "count": g.count, "lines": g.lines}
                for g in self.groups
            ],
        }


def _status(column: ColumnSummary) -> str:
    if column.target:
        return "mapped"
    if column.repeats:
        return "repeats " + column.repeats
    return "unknown" if column.header is None else "no header"


def summarize(
    source: str,
    info: SourceInfo,
    results: Iterable[ReadResult],
    on_quarantine: Callable[[QuarantineEntry], None] | None = None,
) -> ValidationReport:
    """Read everything, counting and grouping; each entry is also handed to ``on_quarantine``
    (the CLI prints it to stderr, one JSON line each, for tools)."""
    report = ValidationReport(source=source, info=info)
    groups: dict[tuple[str, str], ProblemGroup] = {}
    for result in results:
        if not isinstance(result, QuarantineEntry):
            report.valid += 1
            continue
        report.quarantined += 1
        if on_quarantine is not None:
            on_quarantine(result)
        for problem in result.problems:
            group = groups.setdefault(
                (problem.field, problem.message), ProblemGroup(problem.field, problem.message)
            )
            group.count += 1
            if len(group.lines) < _LINES_SHOWN:
                group.lines.append(result.line)
    report.groups = sorted(groups.values(), key=lambda g: (-g.count, g.lines[0] if g.lines else 0))
    return report
