"""Crash safety against HubSpot: SIGKILL the sync at random points; reruns must converge.

Each round edits and adds complaints, starts ``crm-complaints sync --adapter hubspot`` as a
real process against the emulator, SIGKILLs it after a random delay, and reruns it. After each
rerun every complaint has exactly one ticket and exactly one task per kind, linked to it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from crm_complaints.emulator import DEMO_TOKEN, Faults, running_emulator
from crm_complaints.state import RecordState, open_store
from tests.conftest import edited, realistic_complaints
from tests.faults.timing import wait_for_first_request
from tests.hubspot_support import OWNERS, assert_exactly_once, make_adapter

ROUNDS = 20


def test_sigkill_at_random_points_converges_in_hubspot(tmp_path: Path) -> None:
    rng = random.Random(7)
    complaints = {c.id: c for c in realistic_complaints(60, prefix="HSCRASH")}
    source = tmp_path / "complaints.jsonl"
    state_path = tmp_path / "state.db"
    env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": DEMO_TOKEN}
    kills_mid_run = 0
    os.environ.setdefault("HUBSPOT_ACCESS_TOKEN", DEMO_TOKEN)
    with running_emulator() as emulator:
        make_adapter(emulator).setup()
        emulator.faults = Faults(latency_seconds=0.03)
        owners = "\n".join(f'{k} = "{v}"' for k, v in OWNERS.items())
        config = tmp_path / "config.toml"
        config.write_text(
            f'[state]\npath = "{state_path}"\n'
            "[sync]\nbatch_size = 10\ninitial_backoff_seconds = 0\nmax_backoff_seconds = 0\n"
            f'[adapters.hubspot]\nhost = "{emulator.base_url}"\n'
            f"[adapters.hubspot.owners]\n{owners}\n",
            encoding="utf-8",
        )
        command = [
            sys.executable, "-m", "crm_complaints", "sync", "--source", str(source),
            "--adapter", "hubspot", "--config", str(config), "--format", "json",
        ]  # fmt: skip
        for round_number in range(ROUNDS):
            moved = f"2026-11-{10 + round_number % 9:02d}T1{round_number % 10}:00:00+09:00"
            for cid in rng.sample(sorted(complaints), 30):
                complaints[cid] = edited(
                    complaints[cid], summary=f"round {round_number}", received_at=moved
                )
            for new in realistic_complaints(5, prefix=f"HSCRASH-R{round_number:02d}"):
                complaints[new.id] = new
            source.write_text(
                "".join(c.model_dump_json() + "\n" for c in complaints.values()), encoding="utf-8"
            )
            before = emulator.stats.requests
            victim = subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            wait_for_first_request(lambda: emulator.stats.requests, before)
            time.sleep(rng.uniform(0.0, 1.0))
            victim.send_signal(signal.SIGKILL)
            victim.communicate(timeout=30)
            if victim.returncode == -signal.SIGKILL and emulator.stats.requests > before:
                kills_mid_run += 1
            rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
            assert rerun.returncode == 0, rerun.stderr
            assert json.loads(rerun.stdout)["failed"] == 0
            assert_exactly_once(emulator, list(complaints.values()))
            store = open_store(state_path)
            states = {r.state for r in store.all_records("hubspot")}
            store.close()
            assert states == {RecordState.SYNCED}
            by_key = {t.properties["crm_task_key"]: t for t in emulator.portal.live("tasks")}
            sample = rng.choice(sorted(complaints))
            due = by_key[f"{sample}:initial_response"].properties["hs_timestamp"]
            expected = complaints[sample].received_at.timestamp() + 7200
            assert abs(_epoch(due) - expected) < 1, "a moved due date did not move in HubSpot"
        assert emulator.violations == []
    assert kills_mid_run >= ROUNDS // 4, kills_mid_run  # kills really landed mid-run


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
