"""Quarantine entries: records that could not be used, and why.

A :class:`QuarantineEntry` names where a bad record was found (source and line), its complaint
id when that much was readable, and one :class:`FieldProblem` per field that was wrong, with a
message a clinic admin understands. It never quotes the rejected value: that value may be a
patient's name, phone number or description, and quarantine entries are logged, stored in the
state database and shown in reports, none of which may carry personal data.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from .errors import RecordError

__all__ = ["FieldProblem", "QuarantineEntry", "duplicate_entry", "from_record_error"]


class FieldProblem(BaseModel):
    """What is wrong with one field, in clinic words; never the field's value."""

    model_config = ConfigDict(frozen=True)

    field: str
    message: str


class QuarantineEntry(BaseModel):
    """A record that could not be used, and why. Holds no field values."""

    model_config = ConfigDict(frozen=True)

    source: str
    line: int
    complaint_id: str | None
    problems: tuple[FieldProblem, ...]

    @property
    def field(self) -> str:
        return self.problems[0].field

    @property
    def message(self) -> str:
        return "; ".join(f"{p.field}: {p.message}" for p in self.problems)


def from_record_error(error: RecordError, source: str, line: int) -> QuarantineEntry:
    """A record that was valid input but could not be used (e.g. no plan could be computed)."""
    return QuarantineEntry(
        source=source,
        line=line,
        complaint_id=error.record,
        problems=(FieldProblem(field=error.field or "(record)", message=error.reason),),
    )


def duplicate_entry(complaint_id: str, first: int, position: int) -> QuarantineEntry:
    """The later copy of a complaint id already read from the same input. ``first`` and
    ``position`` count records from 1 (quarantined ones too), not lines."""
    return QuarantineEntry(
        source="(run)",
        line=position,
        complaint_id=complaint_id,
        problems=(
            FieldProblem(
                field="id",
                message=f"appears again in the same input (first as record {first}); "
                "the later copy is skipped",
            ),
        ),
    )
