"""Commands about what staff did in the CRM: ``pull`` (their changes, as JSON Lines) and
``ack`` (a status move looked at; reconcile stops reporting it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..exit_codes import ExitCode
from .common import (
    ConfigOption,
    SourceOption,
    _adapter,
    _configure_logging,
    _run_session,
    _settings,
    _source,
    app,
    err,
)

AdapterOption = Annotated[
    str | None,
    typer.Option("--adapter", "-a", help="hubspot, webhook, or a plugin (or source.adapter)."),
]


@app.command("pull")
def pull_command(
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="ISO 8601 with offset (2026-11-01T00:00+09:00); default: the last pull's start.",
        ),
    ] = None,
    adapter: AdapterOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the lines here (else stdout).")
    ] = None,
    config: ConfigOption = None,
    source: SourceOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Write what staff changed in the CRM (stage, owner, task completion and due dates) as
    JSON Lines, one line per complaint, for the clinic's own system to take back.

    Exit codes: 0 done, 2 usage or config (a time without offset; no --since on a first pull).
    """
    from ..pull import NoSinceError, parse_since, pull

    _configure_logging(verbose)
    settings = _settings(config)
    source_used = _source(source, settings)
    adapter = _adapter(adapter, settings)
    try:
        moment = parse_since(since) if since is not None else None
    except ValueError as exc:
        err.print(f"[red]usage[/red] {exc}")
        raise typer.Exit(ExitCode.USAGE) from exc
    from ..job import Job  # imported here: see cli/sync.py

    job = Job(settings)
    with _run_session(), job.session(adapter) as (remote, store):
        try:
            report = pull(
                job.read(source_used),
                adapter=remote,
                store=store,
                policy=job.policy_for(store),
                since=moment,
            )
        except NoSinceError as exc:
            err.print(f"[red]usage[/red] {exc}")
            raise typer.Exit(ExitCode.USAGE) from exc
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in report.lines)
    if output is None:
        sys.stdout.write(text)
    else:  # whole or not at all: a spreadsheet import never reads half a file
        partial = output.with_name(f".{output.name}.partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(output)
    err.print(
        f"{len(report.lines)} complaint(s) changed in the CRM since {report.since.isoformat()} "
        f"({report.tickets_changed} ticket(s) and {report.tasks_changed} task(s) read, "
        f"{report.not_in_source} not in the source); {report.completions_recorded} new "
        f"completion(s) recorded; {report.requests} read request(s)"
        + (f"; wrote {output}" if output else ""),
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(ExitCode.OK)


@app.command("ack")
def ack_command(
    complaint_ids: Annotated[
        list[str] | None, typer.Argument(help="Complaints whose status move was looked at.")
    ] = None,
    adapter: AdapterOption = None,
    config: ConfigOption = None,
    list_acks_: Annotated[
        bool, typer.Option("--list", help="Show the acknowledged status moves.")
    ] = False,
) -> None:
    """Acknowledge status moves (closed or reopened in the CRM): reconcile stops reporting
    them until the CRM's stage changes again.

    Exit codes: 0 done, 2 usage, config, or an id the state store or the CRM does not know.
    """
    from ..acks import acknowledge, list_acks

    settings = _settings(config)
    from ..job import Job  # imported here: see cli/sync.py

    job = Job(settings)
    if list_acks_:
        with _run_session():
            store = job.store()
            try:
                acks = list_acks(store.engine, store.namespace, adapter)
            finally:
                store.close()
        for ack in acks:
            closed = {True: "closed", False: "open", None: "-"}[ack.closed]
            print(
                f"{ack.complaint_id}\t{ack.adapter}\t{ack.stage}\t{closed}\t"
                f"{ack.acked_at.isoformat()}"
            )
        raise typer.Exit(ExitCode.OK)
    if not complaint_ids:
        err.print("[red]usage[/red] name the complaints to acknowledge (or --list)")
        raise typer.Exit(ExitCode.USAGE)
    adapter = _adapter(adapter, settings)
    with _run_session(), job.session(adapter) as (remote, store):
        report = acknowledge(complaint_ids, adapter=remote, store=store)
    for ack in report.acked:
        print(f"acknowledged {ack.complaint_id}: stage {ack.stage} in {ack.adapter}")
    for cid in report.unknown:
        err.print(f"[red]unknown[/red] {cid}: never synced to {adapter}", highlight=False)
    for cid in report.not_in_crm:
        err.print(f"[red]not in the CRM[/red] {cid}: deleted there?", highlight=False)
    err.print(f"{report.requests} read request(s)", highlight=False)
    bad = report.unknown or report.not_in_crm
    raise typer.Exit(ExitCode.USAGE if bad else ExitCode.OK)
