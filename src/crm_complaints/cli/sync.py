"""Commands that work against a CRM and the state store: ``sync``, ``status``, ``adapters``,
``setup``, ``check``, ``demo`` and ``reconcile``.

The job (:mod:`crm_complaints.job`: SQLAlchemy and every adapter) is imported inside the
commands that use it: it is a third of the CLI's start-up, and ``report``, ``plan`` and
``validate`` never need it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..exit_codes import ExitCode
from .common import (
    ConfigOption,
    SourceOption,
    SummaryFormat,
    _adapter,
    _configure_logging,
    _require_file,
    _run_session,
    _settings,
    _source,
    app,
    err,
)

if TYPE_CHECKING:
    from ..state import NamespaceStatus, RunRecord, StoredRecord
    from ..sync import SyncSummary


class ReportFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    HTML = "html"


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
    from ..job import Job

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
    from ..job import Job

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
    from ..adapters.registry import available_adapters

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
    from ..job import Job

    job = Job(_settings(config))
    with _run_session():
        report = job.setup(adapter)
    for item in report.created:
        print(f"created: {item}")
    for item in report.updated:
        print(f"updated: {item}")
    for item in report.existing:
        print(f"exists:  {item}")
    print(
        "nothing to do: already set up"
        if not report.changed
        else f"created {len(report.created)}, updated {len(report.updated)}"
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
        bool,
        typer.Option(
            "--repair", help="Fix missing, drifted and stale items (only fields that are ours)."
        ),
    ] = False,
    recreate_deleted: Annotated[
        bool,
        typer.Option(
            "--recreate-deleted",
            help="With --repair: make tickets someone deleted in the CRM again.",
        ),
    ] = False,
    output_format: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.TEXT,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    language: Annotated[
        str | None, typer.Option("--language", help="The HTML page's language (ja, en, …).")
    ] = None,
) -> None:
    """Compare the complaints, the local state and the CRM; report drift and overdue work.

    Exit codes: 0 in sync (what staff changed or deleted in the CRM is information), 5 drift
    or overdue found, 4 another run holds the lock, 2 usage or config, 1 unexpected.
    """
    from ..report import render_html, render_json, render_text

    _configure_logging(verbose)
    settings = _settings(config)
    source_used = _source(source, settings)
    adapter = _adapter(adapter, settings)
    if recreate_deleted and not repair:
        err.print("[red]usage[/red] --recreate-deleted goes with --repair")
        raise typer.Exit(ExitCode.USAGE)
    with _run_session():
        from ..job import Job

        report = Job(settings).reconcile(
            source_used, adapter=adapter, repair=repair, recreate_deleted=recreate_deleted
        )
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
