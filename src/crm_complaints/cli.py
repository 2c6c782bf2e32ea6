"""The ``crm-complaints`` command: a thin layer over the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from . import __version__
from .config import Settings, load_settings
from .errors import ConfigError
from .jsonschema_export import SCHEMA_PATH, write_schema
from .labels import label
from .policy import Plan, Policy
from .readers import QuarantineEntry, read_complaints
from .schema import Complaint

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3

app = typer.Typer(
    name="crm-complaints",
    help="Normalize clinic complaints, plan who acts by when, and sync them into a CRM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
schema_app = typer.Typer(help="The normalized complaint's JSON Schema.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config (default: $CRM_COMPLAINTS_CONFIG)."),
]
SourceArgument = Annotated[Path, typer.Argument(help="Complaints as JSON Lines or CSV.")]

err = Console(stderr=True)


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        err.print(f"[red]config error[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc


def _require_file(path: Path) -> None:
    if not path.is_file():
        err.print(f"[red]error[/red] {path} is not a readable file")
        raise typer.Exit(EXIT_USAGE)


def _quarantine_line(entry: QuarantineEntry) -> str:
    return json.dumps(entry.model_dump(mode="json"), ensure_ascii=False)


def plan_to_json(plan: Plan) -> dict[str, object]:
    """The ``plan --format json`` record of one complaint."""
    data = plan.model_dump(mode="json", exclude={"language"})
    return data


@app.command()
def plan(
    source: SourceArgument,
    config: ConfigOption = None,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="table or json (one object per line).")
    ] = "table",
) -> None:
    """Validate complaints and print who must act, how urgently, and by when."""
    if output_format not in ("table", "json"):
        err.print("[red]error[/red] --format must be table or json")
        raise typer.Exit(EXIT_USAGE)
    _require_file(source)
    settings = _settings(config)
    policy = Policy(settings)
    quarantined = 0
    table = _plan_table() if output_format == "table" else None
    out = sys.stdout
    for result in read_complaints(source, settings.csv):
        if isinstance(result, QuarantineEntry):
            quarantined += 1
            print(_quarantine_line(result), file=sys.stderr)
            continue
        planned = policy.plan(result)
        if table is None:
            out.write(json.dumps(plan_to_json(planned), ensure_ascii=False) + "\n")
        else:
            _add_plan_row(table, result, planned)
    if table is not None:
        Console().print(table)
    raise typer.Exit(EXIT_PARTIAL if quarantined else EXIT_OK)


def _plan_table() -> Table:
    table = Table(title="Complaint plans")
    for column in ("complaint", "severity", "category", "task", "department", "due (local)"):
        table.add_column(
            column, overflow="fold", no_wrap=column in ("complaint", "task", "due (local)")
        )
    return table


def _add_plan_row(table: Table, complaint: Complaint, planned: Plan) -> None:
    """One row per task; the complaint's own cells only on its first row."""
    lang = planned.language
    head = [
        complaint.id,
        f"{planned.severity.value} {planned.priority}" + (" ⇧" if planned.escalated else ""),
        label(complaint.category, lang),
    ]
    for index, task in enumerate(planned.tasks):
        cells = head if index == 0 else ["", "", ""]
        table.add_row(
            *cells,
            ("✓ " if task.completed else "") + task.kind.value,
            label(task.department, lang),
            f"{task.due_at:%Y-%m-%d %H:%M %z}",
            end_section=index == len(planned.tasks) - 1,
        )


@app.command()
def validate(source: SourceArgument, config: ConfigOption = None) -> None:
    """Check complaints against the schema only; quarantined records go to stderr."""
    _require_file(source)
    settings = _settings(config)
    good = bad = 0
    for result in read_complaints(source, settings.csv):
        if isinstance(result, QuarantineEntry):
            bad += 1
            print(_quarantine_line(result), file=sys.stderr)
        else:
            good += 1
    err.print(f"{good} valid, {bad} quarantined")
    raise typer.Exit(EXIT_PARTIAL if bad else EXIT_OK)


@schema_app.command("export")
def schema_export(
    output: Annotated[Path, typer.Option("--output", "-o")] = SCHEMA_PATH,
) -> None:
    """Write the complaint JSON Schema (2020-12) generated from the model."""
    path = write_schema(output)
    err.print(f"wrote {path}")


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


def main() -> None:
    """Console-script entry: unexpected errors exit 1 with a one-line message."""
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:
        err.print(f"[red]unexpected error[/red] {type(exc).__name__}: {exc}")
        sys.exit(EXIT_UNEXPECTED)
