"""Adapters come from entry points; a missing or broken plugin is a clear error, not a traceback."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_complaints.adapters import registry
from crm_complaints.adapters.hubspot import HubSpotAdapter
from crm_complaints.adapters.webhook import WebhookAdapter
from crm_complaints.cli import app
from crm_complaints.errors import ConfigError
from tests.conftest import complaint_data

runner = CliRunner()


def test_builtins_register_through_entry_points() -> None:
    assert registry.load_adapter_class("webhook") is WebhookAdapter
    assert registry.load_adapter_class("hubspot") is HubSpotAdapter
    found = registry.available_adapters()
    assert found["webhook"].dist is not None and found["webhook"].dist.name == "crm-complaints"


def test_adapters_command_lists_name_package_and_version() -> None:
    result = runner.invoke(app, ["adapters"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in ("webhook", "hubspot"):
        assert name in result.stdout
    assert "crm-complaints" in result.stdout and "0.1.0" in result.stdout


@pytest.fixture
def broken_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = EntryPoint(
        name="broken", value="crm_complaints_nowhere.adapter:Adapter", group=registry.GROUP
    )
    not_an_adapter = EntryPoint(name="odd", value="json:JSONDecoder", group=registry.GROUP)
    entries = {**registry.available_adapters(), "broken": broken, "odd": not_an_adapter}
    monkeypatch.setattr(registry, "available_adapters", lambda: entries)


@pytest.mark.usefixtures("broken_plugin")
def test_broken_plugins_are_config_errors_naming_the_package() -> None:
    with pytest.raises(ConfigError, match=r"crm_complaints_nowhere.*failed to load"):
        registry.load_adapter_class("broken")
    with pytest.raises(ConfigError, match="is not an Adapter subclass"):
        registry.load_adapter_class("odd")
    with pytest.raises(ConfigError, match=r"no adapter named 'missing'.*installed: .*webhook"):
        registry.load_adapter_class("missing")


@pytest.mark.usefixtures("broken_plugin")
def test_cli_reports_a_broken_plugin_without_a_traceback(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(complaint_data()) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["sync", "--source", str(source), "--adapter", "broken"])
    assert result.exit_code == 2
    assert "crm_complaints_nowhere" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
