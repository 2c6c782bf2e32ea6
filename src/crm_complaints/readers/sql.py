"""The clinic's own database: a SQLAlchemy URL and a query, its columns mapped like a CSV's.

Rows are streamed (``stream_results`` with ``yield_per``: a server-side cursor on PostgreSQL,
see https://docs.sqlalchemy.org/en/20/core/connections.html#using-server-side-cursors-a-k-a-stream-results),
so memory stays flat whatever the table's size. The URL's password never appears in a source
name, a message or a quarantine entry; keep it out of the config file with ``source.url_env``.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from ..config import CsvConfig
from ..errors import ConfigError
from .problems import ReadResult
from .rows import ClinicLocales, RowMapper
from .summary import SourceInfo

__all__ = ["read_sql", "safe_url"]

_BATCH = 1000


def safe_url(url: str) -> str:
    """The URL as it may be shown: the password masked."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<database URL>"


def _engine(url: str) -> sa.Engine:
    try:
        parsed = sa.engine.make_url(url)
        if parsed.drivername == "postgresql":
            # psycopg 3 is the driver this project installs (the postgres extra); SQLAlchemy's
            # default for a bare postgresql:// is psycopg2.
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(parsed)
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(
            f"no database driver for this URL is installed ({type(exc).__name__}); for "
            "PostgreSQL: pip install 'crm-complaints[postgres]'",
            key="source.url",
        ) from exc
    except sa.exc.ArgumentError as exc:
        raise ConfigError(
            "is not a SQLAlchemy URL like postgresql://user@host/db", key="source.url"
        ) from exc


def read_sql(
    url: str,
    query: str,
    config: CsvConfig | None = None,
    *,
    locales: ClinicLocales | None = None,
    info: SourceInfo | None = None,
) -> Iterator[ReadResult]:
    """The query's rows, each mapped like a CSV row (column names as headers). Line numbers
    count rows from 1, in the query's order."""
    config = config or CsvConfig()
    info = info if info is not None else SourceInfo(kind="sql")
    source = safe_url(url)
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            try:
                result = connection.execution_options(
                    stream_results=True, yield_per=_BATCH
                ).execute(sa.text(query))
            except sa.exc.SQLAlchemyError as exc:
                raise _database_error(exc, "source.query") from exc
            mapper = RowMapper(list(result.keys()), config, source, locales=locales)
            info.columns = mapper.columns
            info.missing_required = mapper.missing_required
            try:
                for number, row in enumerate(result, start=1):
                    yield mapper.map_row(number, tuple(row))
            except sa.exc.SQLAlchemyError as exc:
                raise _database_error(exc, "source.query") from exc
    except sa.exc.OperationalError as exc:
        raise _database_error(exc, "source.url") from exc
    finally:
        engine.dispose()


def _database_error(exc: sa.exc.SQLAlchemyError, key: str) -> ConfigError:
    """The driver's own first line (it names no password), without SQLAlchemy's echo of
    parameters."""
    original = getattr(exc, "orig", None) or exc
    first_line = (str(original).strip().splitlines() or [""])[0]
    return ConfigError(f"the database said: {type(original).__name__}: {first_line}", key=key)
