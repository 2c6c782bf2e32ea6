"""What every command module shares: the Typer apps, the common options, the stderr console,
and the helpers that turn config and state-store trouble into exit codes and one-line messages."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ..config import Settings, load_settings
from ..errors import AuthError, ConfigError, LockHeldError, StateError
from ..exit_codes import ExitCode
from ..readers import QuarantineEntry, configured_source, is_database_url


class SummaryFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


app = typer.Typer(
    name="crm-complaints",
    help="Normalize clinic complaints, plan who acts by when, and sync them into a CRM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
schema_app = typer.Typer(help="The normalized complaint's JSON Schema.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
emulator_app = typer.Typer(
    help="Local emulators of CRMs, for tests and demos.", no_args_is_help=True
)
app.add_typer(emulator_app, name="emulator")

audit_app = typer.Typer(help="The audit trail of remote writes.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config (default: $CRM_COMPLAINTS_CONFIG)."),
]
SourceArgument = Annotated[
    str | None,
    typer.Argument(
        help="JSON Lines, CSV, a workbook (.xlsx, .xls, .ods) or a database URL; "
        "default: [source] in the config.",
        show_default=False,
    ),
]
SourceOption = Annotated[
    str | None,
    typer.Option(
        "--source",
        "-s",
        help="JSON Lines, CSV, a workbook or a database URL (default: [source] in the config).",
    ),
]

err = Console(stderr=True)


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        err.print(f"[red]config error[/red] {exc}")
        raise typer.Exit(ExitCode.USAGE) from exc


def _require_file(path: Path) -> None:
    if not path.is_file():
        err.print(f"[red]error[/red] {path} is not a readable file")
        raise typer.Exit(ExitCode.USAGE)


def _source(given: str | None, settings: Settings) -> str | Path:
    """The source given, else ``[source]``'s; a file must exist, a database URL is kept."""
    try:
        chosen = configured_source(settings) if given is None else given
    except ConfigError as exc:
        err.print(f"[red]usage[/red] {exc}")
        raise typer.Exit(ExitCode.USAGE) from exc
    if isinstance(chosen, str) and is_database_url(chosen):
        return chosen
    _require_file(Path(chosen))
    return Path(chosen)


def _adapter(given: str | None, settings: Settings) -> str:
    if given:
        return given
    if settings.source.adapter:
        return settings.source.adapter
    err.print("[red]usage[/red] --adapter is needed (or source.adapter in the config)")
    raise typer.Exit(ExitCode.USAGE)


def _quarantine_line(entry: QuarantineEntry) -> str:
    return json.dumps(entry.model_dump(mode="json"), ensure_ascii=False)


@contextmanager
def _run_session() -> Iterator[None]:
    """Errors that end a run before or during it, as exit codes and one-line messages."""
    try:
        yield
    except LockHeldError as exc:
        err.print(f"[yellow]locked[/yellow] {exc}; try again when it has finished")
        raise typer.Exit(ExitCode.LOCKED) from exc
    except StateError as exc:
        err.print(f"[red]state error[/red] {exc}")
        raise typer.Exit(ExitCode.USAGE) from exc
    except AuthError as exc:
        err.print(f"[red]auth error[/red] {exc}")
        raise typer.Exit(ExitCode.USAGE) from exc
    except ConfigError as exc:  # also a mapping the CRM's portal lacks, found at discovery
        err.print(f"[red]config error[/red] {exc}")
        raise typer.Exit(ExitCode.USAGE) from exc


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _completions(settings: Settings) -> dict[tuple[str, str], datetime]:
    """Tasks a CRM reported completed (``pull``, ``reconcile``), if the state store can be
    read, for ``plan`` and ``report``, which work without one (and never create one).
    Imported only when a store may exist: the state store brings SQLAlchemy, a fifth of the
    CLI's start-up, which a run without a store never needs."""
    if settings.state.url is None and not Path(settings.state.path).is_file():
        return {}  # no SQLite file: nothing to read (a URL is looked at by stored_completions)
    from ..crm_changes import stored_completions

    try:
        return stored_completions(settings)
    except StateError as exc:
        err.print(f"[yellow]warning[/yellow] steps done in the CRM not shown: {exc}")
        return {}
