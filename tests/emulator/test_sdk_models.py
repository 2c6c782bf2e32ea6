"""The second oracle, endpoint by endpoint: every kind of answer the emulator gives on the
operations the HubSpot adapter uses (including 207s and error bodies) is deserialized by the
official SDK's own generated models with client-side validation on. Independent of the
adapter's flow (tests/emulator/test_sdk_oracle.py covers that), so an answer shape the adapter
happens not to trigger today is held to the SDK too."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import hubspot.crm.associations.v4 as associations
import hubspot.crm.objects.tasks as tasks
import hubspot.crm.owners as owners
import hubspot.crm.pipelines as pipelines
import hubspot.crm.properties as properties
import hubspot.crm.tickets as tickets
import pytest
import requests

from crm_complaints.emulator import DEMO_TOKEN, HubSpotEmulator, running_emulator
from crm_complaints.emulator.scopes import TOKEN_INFO_PATH

AUTH = {"Authorization": f"Bearer {DEMO_TOKEN}"}
DUE = "2026-11-20T09:00:00Z"


def fits(package: Any, model: str, answer: requests.Response) -> Any:
    """The answer as the SDK's model; raises when a required field is missing or of a type
    or enum value the model refuses."""
    expected_error = model == "Error"
    assert (answer.status_code >= 400) == expected_error, (answer.status_code, answer.text[:300])
    client = package.ApiClient()
    client.configuration.client_side_validation = True  # the SDK ships with it off
    return client.deserialize(SimpleNamespace(data=answer.text), model)


@pytest.fixture
def emulator() -> Iterator[HubSpotEmulator]:
    with running_emulator() as running:
        yield running
    assert [v for v in running.violations if v.startswith("response")] == []


def call(emulator: HubSpotEmulator, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, emulator.base_url + path, json=body, headers=AUTH, timeout=10)


def ticket_props(subject: str) -> dict[str, str]:
    return {"subject": subject, "hs_pipeline": "0", "hs_pipeline_stage": "1"}


def ticket(subject: str, **extra: Any) -> dict[str, Any]:
    return {"properties": ticket_props(subject), "associations": [], **extra}


def test_reads_of_the_portal_fit(emulator: HubSpotEmulator) -> None:
    found = fits(owners, "CollectionResponsePublicOwnerForwardPaging",
                 call(emulator, "GET", "/crm/v3/owners?limit=2"))  # fmt: skip
    assert found.paging.next.after and len(found.results) == 2
    stages = fits(pipelines, "CollectionResponsePipelineNoPaging",
                  call(emulator, "GET", "/crm/v3/pipelines/tickets")).results[0].stages  # fmt: skip
    assert [s.metadata["ticketState"] for s in stages][-1] == "CLOSED"
    listed = fits(properties, "CollectionResponsePropertyNoPaging",
                  call(emulator, "GET", "/crm/v3/properties/tasks"))  # fmt: skip
    assert any(p.name == "hs_timestamp" for p in listed.results)
    batch = fits(properties, "BatchResponseProperty", call(emulator, "POST",
                 "/crm/v3/properties/tickets/batch/read",
                 {"inputs": [{"name": "subject"}], "archived": False,
                  "dataSensitivity": "non_sensitive"}))  # fmt: skip
    assert [p.name for p in batch.results] == ["subject"]
    fits(properties, "ModelProperty", call(emulator, "GET", "/crm/v3/properties/tickets/subject"))
    fits(properties, "CollectionResponsePropertyGroupNoPaging",
         call(emulator, "GET", "/crm/v3/properties/tickets/groups"))  # fmt: skip


def test_object_writes_and_reads_fit(emulator: HubSpotEmulator) -> None:
    created = fits(tickets, "BatchResponseSimplePublicObject", call(emulator, "POST",
                   "/crm/v3/objects/tickets/batch/create",
                   {"inputs": [ticket("a")]}))  # fmt: skip
    ticket_id = created.results[0].id
    partial = call(emulator, "POST", "/crm/v3/objects/tickets/batch/create", {"inputs": [
        ticket("b", objectWriteTraceId="ok"),
        {"properties": {"subject": "no pipeline"}, "associations": [],
         "objectWriteTraceId": "bad"}]})  # fmt: skip
    assert partial.status_code == 207
    fits(tickets, "BatchResponseSimplePublicObjectWithErrors", partial)
    fits(tickets, "BatchResponseSimplePublicObject", call(emulator, "POST",
         "/crm/v3/objects/tickets/batch/update",
         {"inputs": [{"id": ticket_id, "properties": {"subject": "a2"}}]}))  # fmt: skip
    fits(tickets, "BatchResponseSimplePublicObject", call(emulator, "POST",
         "/crm/v3/objects/tickets/batch/read",
         {"inputs": [{"id": ticket_id}], "properties": ["subject"],
          "propertiesWithHistory": []}))  # fmt: skip
    missing = call(emulator, "POST", "/crm/v3/objects/tickets/batch/read",
                   {"inputs": [{"id": ticket_id}, {"id": "404404"}]})  # fmt: skip
    assert missing.status_code == 207
    fits(tickets, "BatchResponseSimplePublicObjectWithErrors", missing)
    fits(
        tickets, "SimplePublicObject", call(emulator, "GET", f"/crm/v3/objects/tickets/{ticket_id}")
    )
    fits(tickets, "CollectionResponseWithTotalSimplePublicObjectForwardPaging",
         call(emulator, "POST", "/crm/v3/objects/tickets/search", {"limit": 1}))  # fmt: skip
    tasks_made = fits(tasks, "BatchResponseSimplePublicObject", call(emulator, "POST",
                      "/crm/v3/objects/tasks/batch/create", {"inputs": [
                          {"properties": {"hs_timestamp": DUE}, "associations": [
                              {"to": {"id": ticket_id}, "types": [{
                                  "associationCategory": "HUBSPOT_DEFINED",
                                  "associationTypeId": 230}]}]}]}))  # fmt: skip
    task_id = tasks_made.results[0].id
    fits(tasks, "BatchResponseSimplePublicObject", call(emulator, "POST",
         "/crm/v3/objects/tasks/batch/update",
         {"inputs": [{"id": task_id, "properties": {"hs_task_status": "COMPLETED"}}]}))  # fmt: skip
    fits(tasks, "CollectionResponseWithTotalSimplePublicObjectForwardPaging",
         call(emulator, "POST", "/crm/v3/objects/tasks/search", {}))  # fmt: skip


def test_ticket_upserts_fit(emulator: HubSpotEmulator) -> None:
    made = call(emulator, "POST", "/crm/v3/properties/tickets/batch/create", {"inputs": [{
        "name": "complaint_key", "label": "Key", "type": "string", "fieldType": "text",
        "groupName": "ticketinformation", "hasUniqueValue": True}]})  # fmt: skip
    assert made.status_code == 201
    body = {"inputs": [{"id": "C-1", "idProperty": "complaint_key",
                        "properties": ticket_props("u")}]}  # fmt: skip
    first = fits(tickets, "BatchResponseSimplePublicUpsertObject",
                 call(emulator, "POST", "/crm/v3/objects/tickets/batch/upsert", body))  # fmt: skip
    again = fits(tickets, "BatchResponseSimplePublicUpsertObject",
                 call(emulator, "POST", "/crm/v3/objects/tickets/batch/upsert", body))  # fmt: skip
    assert (first.results[0].new, again.results[0].new) == (True, False)


def test_v4_association_answers_fit(emulator: HubSpotEmulator) -> None:
    ticket = emulator.portal.create("tickets", ticket_props("t"))
    task = emulator.portal.create("tasks", {"hs_timestamp": DUE})
    kind = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 230}
    link = {"inputs": [{"from": {"id": task.id}, "to": {"id": ticket.id}, "types": [kind]}]}
    create = "/crm/v4/associations/tasks/tickets/batch/create"
    fits(associations, "BatchResponseLabelsBetweenObjectPair", call(emulator, "POST", create, link))
    bad = {"inputs": [{**link["inputs"][0], "to": {"id": "404404"}}]}
    refused = call(emulator, "POST", create, bad)
    assert refused.status_code == 207
    fits(associations, "BatchResponseLabelsBetweenObjectPairWithErrors", refused)
    read = fits(associations, "BatchResponsePublicAssociationMultiWithLabel", call(emulator,
                "POST", "/crm/v4/associations/tickets/tasks/batch/read",
                {"inputs": [{"id": ticket.id}]}))  # fmt: skip
    assert read.results[0].to[0].to_object_id == task.id  # the number read back as the id
    some = call(emulator, "POST", "/crm/v4/associations/tickets/tasks/batch/read",
                {"inputs": [{"id": ticket.id}, {"id": "404404"}]})  # fmt: skip
    assert some.status_code == 207
    fits(associations, "BatchResponsePublicAssociationMultiWithLabelWithErrors", some)
    listed = call(emulator, "GET", f"/crm/v4/objects/tickets/{ticket.id}/associations/tasks")
    fits(associations, "CollectionResponseMultiAssociatedObjectWithLabelForwardPaging", listed)


def test_error_answers_fit() -> None:
    with running_emulator(scopes={"tickets"}) as emulator:
        answers = [
            call(emulator, "GET", "/crm/v3/owners"),  # 403 MISSING_SCOPES
            call(emulator, "GET", "/crm/v3/objects/tickets/404404"),  # 404
            call(emulator, "GET", "/crm/v3/objects/tickets/merge"),  # 405
            call(emulator, "POST", "/crm/v3/objects/tickets/merge",
                 {"objectIdToMerge": "1", "primaryObjectId": "2"}),  # 400 NOT_EMULATED
            call(emulator, "POST", "/crm/v3/objects/tickets", {"properties": {"nope": "1"}}),
            requests.get(emulator.base_url + "/crm/v3/objects/tickets", timeout=10),  # 401
        ]  # fmt: skip
        assert [a.status_code for a in answers] == [403, 404, 405, 400, 400, 401]
        for answer in answers:
            error = fits(tickets, "Error", answer)
            assert error.category and error.correlation_id and error.message
        info = requests.post(emulator.base_url + TOKEN_INFO_PATH,
                             json={"tokenKey": DEMO_TOKEN}, timeout=10)  # fmt: skip
        assert info.json()["scopes"] == ["tickets"]
