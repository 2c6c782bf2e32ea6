"""``crm-complaints report``: read the source, compute, render. No state store, no CRM."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ..config import Settings
from ..policy import Policy
from ..quarantine import QuarantineEntry
from ..readers import ReadResult, read_complaints
from ..schema import Complaint
from .compute import ReportOptions, compute_report
from .render import render_csv, render_json, render_text

__all__ = [
    "FirstOfEachId",
    "collector_paused",
    "deadline_policy",
    "last_full_month",
    "report_from_source",
    "report_period",
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
    """Python's cyclic garbage collector off while reading and counting. Every complaint read
    allocates a few dozen objects, so the collector runs thousands of times, and each of its
    full passes walks what the report keeps (ids seen, recurrence keys, delays): on 100,000
    complaints about 0.6 s of the 4. The complaints themselves are freed by reference count as
    the stream moves on, and nothing the report makes needs a cycle collected before it ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class FirstOfEachId:
    """The valid complaints of a read as a stream, a repeated id keeping its first record;
    ``skipped`` counts the records left out (quarantined by the reader, or repeated)."""

    def __init__(self, results: Iterable[ReadResult | Complaint]) -> None:
        self._results = results
        self.skipped = 0

    def __iter__(self) -> Iterator[Complaint]:
        seen: set[str] = set()
        for item in self._results:
            if isinstance(item, QuarantineEntry) or item.id in seen:
                self.skipped += 1
                continue
            seen.add(item.id)
            yield item


def report_period(
    settings: Settings,
    clinics: Iterable[str],
    now: datetime,
    date_from: date | None,
    date_to: date | None,
) -> tuple[date, date]:
    """The report's first and last day. Left out, they are the last calendar month on the
    clinic's clock (the first of ``clinics``, else the default clinic's): a job run at 00:30
    on the 1st in Tokyo reports the month just ended, whatever zone the server's clock is in.
    Raises :class:`ValueError` for a period that ends before it starts."""
    first_clinic = min(clinics, default=None)
    clinic = settings.clinic(first_clinic) if first_clinic else settings.default_clinic
    default_from, default_to = last_full_month(now.astimezone(ZoneInfo(clinic.time_zone)).date())
    first, last = date_from or default_from, date_to or default_to
    if first > last:
        raise ValueError(f"the period ends before it starts (from {first} to {last})")
    return first, last


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
    done_in_crm: Mapping[tuple[str, str], datetime] | None = None,
) -> tuple[str, int]:
    """The rendered report and the number of records skipped (quarantined by the reader).
    ``done_in_crm``: tasks a CRM reported completed (see :class:`ReportOptions`). The period
    as :func:`report_period` makes it."""
    moment = now or datetime.now(UTC)
    clinics = frozenset(clinics)
    first, last = report_period(settings, clinics, moment, date_from, date_to)
    options = ReportOptions(
        date_from=first,
        date_to=last,
        now=moment,
        clinics=frozenset(clinics),
        window_days=window_days,
        done_in_crm=done_in_crm or {},
    )
    complaints = FirstOfEachId(read_complaints(source, settings=settings))
    with collector_paused():
        report = compute_report(complaints, deadline_policy(settings), options)
    skipped = complaints.skipped
    first_clinic = min(clinics, default=None)
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
