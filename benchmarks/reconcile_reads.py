"""Read requests a reconciliation costs: sync N generated complaints into the emulator, let
some first responses fall overdue, reconcile, and print read requests per 100 tickets.

Usage: python benchmarks/reconcile_reads.py [--count 10000]. Target: ≤ 1 per 100 tickets.
The emulator's rate limit is lifted and its validation switched off: this counts requests, it
does not time them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate

from crm_complaints.adapters.hubspot import HubSpotAdapter, HubSpotConfig
from crm_complaints.emulator import DEMO_TOKEN, RateLimit, running_emulator
from crm_complaints.policy import Policy
from crm_complaints.reconcile import reconcile
from crm_complaints.schema import Complaint
from crm_complaints.state import open_store
from crm_complaints.sync import sync


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    os.environ["HUBSPOT_ACCESS_TOKEN"] = DEMO_TOKEN
    now = datetime.now(UTC)
    complaints = []
    for index, record in enumerate(generate(args.count, seed=5, prefix="READS")):
        # Everything received just now, except 1 in 500, received 3 hours ago: late.
        hours = 3 if index % 500 == 0 else 0
        record["received_at"] = (now - timedelta(hours=hours, minutes=5)).isoformat()
        record.pop("acknowledged_at", None)
        record.pop("resolved_at", None)
        record["status"] = "received"
        complaints.append(Complaint.model_validate(record))
    with (
        running_emulator(
            rate_limit=RateLimit(requests=10**9, window_seconds=1), validate=False
        ) as emulator,
        tempfile.TemporaryDirectory() as tmp,
    ):
        adapter = HubSpotAdapter(
            HubSpotConfig(
                host=emulator.base_url, rate_limit_requests=10**6, rate_limit_window_seconds=1
            )
        )
        adapter.setup()
        store = open_store(Path(tmp) / "state.db")
        policy = Policy()
        synced = sync(complaints, adapter=adapter, store=store, policy=policy, batch_size=1000)
        adapter.portal()
        began = time.perf_counter()
        report = reconcile(complaints, adapter=adapter, store=store, policy=policy, now=now)
        seconds = time.perf_counter() - began
        store.close()
    tickets = report.remote_tickets
    writes = synced.remote_calls
    print(f"synced:               {synced.created:,} complaints ({writes:,} write requests)")
    print(f"tickets read back:    {tickets:,}")
    print(f"read requests:        {report.read_requests:,}")
    print(f"per 100 tickets:      {100 * report.read_requests / max(tickets, 1):.2f} (target ≤ 1)")
    print(f"findings:             {report.counts()}")
    print(f"reconcile wall time:  {seconds:.1f} s (emulator unthrottled, validation off)")


if __name__ == "__main__":
    main()
