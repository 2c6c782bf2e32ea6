"""Time of ``crm-complaints report`` on 100,000 complaints (target: under 5 s).

Prints the time to read and validate the file, to compute the report (two plans per open
complaint at most: deadlines of the period, open work of all), and to render JSON, CSV and
HTML, and the total. The generated complaints span about a year; the period is the whole span.
Usage: python benchmarks/report.py [--count 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import write_jsonl

from crm_complaints.config import load_settings
from crm_complaints.readers import read_complaints
from crm_complaints.reporting import ReportOptions, compute_report, render_csv, render_json
from crm_complaints.reporting.command import complaints_of, deadline_policy
from crm_complaints.reporting.html import render_html

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "config.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    settings = load_settings(EXAMPLE_CONFIG)
    with tempfile.TemporaryDirectory() as folder:
        path = write_jsonl(Path(folder) / "complaints.jsonl", args.count)
        began = time.perf_counter()
        complaints, skipped = complaints_of(read_complaints(path, settings=settings))
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
    began = time.perf_counter()
    sizes = [len(render_json(report)), len(render_csv(report)), len(render_html(report, "ja"))]
    render_s = time.perf_counter() - began
    total = read_s + compute_s + render_s
    print(f"complaints: {len(complaints)} (skipped {skipped})")
    print(f"read + validate: {read_s:.2f} s")
    print(f"compute: {compute_s:.2f} s ({len(complaints) / compute_s:,.0f} complaints/s)")
    print(f"render json+csv+html: {render_s:.2f} s ({sum(sizes):,} bytes)")
    print(f"total: {total:.2f} s (target < 5 s: {'met' if total < 5 else 'NOT met'})")


if __name__ == "__main__":
    main()
