"""Time of ``crm-complaints report`` on 100,000 complaints (target: under 5 s).

Each run times the phases as the command runs them (the garbage collector paused while
reading and computing): read and validate the file, compute the report (due dates only, one
plan per complaint), render JSON, CSV and HTML; then the whole command path once more end to
end (``report_from_source``, HTML). Prints wall and CPU seconds and the load average, since the
machine is often shared, and a gauge of what the load leaves: ``Policy.plan`` on 10,000 of the
complaints (the path the report took before the due-dates-only planner; 7,800 plans/s on this
machine alone in session 3). ``--runs`` repeats and prints the medians. The generated complaints
span about a year; the period is the whole span.
Usage: python benchmarks/report.py [--count 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import write_jsonl

from crm_complaints.config import Settings, load_settings
from crm_complaints.readers import read_complaints
from crm_complaints.reporting import ReportOptions, compute_report, render_csv, render_json
from crm_complaints.reporting.command import (
    collector_paused,
    complaints_of,
    deadline_policy,
    report_from_source,
)
from crm_complaints.reporting.html import render_html

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "config.toml"


@dataclass
class Run:
    read: float
    compute: float
    render: float
    command: float
    command_cpu: float
    plans_per_s: float

    @property
    def total(self) -> float:
        return self.read + self.compute + self.render


def one_run(path: Path, settings: Settings) -> Run:
    with collector_paused():
        began = time.perf_counter()
        complaints, _ = complaints_of(read_complaints(path, settings=settings))
        read_s = time.perf_counter() - began
        received = [c.received_at for c in complaints]
        options = ReportOptions(
            date_from=min(received).date() if received else date(2026, 1, 1),
            date_to=max(received).date() if received else date(2026, 12, 31),
            now=datetime.now(UTC),
        )
        began = time.perf_counter()
        report = compute_report(complaints, deadline_policy(settings), options)
        compute_s = time.perf_counter() - began
        sample, policy = complaints[:10_000], deadline_policy(settings)
        began = time.perf_counter()
        for complaint in sample:
            policy.plan(complaint)
        plans_per_s = len(sample) / (time.perf_counter() - began)
        del complaints, received, sample
    began = time.perf_counter()
    render_json(report), render_csv(report), render_html(report, "ja")
    render_s = time.perf_counter() - began
    del report
    began, cpu = time.perf_counter(), time.process_time()
    report_from_source(
        path,
        settings,
        output_format="html",
        date_from=options.date_from,
        date_to=options.date_to,
        language="ja",
    )
    return Run(
        read_s,
        compute_s,
        render_s,
        time.perf_counter() - began,
        time.process_time() - cpu,
        plans_per_s,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    settings = load_settings(EXAMPLE_CONFIG)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as folder:
        path = write_jsonl(Path(folder) / "complaints.jsonl", args.count)
        for number in range(1, args.runs + 1):
            load = os.getloadavg()[0]
            run = one_run(path, settings)
            runs.append(run)
            print(
                f"run {number}: read + validate {run.read:.2f} s, compute {run.compute:.2f} s, "
                f"render {run.render:.2f} s, total {run.total:.2f} s; "
                f"report_from_source (html) {run.command:.2f} s wall, {run.command_cpu:.2f} s "
                f"CPU; load average before {load:.1f}; Policy.plan {run.plans_per_s:,.0f}/s"
            )

    def median(name: str) -> float:
        return statistics.median(getattr(run, name) for run in runs)

    print(f"complaints: {args.count}, runs: {len(runs)}, medians:")
    print(f"read + validate: {median('read'):.2f} s")
    print(f"compute: {median('compute'):.2f} s ({args.count / median('compute'):,.0f} /s)")
    print(f"render json+csv+html: {median('render'):.2f} s")
    total = median("total")
    print(f"total: {total:.2f} s (target < 5 s: {'met' if total < 5 else 'NOT met'})")
    print(
        f"report_from_source, end to end: {median('command'):.2f} s wall, "
        f"{median('command_cpu'):.2f} s CPU"
    )
    print(f"load gauge, Policy.plan: {median('plans_per_s'):,.0f} plans/s (alone: ~7,800/s)")


if __name__ == "__main__":
    main()
