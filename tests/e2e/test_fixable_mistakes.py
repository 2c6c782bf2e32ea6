"""Mistakes a clinic fixes in a minute (no setup yet, a wrong URL, a flaky API during setup)
stop the run with what to do, never quarantine every record for good."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from crm_complaints.cli import app
from crm_complaints.emulator import HubSpotEmulator
from tests.conftest import realistic_complaints


def _config(tmp_path: Path, body: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[state]\npath = "{tmp_path / "state.db"}"\n'
        "[sync]\ninitial_backoff_seconds = 0\nmax_backoff_seconds = 0\n" + body,
        encoding="utf-8",
    )
    return config


def _source(tmp_path: Path, count: int = 6) -> Path:
    source = tmp_path / "complaints.jsonl"
    source.write_text(
        "".join(c.model_dump_json() + "\n" for c in realistic_complaints(count)), encoding="utf-8"
    )
    return source


def test_setup_retries_transient_answers(emulator: HubSpotEmulator, tmp_path: Path) -> None:
    config = _config(tmp_path, f'[adapters.hubspot]\nhost = "{emulator.base_url}"\n')
    emulator.script.extend([(503, ""), (502, "")])  # the first two requests fail
    result = CliRunner().invoke(app, ["setup", "--adapter", "hubspot", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "crm_complaint_id" in emulator.portal.properties["tickets"]
    assert emulator.stats.injected == 2


def test_sync_before_setup_is_a_config_error_not_a_quarantine(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    config = _config(tmp_path, f'[adapters.hubspot]\nhost = "{emulator.base_url}"\n')
    source = _source(tmp_path)
    runner = CliRunner()
    args = ["sync", "--source", str(source), "--adapter", "hubspot", "--config", str(config)]
    before = runner.invoke(app, args)
    assert before.exit_code == 2, before.output
    assert "crm-complaints setup --adapter hubspot" in before.stderr
    assert (
        runner.invoke(app, ["setup", "--adapter", "hubspot", "--config", str(config)]).exit_code
        == 0
    )
    after = runner.invoke(app, [*args, "--format", "json"])
    assert after.exit_code == 0, after.output
    assert '"created": 6' in after.stdout and '"quarantined": 0' in after.stdout


def test_a_wrong_webhook_url_stops_the_run_and_quarantines_nothing(
    tmp_path: Path, webhook_secret: str
) -> None:
    from crm_complaints.receiver import running_receiver

    source = _source(tmp_path)
    runner = CliRunner()
    with running_receiver(webhook_secret) as receiver:
        for wrong in (receiver.base_url + "/no-such-path", receiver.url):
            config = _config(tmp_path, f'[adapters.webhook]\nurl = "{wrong}"\n')
            args = [
                "sync",
                "--source",
                str(source),
                "--adapter",
                "webhook",
                "--config",
                str(config),
            ]
            result = runner.invoke(app, [*args, "--format", "json"])
            if wrong != receiver.url:
                assert result.exit_code == 2, result.output
                assert "adapters.webhook.url" in result.stderr and "404" in result.stderr
            else:  # fixed: everything goes through, nothing was left quarantined
                assert result.exit_code == 0, result.output
                assert '"created": 6' in result.stdout
        assert len(receiver.state.complaints) == 6
