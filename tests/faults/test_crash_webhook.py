"""Crash safety: SIGKILL the sync at random points; every rerun must converge.

Each round edits some complaints and adds new ones, starts ``crm-complaints sync`` as a real
process, kills it with SIGKILL after a random delay, then reruns it to completion. After every
rerun the receiver holds every complaint, at its latest version, exactly once; the state says
synced; no event was accepted twice.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from crm_complaints.receiver import running_receiver
from crm_complaints.state import RecordState, open_store
from tests.conftest import edited, realistic_complaints
from tests.faults.timing import wait_for_first_request

ROUNDS = 20


def test_sigkill_at_random_points_converges(tmp_path: Path, webhook_secret: str) -> None:
    rng = random.Random(20261123)
    complaints = {c.id: c for c in realistic_complaints(60, prefix="CRASH")}
    source = tmp_path / "complaints.jsonl"
    state_path = tmp_path / "state.db"
    env = {**os.environ, "CRM_COMPLAINTS_WEBHOOK_SECRET": webhook_secret}
    kills_mid_run = 0
    with running_receiver(webhook_secret, latency_seconds=0.02, lose_ack_rate=0.05, seed=5) as rx:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[state]\npath = "{state_path}"\n'
            "[sync]\nbatch_size = 10\ninitial_backoff_seconds = 0\nmax_backoff_seconds = 0\n"
            "max_attempts = 20\n"
            f'[adapters.webhook]\nurl = "{rx.url}"\n',
            encoding="utf-8",
        )
        command = [
            sys.executable, "-m", "crm_complaints", "sync", "--source", str(source),
            "--adapter", "webhook", "--config", str(config), "--format", "json",
        ]  # fmt: skip
        for round_number in range(ROUNDS):
            for cid in rng.sample(sorted(complaints), 25):
                complaints[cid] = edited(complaints[cid], summary=f"round {round_number} {cid}")
            for new in realistic_complaints(10, prefix=f"CRASH-R{round_number:02d}"):
                complaints[new.id] = new
            source.write_text(
                "".join(c.model_dump_json() + "\n" for c in complaints.values()), encoding="utf-8"
            )
            requests_before = rx.state.requests
            victim = subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            wait_for_first_request(lambda: rx.state.requests, requests_before)
            time.sleep(rng.uniform(0.0, 0.5))
            victim.send_signal(signal.SIGKILL)
            victim.communicate(timeout=30)
            if victim.returncode == -signal.SIGKILL and rx.state.requests > requests_before:
                kills_mid_run += 1
            rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
            assert rerun.returncode == 0, rerun.stderr
            summary = json.loads(rerun.stdout)
            assert summary["failed"] == 0 and summary["quarantined"] == 0

            held = rx.state.complaints
            assert sorted(held) == sorted(complaints), f"round {round_number}: lost a complaint"
            store = open_store(state_path)
            records = {r.complaint_id: r for r in store.all_records("webhook")}
            store.close()
            assert {r.state for r in records.values()} == {RecordState.SYNCED}
            for cid, record in records.items():
                assert held[cid]["version"] == record.synced_hash, f"{cid} is stale remotely"
                assert held[cid]["complaint"]["summary"] == complaints[cid].summary
            events = [e for ids in rx.state.events_per_complaint.values() for e in ids]
            assert len(events) == len(set(events)), "an event was accepted twice"
    # The kills really landed while deliveries were going on, and redeliveries happened.
    assert kills_mid_run >= ROUNDS // 4, kills_mid_run  # kills really landed mid-run
    assert rx.state.duplicates > 0
