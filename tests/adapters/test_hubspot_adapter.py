"""The HubSpot adapter driven against the local emulator (HubSpot's OpenAPI contract enforced)."""

from __future__ import annotations

from typing import Any

import pytest

from crm_complaints.adapters.hubspot import HubSpotAdapter, HubSpotConfig
from crm_complaints.emulator import (
    DEMO_TOKEN,
    Faults,
    HubSpotEmulator,
    RateLimit,
    running_emulator,
)
from crm_complaints.errors import AuthError, ConfigError
from crm_complaints.policy import Policy
from crm_complaints.retry import RetryPolicy
from crm_complaints.schema import Complaint
from crm_complaints.state import RecordState, SqlStateStore
from crm_complaints.sync import SyncSummary, sync
from tests.conftest import edited, realistic_complaints
from tests.hubspot_support import assert_exactly_once, make_adapter

NO_WAIT = RetryPolicy.no_wait(max_attempts=40)


def run_sync(
    adapter: HubSpotAdapter, store: SqlStateStore, complaints: list[Complaint], **kw: Any
) -> SyncSummary:
    kw.setdefault("retry", NO_WAIT)
    return sync(complaints, adapter=adapter, store=store, policy=Policy(), **kw)


def test_setup_is_idempotent(emulator: HubSpotEmulator) -> None:
    adapter = make_adapter(emulator)
    first = adapter.setup()
    assert "tickets.crm_complaint_id" in first.created and "tasks.crm_task_key" in first.created
    assert emulator.portal.properties["tickets"]["crm_complaint_id"]["hasUniqueValue"] is True
    assert emulator.portal.properties["tasks"]["crm_task_key"]["hasUniqueValue"] is False
    writes = emulator.stats.writes
    second = adapter.setup()
    assert second.created == () and not second.changed
    assert set(second.existing) >= set(first.created) - {
        "tickets property group crm_complaints",
        "tasks property group crm_complaints",
    }
    assert emulator.stats.writes == writes


def test_first_sync_unchanged_rerun_and_edits(
    emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    adapter = make_adapter(emulator)
    adapter.setup()
    complaints = realistic_complaints(150)
    first = run_sync(adapter, store, complaints)
    assert (first.created, first.exit_code) == (150, 0)
    assert_exactly_once(emulator, complaints)
    ticket = next(
        t for t in emulator.portal.live("tickets") if t.properties["crm_complaint_id"] == "E2E-0000"
    )
    # side_effect → high → management coordinates; owner 104 is the director.
    assert ticket.properties["hs_ticket_priority"] == "HIGH"
    assert ticket.properties["hubspot_owner_id"] == "104"
    assert ticket.properties["hs_pipeline_stage"] == "1"
    call = next(
        t
        for t in emulator.portal.live("tasks")
        if t.properties["crm_task_key"] == "E2E-0000:initial_response"
    )
    assert call.properties["hs_task_type"] == "CALL"
    assert call.properties["hs_task_status"] == "NOT_STARTED"
    assert call.properties["hs_timestamp"] == "2026-11-18T03:00:00.000Z"  # 10:00 JST + 2 h

    requests = emulator.stats.requests
    again = run_sync(adapter, store, complaints)
    assert (again.unchanged, again.remote_calls) == (150, 0)
    assert emulator.stats.requests == requests

    ids_before = {t.properties["crm_complaint_id"]: t.id for t in emulator.portal.live("tickets")}
    task_ids_before = {t.properties["crm_task_key"]: t.id for t in emulator.portal.live("tasks")}
    changed = list(complaints)
    changed[0] = edited(
        complaints[0],
        received_at="2026-11-18T15:00:00+09:00",
        acknowledged_at="2026-11-18T15:30:00+09:00",
        status="acknowledged",
    )
    third = run_sync(adapter, store, changed)
    assert (third.updated, third.unchanged) == (1, 149)
    assert {
        t.properties["crm_complaint_id"]: t.id for t in emulator.portal.live("tickets")
    } == ids_before
    assert {
        t.properties["crm_task_key"]: t.id for t in emulator.portal.live("tasks")
    } == task_ids_before
    moved = emulator.portal.objects["tasks"][task_ids_before["E2E-0000:initial_response"]]
    assert moved.properties["hs_timestamp"] == "2026-11-18T08:00:00.000Z"
    assert moved.properties["hs_task_status"] == "COMPLETED"
    assert (
        emulator.portal.objects["tickets"][ids_before["E2E-0000"]].properties["hs_pipeline_stage"]
        == "3"
    )
    assert_exactly_once(emulator, changed)


def test_personal_data_is_not_sent_by_default(
    emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    adapter = make_adapter(emulator)
    adapter.setup()
    complaints = realistic_complaints(8)
    run_sync(adapter, store, complaints)
    values = " ".join(
        v
        for kind in ("tickets", "tasks")
        for o in emulator.portal.live(kind)
        for v in o.properties.values()
    )
    for complaint in complaints:
        assert complaint.customer is not None and complaint.customer.name not in values
        assert complaint.description is not None and complaint.description not in values
    assert all("content" not in t.properties for t in emulator.portal.live("tickets"))


def test_207_partial_failure_quarantines_only_the_bad_records(
    emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    adapter = make_adapter(emulator)
    adapter.setup()
    adapter.portal()
    # The physician's HubSpot user is deactivated after discovery: records that assign to them
    # are refused per record (INVALID_OPTION); the rest of the batch must go through.
    emulator.portal.owners = [o for o in emulator.portal.owners if o.id != "103"]
    complaints = realistic_complaints(20)
    summary = run_sync(adapter, store, complaints)
    policy = Policy()
    physician_involved = {
        c.id
        for c in complaints
        if any(t.department.value == "physician" for t in policy.plan(c).tasks)
        or policy.plan(c).coordinator.value == "physician"
    }
    assert physician_involved and len(physician_involved) < 20
    assert summary.quarantined == len(physician_involved)
    assert summary.created == 20 - len(physician_involved)
    quarantined = {r.complaint_id: r for r in store.problem_records("hubspot")}
    assert set(quarantined) == physician_involved
    assert all(r.state is RecordState.QUARANTINED for r in quarantined.values())
    assert all("hubspot_owner_id" in (r.last_error or "") for r in quarantined.values())


def test_401_stops_the_run_without_printing_the_token(
    emulator: HubSpotEmulator, store: SqlStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-wrong-token-1234")
    adapter = make_adapter(emulator)
    with pytest.raises(AuthError) as exc:
        run_sync(adapter, store, realistic_complaints(3))
    assert "pat-na1-wrong-token-1234" not in str(exc.value)
    assert "HUBSPOT_ACCESS_TOKEN" in str(exc.value)
    assert store.recent_runs(1)[0].outcome == "stopped"


def test_client_side_limiter_keeps_a_healthy_run_free_of_429(
    monkeypatch: pytest.MonkeyPatch, store: SqlStateStore
) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", DEMO_TOKEN)
    with running_emulator(rate_limit=RateLimit(requests=8, window_seconds=0.4)) as emulator:
        adapter = make_adapter(emulator, rate_limit_requests=8, rate_limit_window_seconds=0.4)
        adapter.setup()
        summary = run_sync(adapter, store, realistic_complaints(250))
        assert summary.created == 250
        assert emulator.stats.rate_limited == 0
        assert adapter.limiter.waited_seconds > 0
        assert emulator.violations == []


def test_429_storm_is_survived_with_no_duplicates(
    monkeypatch: pytest.MonkeyPatch, store: SqlStateStore
) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", DEMO_TOKEN)
    with running_emulator() as emulator:
        # A client that believes it may send 1000 per window: the server will say otherwise.
        adapter = make_adapter(emulator, rate_limit_requests=1000, rate_limit_window_seconds=1)
        adapter.setup()
        emulator.rate_limit = RateLimit(requests=3, window_seconds=0.3)
        retry = RetryPolicy(
            max_attempts=200, max_seconds=60, initial_backoff=0.01, max_backoff=0.05
        )
        complaints = realistic_complaints(120)
        summary = run_sync(adapter, store, complaints, retry=retry)
        assert summary.created == 120 and summary.failed == 0
        # Fewer than the client's belief would cause: it slows down on HubSpot's Remaining.
        assert emulator.stats.rate_limited > 0
        assert_exactly_once(emulator, complaints)
        assert emulator.violations == []


@pytest.mark.parametrize(
    ("faults", "label"),
    [
        (Faults(locked_rate=0.3, seed=1), "423"),
        (Faults(server_error_rate=0.3, seed=2), "5xx"),
        (Faults(drop_rate=0.25, seed=3), "dropped connections"),
        (Faults(server_error_rate=0.1, locked_rate=0.1, drop_rate=0.1, seed=4), "mixed"),
    ],
)
def test_transient_faults_converge_exactly_once(
    monkeypatch: pytest.MonkeyPatch, store: SqlStateStore, faults: Faults, label: str
) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", DEMO_TOKEN)
    slept: list[float] = []
    retry = RetryPolicy(
        max_attempts=60, max_seconds=600, initial_backoff=0.01, max_backoff=0.01, sleep=slept.append
    )
    complaints = realistic_complaints(60)
    with running_emulator() as emulator:
        make_adapter(emulator).setup()
        emulator.faults = faults
        adapter = make_adapter(emulator)
        summary = None
        for _ in range(10):  # discovery itself can hit a fault; the run then stops and reruns
            try:
                summary = run_sync(adapter, store, complaints, retry=retry)
                break
            except Exception:
                continue
        assert summary is not None and emulator.stats.injected > 0, label
        final = run_sync(adapter, store, complaints, retry=retry)
        assert final.failed == 0 and final.quarantined == 0
        assert_exactly_once(emulator, complaints)
        if label == "423":
            assert slept and min(s for s in slept if s > 0.05) >= 2.0  # waited ≥ 2 s on 423
        assert emulator.violations == []


def test_daily_quota_stops_the_run_cleanly(
    monkeypatch: pytest.MonkeyPatch, store: SqlStateStore
) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", DEMO_TOKEN)
    with running_emulator(rate_limit=RateLimit(daily=30)) as emulator:
        adapter = make_adapter(emulator)
        adapter.setup()
        summary = run_sync(adapter, store, realistic_complaints(400))
        assert summary.stopped is not None and "quota" in summary.stopped
        assert summary.exit_code == 3
        assert 0 < summary.created < 400
        assert store.recent_runs(1)[0].outcome == "stopped"


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"pipeline": "Complaints"}, "adapters.hubspot.pipeline"),
        ({"stages": {"received": "Brand new"}}, "adapters.hubspot.stages"),
        ({"owners": {"physician": "nobody@clinic.example"}}, "adapters.hubspot.owners.physician"),
        ({"priorities": {"critical": "BLOCKER"}}, "adapters.hubspot.priorities.critical"),
        ({"categories": {"product": "NO_SUCH_OPTION"}}, "adapters.hubspot.categories.product"),
    ],
)
def test_mapping_to_something_the_portal_lacks_is_a_config_error(
    emulator: HubSpotEmulator, overrides: dict[str, Any], key: str
) -> None:
    adapter = make_adapter(emulator, **overrides)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        adapter.portal()


def test_category_mapping_by_label_or_value(
    emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    adapter = make_adapter(
        emulator, categories={"product": "Product issue", "price_billing": "BILLING_ISSUE"}
    )
    adapter.setup()
    complaints = realistic_complaints(5)
    run_sync(adapter, store, complaints)
    by_id = {
        t.properties["crm_complaint_id"]: t.properties for t in emulator.portal.live("tickets")
    }
    assert by_id["E2E-0001"]["hs_ticket_category"] == "PRODUCT_ISSUE"
    assert by_id["E2E-0003"]["hs_ticket_category"] == "BILLING_ISSUE"
    assert "hs_ticket_category" not in by_id["E2E-0000"]


def test_reading_back_and_listing(emulator: HubSpotEmulator, store: SqlStateStore) -> None:
    adapter = make_adapter(emulator)
    adapter.setup()
    complaints = realistic_complaints(130)
    run_sync(adapter, store, complaints)
    refs = {r.complaint_id: r.refs for r in store.all_records("hubspot")}
    calls = adapter.calls
    found = adapter.read(refs)
    assert len(found) == 130
    assert adapter.calls - calls == 2 + 8  # tickets: 2 pages of 100; tasks: 780 keys / 100
    record = found["E2E-0007"]
    assert record.refs == refs["E2E-0007"]
    assert (record.stage, record.closed) == ("New", False)
    first_response = record.tasks["initial_response"]
    assert first_response.completed is False and first_response.due_at is not None
    assert record.version == store.get_many("hubspot", ["E2E-0007"])["E2E-0007"].synced_hash
    owned = list(adapter.list_owned())
    assert sorted(r.complaint_id for r in owned) == sorted(refs)


def test_invalid_host_and_missing_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", DEMO_TOKEN)
    with pytest.raises(ConfigError, match=r"adapters\.hubspot\.host"):
        HubSpotAdapter(HubSpotConfig(host="http://api.example.com"))
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN")
    with pytest.raises(ConfigError, match="HUBSPOT_ACCESS_TOKEN"):
        HubSpotAdapter(HubSpotConfig())


def test_emulator_refuses_contract_breaking_and_oversized_requests(
    emulator: HubSpotEmulator,
) -> None:
    import requests

    headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    url = f"{emulator.base_url}/crm/v3/objects/tickets/batch/upsert"
    broken = requests.post(
        url, json={"inputs": [{"properties": {"subject": 1}}]}, headers=headers, timeout=5
    )
    assert broken.status_code == 400 and broken.json()["category"] == "VALIDATION_ERROR"
    assert len(emulator.violations) == 1
    emulator.violations.clear()
    oversized = {"inputs": [{"id": str(i), "properties": {}} for i in range(101)]}
    too_big = requests.post(url, json=oversized, headers=headers, timeout=5)
    assert too_big.status_code == 400 and "too large" in too_big.json()["message"]
    limited_body = requests.get(f"{emulator.base_url}/crm/v3/owners", timeout=5)
    assert limited_body.status_code == 401


def test_listing_restarts_queries_past_the_search_result_cap(
    emulator: HubSpotEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_complaints.adapters.hubspot import read
    from crm_complaints.emulator import server

    monkeypatch.setattr(server, "SEARCH_RESULT_LIMIT", 400)
    monkeypatch.setattr(read, "SEARCH_RESULT_CAP", 400)
    adapter = make_adapter(emulator)
    adapter.setup()
    for index in range(1050):
        emulator.portal.create(
            "tickets",
            {
                "subject": "x",
                "hs_pipeline": "0",
                "hs_pipeline_stage": "1",
                "crm_complaint_id": f"CAP-{index:05d}",
            },
        )
    adapter.portal()  # discovery is not part of listing
    calls = adapter.calls
    owned = [r.complaint_id for r in adapter.list_owned()]
    assert sorted(owned) == [f"CAP-{i:05d}" for i in range(1050)]
    assert adapter.calls - calls <= 1050 // 200 + 3  # 200 per request, a few restarts


def test_contacts_when_enabled(emulator: HubSpotEmulator, store: SqlStateStore) -> None:
    adapter = make_adapter(emulator, contacts=True)
    adapter.setup()
    assert emulator.portal.properties["contacts"]["crm_customer_id"]["hasUniqueValue"]
    complaints = realistic_complaints(12)
    first = run_sync(adapter, store, complaints)
    assert first.created == 12
    contacts = emulator.portal.live("contacts")
    assert len(contacts) == 12
    # By default the contact carries only our customer id: no name, e-mail or phone.
    assert all(
        set(c.properties) - {"hs_object_id", "createdate", "hs_lastmodifieddate"}
        == {"crm_customer_id"}
        for c in contacts
    )
    contact_of = {c.properties["crm_customer_id"]: c.id for c in contacts}
    for ticket in emulator.portal.live("tickets"):
        customer = "P-" + ticket.properties["crm_complaint_id"].split("-")[1].lstrip("0").rjust(
            1, "0"
        )
        assert emulator.portal.associated("tickets", ticket.id, "contacts") == {
            contact_of[customer]: {16}
        }
    for task in emulator.portal.live("tasks"):
        assert len(emulator.portal.associated("tasks", task.id, "contacts")) == 1
    calls = adapter.calls
    changed = [edited(c, status="investigating") for c in complaints]
    run_sync(adapter, store, changed)
    assert len(emulator.portal.live("contacts")) == 12  # no duplicate contacts on update
    assert adapter.calls - calls <= 4  # tickets, contacts, tasks; no links again


def test_contacts_get_personal_fields_only_when_allowed(
    emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    from crm_complaints.config import DEFAULT_ALLOWED_FIELDS

    config = HubSpotConfig.model_validate(
        {"host": emulator.base_url, "owners": {}, "contacts": True}
    )
    adapter = HubSpotAdapter(config, allowed_fields=(*DEFAULT_ALLOWED_FIELDS, "customer.email"))
    adapter.setup()
    run_sync(adapter, store, realistic_complaints(2))
    emails = {c.properties.get("email") for c in emulator.portal.live("contacts")}
    assert emails == {"hanako.yamada@example.jp", "lina@example.cn"}
    assert all("lastname" not in c.properties for c in emulator.portal.live("contacts"))
