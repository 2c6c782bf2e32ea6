"""Streaming readers: complaints in, complaints and quarantine entries out.

From JSON Lines, CSV (any encoding the clinics' tools write, detected), workbooks (``.xlsx``,
``.xls``, ``.ods``) and the clinic's own database (a SQLAlchemy URL and a query). Memory stays
flat whatever the size: one record at a time (a workbook's sheet is the exception). A bad
record never stops the stream; it becomes a :class:`QuarantineEntry` naming the source, line,
complaint id (when readable) and field, with a message a clinic admin understands. Messages
never quote the rejected value: it may be a patient's name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import CsvConfig, Settings
from ..errors import ConfigError
from ..quarantine import FieldProblem, QuarantineEntry, duplicate_entry
from ..schema import Complaint
from .delimited import read_csv
from .jsonl import read_jsonl
from .problems import ReadResult
from .rows import ClinicLocales
from .spreadsheets import SPREADSHEET_SUFFIXES, read_spreadsheet
from .summary import SourceInfo

if TYPE_CHECKING:
    from .sql import read_sql, safe_url

__all__ = [
    "ClinicLocales",
    "FieldProblem",
    "QuarantineEntry",
    "ReadResult",
    "SourceInfo",
    "configured_source",
    "describe_source",
    "is_database_url",
    "mark_duplicates",
    "read_complaints",
    "read_csv",
    "read_jsonl",
    "read_source",
    "read_spreadsheet",
    "read_sql",
    "safe_url",
]


def __getattr__(name: str) -> Any:
    """``read_sql`` and ``safe_url`` on first use: :mod:`.sql` imports SQLAlchemy, a fifth of
    the command's start-up, which files never need."""
    if name in ("read_sql", "safe_url"):
        from . import sql

        return getattr(sql, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_database_url(text: str) -> bool:
    """Whether a ``--source`` names a database (``postgresql://…``, ``sqlite:///…``)."""
    return "://" in text and not text.startswith("file://")


CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})  # .txt: Excel's "Unicode text"


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


def read_complaints(
    path: Path | str,
    csv_config: CsvConfig | None = None,
    *,
    settings: Settings | None = None,
    info: SourceInfo | None = None,
) -> Iterator[ReadResult]:
    """Pick the reader by extension: ``.csv`` / ``.tsv`` / ``.txt`` → CSV, ``.xlsx`` /
    ``.xlsm`` / ``.xls`` / ``.ods`` → workbook, anything else → JSON Lines. ``settings``
    gives the clinics' time zones for ``csv.local_time`` (default: the default clinic's)."""
    file = Path(path)
    config = csv_config or (settings.csv if settings else CsvConfig())
    locales = ClinicLocales.from_settings(settings) if settings else None
    suffix = file.suffix.lower()
    if suffix in SPREADSHEET_SUFFIXES:
        yield from read_spreadsheet(
            file, config, file.name, locales=locales, info=_kind(info, "spreadsheet")
        )
        return
    with file.open("rb") as stream:
        if suffix in CSV_SUFFIXES:
            yield from read_csv(stream, config, file.name, locales=locales, info=_kind(info, "csv"))
        else:
            _kind(info, "jsonl").encoding = "UTF-8"
            yield from read_jsonl(stream, source=file.name)


def _kind(info: SourceInfo | None, kind: str) -> SourceInfo:
    if info is None:
        return SourceInfo(kind=kind)
    info.kind = kind
    return info


def _database_url(settings: Settings) -> str | None:
    config = settings.source
    if config.url_env:
        url = os.environ.get(config.url_env)
        if not url:
            raise ConfigError(
                f"the environment variable {config.url_env} is not set", key="source.url_env"
            )
        return url
    return config.url


def configured_source(settings: Settings) -> str | Path:
    """``[source]``'s file or database URL, for commands run without a source."""
    url = _database_url(settings)
    if url:
        return url
    if settings.source.path is not None:
        return settings.source.path
    raise ConfigError(
        "no source given: pass one, or set source.path (a file) or source.url and "
        "source.query (a database)",
        key="source",
    )


def read_source(
    source: str | Path | None, settings: Settings, *, info: SourceInfo | None = None
) -> Iterator[ReadResult]:
    """Complaints from a file, a SQLAlchemy URL (with ``source.query``), or, when ``source``
    is None, wherever ``[source]`` points."""
    chosen = configured_source(settings) if source is None else source
    if isinstance(chosen, str) and is_database_url(chosen):
        query = settings.source.query
        if not query:
            raise ConfigError("a database source needs a query", key="source.query")
        from .sql import read_sql

        locales = ClinicLocales.from_settings(settings)
        yield from read_sql(chosen, query, settings.csv, locales=locales, info=_kind(info, "sql"))
        return
    yield from read_complaints(chosen, settings=settings, info=info)


def describe_source(source: str | Path) -> str:
    """A source as it may be printed (a database URL without its password)."""
    if isinstance(source, str) and is_database_url(source):
        from .sql import safe_url

        return safe_url(source)
    return str(source)
