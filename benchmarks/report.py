"""Time of ``crm-complaints report`` on 100,000 complaints (target: under 5 s).

Each run times the command's work as it runs it (one stream: each complaint read, validated,
counted and let go, the garbage collector paused): read and validate alone (the stream
drained), read and compute together, render JSON, CSV and HTML; then the whole command path
once more end to end (``report_from_source``, HTML), and ``crm-complaints report`` as a
process (start-up included). Prints wall and CPU seconds, peak memory and the load average,
since the machine is often shared, and a gauge of what the load leaves: ``Policy.plan`` on
10,000 of the complaints (7,800 plans/s in session 3, 15,700-20,900 on 2026-12-07: compare
only runs whose gauges agree). ``--runs`` repeats
and prints the medians. The generated complaints span about a year; the period is the whole
span.
Usage: python benchmarks/report.py [--count 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
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
    FirstOfEachId,
    collector_paused,
    deadline_policy,
    report_from_source,
)
from crm_complaints.reporting.html import render_html

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "config.toml"


@dataclass
class Run:
    read: float
    read_compute: float
    render: float
    command: float
    command_cpu: float
    process: float
    process_peak_mib: float
    plans_per_s: float

    @property
    def total(self) -> float:
        return self.read_compute + self.render


def the_span(path: Path, settings: Settings) -> tuple[date, date]:
    """The first and last day received (the report's period: the whole span)."""
    days = [c.received_at.date() for c in FirstOfEachId(read_complaints(path, settings=settings))]
    return (min(days), max(days)) if days else (date(2026, 1, 1), date(2026, 12, 31))


def plans_per_second(path: Path, settings: Settings) -> float:
    """The load gauge: ``Policy.plan`` on the first 10,000 complaints."""
    sample = []
    for complaint in FirstOfEachId(read_complaints(path, settings=settings)):
        sample.append(complaint)
        if len(sample) == 10_000:
            break
    policy = deadline_policy(settings)
    began = time.perf_counter()
    for complaint in sample:
        policy.plan(complaint)
    return len(sample) / (time.perf_counter() - began)


def the_command(path: Path, span: tuple[date, date], output: Path) -> tuple[float, float]:
    """``crm-complaints report`` as a user runs it: wall seconds and the child's peak MiB."""
    command = [
        *(sys.executable, "-m", "crm_complaints", "report"),
        *("--source", str(path), "--config", str(EXAMPLE_CONFIG)),
        *("--from", span[0].isoformat(), "--to", span[1].isoformat()),
        *("--format", "html", "--language", "ja", "--output", str(output)),
    ]
    began = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - began
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def one_run(path: Path, settings: Settings, span: tuple[date, date]) -> Run:
    options = ReportOptions(date_from=span[0], date_to=span[1], now=datetime.now(UTC))
    with collector_paused():
        began = time.perf_counter()
        for _ in FirstOfEachId(read_complaints(path, settings=settings)):
            pass
        read_s = time.perf_counter() - began
        began = time.perf_counter()
        complaints = FirstOfEachId(read_complaints(path, settings=settings))
        report = compute_report(complaints, deadline_policy(settings), options)
        read_compute_s = time.perf_counter() - began
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
    command_s, command_cpu = time.perf_counter() - began, time.process_time() - cpu
    process_s, peak = the_command(path, span, path.with_suffix(".html"))
    return Run(
        read_s,
        read_compute_s,
        render_s,
        command_s,
        command_cpu,
        process_s,
        peak,
        plans_per_second(path, settings),
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
        span = the_span(path, settings)
        for number in range(1, args.runs + 1):
            load = os.getloadavg()[0]
            run = one_run(path, settings, span)
            runs.append(run)
            print(
                f"run {number}: read + validate alone {run.read:.2f} s, read + compute "
                f"{run.read_compute:.2f} s, render {run.render:.2f} s, total {run.total:.2f} s; "
                f"report_from_source (html) {run.command:.2f} s wall, {run.command_cpu:.2f} s "
                f"CPU; crm-complaints report {run.process:.2f} s, peak {run.process_peak_mib:.0f} "
                f"MiB; load average before {load:.1f}; Policy.plan {run.plans_per_s:,.0f}/s"
            )

    def median(name: str) -> float:
        return statistics.median(getattr(run, name) for run in runs)

    print(f"complaints: {args.count}, runs: {len(runs)}, medians:")
    print(f"read + validate alone: {median('read'):.2f} s")
    print(f"read + compute: {median('read_compute'):.2f} s")
    print(f"render json+csv+html: {median('render'):.2f} s")
    total = median("total")
    print(f"total: {total:.2f} s (target < 5 s: {'met' if total < 5 else 'NOT met'})")
    print(
        f"report_from_source, end to end: {median('command'):.2f} s wall, "
        f"{median('command_cpu'):.2f} s CPU"
    )
    process = median("process")
    print(
        f"crm-complaints report (a process, start-up included): {process:.2f} s "
        f"(target < 5 s: {'met' if process < 5 else 'NOT met'}), "
        f"peak memory {median('process_peak_mib'):.0f} MiB"
    )
    gauge = median("plans_per_s")
    print(f"load gauge, Policy.plan: {gauge:,.0f} plans/s (2026-12-07: 15,700-20,900/s)")


if __name__ == "__main__":
    main()
