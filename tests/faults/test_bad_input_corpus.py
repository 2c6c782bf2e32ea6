"""A corpus of bad input, generated here, through validate, plan and sync.

Every bad record is quarantined with its field and line, every good record is synced, nothing
prints a traceback, exit codes are the documented ones, and no marker planted in a rejected
value appears anywhere: stdout, stderr, logs, the state store, or what the receiver got.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from crm_complaints.cli import app
from crm_complaints.receiver import WebhookReceiver, running_receiver
from tests.conftest import complaint_data

GOOD = 12
ENUMS = ("category", "channel", "status", "severity", "language")
DATETIMES = ("received_at", "occurred_at", "acknowledged_at", "resolved_at", "closed_at")
NESTED_ENUMS = (("reporter", "department"), ("demand", "kind"))


class Corpus:
    """Numbered bad lines; each planted marker is ``ZQX`` + its number."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.bad_lines: list[int] = []
        self.markers: list[str] = []
        self.good_ids: list[str] = []

    def marker(self) -> str:
        value = f"ZQX{len(self.markers):03d}q"
        self.markers.append(value)
        return value

    def good(self) -> None:
        cid = f"GOOD-{len(self.good_ids):03d}"
        self.good_ids.append(cid)
        self.lines.append(json.dumps(complaint_data(id=cid), ensure_ascii=False).encode())

    def bad(self, raw: bytes | dict[str, Any]) -> None:
        line = raw if isinstance(raw, bytes) else json.dumps(raw, ensure_ascii=False).encode()
        self.lines.append(line)
        self.bad_lines.append(len(self.lines))

    def bad_record(self, **overrides: Any) -> None:
        self.bad({**complaint_data(id=f"BAD-{len(self.bad_lines):03d}"), **overrides})


def build() -> Corpus:
    corpus = Corpus()
    for _ in range(GOOD // 2):
        corpus.good()
    for name in ENUMS:
        corpus.bad_record(**{name: corpus.marker()})
        corpus.bad_record(**{name: 17})
        corpus.bad_record(**{name: [corpus.marker()]})
    for parent, name in NESTED_ENUMS:
        base = {"kind": "refund"} if parent == "demand" else {}
        corpus.bad_record(**{parent: {**base, name: corpus.marker()}})
    corpus.bad_record(risk_flags=[corpus.marker()])
    corpus.bad_record(risk_flags=corpus.marker())
    for name in DATETIMES:
        corpus.bad_record(**{name: corpus.marker()})
        corpus.bad_record(**{name: "2026-11-20T10:15:00"})  # naive: an error, never a guess
        corpus.bad_record(**{name: ["2026-11-20T10:15:00+09:00"]})
        corpus.bad_record(**{name: "2026-13-45T99:00:00+09:00"})
    for name in ("summary", "clinic", "id"):
        corpus.bad_record(**{name: corpus.marker() * 400})  # far past the length limit
        corpus.bad_record(**{name: {"text": corpus.marker()}})
    corpus.bad({k: v for k, v in complaint_data(id="BAD-NOSUM").items() if k != "summary"})
    corpus.bad({k: v for k, v in complaint_data().items() if k != "id"})
    corpus.bad_record(**{corpus.marker(): "an unknown field"})
    corpus.bad_record(customer={"name": "x", corpus.marker(): "y"})
    corpus.bad_record(customer={"email": corpus.marker() + "@" + "a" * 300})
    corpus.bad_record(customer={"phone": corpus.marker() * 10})
    corpus.bad_record(customer={"external_id": [corpus.marker()]})
    corpus.bad_record(reporter={"staff_id": {"id": corpus.marker()}})
    corpus.bad_record(related={"lot_number": 12345})
    corpus.bad_record(demand={"kind": "refund", "amount": corpus.marker()})
    corpus.bad_record(demand={"kind": "refund", "amount": "30000"})  # no currency
    corpus.bad_record(demand={"kind": "refund", "amount": "-5", "currency": "JPY"})
    corpus.bad_record(demand={"kind": "refund", "amount": "5", "currency": "ZZZ"})
    corpus.bad_record(schema_version=corpus.marker())
    corpus.bad_record(attachments=[{"url": ""}])
    corpus.bad_record(attachments=corpus.marker())
    corpus.bad_record(resolved_at="9999-12-31T00:00:00+09:00", status="resolved")
    corpus.bad_record(received_at="0001-01-01T00:00:00+09:00")
    corpus.bad(("{" + corpus.marker()).encode())
    corpus.bad(json.dumps([corpus.marker()]).encode())
    corpus.bad(json.dumps(corpus.marker()).encode())
    corpus.bad(json.dumps(None).encode())
    corpus.bad(("[" * 1000 + json.dumps(corpus.marker()) + "]" * 1000).encode())
    corpus.bad(b'{"id": "' + b"\\ud800" + corpus.marker().encode() + b'", "clinic": "c"}')
    corpus.bad(b'{"id": "BAD-BYTES", "summary": "\xff\xfe' + corpus.marker().encode() + b'"}')
    corpus.bad(('{"id": "BAD-DEEP", "custom": ' + '{"a": ' * 1000 + "1" + "}" * 1001).encode())
    corpus.bad_record(custom=[corpus.marker()])
    for _ in range(GOOD - GOOD // 2):
        corpus.good()
    first_good = complaint_data(id=corpus.good_ids[0], summary=corpus.marker())
    corpus.bad(json.dumps(first_good, ensure_ascii=False).encode())  # the same id again
    return corpus


CORPUS = build()


@pytest.fixture
def files(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    source = tmp_path / "complaints.jsonl"
    source.write_bytes(b"\n".join(CORPUS.lines) + b"\n")
    yield source, tmp_path


def _clean(result: Result) -> None:
    """A clean exit: the documented code, never an exception or a traceback."""
    assert result.exc_info is None or result.exc_info[0] is SystemExit, result.exc_info
    assert "Traceback" not in result.stdout + result.stderr


def _no_markers(where: str, text: str) -> None:
    found = [m for m in CORPUS.markers if m in text]
    assert not found, f"{len(found)} rejected value(s) echoed in {where}, e.g. {found[0]}"


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS.bad_lines) >= 70 and len(CORPUS.markers) >= 30


def test_validate_and_plan(files: tuple[Path, Path]) -> None:
    source, _ = files
    runner = CliRunner()
    unplannable = 2  # valid input no deadline can be computed from: plan finds them, not validate
    for command, expected in (
        (["validate", str(source)], len(CORPUS.bad_lines) - unplannable),
        (["plan", str(source), "--format", "json"], len(CORPUS.bad_lines)),
    ):
        result = runner.invoke(app, command)
        _clean(result)
        assert result.exit_code == 3, result.stderr[-500:]
        entries = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
        assert len(entries) == expected, command[0]
        assert all(e["line"] > 0 and e["problems"][0]["field"] for e in entries), command[0]
        assert {e["line"] for e in entries} <= set(CORPUS.bad_lines)
        if command[0] == "plan":
            good = [json.loads(line)["complaint_id"] for line in result.stdout.splitlines()]
            assert sorted(good) == sorted(CORPUS.good_ids)
        _no_markers(f"{command[0]} output", result.stdout + result.stderr)


@pytest.fixture
def receiver(webhook_secret: str) -> Iterator[WebhookReceiver]:
    with running_receiver(webhook_secret) as server:
        yield server


def test_sync(
    files: tuple[Path, Path], receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    source, folder = files
    config = folder / "config.toml"
    state = folder / "state.db"
    config.write_text(
        f'[state]\npath = "{state}"\n[adapters.webhook]\nurl = "{receiver.url}"\n',
        encoding="utf-8",
    )
    args = ["sync", "--source", str(source), "--adapter", "webhook", "--config", str(config)]
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(app, [*args, "--format", "json", "-v"])
    _clean(result)
    assert result.exit_code == 3, result.stderr[-500:]
    summary = json.loads(result.stdout)
    assert (summary["created"], summary["quarantined"]) == (GOOD, len(CORPUS.bad_lines))
    assert sorted(receiver.state.complaints) == sorted(CORPUS.good_ids)
    status = CliRunner().invoke(app, ["status", "--config", str(config), "--format", "json"])
    quarantined = json.loads(status.stdout)["last_run_quarantine"]
    assert len(quarantined) == len(CORPUS.bad_lines)
    assert all(q["line"] > 0 and q["problems"][0]["field"] for q in quarantined)
    _no_markers("sync output", result.stdout + result.stderr)
    _no_markers("the logs", caplog.text)
    _no_markers("status", status.stdout)
    _no_markers("the state store", state.read_bytes().decode("utf-8", "replace"))
    _no_markers("the payloads", json.dumps(list(receiver.state.accepted.values())))
