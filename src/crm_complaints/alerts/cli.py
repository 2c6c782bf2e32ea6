"""The ``alerts`` command's work, kept out of :mod:`crm_complaints.cli` (a thin layer)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from ..config import Settings
from ..exit_codes import ExitCode
from ..job import Job
from .engine import Alert, AlertsReport, run_alerts
from .notify import AppriseNotifier

__all__ = ["report_json", "run_alerts_command"]

err = Console(stderr=True)


def parse_now(text: str | None) -> datetime:
    """``--now``: ISO 8601 with an offset (a naive time has no place on a clinic's clock)."""
    if text is None:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"--now {text!r} has no offset; write it like 2026-11-25T10:51:00+09:00")
    return moment


def run_alerts_command(
    source: Path | str,
    settings: Settings,
    *,
    adapter: str | None,
    dry_run: bool,
    as_json: bool,
    now: str | None,
) -> int:
    try:
        moment = parse_now(now)
    except ValueError as exc:
        err.print(f"[red]usage[/red] {exc}")
        return ExitCode.USAGE
    job = Job(settings)
    config = settings.alerts
    names = {
        n for keys in [config.channels, *config.clinics.values()] for v in keys.values() for n in v
    }
    notifier = None if dry_run else AppriseNotifier(names, os.environ)
    store = job.store()
    try:
        policy = job.policy_for(store)
        remote = job.adapter(adapter) if adapter else None
        try:
            report = run_alerts(
                job.read(source),
                policy=policy,
                config=config,
                store=store,
                notifier=notifier,
                now=moment,
                dry_run=dry_run,
                allowed_fields=settings.allowed_fields,
                remote=remote,
                lock_wait_seconds=settings.state.lock_wait_seconds,
            )
        finally:
            if remote is not None:
                remote.close()
    finally:
        store.close()
    if as_json:
        print(json.dumps(report_json(report), ensure_ascii=False))
    else:
        for alert in report.alerts:
            print(_line(alert))
        print(_summary(report))
    return int(report.exit_code)


def report_json(report: AlertsReport) -> dict[str, Any]:
    """The run as one JSON object: ids, task kinds, levels, times and channel *names* only."""
    return {
        "now": report.now.isoformat(),
        "dry_run": report.dry_run,
        "complaints": report.complaints,
        "quarantined_input": report.quarantined_input,
        "remote_reads": report.remote_reads,
        **report.counts(),
        "exit_code": int(report.exit_code),
        "alerts": [
            {
                "complaint_id": a.complaint_id,
                "clinic": a.clinic,
                "task": a.task,
                "level": a.level.value,
                "department": a.department.value,
                "severity": a.severity,
                "due_at": a.due_at.isoformat(),
                "outcome": a.outcome.value,
                "held_until": a.held_until.isoformat() if a.held_until else None,
                "channels": {name: o.value for name, o in a.outcomes.items()},
                "title": a.text.title,
                "text": a.text.body,
            }
            for a in report.alerts
        ],
    }


def _line(alert: Alert) -> str:
    held = f" until {alert.held_until:%Y-%m-%d %H:%M %z}" if alert.held_until else ""
    channels = ", ".join(alert.channels) or "no channel"
    return (
        f"{alert.outcome.value}{held}: {alert.level.value} {alert.complaint_id} {alert.task} "
        f"({alert.department.value}, due {alert.due_at:%Y-%m-%d %H:%M %z}) → {channels}"
    )


def _summary(report: AlertsReport) -> str:
    counts = report.counts()
    parts = [f"{name.replace('_', ' ')} {n}" for name, n in counts.items() if n]
    return f"alerts at {report.now.isoformat()}: " + (", ".join(parts) or "nothing due")
