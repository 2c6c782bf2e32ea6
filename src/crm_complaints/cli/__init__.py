"""The ``crm-complaints`` command: a thin layer over the library."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .. import __version__
from ..adapters.registry import available_adapters
from ..config import Settings, load_settings
from ..errors import AuthError, ConfigError, LockHeldError, RecordError, StateError
from ..exit_codes import ExitCode
from ..job import Job
from ..jsonschema_export import SCHEMA_PATH, write_schema
from ..labels import label, task_title
from ..policy import Plan, Policy
from ..quarantine import from_record_error
from ..readers import (
    QuarantineEntry,
    ReadResult,
    SourceInfo,
    configured_source,
    describe_source,
    is_database_url,
    mark_duplicates,
    read_source,
)
from ..readers.validation import ValidationReport, summarize
from ..schema import Complaint
from ..state import NamespaceStatus, RunRecord, StoredRecord
from ..sync import SyncSummary


class PlanFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


class SummaryFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class ReportFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    HTML = "html"


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
    quarantined = 0
    table = _plan_table() if output_format is PlanFormat.TABLE else None
    out = sys.stdout
    for position, result in enumerate(_read_checked(source_used, settings), start=1):
        if isinstance(result, QuarantineEntry):
            quarantined += 1
            print(_quarantine_line(result), file=sys.stderr)
            continue
        try:
            planned = policy.plan(result)
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


def _summary_json(summary: SyncSummary) -> str:
    data: dict[str, object] = {
        **summary.counts(),
        "run_id": summary.run_id,
        "dry_run": summary.dry_run,
        "outcome": summary.outcome,
        "stopped": summary.stopped,
        "exit_code": summary.exit_code,
    }
    if summary.dry_run:
        data["actions"] = [
            {"complaint_id": a.complaint_id, "action": a.action} for a in summary.actions
        ]
    return json.dumps(data, ensure_ascii=False)


@app.command("sync")
def sync_command(
    source: SourceOption = None,
    adapter: Annotated[
        str | None,
        typer.Option("--adapter", "-a", help="webhook, hubspot, or a plugin (or source.adapter)."),
    ] = None,
    config: ConfigOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, touch nothing.")] = False,
    retry_quarantined: Annotated[
        bool,
        typer.Option(
            "--retry-quarantined", help="Push records the CRM refused before, unchanged or not."
        ),
    ] = False,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, max=1000)] = None,
    output_format: Annotated[SummaryFormat, typer.Option("--format", "-f")] = SummaryFormat.TEXT,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    history: Annotated[
        str | None,
        typer.Option(
            "--history",
            metavar="BEFORE",
            help="Importing history: steps due before this date (or ISO time with offset) of "
            "complaints received before it are written as done; recorded for later runs.",
        ),
    ] = None,
) -> None:
    """Push new and changed complaints to a CRM; unchanged ones cost nothing.

    Exit codes: 0 all synced, 3 some quarantined or left pending, 4 another run holds the lock,
    2 usage or config, 1 unexpected, 130 / 143 stopped by SIGINT / SIGTERM (recorded as
    stopped; the rest stays pending for the next run).
    """
    _configure_logging(verbose)
    job = Job(_settings(config))
    source_used = _source(source, job.settings)
    adapter = _adapter(adapter, job.settings)
    history_before = None
    if history is not None:
        from ..history import parse_cutoff

        try:
            history_before = parse_cutoff(history, job.settings.default_clinic.calendar().zone)
        except ValueError as exc:
            err.print(f"[red]usage[/red] --history: {exc}")
            raise typer.Exit(ExitCode.USAGE) from exc
    show = output_format is SummaryFormat.TEXT and err.is_terminal
    with _run_session(), _progress(f"sync → {adapter}", show) as on_progress:
        summary = job.sync(
            source_used,
            adapter=adapter,
            dry_run=dry_run,
            batch_size=batch_size,
            on_progress=on_progress,
            retry_quarantined=retry_quarantined,
            history_before=history_before,
        )
    if output_format is SummaryFormat.JSON:
        print(_summary_json(summary))
    else:
        if summary.dry_run:
            for action in summary.actions:
                print(f"would {action.action.value}: {action.complaint_id}")
        print(summary.line())
    raise typer.Exit(summary.exit_code)


@contextmanager
def _progress(description: str, show: bool) -> Iterator[Callable[[int], None] | None]:
    """A progress line on a terminal (records read so far), nothing elsewhere."""
    if not show:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} records"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=None)
        yield lambda n: progress.update(task, completed=n)


@app.command()
def status(
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 10,
    output_format: Annotated[SummaryFormat, typer.Option("--format", "-f")] = SummaryFormat.TEXT,
    all_namespaces: Annotated[
        bool,
        typer.Option(
            "--all-namespaces",
            "-A",
            help="One row per portal (namespace) and adapter in the database: last run, "
            "outcome, pending, failed, quarantined and overdue counts.",
        ),
    ] = False,
) -> None:
    """Last runs and the records not synced (ids, states and errors; no personal data)."""
    job = Job(_settings(config))
    with _run_session():
        store = job.store()
    if all_namespaces:
        try:
            portals = store.all_namespaces()
        finally:
            store.close()
        if output_format is SummaryFormat.JSON:
            print(json.dumps({"namespaces": [_portal_json(p) for p in portals]}))
        else:
            _print_portals(Console(), portals)
        return
    try:
        runs = store.recent_runs(limit)
        problems = store.problem_records()
        last_quarantine = store.quarantine_of_run(runs[0].id) if runs else []
    finally:
        store.close()
    if output_format is SummaryFormat.JSON:
        print(json.dumps(_status_json(runs, problems, last_quarantine), ensure_ascii=False))
    else:
        _print_status(Console(), runs, problems, last_quarantine)


def _run_json(run: RunRecord | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run.id,
        "kind": run.kind,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "outcome": run.outcome,
        "counts": dict(run.counts),
    }


def _portal_json(portal: NamespaceStatus) -> dict[str, Any]:
    return {
        "namespace": portal.namespace,
        "adapter": portal.adapter,
        "last_run": _run_json(portal.last_run),
        "pending": portal.pending,
        "failed": portal.failed,
        "quarantined": portal.quarantined,
        "overdue": portal.overdue,
        "last_reconcile": _run_json(portal.last_reconcile),
    }


def _print_portals(out: Console, portals: list[NamespaceStatus]) -> None:
    table = Table(title="Portals (namespaces)")
    for column in ("namespace", "adapter", "last run", "outcome", "pending", "failed"):
        table.add_column(column)
    for column in ("quarantined", "overdue"):
        table.add_column(column, justify="right")
    for portal in portals:
        run = portal.last_run
        reconciled = portal.last_reconcile
        overdue = "never reconciled"
        if reconciled is not None:
            overdue = f"{portal.overdue} (as of {reconciled.started_at:%Y-%m-%d %H:%M %Z})"
        table.add_row(
            portal.namespace,
            portal.adapter,
            f"{run.kind} {run.started_at:%Y-%m-%d %H:%M:%S %Z}" if run else "none",
            (run.outcome or "running / crashed") if run else "",
            str(portal.pending),
            str(portal.failed),
            str(portal.quarantined),
            overdue,
        )
    out.print(table)


def _status_json(
    runs: list[RunRecord], problems: list[StoredRecord], last_quarantine: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "runs": [
            {
                "id": r.id,
                "kind": r.kind,
                "adapter": r.adapter,
                "started_at": r.started_at.isoformat(),
                "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                "outcome": r.outcome,
                "counts": dict(r.counts),
            }
            for r in runs
        ],
        "records": [
            {
                "adapter": p.adapter,
                "complaint_id": p.complaint_id,
                "state": p.state.value,
                "attempts": p.attempts,
                "last_error": p.last_error,
            }
            for p in problems
        ],
        "last_run_quarantine": last_quarantine,
    }


def _print_status(
    out: Console,
    runs: list[RunRecord],
    problems: list[StoredRecord],
    last_quarantine: list[dict[str, Any]],
) -> None:
    runs_table = Table(title="Recent runs")
    for column in ("run", "kind", "adapter", "started", "outcome", "counts"):
        runs_table.add_column(column)
    for r in runs:
        counts = ", ".join(f"{k} {v}" for k, v in r.counts.items())
        runs_table.add_row(
            str(r.id),
            r.kind,
            r.adapter,
            f"{r.started_at:%Y-%m-%d %H:%M:%S %Z}",
            r.outcome or "running / crashed",
            counts,
        )
    out.print(runs_table)
    records_table = Table(title="Records not synced")
    for column in ("adapter", "complaint", "state", "attempts", "last error"):
        records_table.add_column(column)
    for p in problems:
        records_table.add_row(
            p.adapter, p.complaint_id, p.state.value, str(p.attempts), p.last_error or ""
        )
    out.print(records_table)
    if last_quarantine:
        out.print(f"{len(last_quarantine)} input record(s) quarantined in the last run:")
        for q in last_quarantine:
            problems_text = "; ".join(f"{x['field']}: {x['message']}" for x in q["problems"])
            out.print(f"  {q['source']}:{q['line']} {q['complaint_id'] or '?'} {problems_text}")


@app.command()
def adapters() -> None:
    """List installed adapters with their version and origin."""
    table = Table(title="Installed adapters")
    for column in ("name", "package", "version", "object"):
        table.add_column(column)
    for name, entry in sorted(available_adapters().items()):
        dist = entry.dist
        table.add_row(name, dist.name if dist else "?", dist.version if dist else "?", entry.value)
    Console().print(table)


@app.command()
def setup(
    adapter: Annotated[str, typer.Option("--adapter", "-a")],
    config: ConfigOption = None,
) -> None:
    """Idempotent one-time bootstrap of an adapter's remote side."""
    job = Job(_settings(config))
    with _run_session():
        report = job.setup(adapter)
    for item in report.created:
        print(f"created: {item}")
    for item in report.existing:
        print(f"exists:  {item}")
    print(
        "nothing to do: already set up" if not report.changed else f"created {len(report.created)}"
    )


@app.command()
def check(
    adapter: Annotated[str, typer.Option("--adapter", "-a", help="hubspot")],
    config: ConfigOption = None,
    output_format: Annotated[SummaryFormat, typer.Option("--format", "-f")] = SummaryFormat.TEXT,
) -> None:
    """Preflight on your own portal before the first sync: token and scopes, mappings,
    properties, and a round trip with one synthetic complaint (archived after).

    Exit codes: 0 all checks passed, 2 any failed (each with its fix).
    """
    from ..preflight import run_preflight

    settings = _settings(config)
    with _run_session():
        report = run_preflight(settings, adapter, os.environ)
    if output_format is SummaryFormat.JSON:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        print("\n".join(report.lines()))
    raise typer.Exit(report.exit_code)


@app.command()
def demo(
    source: Annotated[Path, typer.Option("--source", "-s")] = Path("examples/complaints.jsonl"),
    config: ConfigOption = None,
) -> None:
    """Plan the sample complaints and sync them to a local signed-webhook receiver (no network)."""
    from ..demo import run_demo

    _require_file(source)
    settings = _settings(config)
    raise typer.Exit(run_demo(source, settings, Console()))


@app.command("reconcile")
def reconcile_command(
    source: SourceOption = None,
    adapter: Annotated[
        str | None,
        typer.Option("--adapter", "-a", help="hubspot, webhook, or a plugin (or source.adapter)."),
    ] = None,
    config: ConfigOption = None,
    repair: Annotated[
        bool, typer.Option("--repair", help="Fix missing, drifted and stale items.")
    ] = False,
    output_format: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.TEXT,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    language: Annotated[
        str | None, typer.Option("--language", help="The HTML page's language (ja, en, …).")
    ] = None,
) -> None:
    """Compare the complaints, the local state and the CRM; report drift and overdue work.

    Exit codes: 0 in sync, 5 drift or overdue found, 4 another run holds the lock, 2 usage or
    config, 1 unexpected.
    """
    from ..report import render_html, render_json, render_text

    _configure_logging(verbose)
    settings = _settings(config)
    source_used = _source(source, settings)
    adapter = _adapter(adapter, settings)
    with _run_session():
        report = Job(settings).reconcile(source_used, adapter=adapter, repair=repair)
    if output_format is ReportFormat.TEXT and output is None:
        render_text(report, Console())
    else:
        if output_format is ReportFormat.JSON:
            text = render_json(report)
        elif output_format is ReportFormat.HTML:
            text = render_html(
                report,
                language or settings.default_clinic.language,
                time_zone=settings.default_clinic.time_zone,
            )
        else:
            buffer = Console(record=True, width=120, file=open(os.devnull, "w"))
            render_text(report, buffer)
            text = buffer.export_text()
        if output is None:
            print(text)
        else:
            output.write_text(text, encoding="utf-8")
            err.print(f"wrote {output}")
    raise typer.Exit(report.exit_code)


@app.command("alerts")
def alerts_command(
    source: SourceOption = None,
    config: ConfigOption = None,
    check_remote: Annotated[
        bool,
        typer.Option("--check-remote", help="One bulk read: skip tasks completed in the CRM."),
    ] = False,
    adapter: Annotated[
        str | None, typer.Option("--adapter", "-a", help="The CRM for --check-remote.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List, send nothing.")] = False,
    output_format: Annotated[SummaryFormat, typer.Option("--format", "-f")] = SummaryFormat.TEXT,
    now: Annotated[
        str | None, typer.Option("--now", help="A fixed clock, ISO 8601 with offset.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Notify people of tasks due soon or overdue, each alert once (run it every 5 minutes).

    Exit codes: 0 done (held alerts wait for opening), 3 a channel failed (tried again next
    run), 4 another alerts run holds the lock, 2 usage or config.
    """
    from ..alerts.cli import run_alerts_command

    _configure_logging(verbose)
    settings = _settings(config)
    source_used = _source(source, settings)
    if check_remote and not adapter:
        err.print("[red]usage[/red] --check-remote needs --adapter")
        raise typer.Exit(ExitCode.USAGE)
    with _run_session():
        code = run_alerts_command(
            source_used,
            settings,
            adapter=adapter if check_remote else None,
            dry_run=dry_run,
            as_json=output_format is SummaryFormat.JSON,
            now=now,
        )
    raise typer.Exit(code)


@emulator_app.command("hubspot")
def emulator_hubspot(
    port: Annotated[int, typer.Option("--port", "-p", help="0 picks a free port.")] = 0,
    rate_limit: Annotated[int, typer.Option(help="Requests per window.")] = 100,
    window_seconds: Annotated[float, typer.Option(help="Rate-limit window.")] = 10.0,
    neighbour_share: Annotated[
        float, typer.Option(help="Share of the window another app spends (0-1).")
    ] = 0.0,
    no_validate: Annotated[
        bool, typer.Option("--no-validate", help="Skip OpenAPI validation (faster).")
    ] = False,
) -> None:
    """Run a local HubSpot emulator on loopback until interrupted (demo portal, demo token)."""
    import time

    from ..emulator import DEMO_TOKEN, RateLimit, running_emulator

    _configure_logging(False)  # each contract violation is a WARNING line as it happens

    limit = RateLimit(
        requests=rate_limit, window_seconds=window_seconds, neighbour_share=neighbour_share
    )
    with running_emulator(port=port, rate_limit=limit, validate=not no_validate) as emulator:
        print(f"HubSpot emulator at {emulator.base_url}", flush=True)
        print(f"export HUBSPOT_ACCESS_TOKEN={DEMO_TOKEN}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        if emulator.violations:
            err.print(f"[red]{len(emulator.violations)} contract violation(s)[/red]")
            for violation in emulator.violations[:20]:  # route and rule, never a value
                err.print(f"  {violation}", markup=False)


class MonthlyReportFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    CSV = "csv"
    HTML = "html"


@app.command("report")
def report_command(
    source: Annotated[Path, typer.Option("--source", "-s", help="JSON Lines or CSV file.")],
    config: ConfigOption = None,
    date_from: Annotated[
        datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="First day.")
    ] = None,
    date_to: Annotated[
        datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day.")
    ] = None,
    clinic: Annotated[list[str] | None, typer.Option("--clinic", help="Only this clinic.")] = None,
    output_format: Annotated[
        MonthlyReportFormat, typer.Option("--format", "-f")
    ] = MonthlyReportFormat.TEXT,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
    language: Annotated[str | None, typer.Option("--language", help="ja, zh-Hans, …")] = None,
    window_days: Annotated[int, typer.Option("--window-days", min=1)] = 90,
    now: Annotated[
        str | None, typer.Option("--now", help="A fixed clock, ISO 8601 with offset.")
    ] = None,
) -> None:
    """Deadlines kept, volume and mix, recurrence and open work, from local data only (no CRM
    calls, no personal data). Default period: last calendar month."""
    from ..reporting.command import report_from_source

    _require_file(source)
    settings = _settings(config)
    moment = datetime.fromisoformat(now) if now else None
    if moment is not None and moment.tzinfo is None:
        err.print("[red]usage[/red] --now needs a time-zone offset")
        raise typer.Exit(ExitCode.USAGE)
    with _run_session():
        text, skipped = report_from_source(
            source,
            settings,
            output_format=output_format.value,
            date_from=date_from.date() if date_from else None,
            date_to=date_to.date() if date_to else None,
            clinics=clinic or (),
            language=language,
            window_days=window_days,
            now=moment,
        )
    if skipped:
        err.print(f"{skipped} record(s) skipped (invalid or repeated; see validate)")
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}")


audit_app = typer.Typer(help="The audit trail of remote writes.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@app.command("history")
def history_command(
    complaint_id: Annotated[str, typer.Argument(help="The complaint's id.")],
    config: ConfigOption = None,
    output_format: Annotated[SummaryFormat, typer.Option("--format", "-f")] = SummaryFormat.TEXT,
) -> None:
    """Every remote write of one complaint: when, run, revision, adapter, operation, remote
    ids, outcome (never field values)."""
    from ..audit import entries_json, history

    with _run_session():
        store = Job(_settings(config)).store()
    try:
        rows = history(store.engine, complaint_id, store.namespace)
    finally:
        store.close()
    if output_format is SummaryFormat.JSON:
        print(json.dumps({"complaint_id": complaint_id, "writes": entries_json(rows)}))
        return
    if not rows:
        print(f"no writes recorded for complaint {complaint_id}")
    for row in rows:
        ids = ", ".join(f"{k}={v}" for k, v in sorted(row.remote_ids.items())) or "-"
        print(
            f"{row.recorded_at.isoformat(timespec='seconds')}  run {row.run_id}  "
            f"rev {row.revision}  {row.adapter}  {row.operation} ({row.trigger})  "
            f"{row.outcome}  {ids}"
        )


@audit_app.command("verify")
def audit_verify(
    config: ConfigOption = None,
    output_format: Annotated[SummaryFormat, typer.Option("--format", "-f")] = SummaryFormat.TEXT,
) -> None:
    """Check the hash chain: exit 0 when intact, 5 naming the first broken row."""
    from ..audit import verify

    with _run_session():
        store = Job(_settings(config)).store()
    try:
        reports = verify(store.engine, store.namespace)
    finally:
        store.close()
    if output_format is SummaryFormat.JSON:
        print(
            json.dumps(
                {
                    "ok": all(r.ok for r in reports),
                    "chains": [
                        {
                            "adapter": r.adapter,
                            "rows": r.rows,
                            "head_hash": r.head_hash,
                            "broken_row": r.broken.row_id if r.broken else None,
                            "reason": r.broken.reason if r.broken else None,
                        }
                        for r in reports
                    ],
                }
            )
        )
    else:
        for report in reports:
            print(report.line())
        if not reports:
            print("no audit rows recorded yet")
    if not all(r.ok for r in reports):
        raise typer.Exit(ExitCode.FINDINGS)


@audit_app.command("prune")
def audit_prune(config: ConfigOption = None) -> None:
    """Remove rows older than ``state.audit_retention_days``; the chain still verifies."""
    from ..audit import prune

    settings = _settings(config)
    days = settings.state.audit_retention_days
    if days is None:
        print("state.audit_retention_days is not set: the audit trail keeps every row")
        return
    with _run_session():
        store = Job(settings).store()
    try:
        removed = prune(store.engine, days, store.namespace)
    finally:
        store.close()
    print(f"removed {removed} audit row(s) older than {days} day(s)")


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
BROKEN_PIPE_EXIT = 128 + signal.SIGPIPE  # 141, what a shell reports for `cat` killed by SIGPIPE


class _Signalled(KeyboardInterrupt):
    """SIGINT or SIGTERM, raised in the main thread so that every ``finally`` runs: the sync
    engine records the run as ``stopped: SIGTERM`` (its message is the signal's name) and
    leaves what was not confirmed pending."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


@contextmanager
def _stop_on_signals() -> Iterator[list[int]]:
    """Turn the first SIGINT or SIGTERM into :class:`_Signalled`; yields the signals received.
    A second one gets the system's default (the process ends at once): the way out when winding
    down hangs, safe too since the state is written ahead."""
    received: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        for each in STOP_SIGNALS:
            signal.signal(each, signal.SIG_DFL)
        raise _Signalled(signum)

    if threading.current_thread() is not threading.main_thread():
        yield received  # only the main thread may set handlers (main() called in a thread)
        return
    previous = {each: signal.signal(each, stop) for each in STOP_SIGNALS}
    try:
        yield received
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


def _exit_quietly_on_broken_pipe(stdout_fd: int | None) -> NoReturn:
    # Python flushes stdout again at exit and would print "Exception ignored … BrokenPipeError":
    # point the descriptor at /dev/null first (the recipe in Python's signal module docs).
    if stdout_fd is not None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout_fd)
        os.close(devnull)
    sys.exit(BROKEN_PIPE_EXIT)


def main() -> None:
    """Console-script entry.

    Beyond each command's own exit codes: 1 for an unexpected error (a one-line message); 2 or 4
    for a state store problem wherever it surfaces (as in the commands); 130 / 143 when SIGINT /
    SIGTERM stopped the process (128 + the signal number, as a shell reports it; a sync in
    progress lets its batch in flight finish and is recorded as ``stopped: SIGINT`` /
    ``stopped: SIGTERM``); 141 when the reader of stdout went away (``… | head -1``), silently,
    as ``cat`` does, so a ``pipefail`` pipeline still sees the output was cut short.
    """
    stdout = sys.stdout
    try:
        stdout_fd: int | None = stdout.fileno()
    except (OSError, ValueError):  # not a real file (an embedding host's stream)
        stdout_fd = None
    with _stop_on_signals() as received:
        try:
            with _run_session():  # state errors raised outside a command's own session
                app()
        except SystemExit as exit_:
            # Typer ends a KeyboardInterrupt with 130 whichever signal raised it; on a broken
            # pipe click swaps in a stdout that ignores it, then exits 1.
            if received and exit_.code == 130:
                name = signal.Signals(received[0]).name
                err.print(f"[yellow]stopped[/yellow] by {name}; unconfirmed records stay pending")
                sys.exit(128 + received[0])
            if sys.stdout is not stdout:
                _exit_quietly_on_broken_pipe(stdout_fd)
            raise
        except typer.Exit as exit_:  # from _run_session, outside click's own handling
            sys.exit(exit_.exit_code)
        except BrokenPipeError:
            _exit_quietly_on_broken_pipe(stdout_fd)
        except Exception as exc:
            err.print(f"[red]unexpected error[/red] {type(exc).__name__}: {exc}")
            sys.exit(ExitCode.UNEXPECTED)
