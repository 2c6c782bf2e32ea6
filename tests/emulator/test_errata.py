"""HubSpot's known departures from its specs: the emulator follows HubSpot, the validator
tolerates exactly the listed errata."""

from __future__ import annotations

import requests

from crm_complaints.emulator import DEMO_TOKEN, running_emulator
from crm_complaints.emulator.errata import ERRATA, tolerated


def post(base: str, path: str, body: object) -> requests.Response:
    return requests.post(
        base + path, json=body, headers={"Authorization": f"Bearer {DEMO_TOKEN}"}, timeout=10
    )


def test_every_erratum_names_its_source() -> None:
    assert ERRATA and all(e.source.startswith("https://") and e.what for e in ERRATA)


def test_unlabeled_associations_carry_label_null_without_a_violation() -> None:
    with running_emulator() as emulator:
        portal = emulator.portal
        ticket = portal.create(
            "tickets", {"subject": "x", "hs_pipeline": "0", "hs_pipeline_stage": "1"}
        )
        task = portal.create("tasks", {"hs_timestamp": "2026-11-20T00:00:00Z"})
        portal.associate("tasks", task.id, "tickets", ticket.id, 230)
        batch = post(emulator.base_url, "/crm/v4/associations/tickets/tasks/batch/read",
                     {"inputs": [{"id": ticket.id}]})  # fmt: skip
        assert batch.status_code == 200
        kinds = batch.json()["results"][0]["to"][0]["associationTypes"]
        assert kinds == [{"category": "HUBSPOT_DEFINED", "typeId": 229, "label": None}]
        one = requests.get(
            f"{emulator.base_url}/crm/v4/objects/tickets/{ticket.id}/associations/tasks",
            headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
            timeout=10,
        )
        assert one.status_code == 200
        assert one.json()["results"][0]["toObjectId"] == int(task.id)  # a number, as HubSpot
        assert emulator.violations == []


def test_search_without_after_or_sorts_is_accepted() -> None:
    with running_emulator() as emulator:
        answer = post(emulator.base_url, "/crm/v3/objects/tickets/search", {"limit": 5})
        assert answer.status_code == 200
        assert emulator.violations == []


def test_errata_apply_only_where_listed() -> None:
    assert tolerated("response", "POST", "/crm/v4/associations/tickets/tasks/batch/read")
    assert not tolerated("response", "POST", "/crm/v4/associations/tickets/tasks/batch/create")
    assert not tolerated("request", "POST", "/crm/v3/objects/tickets/batch/create")
