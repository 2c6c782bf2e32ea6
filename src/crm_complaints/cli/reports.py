"""Commands that tell people what happened or is due: ``alerts``, ``report``, ``history`` and
``audit verify`` / ``audit prune``."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ..exit_codes import ExitCode
from .common import (
    ConfigOption,
    SourceOption,
    SummaryFormat,
    _completions,
    _configure_logging,
    _require_file,
    _run_session,
    _settings,
    _source,
    app,
    audit_app,
    err,
)


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
    window_days: Annotated[
        int, typer.Option("--window-days", min=1, max=3660, help="Recurrence window (days).")
    ] = 90,
    now: Annotated[
        str | None, typer.Option("--now", help="A fixed clock, ISO 8601 with offset.")
    ] = None,
) -> None:
    """Deadlines kept, volume and mix, recurrence and open work, from local data only (no CRM
    calls, no personal data; steps a CRM reported done, as pull and reconcile stored them, count
    as done). Default period: last calendar month."""
    from ..reporting.command import report_from_source, report_period

    _require_file(source)
    settings = _settings(config)
    moment = datetime.fromisoformat(now) if now else None
    if moment is not None and moment.tzinfo is None:
        err.print("[red]usage[/red] --now needs a time-zone offset")
        raise typer.Exit(ExitCode.USAGE)
    moment = moment or datetime.now(UTC)
    try:
        first, last = report_period(
            settings,
            clinic or (),
            moment,
            date_from.date() if date_from else None,
            date_to.date() if date_to else None,
        )
    except ValueError as exc:
        err.print(f"[red]usage[/red] --from / --to: {exc}")
        raise typer.Exit(ExitCode.USAGE) from None
    with _run_session():
        text, skipped = report_from_source(
            source,
            settings,
            output_format=output_format.value,
            date_from=first,
            date_to=last,
            clinics=clinic or (),
            language=language,
            window_days=window_days,
            now=moment,
            done_in_crm=_completions(settings),
        )
    if skipped:
        err.print(f"{skipped} record(s) skipped (invalid or repeated; see validate)")
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}")


@app.command("history")
def history_command(
    complaint_id: Annotated[str, typer.Argument(help="The complaint's id.")],
    config: ConfigOption = None,
    output_format: Annotated[SummaryFormat, typer.Option("--format", "-f")] = SummaryFormat.TEXT,
) -> None:
    """Every remote write of one complaint: when, run, revision, adapter, operation and object
    (``create ticket``, ``link association``…), remote ids, outcome (never field values)."""
    from ..audit import entries_json, history

    with _run_session():
        from ..job import Job  # imported here: see cli/sync.py

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
        wrote = f"{row.operation} {row.object}" if row.object else row.operation  # old rows: none
        print(
            f"{row.recorded_at.isoformat(timespec='seconds')}  run {row.run_id}  "
            f"rev {row.revision}  {row.adapter}  {wrote} ({row.trigger})  "
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
        from ..job import Job  # imported here: see cli/sync.py

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
        from ..job import Job  # imported here: see cli/sync.py

        store = Job(settings).store()
    try:
        removed = prune(store.engine, days, store.namespace)
    finally:
        store.close()
    print(f"removed {removed} audit row(s) older than {days} day(s)")
