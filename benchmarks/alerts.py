"""``crm-complaints alerts`` at scale, and what importing history does to it.

Generates complaints spread over most of a year, then runs alerts at a fixed clock with a
recording notifier (no network): the first run (the most urgent alerts sent and recorded, the
flood beyond each channel's message budget deferred), the second (what was sent is skipped, the
next batch goes), and the same first run with a history cut-off at the start of that day.
Prints complaints, alerts by outcome, messages and seconds per run. Target: a 5-minute
schedule, so a run over 20,000 complaints well under a minute.
Usage: python benchmarks/alerts.py [--count 20000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import write_jsonl

from crm_complaints.alerts.engine import AlertsReport, run_alerts
from crm_complaints.alerts.settings import AlertsConfig
from crm_complaints.config import load_settings
from crm_complaints.policy import Policy
from crm_complaints.readers import read_complaints
from crm_complaints.state import open_store

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "config.toml"
NOW = datetime.fromisoformat("2026-11-25T10:00:00+09:00")
CUTOFF = datetime.fromisoformat("2026-11-25T00:00:00+09:00")


class Counting:
    def __init__(self) -> None:
        self.messages = 0

    def send(self, channel: str, text: Any) -> str | None:
        self.messages += 1
        return None


def once(
    source: Path, state: Path, policy: Policy, config: AlertsConfig
) -> tuple[AlertsReport, int, float]:
    store = open_store(state)
    notifier = Counting()
    began = time.perf_counter()
    try:
        report = run_alerts(
            read_complaints(source),
            policy=policy,
            config=config,
            store=store,
            notifier=notifier,
            now=NOW,
        )
    finally:
        store.close()
    return report, notifier.messages, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20_000)
    count = parser.parse_args().count
    settings = load_settings(EXAMPLE_CONFIG)
    keys = ("front_desk", "care_staff", "physician", "management")
    config = AlertsConfig(channels={k: [f"ALERTS_{k.upper()}"] for k in keys})
    plain = Policy.from_settings(settings)
    cut = Policy(settings.policy.model_copy(update={"history_before": CUTOFF}), settings.clinic)
    with tempfile.TemporaryDirectory() as tmp:
        source = write_jsonl(Path(tmp) / "complaints.jsonl", count)
        for name, policy, state in (
            ("first run", plain, "a.db"),
            ("second run", plain, "a.db"),
            ("first run, --history today", cut, "b.db"),
        ):
            report, messages, seconds = once(source, Path(tmp) / state, policy, config)
            counts = {k: v for k, v in report.counts().items() if v}
            print(
                f"{name:28} {report.complaints} complaints, {len(report.alerts)} alerts "
                f"{counts}, {messages} messages, {seconds:.1f} s"
            )


if __name__ == "__main__":
    main()
