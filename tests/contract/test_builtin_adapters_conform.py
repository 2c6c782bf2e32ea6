"""The built-in adapters pass the same conformance kit that integrators run."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import pytest

from crm_complaints.adapters.base import Adapter
from crm_complaints.adapters.hubspot import HubSpotAdapter, HubSpotConfig
from crm_complaints.adapters.webhook import WebhookAdapter, WebhookConfig
from crm_complaints.config import DEFAULT_ALLOWED_FIELDS
from crm_complaints.emulator import DEMO_TOKEN, HubSpotEmulator, running_emulator
from crm_complaints.receiver import WebhookReceiver, running_receiver
from crm_complaints.testing import AdapterConformance, Failure
from tests.hubspot_support import OWNERS

STATUS = {"transient": 503, "rate_limited": 429, "rejected": 422, "auth": 401}


class WebhookHarness:
    def __init__(self, receiver: WebhookReceiver) -> None:
        self.receiver = receiver

    def make_adapter(self, allowed_fields: Sequence[str] = DEFAULT_ALLOWED_FIELDS) -> Adapter[Any]:
        config = WebhookConfig(url=self.receiver.url, state_url=self.receiver.state_url)
        return WebhookAdapter(config, allowed_fields=allowed_fields)

    def remote_count(self, complaint_id: str) -> int:
        """Events accepted for the version the receiver holds: a receiver that de-duplicates on
        webhook-id sees exactly one, unless the adapter's ids are not deterministic."""
        held = self.receiver.state.complaints.get(complaint_id)
        if held is None:
            return 0
        return sum(
            1
            for event in self.receiver.state.accepted.values()
            if event["data"]["complaint_id"] == complaint_id
            and event["data"]["version"] == held["version"]
        )

    def remote_version(self, complaint_id: str) -> str | None:
        held = self.receiver.state.complaints.get(complaint_id)
        return held["version"] if held else None

    def remote_tasks(self, complaint_id: str) -> Mapping[str, datetime | None]:
        held = self.receiver.state.complaints.get(complaint_id)
        tasks = held["plan"]["tasks"] if held else []
        return {
            t["kind"]: datetime.fromisoformat(t["due_at"]) if t.get("due_at") else None
            for t in tasks
        }

    def received_text(self) -> str:
        return json.dumps(list(self.receiver.state.accepted.values()), ensure_ascii=False)

    def inject(self, failure: Failure, complaint_id: str) -> None:
        self.receiver.script.setdefault(complaint_id, []).append(STATUS[failure])


class TestWebhookAdapterConforms(AdapterConformance):
    @pytest.fixture
    def harness(self, webhook_secret: str) -> Iterator[WebhookHarness]:
        with running_receiver(webhook_secret) as receiver:
            yield WebhookHarness(receiver)


class HubSpotHarness:
    def __init__(self, emulator: HubSpotEmulator) -> None:
        self.emulator = emulator

    def make_adapter(self, allowed_fields: Sequence[str] = DEFAULT_ALLOWED_FIELDS) -> Adapter[Any]:
        config = HubSpotConfig(host=self.emulator.base_url, owners=OWNERS)  # type: ignore[arg-type]
        return HubSpotAdapter(config, allowed_fields=allowed_fields)

    def remote_count(self, complaint_id: str) -> int:
        return sum(
            1
            for t in self.emulator.portal.live("tickets")
            if t.properties.get("crm_complaint_id") == complaint_id
        )

    def remote_version(self, complaint_id: str) -> str | None:
        for ticket in self.emulator.portal.live("tickets"):
            if ticket.properties.get("crm_complaint_id") == complaint_id:
                return ticket.properties.get("crm_version")
        return None

    def remote_tasks(self, complaint_id: str) -> Mapping[str, datetime | None]:
        found: dict[str, datetime | None] = {}
        for task in self.emulator.portal.live("tasks"):
            owner, _, kind = str(task.properties.get("crm_task_key", "")).rpartition(":")
            if owner == complaint_id:
                due = task.properties.get("hs_timestamp")
                found[kind] = datetime.fromisoformat(due.replace("Z", "+00:00")) if due else None
        return found

    def received_text(self) -> str:
        return json.dumps(
            [
                o.properties
                for kind in ("tickets", "tasks", "contacts")
                for o in self.emulator.portal.live(kind)
            ],
            ensure_ascii=False,
        )

    def inject(self, failure: Failure, complaint_id: str) -> None:
        if failure == "rejected":
            self.emulator.portal.poisoned.add(complaint_id)
        else:
            self.emulator.script.append((STATUS[failure], complaint_id))


class TestHubSpotAdapterConforms(AdapterConformance):
    @pytest.fixture
    def harness(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubSpotHarness]:
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", DEMO_TOKEN)
        with running_emulator() as emulator:
            yield HubSpotHarness(emulator)
        assert emulator.violations == []
