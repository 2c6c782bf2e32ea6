"""The dotted field paths of the complaint schema (``id``, ``demand.kind``…).

Readers use them to tell a column that fills a field from one that doesn't, and the config to
refuse a ``csv.columns`` target that is no field at all, before a single row is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import get_args

from pydantic import BaseModel

from .schema import Complaint, RiskFlag

__all__ = ["FIELD_NAMES", "SCHEMA_PATHS", "is_column_target"]


def _schema_paths(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, info in model.model_fields.items():
        yield prefix + name
        for nested in _models_in(info.annotation):
            yield from _schema_paths(nested, f"{prefix}{name}.")


def _models_in(annotation: object) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in get_args(annotation):
        yield from _models_in(argument)


SCHEMA_PATHS = frozenset(_schema_paths(Complaint))
# Names a message may quote: the schema's own. Any other key came from the input and may be a
# patient's name (a CSV without its header row makes the first patient's cells the "names").
FIELD_NAMES = frozenset(path.rsplit(".", 1)[-1] for path in SCHEMA_PATHS)
_FLAG_COLUMNS = frozenset(f"risk_flags.{flag.value}" for flag in RiskFlag)


def is_column_target(path: str) -> bool:
    """Whether a column may fill this path: a schema field, a ``custom.*`` key, or
    ``risk_flags.<flag>`` (a yes/no column for one flag)."""
    return path in SCHEMA_PATHS or path in _FLAG_COLUMNS or path.startswith("custom.")
