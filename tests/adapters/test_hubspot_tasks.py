"""Tasks on a HubSpot that has no unique task properties, and HubSpot's real error shapes.

The emulator refuses ``hasUniqueValue`` on task properties by default, as a real portal may:
tasks are created once with their ticket link inline, then updated by id; a complaint whose
earlier push was never confirmed looks its tasks up through the ticket's associations.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from crm_complaints.adapters.base import Outcome
from crm_complaints.adapters.hubspot import HubSpotAdapter, HubSpotConfig
from crm_complaints.adapters.hubspot.links import Link, failed_links
from crm_complaints.config import DEFAULT_ALLOWED_FIELDS
from crm_complaints.emulator import DEMO_TOKEN, HubSpotEmulator
from crm_complaints.emulator.portal import Portal
from crm_complaints.emulator.wire import HubSpotError
from crm_complaints.policy import PlannedComplaint, Policy
from tests.conftest import edited, realistic_complaints
from tests.hubspot_support import assert_exactly_once, make_adapter, tasks_by_key


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", DEMO_TOKEN)


def routes(emulator: HubSpotEmulator) -> dict[str, int]:
    return dict(emulator.stats.snapshot()["by_route"])


def sent_since(emulator: HubSpotEmulator, before: dict[str, int]) -> dict[str, int]:
    now = routes(emulator)
    return {k: v - before.get(k, 0) for k, v in now.items() if v != before.get(k, 0)}


def planned(count: int, prefix: str = "TSK") -> list[PlannedComplaint]:
    policy = Policy()
    return [policy.planned(c) for c in realistic_complaints(count, prefix=prefix)]


def ready(emulator: HubSpotEmulator, **overrides: Any) -> HubSpotAdapter:
    adapter = make_adapter(emulator, **overrides)
    adapter.setup()
    adapter.portal()
    return adapter


def test_first_sync_creates_tasks_with_links_inline_and_looks_nothing_up(
    emulator: HubSpotEmulator,
) -> None:
    adapter = ready(emulator)
    items = planned(40)
    before = routes(emulator)
    results = adapter.push(items)
    assert {r.outcome for r in results} == {Outcome.SYNCED}
    sent = sent_since(emulator, before)
    tasks = sum(len(i.plan.tasks) for i in items)
    assert sent == {
        "POST /crm/v3/objects/tickets/batch/upsert": 1,
        "POST /crm/v3/objects/tasks/batch/create": -(-tasks // 100),
    }
    assert_exactly_once(emulator, [i.complaint for i in items])
    by_id = {t.id: t.properties["crm_task_key"] for t in emulator.portal.live("tasks")}
    for result in results:
        for ref, task_id in result.refs.items():
            if ref.startswith("task:"):
                assert by_id[task_id] == f"{result.complaint_id}:{ref[5:]}"


def test_the_emulator_refuses_unique_task_properties_by_default(
    emulator: HubSpotEmulator,
) -> None:
    adapter = ready(emulator)
    assert emulator.portal.properties["tasks"]["crm_task_key"]["hasUniqueValue"] is False
    assert emulator.portal.properties["tickets"]["crm_complaint_id"]["hasUniqueValue"] is True
    assert not adapter.setup().created  # idempotent
    spec = {
        "name": "another_key",
        "label": "Another key",
        "type": "string",
        "fieldType": "text",
        "groupName": "crm_complaints",
        "hasUniqueValue": True,
    }
    with pytest.raises(HubSpotError) as refused:
        emulator.portal.create_property("tasks", spec)
    assert refused.value.status == 400
    lenient = Portal(unique_task_properties=True)
    lenient.groups["tasks"]["crm_complaints"] = {"name": "crm_complaints"}
    assert lenient.create_property("tasks", spec)["hasUniqueValue"] is True


def test_a_new_version_updates_tasks_by_id(emulator: HubSpotEmulator) -> None:
    adapter = ready(emulator)
    items = planned(10)
    first = {r.complaint_id: r.refs for r in adapter.push(items)}
    policy = Policy()
    moved = [
        policy.planned(
            edited(i.complaint, received_at="2026-11-19T09:00:00+09:00"), first[i.complaint_id]
        )
        for i in items
    ]
    before = routes(emulator)
    second = {r.complaint_id: r.refs for r in adapter.push(moved)}
    assert second == first  # the same tasks, not new ones
    sent = sent_since(emulator, before)
    assert "POST /crm/v3/objects/tasks/batch/create" not in sent
    assert sent["POST /crm/v3/objects/tasks/batch/update"] == 1
    assert_exactly_once(emulator, [i.complaint for i in moved])


def test_an_unconfirmed_complaint_finds_its_tasks_and_creates_only_the_missing(
    emulator: HubSpotEmulator,
) -> None:
    """The crash window: tasks were created but the answer (and so their ids) was lost."""
    items = planned(12)
    ready(emulator).push(items)
    lost = [t for t in emulator.portal.live("tasks") if t.properties["crm_task_key"].startswith(
        items[0].complaint_id + ":")][:2]  # fmt: skip
    for task in lost:  # as if the crash came before these two were created
        emulator.portal.archive("tasks", task.id)
    rerun = ready(emulator)  # a new process: no memory of the first
    before = routes(emulator)
    results = rerun.push([replace(i, unconfirmed=True) for i in items])
    assert {r.outcome for r in results} == {Outcome.SYNCED}
    assert_exactly_once(emulator, [i.complaint for i in items])
    sent = sent_since(emulator, before)
    assert sent["POST /crm/v4/associations/tickets/tasks/batch/read"] == 1
    assert sent["POST /crm/v3/objects/tasks/batch/create"] == 1  # the two lost ones
    assert "POST /crm/v4/associations/tasks/tickets/batch/create" not in sent  # found = linked


def test_when_the_lookup_fails_nothing_is_created(emulator: HubSpotEmulator) -> None:
    items = planned(3)
    first = {r.complaint_id: r.refs["ticket"] for r in ready(emulator).push(items)}
    rerun = ready(emulator)
    emulator.script = [(503, f'"{first[items[0].complaint_id]}"')]  # the association read
    before = tasks_by_key(emulator)
    results = rerun.push([replace(i, unconfirmed=True) for i in items])
    assert {r.outcome for r in results} == {Outcome.RETRY}
    assert tasks_by_key(emulator) == before


def test_a_task_deleted_in_hubspot_is_created_again_and_linked(
    emulator: HubSpotEmulator,
) -> None:
    adapter = ready(emulator)
    items = planned(4)
    refs = {r.complaint_id: r.refs for r in adapter.push(items)}
    victim = items[1].complaint_id
    emulator.portal.archive("tasks", refs[victim]["task:initial_response"])
    policy = Policy()
    again = [
        policy.planned(edited(i.complaint, summary="edited"), refs[i.complaint_id]) for i in items
    ]
    results = {r.complaint_id: r for r in adapter.push(again)}
    assert all(r.outcome is Outcome.SYNCED for r in results.values())
    assert results[victim].refs["task:initial_response"] != refs[victim]["task:initial_response"]
    assert_exactly_once(emulator, [i.complaint for i in again])


def test_a_deleted_ticket_is_left_deleted_and_when_recreated_its_tasks_follow(
    emulator: HubSpotEmulator,
) -> None:
    adapter = ready(emulator)
    items = planned(2)
    refs = {r.complaint_id: r.refs for r in adapter.push(items)}
    victim = items[0].complaint_id
    emulator.portal.archive("tickets", refs[victim]["ticket"])
    policy = Policy()
    again = [policy.planned(edited(i.complaint, summary="v2"), refs[i.complaint_id]) for i in items]
    results = {r.complaint_id: r for r in adapter.push(again)}
    assert results[victim].outcome is Outcome.DELETED  # an update cannot make a ticket
    assert results[items[1].complaint_id].outcome is Outcome.SYNCED
    assert victim not in {t.properties["crm_complaint_id"] for t in emulator.portal.live("tickets")}
    # Recreated on request (as the engine does): a new ticket, the old tasks relinked to it.
    kept = {k: v for k, v in refs[victim].items() if k.startswith("task:")}
    recreate = policy.planned(edited(items[0].complaint, summary="v3"), kept, unconfirmed=True)
    [result] = adapter.push([recreate])
    assert result.outcome is Outcome.SYNCED and result.created
    assert result.refs["ticket"] != refs[victim]["ticket"]
    assert {k: v for k, v in result.refs.items() if k.startswith("task:")} == kept
    assert_exactly_once(emulator, [i.complaint for i in again])  # tasks linked to the new one


def test_a_whole_batch_refusal_quarantines_only_the_bad_complaint(
    emulator: HubSpotEmulator,
) -> None:
    """HubSpot answers one 400 for a whole upsert batch with one bad value in it."""
    adapter = ready(emulator)
    items = planned(60)
    bad = items[37]
    emulator.portal.poisoned.add(bad.complaint_id)
    results = {r.complaint_id: r for r in adapter.push(items)}
    assert results[bad.complaint_id].outcome is Outcome.REJECTED
    good = [i for i in items if i is not bad]
    assert all(results[i.complaint_id].outcome is Outcome.SYNCED for i in good)
    assert_exactly_once(emulator, [i.complaint for i in good])
    stats = routes(emulator)
    assert stats["POST /crm/v3/objects/tickets/batch/upsert"] <= 1 + 2 * 7  # bisected, not 60


def test_a_contact_whose_email_is_taken_is_adopted(emulator: HubSpotEmulator) -> None:
    """409 "Contact already exists. Existing ID: …": link to that contact, don't quarantine."""
    config = HubSpotConfig.model_validate(
        {"host": emulator.base_url, "owners": {}, "contacts": True}
    )
    adapter = HubSpotAdapter(config, allowed_fields=(*DEFAULT_ALLOWED_FIELDS, "customer.email"))
    adapter.setup()
    items = planned(8)
    taken = items[5].complaint.customer
    assert taken is not None and taken.email
    existing = emulator.portal.create("contacts", {"email": taken.email, "lastname": "x"})
    results = {r.complaint_id: r for r in adapter.push(items)}
    assert all(r.outcome is Outcome.SYNCED for r in results.values())
    assert results[items[5].complaint_id].refs["contact"] == existing.id
    ticket = results[items[5].complaint_id].refs["ticket"]
    assert emulator.portal.associated("tickets", ticket, "contacts") == {existing.id: {16}}


def test_association_errors_are_placed_by_the_ids_hubspot_names() -> None:
    sent = [Link("A", "1", "10"), Link("B", "2", "20"), Link("C", "3", "30")]
    errors = [
        {
            "status": "error",
            "category": "VALIDATION_ERROR",
            "message": "One or more associations are invalid",
            "context": {
                "INVALID_OBJECT_IDS": ["CONTACT=20 is not valid"],
                "objectId": ["20"],
                "objectType": ["CONTACT"],
            },
        }
    ]
    assert set(failed_links(errors, sent)) == {sent[1]}
    only_text = [{"category": "VALIDATION_ERROR", "context": {"INVALID_OBJECT_IDS": ["TASK=3"]}}]
    assert set(failed_links(only_text, sent)) == {sent[2]}
    unplaceable = [{"category": "VALIDATION_ERROR", "context": {}}]
    assert set(failed_links(unplaceable, sent)) == set(sent)  # never assume success
