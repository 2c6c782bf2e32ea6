"""Many portals, one PostgreSQL: one ``crm-complaints sync`` process per portal, as the
Kubernetes example runs them (a CronJob per portal, all sharing ``state.url``).

Two HubSpot emulators stand in for two clinic groups' portals, each with its own rate limit.
The syncs run as real processes at the same time on one PostgreSQL schema, each in its own
``state.namespace``; a second worker for a namespace already running exits 4; workers
SIGKILLed mid-run leave nothing duplicated or lost after a rerun; ``status --all-namespaces``
shows both portals.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from crm_complaints.emulator import DEMO_TOKEN, Faults, HubSpotEmulator, running_emulator
from crm_complaints.emulator.traffic import RateLimit
from crm_complaints.schema import Complaint
from crm_complaints.state import RecordState, open_store
from tests.conftest import realistic_complaints
from tests.hubspot_support import OWNERS, assert_exactly_once, make_adapter

CLI = [sys.executable, "-m", "crm_complaints"]


@dataclass
class Portal:
    namespace: str
    emulator: HubSpotEmulator
    config: Path
    source: Path
    complaints: list[Complaint]

    def sync(self) -> list[str]:
        return [
            *CLI, "sync", "--source", str(self.source), "--adapter", "hubspot",
            "--config", str(self.config), "--format", "json",
        ]  # fmt: skip


@pytest.fixture
def portals(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[Portal]]:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", DEMO_TOKEN)
    owners = "\n".join(f'{k} = "{v}"' for k, v in OWNERS.items())
    made: list[Portal] = []
    with ExitStack() as stack:
        for index, (namespace, limit) in enumerate((("osaka-group", 100), ("taipei-group", 60))):
            emulator = stack.enter_context(
                running_emulator(rate_limit=RateLimit(requests=limit, window_seconds=10))
            )
            make_adapter(emulator).setup()
            config = tmp_path / f"{namespace}.toml"
            config.write_text(
                f'[state]\nurl = "{postgres_url}"\nnamespace = "{namespace}"\n'
                "[sync]\nbatch_size = 20\ninitial_backoff_seconds = 0\nmax_backoff_seconds = 0\n"
                f'[adapters.hubspot]\nhost = "{emulator.base_url}"\n'
                f"rate_limit_requests = {limit}\n[adapters.hubspot.owners]\n{owners}\n",
                encoding="utf-8",
            )
            # Both portals number their complaints alike: namespaces must keep them apart.
            complaints = realistic_complaints(120 + 20 * index, prefix="MP")
            source = tmp_path / f"{namespace}.jsonl"
            source.write_text("".join(c.model_dump_json() + "\n" for c in complaints), "utf-8")
            made.append(Portal(namespace, emulator, config, source, complaints))
        yield made
        for portal in made:
            assert portal.emulator.violations == []


def _env() -> dict[str, str]:
    return {**os.environ, "HUBSPOT_ACCESS_TOKEN": DEMO_TOKEN}


def test_one_process_per_portal_on_one_postgresql(portals: list[Portal], postgres_url: str) -> None:
    for portal in portals:
        portal.emulator.faults = Faults(latency_seconds=0.02)
    first = portals[0]
    # Slow answers keep the first worker's run (about ten requests) going for seconds, longer
    # than a second Python takes to start on a loaded machine.
    first.emulator.faults = Faults(latency_seconds=0.5)
    before = first.emulator.stats.requests  # setup's requests are in the count already
    workers = [
        subprocess.Popen(p.sync(), env=_env(), stdout=subprocess.PIPE, text=True) for p in portals
    ]
    deadline = time.monotonic() + 60
    # The run lock is taken before the first request: once the emulator hears from the first
    # worker, a second one for the same namespace must be refused.
    while first.emulator.stats.requests <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    second_worker = subprocess.run(
        first.sync(), env=_env(), capture_output=True, text=True, timeout=60
    )
    assert second_worker.returncode == 4, second_worker.stderr
    assert "osaka-group" in second_worker.stderr and "hubspot" in second_worker.stderr
    for portal, worker in zip(portals, workers, strict=True):
        out, _ = worker.communicate(timeout=300)
        assert worker.returncode == 0, out
        summary = json.loads(out)
        assert (summary["created"], summary["failed"]) == (len(portal.complaints), 0)
        assert_exactly_once(portal.emulator, portal.complaints)

    status = subprocess.run(
        [*CLI, "status", "--all-namespaces", "--format", "json", "--config", str(first.config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    rows = {row["namespace"]: row for row in json.loads(status.stdout)["namespaces"]}
    assert set(rows) == {"osaka-group", "taipei-group"}
    for row in rows.values():
        assert row["adapter"] == "hubspot" and row["last_run"]["outcome"] == "ok"
        assert (row["pending"], row["failed"], row["quarantined"], row["overdue"]) == (
            0,
            0,
            0,
            None,
        )
    text = subprocess.run(
        [*CLI, "status", "--all-namespaces", "--config", str(first.config)],
        capture_output=True, text=True, timeout=60, env={**_env(), "COLUMNS": "200"},
    )  # fmt: skip
    assert "taipei-group" in text.stdout and "never reconciled" in text.stdout


def test_workers_killed_mid_run_converge_on_a_rerun(
    portals: list[Portal], postgres_url: str
) -> None:
    for portal in portals:
        portal.emulator.faults = Faults(latency_seconds=0.03)
    killed_mid_run = 0
    for round_number in range(3):
        before = [p.emulator.stats.requests for p in portals]
        workers = [
            subprocess.Popen(
                p.sync(), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            for p in portals
        ]
        victim = round_number % len(portals)
        deadline = time.monotonic() + 60  # a loaded machine takes a while to start Python
        while (
            portals[victim].emulator.stats.requests <= before[victim]
            and time.monotonic() < deadline
        ):
            time.sleep(0.02)
        time.sleep(0.2 * round_number)
        workers[victim].send_signal(signal.SIGKILL)
        for worker in workers:
            worker.wait(timeout=300)
        if (
            workers[victim].returncode == -signal.SIGKILL
            and portals[victim].emulator.stats.requests > before[victim]
        ):
            killed_mid_run += 1
        for portal in portals:
            rerun = subprocess.run(
                portal.sync(), env=_env(), capture_output=True, text=True, timeout=300
            )
            assert rerun.returncode == 0, rerun.stderr
            assert_exactly_once(portal.emulator, portal.complaints)
            store = open_store(url=postgres_url, namespace=portal.namespace)
            try:
                records = list(store.all_records("hubspot"))
            finally:
                store.close()
            assert {r.state for r in records} == {RecordState.SYNCED}
            assert len(records) == len(portal.complaints)
        for portal in portals:  # new work for the next round
            portal.complaints = realistic_complaints(len(portal.complaints) + 30, prefix="MP")
            portal.source.write_text(
                "".join(c.model_dump_json() + "\n" for c in portal.complaints), "utf-8"
            )
    assert killed_mid_run >= 1
