"""End to end: the engine, the webhook adapter and a real loopback receiver."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_complaints.adapters.webhook import WebhookAdapter, WebhookConfig
from crm_complaints.cli import app
from crm_complaints.receiver import WebhookReceiver, running_receiver
from crm_complaints.retry import RetryPolicy
from crm_complaints.state import RecordState, SqlStateStore
from crm_complaints.sync import sync
from tests.conftest import edited as edit
from tests.conftest import realistic_complaints

NO_WAIT = RetryPolicy.no_wait(max_attempts=30)


@pytest.fixture
def receiver(webhook_secret: str) -> Iterator[WebhookReceiver]:
    with running_receiver(webhook_secret) as server:
        yield server


def adapter_for(receiver: WebhookReceiver) -> WebhookAdapter:
    return WebhookAdapter(WebhookConfig(url=receiver.url, state_url=receiver.state_url))


def test_full_sync_rerun_and_edits(receiver: WebhookReceiver, store: SqlStateStore) -> None:
    complaints = realistic_complaints(40)
    with adapter_for(receiver) as adapter:
        first = sync(complaints, adapter=adapter, store=store, retry=NO_WAIT)
        assert (first.created, first.remote_calls, first.exit_code) == (40, 40, 0)
        assert len(receiver.state.complaints) == 40

        again = sync(complaints, adapter=adapter, store=store, retry=NO_WAIT)
        assert (again.unchanged, again.remote_calls) == (40, 0)
        assert receiver.state.requests == 40

        edited = list(complaints)
        for index in (3, 17, 29):
            edited[index] = edit(edited[index], status="investigating")
        third = sync(edited, adapter=adapter, store=store, retry=NO_WAIT)
        assert (third.updated, third.unchanged, third.remote_calls) == (3, 37, 3)
    held = receiver.state.complaints
    assert len(held) == 40  # same complaints, updated in place
    for index in (3, 17, 29):
        entry = held[f"E2E-{index:04d}"]
        assert entry["type"] == "complaint.updated"
        assert entry["complaint"]["status"] == "investigating"
        assert len(receiver.state.events_per_complaint[f"E2E-{index:04d}"]) == 2


def test_flaky_receiver_gets_everything_exactly_once(
    webhook_secret: str, store: SqlStateStore
) -> None:
    complaints = realistic_complaints(120)
    with running_receiver(webhook_secret, fail_rate=0.15, lose_ack_rate=0.15, seed=3) as flaky:
        with adapter_for(flaky) as adapter:
            summary = sync(complaints, adapter=adapter, store=store, retry=NO_WAIT, batch_size=20)
        state = flaky.state
    assert summary.created == 120 and summary.failed == 0
    assert state.injected_failures > 20  # about 30 % of requests failed one way or the other
    assert state.duplicates > 0  # acks were lost after processing, and retried
    assert len(state.complaints) == 120
    assert all(len(events) == 1 for events in state.events_per_complaint.values())
    assert {r.state for r in store.all_records("webhook")} == {RecordState.SYNCED}


def test_reading_back_through_the_receiver(receiver: WebhookReceiver, store: SqlStateStore) -> None:
    complaints = realistic_complaints(250)
    with adapter_for(receiver) as adapter:
        sync(complaints, adapter=adapter, store=store, retry=NO_WAIT)
        calls = adapter.calls
        refs = {r.complaint_id: r.refs for r in store.all_records("webhook")}
        found = adapter.read(refs)
        assert len(found) == 250 and adapter.calls - calls == 3  # 100 ids per request
        owned = list(adapter.list_owned())
        assert sorted(r.complaint_id for r in owned) == sorted(refs)


def test_no_personal_data_in_any_log_output(
    receiver: WebhookReceiver,
    store: SqlStateStore,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    complaints = realistic_complaints(12)
    caplog.set_level(logging.DEBUG)
    # Make some records fail and some be rejected so every log path runs.
    receiver.fail_rate = 0.3
    with adapter_for(receiver) as adapter:
        sync(complaints, adapter=adapter, store=store, retry=RetryPolicy.no_wait(2))
        receiver.fail_rate = 0.0
        sync(complaints, adapter=adapter, store=store, retry=NO_WAIT)
    captured = capsys.readouterr()
    output = caplog.text + captured.out + captured.err
    output += json.dumps([r.last_error for r in store.all_records("webhook")])
    assert "quarantined" in output or "left for the next run" in output or caplog.records
    personal = set()
    for complaint in complaints:
        assert complaint.customer is not None
        personal |= {complaint.customer.name, complaint.customer.email, complaint.customer.phone}
        personal.add(complaint.description)
        personal.add(complaint.reporter.name if complaint.reporter else None)
    personal.add(receiver.secret)
    for value in filter(None, personal):
        assert value not in output, "personal data or a secret reached the logs"


def write_config(tmp_path: Path, receiver: WebhookReceiver) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[state]
path = "{tmp_path / "state.db"}"

[sync]
max_attempts = 3
initial_backoff_seconds = 0
max_backoff_seconds = 0

[adapters.webhook]
url = "{receiver.url}"
state_url = "{receiver.state_url}"
""",
        encoding="utf-8",
    )
    return config


def write_source(tmp_path: Path, count: int, bad: bool = False) -> Path:
    source = tmp_path / "complaints.jsonl"
    lines = [c.model_dump_json() for c in realistic_complaints(count)]
    if bad:
        lines.append('{"id": "BAD-1", "clinic": "x", "received_at": "2026-11-18T10:00:00"}')
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return source


def test_cli_sync_status_and_exit_codes(tmp_path: Path, receiver: WebhookReceiver) -> None:
    runner = CliRunner()
    config = write_config(tmp_path, receiver)
    source = write_source(tmp_path, 6, bad=True)
    base = ["sync", "--source", str(source), "--adapter", "webhook", "--config", str(config)]

    dry = runner.invoke(app, [*base, "--dry-run", "--format", "json"])
    assert dry.exit_code == 3, dry.output  # the bad record is quarantined even in a dry run
    assert json.loads(dry.stdout)["created"] == 6 and receiver.state.requests == 0

    first = runner.invoke(app, [*base, "--format", "json"])
    data = json.loads(first.stdout)
    assert (first.exit_code, data["created"], data["quarantined"]) == (3, 6, 1)

    source.write_text("\n".join(source.read_text().splitlines()[:-1]) + "\n")
    second = runner.invoke(app, base)
    assert second.exit_code == 0
    assert "unchanged 6" in second.stdout and "remote calls 0" in second.stdout

    status = runner.invoke(app, ["status", "--config", str(config), "--format", "json"])
    runs = json.loads(status.stdout)["runs"]
    assert [r["outcome"] for r in runs] == ["ok", "partial"]

    from crm_complaints.state import open_store

    holder = open_store(tmp_path / "state.db")
    with holder.run_lock("webhook"):
        locked = runner.invoke(app, base)
    holder.close()
    assert locked.exit_code == 4 and "another crm-complaints run" in locked.stderr

    unknown = runner.invoke(app, [*base[:3], "--adapter", "nosuch", "--config", str(config)])
    assert unknown.exit_code == 2 and "nosuch" in unknown.stderr
