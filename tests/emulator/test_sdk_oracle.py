"""A second oracle: every emulator answer the HubSpot adapter reads, deserialized by the SDK.

The specs are one view of HubSpot; the official SDK's generated models are another (with
client-side validation turned on, a missing required field or a wrong enum value fails). The
adapter parses its hot paths' JSON itself, so nothing else would notice an answer the SDK could
not read.
"""

from __future__ import annotations

import re
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import hubspot.crm.associations.v4 as associations
import hubspot.crm.contacts as contacts
import hubspot.crm.objects.tasks as tasks
import hubspot.crm.owners as owners
import hubspot.crm.pipelines as pipelines
import hubspot.crm.properties as properties
import hubspot.crm.tickets as tickets
import pytest

from crm_complaints.emulator import DEMO_TOKEN, HubSpotEmulator, running_emulator
from crm_complaints.policy import Policy
from tests.conftest import edited, realistic_complaints
from tests.hubspot_support import make_adapter

# (method, path pattern) → (SDK package, model of a 2xx answer, model of a 207 answer)
MODELS: list[tuple[str, str, Any, str, str]] = [
    ("GET", r"/crm/v3/owners/?", owners, "CollectionResponsePublicOwnerForwardPaging", ""),
    ("GET", r"/crm/v3/pipelines/\w+", pipelines, "CollectionResponsePipelineNoPaging", ""),
    ("GET", r"/crm/v3/properties/\w+", properties, "CollectionResponsePropertyNoPaging", ""),
    ("GET", r"/crm/v3/properties/\w+/groups", properties, "CollectionResponsePropertyGroupNoPaging",
     ""),
    ("GET", r"/crm/v3/properties/\w+/groups/\w+", properties, "PropertyGroup", ""),
    ("POST", r"/crm/v3/properties/\w+/groups", properties, "PropertyGroup", ""),
    ("GET", r"/crm/v3/properties/\w+/\w+", properties, "ModelProperty", ""),
    ("POST", r"/crm/v3/properties/\w+/batch/read", properties, "BatchResponseProperty", ""),
    ("POST", r"/crm/v3/properties/\w+/batch/create", properties, "BatchResponseProperty",
     "BatchResponsePropertyWithErrors"),
    ("POST", r"/crm/v3/objects/tickets/batch/upsert", tickets,
     "BatchResponseSimplePublicUpsertObject", "BatchResponseSimplePublicUpsertObjectWithErrors"),
    ("POST", r"/crm/v3/objects/tickets/batch/read", tickets, "BatchResponseSimplePublicObject",
     "BatchResponseSimplePublicObjectWithErrors"),
    ("POST", r"/crm/v3/objects/tickets/search", tickets,
     "CollectionResponseWithTotalSimplePublicObjectForwardPaging", ""),
    ("POST", r"/crm/v3/objects/contacts/batch/upsert", contacts,
     "BatchResponseSimplePublicUpsertObject", "BatchResponseSimplePublicUpsertObjectWithErrors"),
    ("POST", r"/crm/v3/objects/tickets/batch/(create|update)", tickets,
     "BatchResponseSimplePublicObject", "BatchResponseSimplePublicObjectWithErrors"),
    ("POST", r"/crm/v3/objects/tasks/batch/upsert", tasks,
     "BatchResponseSimplePublicUpsertObject", "BatchResponseSimplePublicUpsertObjectWithErrors"),
    ("GET", r"/crm/v4/objects/\w+/\d+/associations/\w+", associations,
     "CollectionResponseMultiAssociatedObjectWithLabelForwardPaging", ""),
    ("POST", r"/crm/v3/objects/tasks/batch/(create|update|read)", tasks,
     "BatchResponseSimplePublicObject", "BatchResponseSimplePublicObjectWithErrors"),
    ("POST", r"/crm/v3/objects/tasks/search", tasks,
     "CollectionResponseWithTotalSimplePublicObjectForwardPaging", ""),
    ("POST", r"/crm/v4/associations/\w+/\w+/batch/read", associations,
     "BatchResponsePublicAssociationMultiWithLabel",
     "BatchResponsePublicAssociationMultiWithLabelWithErrors"),
    ("POST", r"/crm/v4/associations/\w+/\w+/batch/create", associations,
     "BatchResponseLabelsBetweenObjectPair", "BatchResponseLabelsBetweenObjectPairWithErrors"),
]  # fmt: skip


def model_for(method: str, path: str, status: int) -> tuple[Any, str] | None:
    for verb, pattern, package, ok, partial in MODELS:
        if verb == method and re.fullmatch(pattern, path):
            return package, (partial if status == 207 else ok)
    return None


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, int, bytes]]:
    answers: list[tuple[str, str, int, bytes]] = []
    handle = HubSpotEmulator._handle

    def recording(self: HubSpotEmulator, request: Any, environ: Any) -> Any:
        response = handle(self, request, environ)
        if response is not None:
            answers.append(
                (request.method, request.path, response.status_code, response.get_data())
            )
        return response

    monkeypatch.setattr(HubSpotEmulator, "_handle", recording)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", DEMO_TOKEN)
    return answers


def test_every_answer_the_adapter_reads_fits_the_sdks_models(
    recorded: list[tuple[str, str, int, bytes]],
) -> None:
    policy = Policy()
    complaints = realistic_complaints(30, prefix="ORACLE")
    with running_emulator() as emulator:
        adapter = make_adapter(emulator, contacts=True)
        adapter.setup()
        first = {
            r.complaint_id: r.refs for r in adapter.push([policy.planned(c) for c in complaints])
        }
        again = [
            replace(policy.planned(edited(c, summary="v2"), first[c.id]), unconfirmed=True)
            for c in complaints
        ]
        again[0] = replace(again[0], previous=None)  # looks its tasks up
        adapter.push(again)
        adapter.read(first)
        list(adapter.list_owned())
        list(adapter.list_tasks())
    read = 0
    for method, path, status, body in recorded:
        if status >= 300 or not body:
            continue
        found = model_for(method, path, status)
        if found is None:
            continue
        package, model = found
        client = package.ApiClient()
        # The SDK ships with validation off; on, a missing required field or a bad enum fails.
        client.configuration.client_side_validation = True
        client.deserialize(SimpleNamespace(data=body.decode("utf-8")), model)  # raises on misfit
        read += 1
    routes = {(m, p) for m, p, s, _ in recorded if s < 300}
    assert ("POST", "/crm/v4/associations/tickets/tasks/batch/read") in routes
    assert ("POST", "/crm/v3/objects/tasks/batch/update") in routes
    assert read >= 10
