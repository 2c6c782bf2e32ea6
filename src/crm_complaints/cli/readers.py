"""Commands that only read complaints, no CRM: ``plan``, ``validate``, ``template`` and
``schema export``. Only ``plan`` reads the state store, if one exists: steps a CRM reported
completed are shown done."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..config import Settings
from ..errors import RecordError
from ..exit_codes import ExitCode
from ..jsonschema_export import SCHEMA_PATH, write_schema
from ..labels import label, task_title
from ..policy import Plan, Policy
from ..quarantine import from_record_error
from ..readers import (
    QuarantineEntry,
    ReadResult,
    SourceInfo,
    describe_source,
    mark_duplicates,
    read_source,
)
from ..readers.validation import ValidationReport, summarize
from ..schema import Complaint
from .common import (
    ConfigOption,
    SourceArgument,
    SummaryFormat,
    _completions,
    _quarantine_line,
    _run_session,
    _settings,
    _source,
    app,
    err,
    schema_app,
)


class PlanFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def plan_to_json(plan: Plan) -> dict[str, object]:
    """The ``plan --format json`` record of one complaint."""
    data = plan.model_dump(mode="json", exclude={"language"})
    return data


@app.command()
def plan(
    source: SourceArgument = None,
    config: ConfigOption = None,
    output_format: Annotated[
        PlanFormat, typer.Option("--format", "-f", help="One object per line with json.")
    ] = PlanFormat.TABLE,
) -> None:
    """Validate complaints and print who must act, how urgently, and by when."""
    settings = _settings(config)
    source_used = _source(source, settings)
    policy = Policy.from_settings(settings)
    done_in_crm = _completions(settings)  # steps a CRM reported completed: shown done
    from ..crm_changes import with_crm_completions  # with the state store: see _completions

    quarantined = 0
    table = _plan_table() if output_format is PlanFormat.TABLE else None
    out = sys.stdout
    for position, result in enumerate(_read_checked(source_used, settings), start=1):
        if isinstance(result, QuarantineEntry):
            quarantined += 1
            print(_quarantine_line(result), file=sys.stderr)
            continue
        try:
            planned = with_crm_completions(policy.plan(result), done_in_crm)
        except RecordError as exc:  # valid input no deadline can be computed from
            quarantined += 1
            entry = from_record_error(exc, describe_source(source_used), position)
            print(_quarantine_line(entry), file=sys.stderr)
            continue
        if table is None:
            out.write(json.dumps(plan_to_json(planned), ensure_ascii=False) + "\n")
        else:
            _add_plan_row(table, result, planned)
    if table is not None:
        console = Console()
        console.print(table)
        console.print(PLAN_LEGEND, highlight=False)
    raise typer.Exit(ExitCode.PARTIAL if quarantined else ExitCode.OK)


PLAN_LEGEND = "⇧ escalated to management · ✓ step already done · due: the clinic's local time"


def _plan_table() -> Table:
    """Four columns, so that it reads at 80 columns: the complaint (id, severity, category),
    the task in the complaint's language, who, and when."""
    table = Table(title="Complaint plans", expand=True, pad_edge=False)
    table.add_column("complaint", overflow="fold", ratio=3)
    table.add_column("task", overflow="fold", ratio=5)
    table.add_column("who", overflow="fold", ratio=2)
    table.add_column("due", no_wrap=True, width=11)
    return table


def _add_plan_row(table: Table, complaint: Complaint, planned: Plan) -> None:
    """One row per task; the complaint's own cell only on its first row."""
    lang = planned.language
    head = "\n".join(
        [
            complaint.id,
            f"{planned.severity.value} {planned.priority}" + (" ⇧" if planned.escalated else ""),
            label(complaint.category, lang),
        ]
    )
    for index, task in enumerate(planned.tasks):
        table.add_row(
            head if index == 0 else "",
            # no space after the mark: a line may break at a space, and CJK titles have none
            ("✓" if task.completed else "") + task_title(task.kind.value, lang),
            label(task.department, lang),
            f"{task.due_at:%Y-%m-%d}\n{task.due_at:%H:%M %z}",
            end_section=index == len(planned.tasks) - 1,
        )


def _read_checked(
    source: str | Path, settings: Settings, info: SourceInfo | None = None
) -> Iterator[ReadResult]:
    """The source's records with a repeated id quarantined as sync does; a problem of the whole
    file (such as the wrong csv.encoding) exits 2 with its message."""
    with _run_session():
        yield from mark_duplicates(read_source(source, settings, info=info))


@app.command()
def validate(
    source: SourceArgument = None,
    config: ConfigOption = None,
    output_format: Annotated[
        SummaryFormat, typer.Option("--format", "-f", help="The summary as one JSON object.")
    ] = SummaryFormat.TEXT,
) -> None:
    """Check complaints against the schema only: a summary of the columns, the encoding and
    the problems (grouped) on stdout; each quarantined record as a JSON line on stderr."""
    settings = _settings(config)
    source_used = _source(source, settings)
    info = SourceInfo(kind="")
    report = summarize(
        describe_source(source_used),
        info,
        _read_checked(source_used, settings, info),
        on_quarantine=lambda entry: print(_quarantine_line(entry), file=sys.stderr),
    )
    if output_format is SummaryFormat.JSON:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        _print_validation(Console(), report)
    err.print(
        f"{report.records_read} records read: {report.valid} valid, "
        f"{report.quarantined} quarantined"
    )
    raise typer.Exit(ExitCode.PARTIAL if report.quarantined else ExitCode.OK)


def _print_validation(out: Console, report: ValidationReport) -> None:
    info = report.info
    facts = [f"{report.source} ({info.kind})"]
    facts += [f"encoding {info.encoding}"] if info.encoding else []
    facts += [f"delimiter {info.delimiter}"] if info.delimiter else []
    facts += [f"sheet {info.sheet}"] if info.sheet else []
    out.print(", ".join(facts), highlight=False)
    if not info.columns and not report.records_read:
        out.print("[yellow]the source is empty[/yellow]: no header row, no records")
    if info.columns:
        columns = Table(title="Columns")
        for name in ("#", "header", "field", "filled"):
            numeric = name in ("#", "filled")
            columns.add_column(name, overflow="fold", justify="right" if numeric else "left")
        for column in info.columns:
            shown = column.header if column.header is not None else "(not shown)"
            target = column.target or f"[yellow]{column.label}[/yellow]"
            columns.add_row(str(column.number), shown, target, str(column.filled))
        out.print(columns)
    for name in info.missing_required:
        out.print(f"[red]required but missing[/red]: no column fills {name}")
    if report.groups:
        problems = Table(title="Problems")
        for name in ("field", "problem", "records", "lines"):
            problems.add_column(name, overflow="fold")
        for group in report.groups:
            problems.add_row(group.field, group.message, str(group.count), group.where())
        out.print(problems)
    out.print(
        f"{report.records_read} read, {report.valid} valid, {report.quarantined} quarantined",
        highlight=False,
    )


class TemplateFormat(StrEnum):
    XLSX = "xlsx"
    CSV = "csv"


class TemplateLanguage(StrEnum):
    EN = "en"
    JA = "ja"
    ZH_HANS = "zh-Hans"
    ZH_HANT = "zh-Hant"


@app.command()
def template(
    output_format: Annotated[TemplateFormat, typer.Option("--format", "-f")] = TemplateFormat.XLSX,
    language: Annotated[
        TemplateLanguage, typer.Option("--language", "-l", help="Headers and lists in it.")
    ] = TemplateLanguage.EN,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Default: complaints-template.<format>")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write an empty complaints workbook (or CSV) to start from: headers in the language,
    drop-down lists for the enumerated columns, and a sheet explaining each column. Filled in,
    it reads without any column mapping."""
    from ..readers.template import write_template

    target = output or Path(f"complaints-template.{output_format.value}")
    if target.exists() and not force:
        err.print(f"[red]usage[/red] {target} exists; pass --force to overwrite it")
        raise typer.Exit(ExitCode.USAGE)
    write_template(target, language.value, output_format.value)
    err.print(f"wrote {target}")


@schema_app.command("export")
def schema_export(
    output: Annotated[Path, typer.Option("--output", "-o")] = SCHEMA_PATH,
) -> None:
    """Write the complaint JSON Schema (2020-12) generated from the model."""
    path = write_schema(output)
    err.print(f"wrote {path}")
