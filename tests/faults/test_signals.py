"""Interrupting a sync: SIGINT (Ctrl-C) and SIGTERM (a scheduler stopping the job).

The real ``crm-complaints sync`` runs against a slow loopback receiver and is signalled after
some deliveries. The process must exit 128 + the signal number, the run must be recorded as
stopped by that signal (not ``ok``, not left ``running``), nothing confirmed may be lost or
left pending, and a rerun must deliver the rest with every complaint accepted exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crm_complaints.receiver import WebhookReceiver, running_receiver
from crm_complaints.state import RecordState, open_store
from tests.conftest import realistic_complaints

COMPLAINTS = 40


def _wait_for_deliveries(rx: WebhookReceiver, victim: subprocess.Popen[str], count: int) -> None:
    deadline = time.monotonic() + 20
    while rx.state.requests < count:
        if victim.poll() is not None:
            _, stderr = victim.communicate(timeout=10)
            pytest.fail(f"the sync ended ({victim.returncode}) before it was interrupted: {stderr}")
        assert time.monotonic() < deadline, "no deliveries arrived"
        time.sleep(0.01)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_signal_stops_the_run_and_a_rerun_completes(
    tmp_path: Path, webhook_secret: str, signum: signal.Signals
) -> None:
    complaints = realistic_complaints(COMPLAINTS, prefix="SIG")
    source = tmp_path / "complaints.jsonl"
    source.write_text("".join(c.model_dump_json() + "\n" for c in complaints), encoding="utf-8")
    state_path = tmp_path / "state.db"
    env = {**os.environ, "CRM_COMPLAINTS_WEBHOOK_SECRET": webhook_secret}
    with running_receiver(webhook_secret, latency_seconds=0.05) as rx:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[state]\npath = "{state_path}"\n'
            "[sync]\nbatch_size = 5\ninitial_backoff_seconds = 0\nmax_backoff_seconds = 0\n"
            f'[adapters.webhook]\nurl = "{rx.url}"\n',
            encoding="utf-8",
        )
        cli = [sys.executable, "-m", "crm_complaints"]
        command = [
            *cli, "sync", "--source", str(source), "--adapter", "webhook",
            "--config", str(config), "--format", "json",
        ]  # fmt: skip
        victim = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            _wait_for_deliveries(rx, victim, 8)
            victim.send_signal(signum)
            _, stderr = victim.communicate(timeout=30)
        finally:
            if victim.poll() is None:
                victim.kill()
                victim.communicate(timeout=10)
        assert victim.returncode == 128 + signum, stderr
        assert "Traceback" not in stderr
        delivered_before_rerun = dict(rx.state.complaints)
        assert 0 < len(delivered_before_rerun) < COMPLAINTS  # really stopped mid-run

        status = subprocess.run(
            [*cli, "status", "--config", str(config), "--format", "json"],
            env=env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        [run] = json.loads(status.stdout)["runs"]
        assert run["outcome"] == f"stopped: {signum.name}"
        assert run["finished_at"] is not None
        store = open_store(state_path)
        records = {r.complaint_id: r for r in store.all_records("webhook")}
        store.close()
        # What the receiver confirmed is synced; anything else the run touched stays pending.
        for cid, record in records.items():
            if record.state is RecordState.SYNCED:
                assert delivered_before_rerun[cid]["version"] == record.synced_hash
            else:
                assert record.state is RecordState.PENDING, (cid, record.state)
        assert set(delivered_before_rerun) <= set(records)

        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert rerun.returncode == 0, rerun.stderr
        assert json.loads(rerun.stdout)["failed"] == 0
        held = rx.state.complaints
        events = rx.state.events_per_complaint
    assert sorted(held) == sorted(c.id for c in complaints)
    assert all(len(ids) == 1 for ids in events.values()), "a complaint was delivered twice"
