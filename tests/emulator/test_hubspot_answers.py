"""The emulator answers the operations the HubSpot adapter relies on the way HubSpot does:
unique task properties refused, inline task→ticket links, v4 association reads with HubSpot's
207s, batch reads by id, archives with 204, search without ``after`` or ``sorts``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from crm_complaints.emulator import DEMO_TOKEN, HubSpotEmulator, Portal, running_emulator
from crm_complaints.emulator.portal import demo_portal

AUTH = {"Authorization": f"Bearer {DEMO_TOKEN}"}
DUE = "2026-11-20T09:00:00Z"
TASK_TO_TICKET = 230


@pytest.fixture
def emulator() -> Iterator[HubSpotEmulator]:
    with running_emulator() as running:
        yield running
    assert running.violations == [], running.violations


def call(emulator: HubSpotEmulator, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, emulator.base_url + path, json=body, headers=AUTH, timeout=10)


def new_ticket(emulator: HubSpotEmulator, subject: str = "x") -> str:
    ticket = emulator.portal.create(
        "tickets", {"subject": subject, "hs_pipeline": "0", "hs_pipeline_stage": "1"}
    )
    return ticket.id


def task_input(ticket_id: str | None = None, **extra: Any) -> dict[str, Any]:
    links = (
        [
            {
                "to": {"id": ticket_id},
                "types": [
                    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TASK_TO_TICKET}
                ],
            }
        ]
        if ticket_id
        else []
    )
    return {"properties": {"hs_timestamp": DUE, "hs_task_subject": "call"}, "associations": links,
            **extra}  # fmt: skip


UNIQUE_TASK_KEY = {
    "name": "complaint_task_key",
    "label": "Task key",
    "type": "string",
    "fieldType": "text",
    "groupName": "task",
    "hasUniqueValue": True,
}


# -- unique task properties ---------------------------------------------------------------------
def test_a_unique_task_property_is_refused_like_hubspot(emulator: HubSpotEmulator) -> None:
    answer = call(emulator, "POST", "/crm/v3/properties/tasks/batch/create",
                  {"inputs": [UNIQUE_TASK_KEY]})  # fmt: skip
    assert answer.status_code == 400
    body = answer.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert "unique values are not supported" in body["message"]
    assert "complaint_task_key" not in emulator.portal.properties["tasks"]
    # So a task upsert keyed on it fails: there is no unique task property to match on.
    upsert = call(emulator, "POST", "/crm/v3/objects/tasks/batch/upsert", {"inputs": [
        {"id": "C-1:first", "idProperty": "complaint_task_key",
         "properties": {"hs_timestamp": DUE}}]})  # fmt: skip
    assert upsert.status_code == 400
    assert emulator.portal.live("tasks") == []


def test_the_option_allows_unique_task_properties() -> None:
    portal = demo_portal(unique_task_properties=True)
    assert isinstance(portal, Portal)
    with running_emulator(portal) as emulator:
        answer = call(emulator, "POST", "/crm/v3/properties/tasks/batch/create",
                      {"inputs": [UNIQUE_TASK_KEY]})  # fmt: skip
        assert answer.status_code == 201
        assert answer.json()["results"][0]["hasUniqueValue"] is True


# -- inline associations on batch create --------------------------------------------------------
def test_batch_create_links_each_task_to_its_ticket_in_the_same_request(
    emulator: HubSpotEmulator,
) -> None:
    ticket = new_ticket(emulator)
    answer = call(emulator, "POST", "/crm/v3/objects/tasks/batch/create",
                  {"inputs": [task_input(ticket), task_input(ticket)]})  # fmt: skip
    assert answer.status_code == 201
    task_ids = sorted(r["id"] for r in answer.json()["results"])
    assert sorted(emulator.portal.associated("tickets", ticket, "tasks")) == task_ids
    for task_id in task_ids:
        assert emulator.portal.associated("tasks", task_id, "tickets") == {ticket: {230}}


def test_an_inline_link_to_a_missing_ticket_is_hubspots_400_and_writes_nothing(
    emulator: HubSpotEmulator,
) -> None:
    answer = call(emulator, "POST", "/crm/v3/objects/tasks/batch/create",
                  {"inputs": [task_input("99999999")]})  # fmt: skip
    assert answer.status_code == 400
    body = answer.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"] == "One or more associations are invalid"
    assert body["context"]["INVALID_OBJECT_IDS"] == ["TICKET=99999999 is not valid"]
    assert emulator.portal.live("tasks") == []  # no task without its link to retry into a twin
    single = call(emulator, "POST", "/crm/v3/objects/tasks", task_input("99999999"))
    assert single.status_code == 400
    assert emulator.portal.live("tasks") == []


def test_with_trace_ids_a_bad_link_fails_only_its_own_input(emulator: HubSpotEmulator) -> None:
    ticket = new_ticket(emulator)
    answer = call(emulator, "POST", "/crm/v3/objects/tasks/batch/create", {"inputs": [
        task_input("99999999", objectWriteTraceId="bad"),
        task_input(ticket, objectWriteTraceId="good"),
    ]})  # fmt: skip
    assert answer.status_code == 207
    body = answer.json()
    assert [r["objectWriteTraceId"] for r in body["results"]] == ["good"]
    assert body["errors"][0]["context"]["objectWriteTraceId"] == ["bad"]
    assert body["errors"][0]["context"]["objectId"] == ["99999999"]
    assert [t.id for t in emulator.portal.live("tasks")] == [body["results"][0]["id"]]


def test_an_association_type_that_does_not_fit_is_refused(emulator: HubSpotEmulator) -> None:
    ticket = new_ticket(emulator)
    bad = task_input(ticket)
    bad["associations"][0]["types"][0]["associationTypeId"] = 16  # ticket→contact
    answer = call(emulator, "POST", "/crm/v3/objects/tasks/batch/create", {"inputs": [bad]})
    assert answer.status_code == 400
    assert emulator.portal.live("tasks") == []


# -- v4 association reads ---------------------------------------------------------------------
def test_v4_batch_read_answers_like_hubspot(emulator: HubSpotEmulator) -> None:
    linked, lonely = new_ticket(emulator), new_ticket(emulator)
    created = call(emulator, "POST", "/crm/v3/objects/tasks/batch/create",
                   {"inputs": [task_input(linked) for _ in range(3)]}).json()  # fmt: skip
    task_ids = sorted(int(r["id"]) for r in created["results"])
    answer = call(emulator, "POST", "/crm/v4/associations/tickets/tasks/batch/read",
                  {"inputs": [{"id": linked}, {"id": lonely}, {"id": "424242"}]})  # fmt: skip
    assert answer.status_code == 207
    body = answer.json()
    assert [r["from"]["id"] for r in body["results"]] == [linked]
    targets = body["results"][0]["to"]
    assert [t["toObjectId"] for t in targets] == task_ids  # numbers, as HubSpot sends them
    assert all(
        t["associationTypes"] == [{"category": "HUBSPOT_DEFINED", "typeId": 229, "label": None}]
        for t in targets
    )
    assert "paging" not in body["results"][0]
    missing = {e["context"]["fromObjectId"][0]: e for e in body["errors"]}
    assert set(missing) == {lonely, "424242"}
    error = missing[lonely]
    assert error["category"] == "OBJECT_NOT_FOUND"
    assert error["subCategory"] == "crm.associations.NO_ASSOCIATIONS_FOUND"
    assert error["message"] == f"No task is associated with ticket {lonely}."
    assert body["numErrors"] == 2


def test_v4_batch_read_with_every_input_linked_is_200(emulator: HubSpotEmulator) -> None:
    ticket = new_ticket(emulator)
    call(emulator, "POST", "/crm/v3/objects/tasks/batch/create", {"inputs": [task_input(ticket)]})
    answer = call(emulator, "POST", "/crm/v4/associations/tasks/tickets/batch/read",
                  {"inputs": [{"id": t.id} for t in emulator.portal.live("tasks")]})  # fmt: skip
    assert answer.status_code == 200
    assert "errors" not in answer.json()
    kinds = answer.json()["results"][0]["to"][0]["associationTypes"]
    assert [k["typeId"] for k in kinds] == [230]


def test_one_objects_association_list_pages(emulator: HubSpotEmulator) -> None:
    ticket = new_ticket(emulator)
    call(emulator, "POST", "/crm/v3/objects/tasks/batch/create",
         {"inputs": [task_input(ticket) for _ in range(5)]})  # fmt: skip
    path = f"/crm/v4/objects/tickets/{ticket}/associations/tasks"
    everything = call(emulator, "GET", path).json()
    assert len(everything["results"]) == 5 and "paging" not in everything
    seen: list[int] = []
    after = ""
    while True:
        page = call(
            emulator, "GET", f"{path}?limit=2" + (f"&after={after}" if after else "")
        ).json()
        seen += [r["toObjectId"] for r in page["results"]]
        after = page.get("paging", {}).get("next", {}).get("after", "")
        if not after:
            break
    assert seen == [r["toObjectId"] for r in everything["results"]]
    assert (
        call(emulator, "GET", "/crm/v4/objects/tickets/424242/associations/tasks").status_code
        == 404
    )


# -- batch read, archive, delete --------------------------------------------------------------
def test_batch_read_by_id_reports_archived_and_missing_ids_in_errors(
    emulator: HubSpotEmulator,
) -> None:
    kept, gone = (emulator.portal.create("tasks", {"hs_timestamp": DUE}) for _ in range(2))
    emulator.portal.archive("tasks", gone.id)
    answer = call(emulator, "POST", "/crm/v3/objects/tasks/batch/read",
                  {"inputs": [{"id": kept.id}, {"id": gone.id}, {"id": "31337"}]})  # fmt: skip
    assert answer.status_code == 207
    body = answer.json()
    assert [r["id"] for r in body["results"]] == [kept.id]
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert body["errors"][0]["context"]["ids"] == [gone.id, "31337"]
    assert body["errors"][0]["message"].startswith("Could not get some TASK objects")
    everyone = call(emulator, "POST", "/crm/v3/objects/tasks/batch/read",
                    {"inputs": [{"id": kept.id}], "properties": ["hs_timestamp"]})  # fmt: skip
    assert everyone.status_code == 200
    assert everyone.json()["results"][0]["properties"] == {
        "hs_timestamp": "2026-11-20T09:00:00.000Z"
    }


def test_archives_answer_204(emulator: HubSpotEmulator) -> None:
    tasks = [emulator.portal.create("tasks", {"hs_timestamp": DUE}) for _ in range(3)]
    batch = call(emulator, "POST", "/crm/v3/objects/tasks/batch/archive",
                 {"inputs": [{"id": t.id} for t in tasks[:2]]})  # fmt: skip
    assert batch.status_code == 204 and batch.content == b""
    one = call(emulator, "DELETE", f"/crm/v3/objects/tasks/{tasks[2].id}")
    assert one.status_code == 204 and one.content == b""
    assert emulator.portal.live("tasks") == []


# -- search -----------------------------------------------------------------------------------
def test_search_takes_an_empty_body_and_answers_oldest_first(emulator: HubSpotEmulator) -> None:
    ids = [new_ticket(emulator, f"s{i}") for i in range(3)]
    answer = call(emulator, "POST", "/crm/v3/objects/tickets/search", {})
    assert answer.status_code == 200
    assert [r["id"] for r in answer.json()["results"]] == ids
    assert answer.json()["total"] == 3


def test_v4_links_to_a_missing_object_get_hubspots_invalid_association_answer(
    emulator: HubSpotEmulator,
) -> None:
    ticket = new_ticket(emulator)
    task = emulator.portal.create("tasks", {"hs_timestamp": DUE})
    kind = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TASK_TO_TICKET}
    batch = call(emulator, "POST", "/crm/v4/associations/tasks/tickets/batch/create", {"inputs": [
        {"from": {"id": task.id}, "to": {"id": "404404"}, "types": [kind]},
        {"from": {"id": task.id}, "to": {"id": ticket}, "types": [kind]},
    ]})  # fmt: skip
    assert batch.status_code == 207
    error = batch.json()["errors"][0]
    assert error["message"] == "One or more associations are invalid"
    assert error["context"]["INVALID_OBJECT_IDS"] == ["TICKET=404404 is not valid"]
    assert [r["toObjectId"] for r in batch.json()["results"]] == [ticket]
    one = call(emulator, "PUT", f"/crm/v4/objects/tasks/{task.id}/associations/tickets/404404",
               [kind])  # fmt: skip
    assert one.status_code == 400
    assert one.json()["context"]["objectType"] == ["TICKET"]
    assert emulator.portal.associated("tasks", task.id, "tickets") == {ticket: {TASK_TO_TICKET}}


def test_a_read_that_names_no_properties_gets_only_the_shared_defaults(
    emulator: HubSpotEmulator,
) -> None:
    """HubSpot answers default properties per type; the emulator only those every type shares,
    so code that needs ``subject`` must ask for it (here as on HubSpot)."""
    ticket = new_ticket(emulator, "asked for only")
    defaults = {"hs_object_id", "createdate", "hs_lastmodifieddate"}
    one = call(emulator, "GET", f"/crm/v3/objects/tickets/{ticket}").json()
    assert set(one["properties"]) == defaults
    batch = call(
        emulator, "POST", "/crm/v3/objects/tickets/batch/read", {"inputs": [{"id": ticket}]}
    )
    assert set(batch.json()["results"][0]["properties"]) == defaults
    found = call(emulator, "POST", "/crm/v3/objects/tickets/search", {}).json()
    assert set(found["results"][0]["properties"]) == defaults
    asked = call(emulator, "GET", f"/crm/v3/objects/tickets/{ticket}?properties=subject").json()
    assert asked["properties"] == {"subject": "asked for only"}
