"""``crm-complaints report``: read the source, compute, render. No state store, no CRM."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ..config import Settings
from ..policy import Policy
from ..quarantine import QuarantineEntry
from ..readers import ReadResult, read_complaints
from ..schema import Complaint
from .compute import ReportOptions, compute_report
from .render import render_csv, render_json, render_text

__all__ = [
    "collector_paused",
    "complaints_of",
    "deadline_policy",
    "last_full_month",
    "report_from_source",
]


def last_full_month(today: date) -> tuple[date, date]:
    """The default period: the calendar month before ``today``'s."""
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def deadline_policy(settings: Settings) -> Policy:
    """The policy as it sets due dates, without what the report never reads: owners (routing)
    and reminders change no due date, and skipping them makes planning a year much faster."""
    clinics = {
        name: clinic.model_copy(update={"owners": {}, "staff": {}})
        for name, clinic in settings.clinics.items()
    }
    default = settings.default_clinic.model_copy(update={"owners": {}, "staff": {}})
    reminders = settings.policy.reminders.model_copy(update={"enabled": False})
    policy = settings.policy.model_copy(update={"reminders": reminders})
    return Policy(policy, lambda clinic_id: clinics.get(clinic_id, default))


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while reading and counting. A year of complaints
    is millions of long-lived objects that the collector walks again and again as they are
    made (on 100,000 complaints: about half the read and a third of the compute); nothing the
    report makes needs a cycle collected before it ends. Drop the complaints before leaving:
    the collector's first pass afterwards walks whatever the pause made that is still alive."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def complaints_of(results: Iterable[ReadResult | Complaint]) -> tuple[list[Complaint], int]:
    """The valid complaints (a repeated id keeps its first record) and how many were skipped."""
    seen: set[str] = set()
    kept: list[Complaint] = []
    skipped = 0
    for item in results:
        if isinstance(item, QuarantineEntry) or item.id in seen:
            skipped += 1
            continue
        seen.add(item.id)
        kept.append(item)
    return kept, skipped


def report_from_source(
    source: Path,
    settings: Settings,
    *,
    output_format: str,
    date_from: date | None,
    date_to: date | None,
    clinics: Iterable[str] = (),
    language: str | None = None,
    window_days: int = 90,
    now: datetime | None = None,
) -> tuple[str, int]:
    """The rendered report and the number of records skipped (quarantined by the reader)."""
    moment = now or datetime.now(UTC)
    default_from, default_to = last_full_month(moment.date())
    options = ReportOptions(
        date_from=date_from or default_from,
        date_to=date_to or default_to,
        now=moment,
        clinics=frozenset(clinics),
        window_days=window_days,
    )
    with collector_paused():
        complaints, skipped = complaints_of(read_complaints(source, settings=settings))
        report = compute_report(complaints, deadline_policy(settings), options)
        # Freed by reference count while the collector still sleeps: once awake it would
        # first walk everything made during the pause (a second or more on 100,000).
        del complaints
    first_clinic = sorted(options.clinics)[0] if options.clinics else None
    lang = language or (
        settings.clinic(first_clinic).language if first_clinic else settings.default_clinic.language
    )
    report["skipped_records"] = skipped
    report["language"] = lang
    if output_format == "json":
        return render_json(report), skipped
    if output_format == "csv":
        return render_csv(report), skipped
    if output_format == "html":
        from .html import render_html

        return render_html(report, lang), skipped
    return render_text(report, lang), skipped
