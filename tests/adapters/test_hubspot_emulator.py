"""The emulator's own strictness: the things that make it a useful stand-in for HubSpot."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from crm_complaints.emulator import DEMO_TOKEN, HubSpotEmulator, RateLimit, running_emulator
from crm_complaints.emulator.portal import demo_portal
from crm_complaints.policy import Policy
from crm_complaints.retry import RetryPolicy
from crm_complaints.state import SqlStateStore
from crm_complaints.sync import sync
from tests.conftest import realistic_complaints
from tests.hubspot_support import make_adapter

AUTH = {"Authorization": f"Bearer {DEMO_TOKEN}"}


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubSpotEmulator]:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", DEMO_TOKEN)
    with running_emulator() as running:
        yield running


def post(emulator: HubSpotEmulator, path: str, body: Any) -> requests.Response:
    return requests.post(f"{emulator.base_url}{path}", json=body, headers=AUTH, timeout=5)


def ticket(subject: str = "x", **extra: str) -> dict[str, Any]:
    props = {"subject": subject, "hs_pipeline": "0", "hs_pipeline_stage": "1", **extra}
    return {"properties": props, "associations": []}


def test_required_properties_pipelines_stages_owners_and_options(emulator: HubSpotEmulator) -> None:
    ok = post(emulator, "/crm/v3/objects/tickets", ticket(hubspot_owner_id="101"))
    assert ok.status_code == 201
    missing = post(
        emulator, "/crm/v3/objects/tickets", {"properties": {"subject": "x"}, "associations": []}
    )
    assert missing.status_code == 400 and missing.json()["subCategory"] == "REQUIRED_PROPERTY"
    for bad in (
        {"hs_pipeline_stage": "99"},
        {"hubspot_owner_id": "999"},
        {"hs_ticket_priority": "P1"},
    ):
        answer = post(emulator, "/crm/v3/objects/tickets", ticket(**bad))
        assert answer.status_code == 400, bad
        assert answer.json()["subCategory"] == "INVALID_OPTION"
    unknown = post(emulator, "/crm/v3/objects/tickets", ticket(no_such_property="1"))
    assert unknown.json()["subCategory"] == "PROPERTY_DOESNT_EXIST"
    assert emulator.violations == []


def test_unique_values_are_enforced(emulator: HubSpotEmulator) -> None:
    make_adapter(emulator).setup()
    first = post(emulator, "/crm/v3/objects/tickets", ticket(crm_complaint_id="C-1"))
    assert first.status_code == 201
    second = post(emulator, "/crm/v3/objects/tickets", ticket(crm_complaint_id="C-1"))
    assert second.status_code == 409 and second.json()["category"] == "CONFLICT"
    batch = post(
        emulator,
        "/crm/v3/objects/tickets/batch/create",
        {
            "inputs": [
                {**ticket(crm_complaint_id="C-1"), "objectWriteTraceId": "t1"},
                {**ticket(crm_complaint_id="C-2"), "objectWriteTraceId": "t2"},
            ]
        },
    )
    assert batch.status_code == 207
    body = batch.json()
    assert [r["objectWriteTraceId"] for r in body["results"]] == ["t2"]
    assert body["errors"][0]["context"]["objectWriteTraceId"] == ["t1"]
    assert emulator.violations == []


def test_rate_limit_answers_like_hubspot(monkeypatch: pytest.MonkeyPatch) -> None:
    with running_emulator(rate_limit=RateLimit(requests=2, window_seconds=5)) as emulator:
        url = f"{emulator.base_url}/crm/v3/owners"
        answers = [requests.get(url, headers=AUTH, timeout=5) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        limited = answers[2]
        assert limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
        assert limited.headers["X-HubSpot-RateLimit-Max"] == "2"
        assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
        assert limited.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "5000"


def test_search_is_eventually_consistent() -> None:
    now = [1000.0]
    portal = demo_portal(search_delay_seconds=2.0, clock=lambda: now[0])
    with running_emulator(portal) as emulator:
        created = post(emulator, "/crm/v3/objects/tickets", ticket("fresh"))
        assert created.status_code == 201
        search = {
            "filterGroups": [],
            "properties": ["subject"],
            "sorts": [],
            "limit": 10,
            "after": "0",
        }
        assert post(emulator, "/crm/v3/objects/tickets/search", search).json()["total"] == 0
        now[0] += 2.5
        assert post(emulator, "/crm/v3/objects/tickets/search", search).json()["total"] == 1
        assert emulator.violations == []


def test_hubspot_sync_logs_no_personal_data_or_token(
    emulator: HubSpotEmulator, store: SqlStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = make_adapter(emulator)
    adapter.setup()
    complaints = realistic_complaints(10)
    adapter.portal()
    emulator.portal.owners = [o for o in emulator.portal.owners if o.id != "103"]  # some rejects
    sync(complaints, adapter=adapter, store=store, policy=Policy(), retry=RetryPolicy.no_wait())
    text = caplog.text + " ".join(r.last_error or "" for r in store.all_records("hubspot"))
    assert "rejected by hubspot" in text
    for complaint in complaints:
        assert complaint.customer is not None
        for value in (
            complaint.customer.name,
            complaint.customer.email,
            complaint.customer.phone,
            complaint.description,
        ):
            assert value and value not in text
    assert DEMO_TOKEN not in text
