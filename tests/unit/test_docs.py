"""The README documents every command and every config key (sqlite-utils' habit)."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import typer.main
from pydantic import BaseModel

from crm_complaints.adapters.registry import available_adapters
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


# --- Config keys --------------------------------------------------------------------------
#
# The full dotted keys of the settings, as the README's Configuration table writes them:
#
# - a field holding a pydantic model is a section: its fields are `section.field`;
# - a dict of models (`clinics`) takes a placeholder segment for its keys: `clinics.<id>.country`;
# - `default_clinic` is the same model as every `clinics.<id>`: its fields are documented once
#   under `clinics.<id>.`, and the section itself as the row `default_clinic.*`;
# - any other dict (`policy.priority`, `clinics.<id>.hours`, `adapters.hubspot.stages`) is ONE
#   key. The table writes it bare (`policy.amount_thresholds`) or with ONE trailing placeholder
#   for its keys (`adapters.hubspot.stages.<status>`); both name the same key, and a trailing
#   placeholder on a key that is not a dict is an invented key;
# - `adapters` holds the built-in adapters' config models under `adapters.<name>.` (plugins
#   document their own keys), plus `adapters.<name>.fields`, the per-adapter allowlist that
#   every adapter takes.

DISTRIBUTION = "crm-complaints"
MODEL_MAP_PLACEHOLDER = "<id>"
PLACEHOLDER = r"<[^<>\s`]+>"
SEGMENT = rf"(?:[a-z][a-z0-9_]*|{PLACEHOLDER})"
WRITTEN_KEY = re.compile(rf"[a-z][a-z0-9_]*(?:\.{SEGMENT})*(?:\.\*)?")
SIBLING = re.compile(r"[a-z][a-z0-9_]*")
TRAILING_PLACEHOLDER = re.compile(rf"\.{PLACEHOLDER}$")


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _model(annotation: Any) -> type[BaseModel] | None:
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def config_keys(model: type[BaseModel], prefix: str = "") -> dict[str, bool]:
    """Full dotted key → whether it is a dict (so the table may add a placeholder to it)."""
    keys: dict[str, bool] = {}
    for name, field in model.model_fields.items():
        annotation = _unwrap_optional(field.annotation)
        is_dict = typing.get_origin(annotation) is dict
        if nested := _model(annotation):
            keys |= config_keys(nested, f"{prefix}{name}.")
        elif is_dict and (values := _model(typing.get_args(annotation)[1])):
            keys |= config_keys(values, f"{prefix}{name}.{MODEL_MAP_PLACEHOLDER}.")
        else:
            keys[f"{prefix}{name}"] = is_dict
    return keys


def builtin_adapter_models() -> dict[str, type[BaseModel]]:
    """Config models of the adapters this distribution registers (not installed plugins)."""
    found = {}
    for name, entry_point in available_adapters().items():
        dist = entry_point.dist.name if entry_point.dist else ""
        if re.sub(r"[-_.]+", "-", dist).lower() == DISTRIBUTION:
            found[name] = entry_point.load().config_model
    assert found, f"no adapters registered by {DISTRIBUTION}: is the package installed?"
    return found


def settings_keys() -> dict[str, bool]:
    """Every key of ``Settings`` and of the built-in adapters' sections, as documented."""
    fields = Settings.model_fields
    clinic_model = typing.get_args(fields["clinics"].annotation)[1]
    assert fields["default_clinic"].annotation is clinic_model, "default_clinic ≠ clinics.<id>"
    keys = {
        key: is_dict
        for key, is_dict in config_keys(Settings).items()
        if not key.startswith("default_clinic.") and key != "adapters"
    }
    keys["default_clinic.*"] = False
    for name, model in builtin_adapter_models().items():
        keys |= config_keys(model, f"adapters.{name}.")
    keys["adapters.<name>.fields"] = False
    return keys


def config_table(readme: str) -> list[str]:
    """The keys of the README's Configuration table as written, siblings spelled out.

    The first cell of a row is one or more backticked keys separated by ` / `. The first is a
    full key; each further one is a full key too, or a bare word that takes the prefix of the
    first (`` `policy.critical_flags` / `high_flags` `` is ``policy.high_flags``).
    Anything else in that cell fails the test.
    """
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    start = lines.index("| key | default | meaning |")
    assert lines[start + 1] == "|---|---|---|", "the table's separator row"
    written: list[str] = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        assert len(cells) == 3 and all(cells), f"want | key | default | meaning |: {line}"
        names = cells[0].split(" / ")
        assert all(re.fullmatch(r"`[^`]+`", n) for n in names), f"bad key cell: {cells[0]}"
        first, *siblings = (n.strip("`") for n in names)
        assert WRITTEN_KEY.fullmatch(first), f"not a key: {first}"
        prefix = first[: first.rfind(".") + 1]
        written.append(first)
        for sibling in siblings:
            if SIBLING.fullmatch(sibling):
                written.append(prefix + sibling)
            else:
                assert WRITTEN_KEY.fullmatch(sibling), f"not a key: {sibling} (row {first})"
                written.append(sibling)
    return written


def canonical(written: str, keys: dict[str, bool]) -> str | None:
    """The settings key a table key names, or None for an invented one."""
    if written in keys:
        return written
    bare = TRAILING_PLACEHOLDER.sub("", written)
    return bare if bare != written and keys.get(bare) else None


def test_the_table_parser_is_strict() -> None:
    keys = {"policy.critical_flags": False, "policy.high_flags": False, "policy.priority": True}
    row = "| `policy.critical_flags` / `high_flags` | x | y |"
    table = "# R\n\n## Configuration\n\n| key | default | meaning |\n|---|---|---|\n{}\n\n## Next\n"
    assert config_table(table.format(row)) == ["policy.critical_flags", "policy.high_flags"]
    for bad in [
        "| `policy.critical_flags`, `high_flags` | x | y |",
        "| `policy.critical_flags` / high_flags | x | y |",
        "| `policy.critical_flags` / `policy..high_flags` | x | y |",
        "| `policy.Critical-Flags` | x | y |",
        "| `policy.critical_flags` | x |",
        "| `policy.critical_flags` |  | y |",
        "| `policy.critical_flags` | x |  |",
    ]:
        with pytest.raises(AssertionError):
            config_table(table.format(bad))
    assert canonical("policy.priority.<severity>", keys) == "policy.priority"
    assert canonical("policy.high_flags.<flag>", keys) is None
    assert canonical("policy.priority.<a>.<b>", keys) is None
    assert config_table(table.format("| `allowed_fields` / `x` | x | y |")) == [
        "allowed_fields",
        "x",
    ]


def test_every_config_key_is_documented() -> None:
    keys = settings_keys()
    documented = {canonical(w, keys) for w in config_table(README)}
    missing = sorted(k for k in keys if k not in documented)
    assert missing == [], f"README's Configuration table lacks {missing}"


def test_every_documented_config_key_exists() -> None:
    keys = settings_keys()
    written = config_table(README)
    invented = [w for w in written if canonical(w, keys) is None]
    assert invented == [], f"README's Configuration table names keys that do not exist: {invented}"
    named = [canonical(w, keys) for w in written]
    twice = sorted({k for k in named if named.count(k) > 1})
    assert twice == [], f"README's Configuration table documents {twice} more than once"


def test_readme_opens_with_the_two_commands() -> None:
    head = README.splitlines()[:8]
    assert any(line.startswith("make demo") for line in head)
    assert any(line.startswith("make test") for line in head)


def printed(output: str, name: str) -> int:
    """The number the example printed after ``name`` (``created 5``, ``'missing': 0``)."""
    found = re.findall(rf"\b{name}\b\W+(\d+)", output)
    assert len(found) == 1, f"want one {name!r} count in {output!r}"
    return int(found[0])


def exit_code_of(output: str, marker: str) -> int:
    """The exit code printed last on the line that has ``marker``."""
    lines = [line for line in output.splitlines() if marker in line]
    assert len(lines) == 1, f"want one line with {marker!r} in {output!r}"
    code = re.search(r"(\d+)\s*$", lines[0])
    assert code, f"no exit code at the end of {lines[0]!r}"
    return int(code[1])


def test_readme_library_example_runs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    emulator: Any,
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
    capsys.readouterr()
    exec(compile(code, "README.md", "exec"), {})
    output = capsys.readouterr().out

    # The sync: all five complaints created, nothing refused, exit code 0 (OK).
    assert printed(output, "created") == 5, output
    assert printed(output, "quarantined") == 0 and printed(output, "failed") == 0, output
    assert exit_code_of(output, "created") == 0, output
    # The reconcile, right after, with the same settings: the CRM holds exactly what was
    # synced, as it was synced: nothing missing, orphaned, drifted or stale. (Wired by hand
    # without the settings' policy, every complaint would look drifted.) These complaints were
    # received on 2026-11-18, so once their tasks fall due, overdue work is reported, and the
    # exit code is 5 (FINDINGS) exactly then, else 0.
    for finding in ("missing", "orphaned", "drifted", "stale"):
        assert printed(output, finding) == 0, f"{finding}: {output}"
    overdue = printed(output, "overdue")
    assert exit_code_of(output, "missing") == (5 if overdue else 0), output
