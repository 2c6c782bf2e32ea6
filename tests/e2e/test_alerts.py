"""``crm-complaints alerts`` end to end: apprise's ``json://`` to a loopback receiver and
``mailto://`` to a local SMTP server (aiosmtpd), with a fixed clock (``--now``).

Clinics: Ginza (Asia/Tokyo) and SoHo (America/New_York). Channels are environment variables
holding apprise URLs; each department posts to its own path, so the receiver can tell them apart.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from crm_complaints.alerts.ledger import Delivery, Ledger, deadline_key
from crm_complaints.cli import app
from crm_complaints.state import open_store
from tests.conftest import REPO, complaint_data

CHANNELS = ("DESK", "DOCTOR", "CARE", "MGMT", "NY_DESK", "NY_MGMT")


class Receiver:
    """A loopback JSON webhook (what apprise's ``json://`` posts): records every post; a path
    can be made to hang after the body arrived (to kill the sender mid-send)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.hang_on: str | None = None
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.fail_paths: set[str] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                path = self.path.strip("/")
                if path in receiver.fail_paths:
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.posts.append((path, json.loads(body)))
                if path == receiver.hang_on:
                    receiver.arrived.set()
                    receiver.release.wait(30)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def to(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in self.posts if p == path]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """A local SMTP server keeping each message."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                outer.messages.append(message_from_bytes(envelope.content))
                return "250 OK"

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def url(self, to: str) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=alerts@clinic.example&to={to}"

    def subjects(self) -> list[str]:
        return [str(make_header(decode_header(m["Subject"]))) for m in self.messages]

    def close(self) -> None:
        self.controller.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    opened = Receiver()
    yield opened
    opened.close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    opened = Mailbox()
    yield opened
    opened.close()


CONFIG = """
[state]
path = "{state}"

[clinics.tokyo-ginza]
time_zone = "Asia/Tokyo"
country = "JP"
language = "ja"

[clinics.new-york-soho]
time_zone = "America/New_York"
country = "US"
subdivision = "NY"
language = "en"

[clinics.new-york-soho.hours]
mon = ["09:00-18:00"]
tue = ["09:00-18:00"]
wed = ["09:00-18:00"]
thu = ["09:00-18:00"]
fri = ["09:00-18:00"]

[alerts.channels]
front_desk = ["ALERTS_DESK"]
physician = ["ALERTS_DOCTOR"]
care_staff = ["ALERTS_CARE"]
management = ["ALERTS_MGMT"]
{mail}

[alerts.clinics.new-york-soho]
front_desk = ["ALERTS_NY_DESK"]
management = ["ALERTS_NY_MGMT"]
"""


@pytest.fixture
def setup(tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Config, state file and channel variables; returns paths for the tests."""
    for name in CHANNELS:
        monkeypatch.setenv(f"ALERTS_{name}", receiver.url(name.lower()))
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(state=tmp_path / "state.db", mail=""), encoding="utf-8")
    return {
        "config": config,
        "source": tmp_path / "complaints.jsonl",
        "state": tmp_path / "state.db",
    }


def write(source: Path, *complaints: dict[str, Any]) -> None:
    source.write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in complaints), encoding="utf-8"
    )


def run(setup: dict[str, Any], now: str, *extra: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        app,
        [
            "alerts",
            "--source",
            str(setup["source"]),
            "--config",
            str(setup["config"]),
            "--now",
            now,
            "--format",
            "json",
            *extra,
        ],
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


def alerts_to(receiver: Receiver, path: str) -> list[dict[str, str]]:
    """Each alert a channel received: one per message, or one per block of a list message
    (several alerts of one level in one run arrive as one message, each block under its
    own title line)."""
    found = []
    for body in receiver.to(path):
        blocks = body["message"].split("\n\n")
        if len(blocks) == 1:
            found.append({"title": body["title"], "message": body["message"]})
        else:
            found.extend({"title": b.split("\n")[0], "message": b} for b in blocks)
    return found


def escalations(receiver: Receiver) -> list[dict[str, str]]:
    return [b for b in alerts_to(receiver, "mgmt") if "エスカレーション" in b["title"]]


# A Wednesday-morning walk-in at Ginza, received 08:20: reports due 08:50, first response
# 10:20. Acknowledged by nobody.
LATE_CALL = complaint_data(id="GNZ-A-1", received_at="2026-11-25T08:20:00+09:00")


def test_first_response_missed_by_31_minutes_alerts_management_once(
    setup: dict[str, Any], receiver: Receiver
) -> None:
    write(setup["source"], LATE_CALL)
    code, report = run(setup, "2026-11-25T10:51:00+09:00")
    assert code == 0, report
    mine = {(a["task"], a["level"]): a["outcome"] for a in report["alerts"]}
    assert mine[("initial_response", "escalation")] == "sent"
    assert mine[("initial_response", "overdue")] == "sent"
    assert len(escalations(receiver)) == 3  # both reports (late 2 h) and the first response
    first = next(b for b in escalations(receiver) if "お詫びの電話" in b["title"])
    assert "GNZ-A-1" in first["message"] and "2026-11-25 10:20 (Asia/Tokyo)" in first["message"]
    assert "31分超過" in first["message"]

    # Later runs: nothing again (each task and level once).
    posts = len(receiver.posts)
    code, again = run(setup, "2026-11-25T10:56:00+09:00")
    assert code == 0 and len(receiver.posts) == posts
    assert {a["outcome"] for a in again["alerts"]} == {"already_sent"}


def test_30_minutes_late_is_not_yet_an_escalation(
    setup: dict[str, Any], receiver: Receiver
) -> None:
    write(setup["source"], complaint_data(id="GNZ-A-2", received_at="2026-11-25T08:50:00+09:00"))
    _, report = run(setup, "2026-11-25T11:20:00+09:00")  # the first response is 30 min late
    levels = {(a["task"], a["level"]) for a in report["alerts"]}
    assert ("initial_response", "overdue") in levels
    assert ("initial_response", "escalation") not in levels


def test_no_personal_data_in_any_alert(setup: dict[str, Any], receiver: Receiver) -> None:
    write(setup["source"], LATE_CALL)
    run(setup, "2026-11-25T10:51:00+09:00")
    sent = json.dumps(receiver.posts, ensure_ascii=False)
    assert receiver.posts
    for secret in (
        "山田",
        "花子",
        "090-1234",
        "hanako@",
        "佐藤",
        "料金の説明がなかった",
        "説明が不十分",
    ):
        assert secret not in sent


def test_night_time_overdue_is_held_until_opening_and_critical_is_sent(
    setup: dict[str, Any], receiver: Receiver
) -> None:
    calm = complaint_data(id="GNZ-N-1", received_at="2026-11-25T16:00:00+09:00")
    critical = complaint_data(
        id="GNZ-N-2", received_at="2026-11-25T16:10:00+09:00", risk_flags=["bodily_harm"]
    )
    write(setup["source"], calm, critical)
    code, night = run(setup, "2026-11-25T22:00:00+09:00")
    assert code == 0
    by_id: dict[str, set[str]] = {}
    for alert in night["alerts"]:
        by_id.setdefault(alert["complaint_id"], set()).add(alert["outcome"])
    assert by_id["GNZ-N-1"] == {"held"}
    assert by_id["GNZ-N-2"] == {"sent"}
    held = next(a for a in night["alerts"] if a["complaint_id"] == "GNZ-N-1")
    assert held["held_until"] == "2026-11-26T08:00:00+09:00"
    assert not any("GNZ-N-1" in b["message"] for _, b in receiver.posts)
    assert any("GNZ-N-2" in b["message"] for _, b in receiver.posts)

    code, morning = run(setup, "2026-11-26T08:05:00+09:00")
    assert code == 0
    calm_now = {a["outcome"] for a in morning["alerts"] if a["complaint_id"] == "GNZ-N-1"}
    assert calm_now == {"sent"}
    assert any("GNZ-N-1" in b["message"] for _, b in receiver.posts)


def test_two_time_zones_each_in_its_own_clock_and_channels(
    setup: dict[str, Any], receiver: Receiver
) -> None:
    ny = complaint_data(
        id="NYC-A-1",
        clinic="new-york-soho",
        language="en",
        received_at="2026-11-24T09:30:00-05:00",
        reporter={"department": "front_desk"},
    )
    write(setup["source"], ny, LATE_CALL)
    # 10:51 in Tokyo is 20:51 the day before in New York: SoHo is closed, Ginza open.
    _, report = run(setup, "2026-11-25T10:51:00+09:00")
    outcomes = {a["complaint_id"]: a["outcome"] for a in report["alerts"]}
    assert outcomes["NYC-A-1"] == "held" and outcomes["GNZ-A-1"] == "sent"
    _, opening = run(setup, "2026-11-25T09:01:00-05:00")
    assert {a["outcome"] for a in opening["alerts"] if a["complaint_id"] == "NYC-A-1"} == {"sent"}
    desk = alerts_to(receiver, "ny_desk")
    assert desk and all("NYC-A-1" in b["message"] for b in desk)
    assert any("(America/New_York)" in b["message"] and "Overdue" in b["title"] for b in desk)
    assert not any("NYC-A-1" in b["message"] for b in receiver.to("desk"))
    assert any("NYC-A-1" in b["message"] for b in receiver.to("ny_mgmt"))


def test_due_soon_goes_to_the_department_only(setup: dict[str, Any], receiver: Receiver) -> None:
    write(
        setup["source"],
        complaint_data(
            id="GNZ-S-1", received_at="2026-11-25T09:00:00+09:00", category="medical_quality"
        ),
    )
    _, report = run(setup, "2026-11-25T09:10:00+09:00")  # reports due 09:30, call 11:00
    assert {a["level"] for a in report["alerts"]} == {"due_soon"}
    soon = {a["task"]: list(a["channels"]) for a in report["alerts"]}
    assert soon == {"report_supervisor": ["ALERTS_DESK"], "report_executive": ["ALERTS_MGMT"]}
    assert receiver.to("desk") and receiver.to("mgmt") and not receiver.to("doctor")
    assert all("あと20分" in b["message"] for _, b in receiver.posts)


def test_dry_run_lists_and_sends_nothing(setup: dict[str, Any], receiver: Receiver) -> None:
    write(setup["source"], LATE_CALL)
    code, report = run(setup, "2026-11-25T10:51:00+09:00", "--dry-run")
    assert code == 0 and report["dry_run"]
    assert report["would_send"] == len(report["alerts"]) > 0
    assert receiver.posts == []
    code, real = run(setup, "2026-11-25T10:51:00+09:00")
    assert real["sent"] == report["would_send"]


def test_a_failing_channel_exits_3_and_is_retried_next_run(
    setup: dict[str, Any], receiver: Receiver
) -> None:
    write(setup["source"], LATE_CALL)
    receiver.fail_paths.add("mgmt")
    code, first = run(setup, "2026-11-25T10:51:00+09:00")
    assert code == 3 and first["failed"] > 0
    assert receiver.to("desk")  # the other channels went through
    receiver.fail_paths.clear()
    code, second = run(setup, "2026-11-25T10:53:00+09:00")
    assert code == 0
    assert len(escalations(receiver)) == 3
    assert {a["outcome"] for a in second["alerts"]} <= {"sent", "already_sent"}


def test_escalation_by_email_to_a_local_smtp_server(
    tmp_path: Path, setup: dict[str, Any], mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTS_MAIL", mailbox.url("director@clinic.example"))
    setup["config"].write_text(
        CONFIG.format(state=setup["state"], mail='escalation = ["ALERTS_MAIL"]'), encoding="utf-8"
    )
    write(setup["source"], LATE_CALL)
    code, _ = run(setup, "2026-11-25T10:51:00+09:00")
    assert code == 0
    subjects = mailbox.subjects()
    assert any(s.startswith("[経営層へエスカレーション] 3 · GNZ-A-1") for s in subjects), subjects
    text = b"".join(m.get_payload(0).get_payload(decode=True) for m in mailbox.messages)
    assert "お詫びの電話と事実確認" in text.decode("utf-8")
    raw = b"".join(m.as_bytes() for m in mailbox.messages).decode("utf-8", "replace")
    assert "山田" not in raw and "hanako" not in raw
    count = len(mailbox.messages)
    run(setup, "2026-11-25T11:00:00+09:00")
    assert len(mailbox.messages) == count  # once per task and level


def test_missing_channel_variable_is_a_config_error(
    setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(setup["source"], LATE_CALL)
    monkeypatch.delenv("ALERTS_MGMT")
    result = CliRunner().invoke(
        app,
        [
            "alerts",
            "-s",
            str(setup["source"]),
            "-c",
            str(setup["config"]),
            "--now",
            "2026-11-25T10:51:00+09:00",
        ],
    )
    assert result.exit_code == 2
    assert "ALERTS_MGMT" in result.output


def _alerts_process(setup: dict[str, Any], now: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crm_complaints",
            "alerts",
            "-s",
            str(setup["source"]),
            "-c",
            str(setup["config"]),
            "--now",
            now,
        ],
        cwd=REPO,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_sigkill_while_escalating_gives_at_most_one_duplicate_never_a_lost_alert(
    setup: dict[str, Any], receiver: Receiver
) -> None:
    """Killed after management received the escalation and before the ledger said so: the
    next run sends it again (the one duplicate the protocol allows), then never again."""
    write(setup["source"], LATE_CALL)
    receiver.hang_on = "mgmt"
    process = _alerts_process(setup, "2026-11-25T10:51:00+09:00")
    try:
        assert receiver.arrived.wait(30), process.stderr.read() if process.stderr else ""
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        process.kill()
    receiver.release.set()
    receiver.hang_on = None
    store = open_store(setup["state"])
    try:
        states = Ledger(store.engine, store.namespace).states()
    finally:
        store.close()
    assert "sending" in states.values()  # claimed, outcome unknown
    delivered_before = len(alerts_to(receiver, "mgmt"))
    in_flight = {a["title"] for a in alerts_to(receiver, "mgmt")}

    code, _ = run(setup, "2026-11-25T10:53:00+09:00")
    assert code == 0
    code, _ = run(setup, "2026-11-25T10:58:00+09:00")
    assert code == 0
    counts: dict[str, int] = {}
    for alert in alerts_to(receiver, "mgmt"):
        counts[alert["title"]] = counts.get(alert["title"], 0) + 1
    assert all(n in (1, 2) for n in counts.values()), counts
    twice = {title for title, n in counts.items() if n == 2}
    assert twice and twice <= in_flight  # only what was in flight when killed came twice
    assert len(escalations(receiver)) >= 3  # every escalation arrived
    assert len(alerts_to(receiver, "mgmt")) >= delivered_before
    store = open_store(setup["state"])
    try:
        assert set(Ledger(store.engine, store.namespace).states().values()) == {"sent"}
    finally:
        store.close()


def test_management_alerted_once_over_two_runs_and_a_sigkill_between(
    setup: dict[str, Any], receiver: Receiver
) -> None:
    """The Done-when case: run, a run SIGKILLed mid-way (busy with a later alert), run."""
    write(setup["source"], LATE_CALL)
    code, _ = run(setup, "2026-11-25T10:51:00+09:00")
    assert code == 0
    assert len(escalations(receiver)) == 3
    # A new complaint whose alert the killed run is sending when it dies.
    write(
        setup["source"],
        LATE_CALL,
        complaint_data(id="GNZ-A-9", received_at="2026-11-25T09:00:00+09:00"),
    )
    receiver.hang_on = "desk"
    process = _alerts_process(setup, "2026-11-25T11:10:00+09:00")
    try:
        assert receiver.arrived.wait(30)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        process.kill()
    receiver.release.set()
    receiver.hang_on = None
    code, _ = run(setup, "2026-11-25T11:15:00+09:00")
    assert code == 0
    late_call = [b for b in escalations(receiver) if "GNZ-A-1" in b["message"]]
    assert len(late_call) == 3  # each of its three escalations exactly once
    store = open_store(setup["state"])
    try:
        ledger = Ledger(store.engine, store.namespace)
        due = deadline_key(datetime.fromisoformat("2026-11-25T10:20:00+09:00"))
        assert Delivery(
            "GNZ-A-1", "initial_response", "escalation", "ALERTS_MGMT", due
        ) in ledger.sent(["GNZ-A-1"])
    finally:
        store.close()


class Recorder:
    """A notifier that keeps what it was given (for library-level runs)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, channel: str, text: Any) -> str | None:
        self.sent.append((channel, text.body))
        return None


def test_check_remote_skips_tasks_completed_in_the_crm_with_one_bulk_read(
    emulator: Any, tmp_path: Path
) -> None:
    from crm_complaints.alerts.engine import run_alerts
    from crm_complaints.alerts.settings import AlertsConfig
    from crm_complaints.policy import Policy
    from crm_complaints.retry import RetryPolicy
    from crm_complaints.sync import sync
    from tests.conftest import make_complaint
    from tests.hubspot_support import make_adapter

    complaints = [make_complaint(**{**LATE_CALL, "id": f"GNZ-R-{n}"}) for n in range(3)]
    config = AlertsConfig(channels={"front_desk": ["A"], "management": ["B"]})
    store = open_store(tmp_path / "state.db")
    adapter = make_adapter(emulator)
    try:
        adapter.setup()
        sync(complaints, adapter=adapter, store=store, retry=RetryPolicy.no_wait())
        for task in emulator.portal.live("tasks"):  # the first response done in HubSpot
            if task.properties["crm_task_key"].startswith("GNZ-R-0:initial_response"):
                emulator.portal.update("tasks", task.id, {"hs_task_status": "COMPLETED"})
        calls = adapter.calls
        report = run_alerts(
            complaints,
            policy=Policy(),
            config=config,
            store=store,
            notifier=Recorder(),
            now=datetime.fromisoformat("2026-11-25T10:51:00+09:00"),
            remote=adapter,
        )
        reads = adapter.calls - calls
    finally:
        adapter.close()
        store.close()
    outcome = {(a.complaint_id, a.task, a.level.value): a.outcome.value for a in report.alerts}
    assert outcome[("GNZ-R-0", "initial_response", "escalation")] == "done_in_crm"
    assert outcome[("GNZ-R-0", "initial_response", "overdue")] == "done_in_crm"
    assert outcome[("GNZ-R-1", "initial_response", "escalation")] == "sent"
    assert outcome[("GNZ-R-0", "report_executive", "overdue")] == "sent"
    assert reads == report.remote_reads and 1 <= reads <= 2  # one bulk read (paged)


SCHEDULES = REPO / "examples" / "schedules"


@pytest.mark.parametrize(("code", "logged"), [(0, ""), (4, ""), (3, "warning"), (2, "err")])
def test_the_crontab_runs_alerts_every_5_minutes_and_logs_what_needs_a_person(
    tmp_path: Path, code: int, logged: str
) -> None:
    [line] = [
        entry
        for entry in (SCHEDULES / "crontab").read_text(encoding="utf-8").splitlines()
        if "crm-complaints alerts" in entry and not entry.startswith("#")
    ]
    assert line.startswith("*/5 * * * *")
    command = line.split(None, 6)[6]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (
        ("crm-complaints", f"exit {code}"),
        ("logger", f'echo "$@" >> {tmp_path}/log'),
    ):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    (tmp_path / "env").write_text("ALERTS_MGMT=json://127.0.0.1/x\n", encoding="utf-8")
    command = command.replace("/etc/crm-complaints/env", str(tmp_path / "env"))
    command = command.replace("/var/log/crm-complaints/", f"{tmp_path}/")
    result = subprocess.run(
        ["sh", "-c", command],
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    log = (tmp_path / "log").read_text() if (tmp_path / "log").exists() else ""
    assert (f"user.{logged}" in log) if logged else log == ""


def test_systemd_and_kubernetes_examples_run_alerts_every_5_minutes() -> None:
    import kubernetes_validate
    import yaml

    timer = (SCHEDULES / "crm-complaints-alerts.timer").read_text(encoding="utf-8")
    assert "OnCalendar=*:0/5" in timer
    service = (SCHEDULES / "crm-complaints-alerts.service").read_text(encoding="utf-8")
    assert "crm-complaints alerts" in service and "EnvironmentFile=" in service
    [cronjob] = [
        d
        for d in yaml.safe_load_all(
            (SCHEDULES / "kubernetes-alerts-cronjob.yaml").read_text(encoding="utf-8")
        )
        if d
    ]
    kubernetes_validate.validate(cronjob, "1.30.0", strict=True)
    assert cronjob["spec"]["schedule"] == "*/5 * * * *"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    [container] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"][0] == "alerts" and container["envFrom"][0]["secretRef"]
    for text in (timer, service, yaml.safe_dump(cronjob)):
        assert "json://" not in text and "slack://" not in text and "mailto://" not in text


def test_alerts_without_a_channel_are_listed_and_warned_once(
    setup: dict[str, Any], receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    setup["config"].write_text(
        f'[state]\npath = "{setup["state"]}"\n\n[alerts.channels]\nmanagement = ["ALERTS_MGMT"]\n',
        encoding="utf-8",
    )
    write(setup["source"], LATE_CALL)
    with caplog.at_level("WARNING", logger="crm_complaints.alerts.engine"):
        code, report = run(setup, "2026-11-25T10:51:00+09:00")
    assert code == 0
    outcomes = {(a["task"], a["level"]): a["outcome"] for a in report["alerts"]}
    assert outcomes[("initial_response", "overdue")] == "unrouted"  # front desk: no channel
    assert outcomes[("initial_response", "escalation")] == "sent"
    warnings = [r for r in caplog.records if "reach no channel" in r.getMessage()]
    assert len(warnings) == 1 and "tokyo-ginza overdue front_desk" in warnings[0].getMessage()


def test_a_flood_is_spread_over_runs_most_urgent_first_and_nothing_dropped(
    setup: dict[str, Any], receiver: Receiver
) -> None:
    setup["config"].write_text(
        f'[state]\npath = "{setup["state"]}"\n\n[alerts]\nmax_alerts_per_message = 2\n'
        'max_messages_per_channel = 1\n\n[alerts.channels]\nfront_desk = ["ALERTS_DESK"]\n'
        'management = ["ALERTS_MGMT"]\n',
        encoding="utf-8",
    )
    write(
        setup["source"],
        *(
            complaint_data(id=f"GNZ-F-{n}", received_at="2026-11-25T08:20:00+09:00")
            for n in range(3)
        ),
    )
    seen: list[dict[str, Any]] = []
    per_run: list[int] = []
    # Management: 9 escalations (messages of 2, 2, 2, 2, 1) and 3 overdue (2, 1): 7 runs.
    for minute in range(51, 59):
        code, report = run(setup, f"2026-11-25T10:{minute}:00+09:00")
        assert code == 0
        seen.append(report)
        per_run.append(len(receiver.to("mgmt")))
    first = seen[0]
    assert first["deferred"] > 0 and first["sent"] > 0
    assert per_run == [1, 2, 3, 4, 5, 6, 7, 7]  # one message per channel and run, then done
    escalated_first = [alerts_to(receiver, "mgmt")[i]["title"] for i in range(9)]
    assert all("エスカレーション" in t for t in escalated_first)  # most urgent first
    # Everything arrived exactly once.
    expected = {
        (a["complaint_id"], a["task"], a["level"], c)
        for a in first["alerts"]
        for c in a["channels"]
    }
    delivered = [(p, a["title"]) for p in ("mgmt", "desk") for a in alerts_to(receiver, p)]
    assert len(delivered) == len(set(delivered)) == len(expected) == 12 + 9
    assert seen[-1]["deferred"] == 0


def test_a_deadline_moved_by_a_pause_alerts_again_when_it_passes(
    setup: dict[str, Any], receiver: Receiver
) -> None:
    text = setup["config"].read_text(encoding="utf-8")
    setup["config"].write_text(
        text + '\n[policy]\npause_statuses = ["resolution_proposed"]\n', encoding="utf-8"
    )
    base = complaint_data(
        id="GNZ-P-1",
        received_at="2026-11-16T10:00:00+09:00",
        acknowledged_at="2026-11-16T10:30:00+09:00",
        status="investigating",
        category="medical_quality",
    )
    write(setup["source"], base)  # investigation due Tue 17 at 17:00
    _, first = run(setup, "2026-11-18T09:00:00+09:00")
    assert {(a["task"], a["level"], a["outcome"]) for a in first["alerts"]} >= {
        ("investigation", "overdue", "sent")
    }
    paused = {
        **base,
        "status_changes": [
            {"status": "resolution_proposed", "at": "2026-11-17T11:00:00+09:00"},
            {"status": "investigating", "at": "2026-11-17T15:00:00+09:00"},
        ],
    }
    write(setup["source"], paused)  # 2.5 h of opening time paused: due Wed 18 at 10:30
    _, before = run(setup, "2026-11-18T09:30:00+09:00")
    assert not [a for a in before["alerts"] if a["task"] == "investigation"]
    _, after = run(setup, "2026-11-18T10:45:00+09:00")
    again = [a for a in after["alerts"] if a["task"] == "investigation"]
    assert [(a["level"], a["outcome"], a["due_at"]) for a in again] == [
        ("overdue", "sent", "2026-11-18T10:30:00+09:00")
    ]
    assert sum("GNZ-P-1" in b["message"] for b in alerts_to(receiver, "doctor")) == 2
