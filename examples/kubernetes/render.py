"""Render Kubernetes manifests for many portals from a small list (``portals.toml``).

One portal = one HubSpot portal of one clinic group = one ``state.namespace``. Per portal: a
sync CronJob, an alerts CronJob every five minutes beside it (``crm-complaints alerts``: the
two-hour call and the reports, escalated when missed; exit 3 when a channel failed fails the
Job) and a nightly reconcile CronJob (exit 5 when it finds drift or overdue work fails the
Job), on the image built from the repository's Dockerfile, sharing one PostgreSQL. What they
read is referenced, never written here: the ConfigMap ``crm-complaints-<namespace>`` (key
``config.toml``: the portal's clinics and owners), the Secrets ``crm-complaints-state`` (key
``url``: the SQLAlchemy URL of the shared database) and ``hubspot-<namespace>`` (key
``token``: the portal's private app token), the volume claim ``exports_claim`` holding the
complaints export, and for the alerts job the Secret ``crm-complaints-alerts-<namespace>``
(one key per ``ALERTS_*`` variable that config.toml's ``[alerts]`` names: the channels'
apprise URLs).

Why a generator and not Helm or kustomize: neither binary installs from the package
registries the project's machines and CI use, and the manifests are validated against
Kubernetes' schemas in the tests (``tests/unit/test_kubernetes_examples.py``). The output is
plain YAML, checked in beside this script (a test fails when they drift apart), so
``kubectl apply -f`` and kustomize users can take it as it is.

    python examples/kubernetes/render.py [portals.toml] > crm-complaints.yaml
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
APP = "crm-complaints"
UID = 10001  # the Dockerfile's USER


def load_portals(path: Path) -> list[dict[str, Any]]:
    """The portal entries, each with the defaults filled in."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    defaults = data.get("defaults", {})
    portals = [{**defaults, **entry} for entry in data.get("portals", [])]
    names = [p["namespace"] for p in portals]
    if len(set(names)) != len(names):
        raise SystemExit(f"{path}: a namespace is listed twice")
    return portals


def _labels(portal: dict[str, Any], component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": APP,
        "app.kubernetes.io/instance": portal["namespace"],
        "app.kubernetes.io/component": component,
    }


def _container(
    portal: dict[str, Any], name: str, args: list[str], secrets: list[str] | None = None
) -> dict[str, Any]:
    env = [
        {"name": "CRM_COMPLAINTS_CONFIG", "value": "/config/config.toml"},
        {"name": "CRM_COMPLAINTS_STATE__NAMESPACE", "value": portal["namespace"]},
        {
            "name": "CRM_COMPLAINTS_STATE__URL",
            "valueFrom": {"secretKeyRef": {"name": f"{APP}-state", "key": "url"}},
        },
        {
            "name": "HUBSPOT_ACCESS_TOKEN",
            "valueFrom": {
                "secretKeyRef": {"name": f"hubspot-{portal['namespace']}", "key": "token"}
            },
        },
    ]
    container: dict[str, Any] = {
        "name": name,
        "image": portal["image"],
        "args": args,
        "env": env,
        "resources": {
            "requests": {"cpu": portal["cpu_request"], "memory": portal["memory_request"]},
            "limits": {"memory": portal["memory_limit"]},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": "/config", "readOnly": True},
            {"name": "exports", "mountPath": "/data", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    if secrets:
        container["envFrom"] = [{"secretRef": {"name": secret}} for secret in secrets]
    return container


def _cronjob(
    portal: dict[str, Any],
    component: str,
    schedule: str,
    args: list[str],
    secrets: list[str] | None = None,
) -> dict[str, Any]:
    labels = _labels(portal, component)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": f"{APP}-{component}-{portal['namespace']}", "labels": dict(labels)},
        "spec": {
            "schedule": schedule,
            "timeZone": portal["time_zone"],
            # Never two runs of one portal: the state lock would refuse the second (exit 4).
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 5,
            "jobTemplate": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    # The next schedule is the retry: write-ahead state makes a rerun correct.
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": 3 * 3600,
                    "template": {
                        "metadata": {"labels": dict(labels)},
                        "spec": {
                            "restartPolicy": "Never",
                            "securityContext": {
                                "runAsNonRoot": True,
                                "runAsUser": UID,
                                "runAsGroup": UID,
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                            "containers": [_container(portal, component, args, secrets)],
                            "volumes": [
                                {
                                    "name": "config",
                                    "configMap": {"name": f"{APP}-{portal['namespace']}"},
                                },
                                {
                                    "name": "exports",
                                    "persistentVolumeClaim": {
                                        "claimName": portal["exports_claim"],
                                        "readOnly": True,
                                    },
                                },
                                {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                            ],
                        },
                    },
                },
            },
        },
    }


def render(portals_file: Path) -> list[dict[str, Any]]:
    """The manifests for every portal in ``portals_file``, in a stable order."""
    documents: list[dict[str, Any]] = []
    for portal in load_portals(portals_file):
        source = ["--source", portal["source"], "--adapter", "hubspot", "--format", "json"]
        documents += [
            _cronjob(portal, "sync", portal["sync_schedule"], ["sync", *source]),
            # Beside the sync: nudges before and after the deadlines, from the local state
            # (no CRM calls); once per task and level, whichever run sends it.
            _cronjob(
                portal,
                "alerts",
                portal["alerts_schedule"],
                ["alerts", "--source", portal["source"], "--format", "json"],
                secrets=[f"{APP}-alerts-{portal['namespace']}"],
            ),
            _cronjob(portal, "reconcile", portal["reconcile_schedule"], ["reconcile", *source]),
        ]
    return documents


def dump(documents: list[dict[str, Any]]) -> str:
    header = "# Generated by examples/kubernetes/render.py from portals.toml; do not edit.\n"
    body = yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True, width=100)
    return header + "---\n" + body


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("portals", nargs="?", type=Path, default=HERE / "portals.toml")
    args = parser.parse_args(argv)
    sys.stdout.write(dump(render(args.portals)))


if __name__ == "__main__":
    main()
