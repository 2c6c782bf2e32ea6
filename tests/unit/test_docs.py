"""The README documents every command and every config key (sqlite-utils' habit)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main
from pydantic import BaseModel

from crm_complaints.adapters.hubspot import HubSpotConfig
from crm_complaints.adapters.webhook import WebhookConfig
from crm_complaints.cli import app
from crm_complaints.config import Settings
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def command_names() -> list[str]:
    group = typer.main.get_group(app)
    names = []
    for name, command in group.commands.items():
        sub = getattr(command, "commands", None)
        names.extend(f"{name} {s}" for s in sub) if sub else names.append(name)
    return names


def test_every_command_is_documented() -> None:
    missing = [n for n in command_names() if f"crm-complaints {n}" not in README]
    assert missing == [], f"README lacks {missing}"


def keys_of(model: type[BaseModel], prefix: str) -> list[str]:
    return [f"{prefix}{name}" for name in model.model_fields]


def test_every_config_key_is_documented() -> None:
    keys: list[str] = []
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += keys_of(annotation, f"{name}.")
        elif name not in ("clinics", "adapters"):
            keys.append(name)
    keys += [k.replace("default_clinic.", "clinics.<id>.") for k in keys if "default_clinic." in k]
    keys = [k for k in keys if not k.startswith("default_clinic.")]
    keys += keys_of(WebhookConfig, "adapters.webhook.")
    keys += keys_of(HubSpotConfig, "adapters.hubspot.")
    undocumented = [
        key
        for key in keys
        if f"`{key}`" not in README
        and f"`{key}.<" not in README
        and f"`{key.rsplit('.', 1)[-1]}`" not in README
        and f".{key.rsplit('.', 1)[-1]}`" not in README
    ]
    assert undocumented == []


def test_readme_opens_with_the_two_commands() -> None:
    head = README.splitlines()[:8]
    assert any(line.startswith("make demo") for line in head)
    assert any(line.startswith("make test") for line in head)


def test_readme_library_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: Any
) -> None:
    from tests.conftest import realistic_complaints

    code = README.split("```python\n", 1)[1].split("```", 1)[0]
    folder = tmp_path
    (folder / "config.toml").write_text(
        f'[state]\npath = "{folder / "state.db"}"\n'
        f'[adapters.hubspot]\nhost = "{emulator.base_url}"\n',
        encoding="utf-8",
    )
    (folder / "complaints.jsonl").write_text(
        "".join(c.model_dump_json() + "\n" for c in realistic_complaints(5)), encoding="utf-8"
    )
    monkeypatch.chdir(folder)
    from crm_complaints.adapters import create_adapter
    from crm_complaints.config import load_settings

    with create_adapter("hubspot", load_settings("config.toml")) as adapter:
        adapter.setup()
    exec(compile(code, "README.md", "exec"), {})
