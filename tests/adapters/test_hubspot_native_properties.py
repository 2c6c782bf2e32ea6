"""HubSpot-native properties a clinic can report on: dropdowns, checkboxes, numbers.

``setup`` creates our properties with one option per code (labels in the portal's language),
brings an older release's text properties and option lists up to date, and writes nothing on a
second run; discovery refuses to sync into properties in their old form; the emulator refuses
values HubSpot would refuse; a report-style search by category option and by risk flag finds
exactly the right tickets; task bodies read entirely in the complaint's language.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import hubspot.crm.properties as hubspot_properties
import pytest
import requests
from typer.testing import CliRunner

from crm_complaints.adapters.base import Outcome
from crm_complaints.adapters.hubspot import HubSpotAdapter, HubSpotConfig
from crm_complaints.adapters.hubspot.definitions import TICKET_PROPERTIES
from crm_complaints.cli import app
from crm_complaints.emulator import DEMO_TOKEN, HubSpotEmulator, RateLimit
from crm_complaints.emulator.schema import define_property
from crm_complaints.errors import ConfigError
from crm_complaints.labels import label
from crm_complaints.policy import Policy
from crm_complaints.retry import RetryPolicy
from crm_complaints.schema import (
    Category,
    Channel,
    Complaint,
    DemandKind,
    Department,
    RiskFlag,
    Severity,
)
from crm_complaints.state import SqlStateStore
from crm_complaints.sync import sync
from tests.conftest import make_complaint
from tests.hubspot_support import OWNERS, api

NO_WAIT = RetryPolicy.no_wait(max_attempts=10)
ENUMS = {
    "crm_category": Category,
    "crm_severity": Severity,
    "crm_departments": Department,
    "crm_coordinator": Department,
    "crm_channel": Channel,
    "crm_risk_flags": RiskFlag,
    "crm_demand_kind": DemandKind,
}


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", DEMO_TOKEN)


def adapter_for(
    emulator: HubSpotEmulator, allowed_fields: list[str] | None = None, **overrides: Any
) -> HubSpotAdapter:
    """An adapter whose option labels are Japanese unless ``overrides`` say otherwise."""
    config = HubSpotConfig.model_validate(
        {"host": emulator.base_url, "owners": OWNERS, "option_language": "ja", **overrides}
    )
    if allowed_fields is None:
        return HubSpotAdapter(config)
    return HubSpotAdapter(config, allowed_fields=allowed_fields)


def ticket_property(emulator: HubSpotEmulator, name: str) -> dict[str, Any]:
    return emulator.portal.properties["tickets"][name]


def labels(emulator: HubSpotEmulator, name: str) -> dict[str, str]:
    return {o["value"]: o["label"] for o in ticket_property(emulator, name)["options"]}


def search(emulator: HubSpotEmulator, *filters: dict[str, Any]) -> set[str]:
    """Complaint ids of the tickets a HubSpot view with these filters (AND-ed) would list."""
    answer = api(
        emulator,
        "POST",
        "/crm/v3/objects/tickets/search",
        {
            "filterGroups": [{"filters": list(filters)}],
            "properties": ["crm_complaint_id"],
            "limit": 200,
        },
    )
    assert answer.status_code == 200, answer.text
    return {r["properties"]["crm_complaint_id"] for r in answer.json()["results"]}


def push(adapter: HubSpotAdapter, complaints: list[Complaint]) -> None:
    policy = Policy()
    results = adapter.push([policy.planned(c) for c in complaints])
    assert {r.outcome for r in results} == {Outcome.SYNCED}, [r.error for r in results]


# -- setup ---------------------------------------------------------------------------------------


def test_setup_creates_dropdowns_and_checkboxes_with_ja_labels_once(
    emulator: HubSpotEmulator,
) -> None:
    adapter = adapter_for(emulator)
    first = adapter.setup()
    assert (
        "tickets.crm_risk_flags" in first.created and "tickets.crm_demand_amount" in first.created
    )
    for name, enum in ENUMS.items():
        prop = ticket_property(emulator, name)
        assert prop["type"] == "enumeration"
        assert [o["value"] for o in prop["options"]] == [v.value for v in enum]
        assert labels(emulator, name) == {v.value: label(v, "ja") for v in enum}
    assert ticket_property(emulator, "crm_departments")["fieldType"] == "checkbox"
    assert ticket_property(emulator, "crm_risk_flags")["fieldType"] == "checkbox"
    assert ticket_property(emulator, "crm_category")["fieldType"] == "select"
    assert labels(emulator, "crm_category")["service_attitude"] == "接遇・態度"
    assert labels(emulator, "crm_severity")["critical"] == "緊急"
    assert ticket_property(emulator, "crm_demand_amount")["type"] == "number"
    assert ticket_property(emulator, "crm_received_at")["type"] == "datetime"

    writes = emulator.stats.writes
    second = adapter.setup()
    assert (second.created, second.updated, second.changed) == ((), (), False)
    assert emulator.stats.writes == writes  # nothing written the second time


def test_setup_adds_a_missing_option_relabels_and_keeps_options_staff_added(
    emulator: HubSpotEmulator,
) -> None:
    adapter_for(emulator).setup()
    category = ticket_property(emulator, "crm_category")
    # As a portal set up by an older release would be: no "privacy" category yet; a person
    # relabelled a severity and added an option of their own.
    category["options"] = [o for o in category["options"] if o["value"] != "privacy"]
    category["options"].append(
        {"value": "staff_made", "label": "院内ルール", "hidden": False, "displayOrder": 99}
    )
    severity = ticket_property(emulator, "crm_severity")
    next(o for o in severity["options"] if o["value"] == "critical")["label"] = "Critical!"

    report = adapter_for(emulator).setup()
    assert set(report.updated) == {"tickets.crm_category", "tickets.crm_severity"}
    assert report.changed and report.created == ()
    assert labels(emulator, "crm_category")["privacy"] == "個人情報・プライバシー"
    assert labels(emulator, "crm_category")["staff_made"] == "院内ルール"  # never dropped
    assert labels(emulator, "crm_severity")["critical"] == "緊急"

    relabelled = adapter_for(emulator, option_language="zh-Hant").setup()
    differ = {n for n, e in ENUMS.items() if any(label(v, "ja") != label(v, "zh-Hant") for v in e)}
    assert differ and "crm_severity" not in differ  # 低 中 高 緊急 in both
    assert set(relabelled.updated) == {f"tickets.{name}" for name in differ}
    assert labels(emulator, "crm_category")["side_effect"] == "術後副作用"
    assert labels(emulator, "crm_category")["staff_made"] == "院内ルール"
    assert adapter_for(emulator, option_language="zh-Hant").setup().updated == ()


def test_an_old_text_property_is_refused_by_discovery_then_converted_by_setup(
    emulator: HubSpotEmulator,
) -> None:
    adapter = adapter_for(emulator)
    adapter.setup()
    push(adapter, [make_complaint(id="OLD-1")])
    # What an older release created: plain text holding our codes.
    for name in ("crm_category", "crm_severity", "crm_departments"):
        old = define_property(name, "old", group="crm_complaints")
        emulator.portal.properties["tickets"][name] = old
    fresh = adapter_for(emulator)
    with pytest.raises(ConfigError) as refused:
        fresh.portal()
    assert "crm-complaints setup --adapter hubspot" in str(refused.value)
    assert "tickets.crm_category is string/text" in str(refused.value)

    report = fresh.setup()
    assert set(report.updated) == {
        "tickets.crm_category",
        "tickets.crm_severity",
        "tickets.crm_departments",
    }
    departments = ticket_property(emulator, "crm_departments")
    assert (departments["type"], departments["fieldType"]) == ("enumeration", "checkbox")
    assert labels(emulator, "crm_departments")["front_desk"] == "受付"
    fresh.portal()  # discovery is satisfied now
    ticket = next(t for t in emulator.portal.live("tickets"))
    assert ticket.properties["crm_category"] == "service_attitude"  # still a valid option
    push(fresh, [make_complaint(id="OLD-1", summary="続報")])
    assert fresh.setup().updated == ()


def test_discovery_refuses_a_dropdown_without_an_option_we_send(
    emulator: HubSpotEmulator,
) -> None:
    adapter_for(emulator).setup()
    flags = ticket_property(emulator, "crm_risk_flags")
    flags["options"] = [o for o in flags["options"] if o["value"] != "regulator"]
    with pytest.raises(ConfigError, match=r"crm_risk_flags has no option for \['regulator'\]"):
        adapter_for(emulator).portal()


# -- what tickets and tasks hold -----------------------------------------------------------------


RISKY = [
    make_complaint(
        id="R-1",
        category="side_effect",
        risk_flags=["bodily_harm", "social_media"],
        demand={"kind": "refund", "amount": "35000", "currency": "JPY"},
    ),
    make_complaint(id="R-2", category="side_effect", risk_flags=["legal_action"]),
    make_complaint(id="R-3", category="wait_time", risk_flags=["social_media"]),
    make_complaint(id="R-4", category="service_attitude"),
    make_complaint(
        id="R-5",
        category="price_billing",
        language="en",
        risk_flags=["repeat_complaint", "media"],
        demand={"kind": "compensation", "amount": "120.50", "currency": "USD"},
    ),
]


def test_sync_then_report_style_search_by_category_option_and_risk_flag(
    emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    emulator.rate_limit = RateLimit(requests=10_000, search_requests=None)  # unpaced
    adapter = adapter_for(emulator)
    adapter.setup()
    summary = sync(RISKY, adapter=adapter, store=store, policy=Policy(), retry=NO_WAIT)
    assert (summary.created, summary.quarantined, summary.exit_code) == (5, 0, 0)
    category = {"propertyName": "crm_category", "operator": "EQ", "value": "side_effect"}
    assert search(emulator, category) == {"R-1", "R-2"}
    assert search(
        emulator, {"propertyName": "crm_category", "operator": "NEQ", "value": "side_effect"}
    ) == {"R-3", "R-4", "R-5"}
    assert search(
        emulator,
        {"propertyName": "crm_category", "operator": "IN", "values": ["wait_time", "side_effect"]},
    ) == {"R-1", "R-2", "R-3"}
    sns = {"propertyName": "crm_risk_flags", "operator": "CONTAINS_TOKEN", "value": "social_media"}
    assert search(emulator, sns) == {"R-1", "R-3"}
    assert search(emulator, sns, category) == {"R-1"}
    assert search(
        emulator,
        {"propertyName": "crm_risk_flags", "operator": "IN", "values": ["legal_action", "media"]},
    ) == {"R-2", "R-5"}
    assert search(
        emulator,
        {"propertyName": "crm_risk_flags", "operator": "NOT_CONTAINS_TOKEN", "value": "media"},
    ) == {"R-1", "R-2", "R-3", "R-4"}
    assert search(
        emulator, {"propertyName": "crm_demand_amount", "operator": "GTE", "value": "1000"}
    ) == {"R-1"}


def test_tickets_hold_codes_of_flags_and_demand_and_read_back_under_generic_names(
    emulator: HubSpotEmulator,
) -> None:
    adapter = adapter_for(emulator)
    adapter.setup()
    push(adapter, RISKY)
    by_id = {
        t.properties["crm_complaint_id"]: t.properties for t in emulator.portal.live("tickets")
    }
    assert by_id["R-1"]["crm_risk_flags"] == "bodily_harm;social_media"
    assert (by_id["R-1"]["crm_demand_kind"], by_id["R-1"]["crm_demand_amount"]) == (
        "refund",
        "35000",
    )
    assert by_id["R-5"]["crm_demand_amount"] == "120.50"
    assert by_id["R-5"]["crm_demand_currency"] == "USD"
    assert by_id["R-4"]["crm_risk_flags"] == "" and by_id["R-4"]["crm_demand_kind"] == ""
    refs = {cid: {"ticket": t["hs_object_id"]} for cid, t in by_id.items()}
    record = adapter.read(refs)["R-1"]
    assert record.fields["risk_flags"] == "bodily_harm;social_media"
    assert record.fields["category"] == "side_effect"
    assert record.fields["severity"] == "critical"  # bodily harm makes it critical
    assert (record.fields["demand_kind"], record.fields["demand_currency"]) == ("refund", "JPY")


def test_flags_and_demand_stay_home_when_the_allowlist_leaves_them_out(
    emulator: HubSpotEmulator,
) -> None:
    adapter = adapter_for(emulator, allowed_fields=["id", "category", "summary"])
    adapter.setup()
    push(adapter, RISKY[:1])
    held = emulator.portal.live("tickets")[0].properties
    assert held["crm_category"] == "side_effect"
    for name in ("crm_risk_flags", "crm_demand_kind", "crm_demand_amount", "crm_demand_currency"):
        assert held[name] == "", name


def test_task_subjects_and_bodies_carry_no_english_codes_for_a_ja_complaint(
    emulator: HubSpotEmulator,
) -> None:
    adapter = adapter_for(emulator)
    adapter.setup()
    push(adapter, RISKY[:1])
    tasks = emulator.portal.live("tasks")
    assert len(tasks) >= 3
    for task in tasks:
        subject = task.properties["hs_task_subject"].removeprefix("[R-1] ")
        body = task.properties["hs_task_body"]
        assert re.search(r"[A-Za-z]", subject + body) is None, (subject, body)
    bodies = {t.properties["hs_task_body"] for t in tasks}
    assert any(b.startswith("施術後の副作用 · 緊急 · ") for b in bodies), bodies


# -- the emulator refuses what HubSpot refuses ---------------------------------------------------


def test_the_emulator_refuses_values_outside_the_options_as_hubspot_does(
    emulator: HubSpotEmulator,
) -> None:
    adapter_for(emulator).setup()
    base = {"subject": "x", "hs_pipeline": "0", "hs_pipeline_stage": "1"}
    cases = {
        "crm_category": ("not_a_category", "was not one of the allowed options"),
        "crm_risk_flags": ("bodily_harm;gossip", "gossip was not one of the allowed options"),
        "crm_demand_amount": ("35,000 yen", "was not a valid number"),
    }
    for name, (value, message) in cases.items():
        create = {"properties": {**base, name: value}, "associations": []}
        answer = api(emulator, "POST", "/crm/v3/objects/tickets", create)
        assert answer.status_code == 400, name
        body = answer.json()
        assert body["category"] == "VALIDATION_ERROR" and message in body["message"], body
        assert body["context"]["propertyName"] == [name]
    ok = {**base, "crm_risk_flags": "bodily_harm;media", "crm_demand_amount": "12.5"}
    create = {"properties": ok, "associations": []}
    assert api(emulator, "POST", "/crm/v3/objects/tickets", create).status_code == 201


def test_the_emulator_patches_a_property_within_hubspots_rules(emulator: HubSpotEmulator) -> None:
    adapter_for(emulator).setup()
    path = "/crm/v3/properties/tickets/crm_clinic"
    mismatch = api(emulator, "PATCH", path, {"type": "enumeration", "fieldType": "text"})
    assert mismatch.status_code == 400 and "not valid for type" in mismatch.json()["message"]
    ours = api(
        emulator,
        "PATCH",
        path,
        {
            "type": "enumeration",
            "fieldType": "select",
            "options": [{"label": "銀座院", "value": "tokyo-ginza", "hidden": False}],
        },
    )
    assert ours.status_code == 200, ours.text
    assert ours.json()["options"][0]["label"] == "銀座院"
    hubspots = api(
        emulator, "PATCH", "/crm/v3/properties/tickets/hs_ticket_priority", {"label": "x"}
    )
    assert hubspots.status_code == 400  # HubSpot-defined: its definition stays
    names = {spec.name for spec in TICKET_PROPERTIES}
    assert names <= set(emulator.portal.properties["tickets"])


def test_property_patch_answers_fit_the_sdk_models(emulator: HubSpotEmulator) -> None:
    """The SDK deserializes the emulator's PATCH answers with client-side validation on."""
    adapter_for(emulator).setup()
    sdk = hubspot_properties.ApiClient()
    sdk.configuration.client_side_validation = True

    def model(answer: requests.Response, name: str) -> Any:
        return sdk.deserialize(SimpleNamespace(data=answer.text), name)

    relabel = {"options": [{"label": "低い", "value": "low", "hidden": False, "displayOrder": 0}]}
    patched = api(emulator, "PATCH", "/crm/v3/properties/tickets/crm_severity", relabel)
    assert patched.status_code == 200
    assert [o.label for o in model(patched, "ModelProperty").options] == ["低い"]
    refused = api(emulator, "PATCH", "/crm/v3/properties/tickets/crm_severity", {"type": "bool"})
    assert refused.status_code == 400
    assert "not valid for type bool" in model(refused, "Error").message


def test_an_amount_goes_in_plain_decimal_notation(emulator: HubSpotEmulator) -> None:
    """A number property takes "100000"; Decimal's own str() of 1E+5 would be "1E+5"."""
    adapter = adapter_for(emulator)
    adapter.setup()
    demand = {"kind": "compensation", "amount": "1E+5", "currency": "JPY"}
    push(adapter, [make_complaint(id="AMT-1", demand=demand)])
    assert emulator.portal.live("tickets")[0].properties["crm_demand_amount"] == "100000"


def test_check_and_setup_commands_after_an_upgrade(
    emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    """`check` names a property in its older form with the setup command as the fix; the setup
    command lists what it updated; `check` passes afterwards."""
    owners = "".join(f'{dept} = "{email}"\n' for dept, email in OWNERS.items())
    config = tmp_path / "config.toml"
    config.write_text(
        f'[state]\npath = "{tmp_path / "state.db"}"\n'
        f'[adapters.hubspot]\nhost = "{emulator.base_url}"\noption_language = "ja"\n'
        f"[adapters.hubspot.owners]\n{owners}",
        encoding="utf-8",
    )
    env = {"HUBSPOT_ACCESS_TOKEN": DEMO_TOKEN}
    adapter_for(emulator).setup()
    emulator.portal.properties["tickets"]["crm_severity"] = define_property(
        "crm_severity", "old", group="crm_complaints"
    )
    args = ["--adapter", "hubspot", "--config", str(config)]
    checked = CliRunner().invoke(app, ["check", *args, "--format", "json"], env=env)
    assert checked.exit_code == 2, checked.output
    step = next(s for s in json.loads(checked.stdout)["steps"] if s["name"] == "properties")
    assert "tickets.crm_severity is string/text" in step["detail"]
    assert "crm-complaints setup --adapter hubspot" in step["fix"]

    set_up = CliRunner().invoke(app, ["setup", *args], env=env)
    assert set_up.exit_code == 0, set_up.output
    assert "updated: tickets.crm_severity" in set_up.stdout
    assert "created 0, updated 1" in set_up.stdout
    again = CliRunner().invoke(app, ["check", *args, "--format", "json"], env=env)
    assert again.exit_code == 0, again.output
