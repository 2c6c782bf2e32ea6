"""The shipped examples stay usable: schedules run reconcile nightly, secrets from the env."""

from __future__ import annotations

import re

from crm_complaints.config import load_settings
from tests.conftest import EXAMPLES


def test_example_config_loads_and_names_secrets_only_by_variable() -> None:
    settings = load_settings(EXAMPLES / "config.toml")
    assert settings.adapters["hubspot"]["token_env"] == "HUBSPOT_ACCESS_TOKEN"
    text = (EXAMPLES / "config.toml").read_text(encoding="utf-8")
    assert not re.search(r"pat-[a-z0-9]{2,}-|whsec_[A-Za-z0-9+/]{8,}", text)


def test_schedules_run_reconcile_nightly_without_overlap() -> None:
    folder = EXAMPLES / "schedules"
    cron = (folder / "crontab").read_text(encoding="utf-8")
    assert re.search(r"^30 2 \* \* \* .*crm-complaints reconcile", cron, re.M)
    timer = (folder / "crm-complaints-reconcile.timer").read_text(encoding="utf-8")
    assert "OnCalendar=*-*-* 02:30:00" in timer
    service = (folder / "crm-complaints-reconcile.service").read_text(encoding="utf-8")
    assert "EnvironmentFile=" in service and "SuccessExitStatus=5" in service
    cronjob = (folder / "kubernetes-cronjob.yaml").read_text(encoding="utf-8")
    assert "concurrencyPolicy: Forbid" in cronjob and "secretKeyRef" in cronjob
    assert '["reconcile",' in cronjob  # the image's entrypoint is crm-complaints
    for text in (cron, service, cronjob):
        assert "pat-" not in text and "whsec_" not in text
