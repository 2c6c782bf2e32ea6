"""Shared checks for tests against the HubSpot emulator."""

from __future__ import annotations

from collections import Counter
from typing import Any

import requests

from crm_complaints.adapters.hubspot import HubSpotAdapter, HubSpotConfig, task_key
from crm_complaints.emulator import DEMO_TOKEN, HubSpotEmulator
from crm_complaints.policy import Policy
from crm_complaints.schema import Complaint

OWNERS = {
    "front_desk": "frontdesk@clinic.example",
    "care_staff": "care@clinic.example",
    "physician": "doctor@clinic.example",
    "management": "director@clinic.example",
}


def make_adapter(emulator: HubSpotEmulator, **overrides: Any) -> HubSpotAdapter:
    config = HubSpotConfig.model_validate(
        {"host": emulator.base_url, "owners": OWNERS, **overrides}
    )
    return HubSpotAdapter(config)


def tasks_by_key(emulator: HubSpotEmulator) -> Counter[str]:
    return Counter(t.properties["crm_task_key"] for t in emulator.portal.live("tasks"))


def assert_exactly_once(
    emulator: HubSpotEmulator, complaints: list[Complaint], policy: Policy | None = None
) -> None:
    """One ticket per complaint, one task per planned kind, each task linked to its ticket."""
    portal = emulator.portal
    plan = policy or Policy()
    tickets = Counter(t.properties.get("crm_complaint_id") for t in portal.live("tickets"))
    assert tickets == Counter({c.id: 1 for c in complaints})
    expected = Counter(task_key(c.id, t.kind) for c in complaints for t in plan.plan(c).tasks)
    assert tasks_by_key(emulator) == expected
    ticket_of = {t.properties["crm_complaint_id"]: t.id for t in portal.live("tickets")}
    for task in portal.live("tasks"):
        cid = task.properties["crm_task_key"].rsplit(":", 1)[0]
        assert portal.associated("tasks", task.id, "tickets") == {ticket_of[cid]: {230}}


def api(emulator: HubSpotEmulator, method: str, path: str, body: Any) -> requests.Response:
    """A raw call to the emulator with the demo token (for what the adapter never sends)."""
    return requests.request(
        method,
        f"{emulator.base_url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
        timeout=10,
    )
