"""Per-clinic routing and reminders in HubSpot (issue 12), against the emulator."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from crm_complaints.adapters.hubspot import HubSpotAdapter
from crm_complaints.config import ClinicConfig, PolicyConfig, ReminderConfig, Settings
from crm_complaints.emulator import DEMO_TOKEN, HubSpotEmulator, Owner
from crm_complaints.errors import ConfigError
from crm_complaints.policy import Policy
from crm_complaints.reconcile import FindingKind, reconcile
from crm_complaints.retry import RetryPolicy
from crm_complaints.schema import Complaint
from crm_complaints.state import SqlStateStore
from crm_complaints.sync import SyncSummary, sync
from tests.conftest import make_complaint
from tests.hubspot_support import OWNERS, make_adapter

TOKYO = ZoneInfo("Asia/Tokyo")
SHANGHAI = ZoneInfo("Asia/Shanghai")
# Before every complaint below: no reminder is past yet.
BEFORE = datetime(2026, 11, 1, tzinfo=UTC)
# The demo portal's adapter-wide owners (tests.hubspot_support.OWNERS) have ids 101-104.
FRONT_DESK, CARE, DOCTOR, DIRECTOR = "101", "102", "103", "104"
CHAIN_OWNERS = [
    Owner("201", "dr.ginza@chain.example", "Aoi", "Mori"),
    Owner("202", "dr.osaka@chain.example", "Ren", "Ueda"),
    Owner("203", "dr.osaka2@chain.example", "Sora", "Ito"),
    Owner("204", "dr.sh@chain.example", "Wei", "Zhang"),
    Owner("205", "boss.ginza@chain.example", "Jun", "Abe"),
    Owner("206", "desk.osaka@chain.example", "Mei", "Oda"),
    Owner("207", "dr.kato@chain.example", "Yuki", "Kato"),
    Owner("299", "dr.gone@chain.example", "Taro", "Left", archived=True),
]


def chain_settings(ginza_physician: str = "dr.ginza@chain.example") -> Settings:
    return Settings(
        clinics={
            "tokyo-ginza": ClinicConfig(
                owners={
                    "physician": ginza_physician,
                    "management": "boss.ginza@chain.example",
                },
                staff={"PH-7": "dr.kato@chain.example"},
            ),
            "osaka-umeda": ClinicConfig(
                owners={
                    "physician": {
                        "owner": "dr.osaka@chain.example",
                        "deputy": "dr.osaka2@chain.example",
                        "away": ["2026-12-24..2026-12-31"],
                    },
                    "front_desk": "desk.osaka@chain.example",
                },
            ),
            "shanghai-jingan": ClinicConfig(
                time_zone="Asia/Shanghai",
                country="CN",
                language="zh-Hans",
                owners={"physician": "dr.sh@chain.example"},
            ),
        },
    )


@pytest.fixture
def chain_emulator(emulator: HubSpotEmulator) -> HubSpotEmulator:
    emulator.portal.owners = [*emulator.portal.owners, *CHAIN_OWNERS]
    return emulator


def ready_adapter(emulator: HubSpotEmulator, **overrides: Any) -> HubSpotAdapter:
    adapter = make_adapter(emulator, **overrides)
    adapter.setup()
    adapter.clock = lambda: BEFORE
    return adapter


def run(
    adapter: HubSpotAdapter, store: SqlStateStore, settings: Settings, complaints: list[Complaint]
) -> SyncSummary:
    return sync(
        complaints,
        adapter=adapter,
        store=store,
        policy=Policy.from_settings(settings),
        retry=RetryPolicy.no_wait(max_attempts=10),
    )


def task_props(emulator: HubSpotEmulator, complaint_id: str) -> dict[str, dict[str, str]]:
    """Task kind → the properties HubSpot holds for it."""
    return {
        t.properties["crm_task_key"].rsplit(":", 1)[1]: t.properties
        for t in emulator.portal.live("tasks")
        if t.properties["crm_task_key"].startswith(f"{complaint_id}:")
    }


def ticket_owner(emulator: HubSpotEmulator, complaint_id: str) -> str | None:
    ticket = next(
        t
        for t in emulator.portal.live("tickets")
        if t.properties["crm_complaint_id"] == complaint_id
    )
    return ticket.properties.get("hubspot_owner_id")


def owners_of(emulator: HubSpotEmulator, complaint_id: str) -> dict[str, str | None]:
    return {k: p.get("hubspot_owner_id") for k, p in task_props(emulator, complaint_id).items()}


def test_a_chain_of_three_clinics_in_two_zones_routes_to_each_clinics_owners(
    chain_emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    settings = chain_settings()
    adapter = ready_adapter(chain_emulator)
    received = "2026-11-18T01:00:00+00:00"  # 10:00 Tokyo/Osaka, 09:00 Shanghai
    complaints = [
        make_complaint(
            id="G-1", clinic="tokyo-ginza", category="medical_quality", received_at=received
        ),
        make_complaint(
            id="O-1", clinic="osaka-umeda", category="medical_quality", received_at=received
        ),
        make_complaint(
            id="S-1", clinic="shanghai-jingan", category="medical_quality", received_at=received
        ),
        # Osaka over Christmas: the physician is away, the deputy takes the work.
        make_complaint(
            id="O-2",
            clinic="osaka-umeda",
            category="medical_quality",
            received_at="2026-12-24T10:00:00+09:00",
        ),
    ]
    summary = run(adapter, store, settings, complaints)
    assert (summary.created, summary.quarantined, summary.failed) == (4, 0, 0)

    ginza, osaka, shanghai = (owners_of(chain_emulator, c) for c in ("G-1", "O-1", "S-1"))
    assert ginza["initial_response"] == ginza["investigation"] == "201"
    assert osaka["initial_response"] == osaka["investigation"] == "202"
    assert shanghai["initial_response"] == shanghai["investigation"] == "204"
    # A department the clinic does not name: the adapter-wide mapping.
    assert ginza["report_supervisor"] == shanghai["report_supervisor"] == FRONT_DESK
    assert osaka["report_supervisor"] == "206"
    # Management: Ginza's own, the others the adapter-wide one.
    assert ginza["report_executive"] == ginza["incident_report"] == "205"
    assert osaka["incident_report"] == shanghai["incident_report"] == DIRECTOR
    # Not escalated: the physician coordinates, and owns the ticket.
    assert [ticket_owner(chain_emulator, c) for c in ("G-1", "O-1", "S-1")] == [
        "201",
        "202",
        "204",
    ]
    away = owners_of(chain_emulator, "O-2")
    assert away["initial_response"] == away["investigation"] == "203"
    # Due dates in each clinic's zone, written as UTC instants.
    sh_due = task_props(chain_emulator, "S-1")["investigation"]["hs_timestamp"]
    assert datetime.fromisoformat(sh_due.replace("Z", "+00:00")) == datetime(
        2026, 11, 19, 17, tzinfo=SHANGHAI
    )
    assert adapter.owner_fallback_count == 0
    assert summary.adapter_counts == {} and "fallback" not in summary.line()


def test_a_deactivated_owner_falls_back_says_so_and_reconcile_reports_it(
    chain_emulator: HubSpotEmulator, store: SqlStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    settings = chain_settings(ginza_physician="dr.gone@chain.example")
    adapter = ready_adapter(chain_emulator)
    complaints = [
        make_complaint(id="G-2", clinic="tokyo-ginza", category="side_effect"),
        make_complaint(id="G-3", clinic="tokyo-ginza", category="wait_time"),
    ]
    with caplog.at_level(logging.WARNING):
        summary = run(adapter, store, settings, complaints)
    assert (summary.created, summary.quarantined, summary.failed) == (2, 0, 0)
    # Never dropped: the physician's work goes to the adapter-wide physician owner.
    owners = owners_of(chain_emulator, "G-2")
    assert owners["initial_response"] == owners["investigation"] == DOCTOR
    assert owners["incident_report"] == "205"  # management unaffected
    assert "299" not in {o for c in ("G-2", "G-3") for o in owners_of(chain_emulator, c).values()}
    # The run says so, once per configured owner, without the owner's e-mail.
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    fallback_lines = [w for w in warnings if "clinics.tokyo-ginza.owners.physician" in w]
    assert len(fallback_lines) == 1
    assert (
        "deactivated" in fallback_lines[0]
        and "adapters.hubspot.owners.physician" in fallback_lines[0]
    )
    assert not any("dr.gone" in w or "@" in w for w in warnings)
    # 2 physician tasks of G-2 (first response, investigation); G-3 has none.
    assert adapter.owner_fallback_count == 2
    assert summary.adapter_counts == {"owner_fallbacks": 2}
    assert "owner fallbacks 2" in summary.line()

    report = reconcile(
        complaints, adapter=adapter, store=store, policy=Policy.from_settings(settings)
    )
    found = report.of(FindingKind.OWNER_FALLBACK)
    assert [f.complaint_id for f in found] == ["G-2"]
    assert found[0].department == "physician"
    assert found[0].ours == "clinics.tokyo-ginza.owners.physician (owner)"
    assert found[0].theirs == "adapters.hubspot.owners.physician"
    assert "initial_response" in found[0].detail and "investigation" in found[0].detail
    assert report.exit_code == 5
    # Not drift: the ticket's owner is what we would write.
    assert report.of(FindingKind.DRIFTED) == []


def test_an_adapter_wide_owner_deactivated_falls_back_to_management(
    chain_emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    adapter = ready_adapter(
        chain_emulator, owners={**OWNERS, "care_staff": "dr.gone@chain.example"}
    )
    settings = Settings()
    complaint = make_complaint(id="P-1", category="product")  # care staff leads
    summary = run(adapter, store, settings, [complaint])
    assert (summary.created, summary.quarantined) == (1, 0)
    owners = owners_of(chain_emulator, "P-1")
    assert owners["initial_response"] == owners["investigation"] == DIRECTOR
    assert [f.used for f in adapter.owner_fallbacks(Policy().planned(complaint))] == [
        "adapters.hubspot.owners.management"
    ] * 4  # ticket, initial response, investigation, resolution plan


def test_an_unknown_adapter_wide_owner_is_still_a_config_error(
    chain_emulator: HubSpotEmulator,
) -> None:
    adapter = ready_adapter(chain_emulator, owners={"physician": "typo@chain.example"})
    with pytest.raises(ConfigError) as caught:
        adapter.portal()
    assert caught.value.key == "adapters.hubspot.owners.physician"


def test_unknown_clinic_owner_falls_back_as_unknown(
    chain_emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    settings = Settings(
        clinics={"tokyo-ginza": ClinicConfig(owners={"front_desk": "nobody@x.example"})}
    )
    adapter = ready_adapter(chain_emulator)
    run(adapter, store, settings, [make_complaint(id="U-1")])
    owners = owners_of(chain_emulator, "U-1")
    assert owners["initial_response"] == FRONT_DESK
    reasons = {
        f.reason
        for f in adapter.owner_fallbacks(
            Policy.from_settings(settings).planned(make_complaint(id="U-1"))
        )
    }
    assert reasons == {"unknown"}


def test_assignee_owns_the_primary_tasks_and_falls_back_when_deactivated(
    chain_emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    settings = chain_settings()
    adapter = ready_adapter(chain_emulator)
    complaints = [
        make_complaint(id="A-1", category="medical_quality", assignee="PH-7"),
        make_complaint(id="A-2", category="medical_quality", assignee="dr.gone@chain.example"),
    ]
    run(adapter, store, settings, complaints)
    mapped = owners_of(chain_emulator, "A-1")
    assert mapped["initial_response"] == mapped["investigation"] == "207"
    assert mapped["report_supervisor"] == FRONT_DESK  # reports go up the line
    # A deactivated assignee: the clinic's physician owner instead, and it is reported.
    fallen = owners_of(chain_emulator, "A-2")
    assert fallen["initial_response"] == fallen["investigation"] == "201"
    fallbacks = adapter.owner_fallbacks(Policy.from_settings(settings).planned(complaints[1]))
    assert {(f.wanted, f.reason, f.used) for f in fallbacks} == {
        ("the complaint's assignee", "deactivated", "clinics.tokyo-ginza.owners.physician (owner)")
    }


def test_management_reporter_gets_one_report_task_in_hubspot(
    emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    adapter = ready_adapter(emulator)
    run(
        adapter,
        store,
        Settings(),
        [make_complaint(id="M-1", reporter={"department": "management"})],
    )
    kinds = set(task_props(emulator, "M-1"))
    assert "report_supervisor" not in kinds
    assert "report_executive" in kinds
    assert len(kinds) == 5  # executive report, first response, investigation, plan, incident


def millis(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def test_reminders_are_written_as_hubspot_milliseconds_per_kind(
    emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    adapter = ready_adapter(emulator)
    complaint = make_complaint(
        id="R-1", category="product", received_at="2026-11-18T10:07:00+09:00"
    )
    run(adapter, store, Settings(), [complaint])
    got = {k: p["hs_task_reminders"] for k, p in task_props(emulator, "R-1").items()}
    assert got == {
        "report_supervisor": millis(datetime(2026, 11, 18, 10, 27, tzinfo=TOKYO)),
        "report_executive": millis(datetime(2026, 11, 18, 10, 27, tzinfo=TOKYO)),
        "initial_response": millis(datetime(2026, 11, 18, 11, 37, tzinfo=TOKYO)),
        # Business-day tasks: 08:00 (opening) on the due day.
        "investigation": millis(datetime(2026, 11, 19, 8, tzinfo=TOKYO)),
        "resolution_plan": millis(datetime(2026, 11, 21, 8, tzinfo=TOKYO)),
        "incident_report": millis(datetime(2026, 12, 1, 8, tzinfo=TOKYO)),
    }
    assert got["initial_response"] == "1794969420000"


def test_reminders_switched_off_past_or_done_are_cleared(
    emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    adapter = ready_adapter(emulator)
    settings = Settings(policy=PolicyConfig(reminders=ReminderConfig(investigation="off")))
    run(adapter, store, settings, [make_complaint(id="R-2")])
    got = {k: p["hs_task_reminders"] for k, p in task_props(emulator, "R-2").items()}
    assert got["investigation"] == ""
    assert got["initial_response"] != ""
    # Later the complaint is acknowledged: the done tasks' reminders are cleared in place.
    acknowledged = make_complaint(id="R-2", acknowledged_at="2026-11-18T10:20:00+09:00")
    # By now the resolution plan's reminder (21 Nov 08:00) is past; its task did not change,
    # so it is not written at all (time passing is not a change).
    before = task_props(emulator, "R-2")["resolution_plan"]["hs_task_reminders"]
    adapter.clock = lambda: datetime(2026, 11, 21, 9, tzinfo=TOKYO)
    run(adapter, store, settings, [acknowledged])
    got = {k: p["hs_task_reminders"] for k, p in task_props(emulator, "R-2").items()}
    assert got["initial_response"] == got["report_supervisor"] == ""
    assert got["resolution_plan"] == before != ""
    assert got["incident_report"] == millis(datetime(2026, 12, 1, 8, tzinfo=TOKYO))
    # A task written afresh while its reminder is past gets none.
    settings_later = Settings(policy=PolicyConfig(reminders=ReminderConfig(investigation="off")))
    run(adapter, store, settings_later, [make_complaint(id="R-2b")])
    later = {k: p["hs_task_reminders"] for k, p in task_props(emulator, "R-2b").items()}
    assert later["resolution_plan"] == ""


def test_adapter_reminders_off_leaves_the_property_alone(
    emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    adapter = ready_adapter(emulator, reminders=False)
    run(adapter, store, Settings(), [make_complaint(id="R-3")])
    assert all("hs_task_reminders" not in p for p in task_props(emulator, "R-3").values())


@pytest.mark.parametrize(
    ("reminder", "message"),
    [
        (str(int(datetime(2026, 11, 18, 12, 1, tzinfo=TOKYO).timestamp() * 1000)), "after"),
        ("2026-11-18T10:00:00Z", "milliseconds"),
        ("1794969420000;soon", "milliseconds"),
    ],
)
def test_emulator_refuses_reminders_after_the_due_date_or_in_another_format(
    emulator: HubSpotEmulator, reminder: str, message: str
) -> None:
    due = datetime(2026, 11, 18, 12, tzinfo=TOKYO)
    answer = requests.post(
        f"{emulator.base_url}/crm/v3/objects/tasks",
        json={
            "properties": {"hs_timestamp": millis(due), "hs_task_reminders": reminder},
            "associations": [],
        },
        headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
        timeout=5,
    )
    assert answer.status_code == 400
    assert message in answer.json()["message"]
    # Several reminders before the due date are fine.
    ok = f"{millis(datetime(2026, 11, 18, 11, tzinfo=TOKYO))};{millis(due)}"
    accepted = requests.post(
        f"{emulator.base_url}/crm/v3/objects/tasks",
        json={
            "properties": {"hs_timestamp": millis(due), "hs_task_reminders": ok},
            "associations": [],
        },
        headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
        timeout=5,
    )
    assert accepted.status_code == 201, accepted.text


def test_emulator_lists_deactivated_owners_only_when_asked(chain_emulator: HubSpotEmulator) -> None:
    auth = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    url = f"{chain_emulator.base_url}/crm/v3/owners"
    active = requests.get(url, headers=auth, timeout=5).json()["results"]
    archived = requests.get(url, params={"archived": "true"}, headers=auth, timeout=5).json()
    assert "299" not in {o["id"] for o in active}
    assert [(o["id"], o["archived"]) for o in archived["results"]] == [("299", True)]
    assert "userId" not in archived["results"][0]
    assert archived["results"][0]["userIdIncludingInactive"] == 299


def test_owner_deactivated_after_sync_is_reported_and_repaired(
    chain_emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    settings = chain_settings()
    policy = Policy.from_settings(settings)
    complaints = [make_complaint(id="G-5", clinic="tokyo-ginza", category="medical_quality")]
    run(ready_adapter(chain_emulator), store, settings, complaints)
    assert owners_of(chain_emulator, "G-5")["incident_report"] == "205"
    # Ginza's director leaves: HubSpot deactivates the user. The complaint does not change, so
    # no sync would touch its tasks again; the ticket (the physician's) shows no drift.
    chain_emulator.portal.owners = [
        Owner(o.id, o.email, o.first_name, o.last_name, archived=True) if o.id == "205" else o
        for o in chain_emulator.portal.owners
    ]
    nightly = ready_adapter(chain_emulator)  # a new process: discovery sees the deactivation
    report = reconcile(complaints, adapter=nightly, store=store, policy=policy, repair=True)
    assert [f.complaint_id for f in report.of(FindingKind.OWNER_FALLBACK)] == ["G-5"]
    assert report.of(FindingKind.DRIFTED) == []
    assert report.repair is not None and report.repair.failed == 0
    owners = owners_of(chain_emulator, "G-5")
    assert owners["report_executive"] == owners["incident_report"] == DIRECTOR
    assert ticket_owner(chain_emulator, "G-5") == "201"


def second_pipeline(emulator: HubSpotEmulator) -> None:
    """A "China Pipeline" beside the demo's, with the same stage labels and its own ids."""
    demo = emulator.portal.pipelines[0]
    emulator.portal.pipelines = [
        demo,
        {
            **demo,
            "id": "7",
            "label": "China Pipeline",
            "displayOrder": 1,
            "stages": [{**stage, "id": f"7{stage['id']}"} for stage in demo["stages"]],
        },
    ]


def test_a_clinic_may_have_its_own_pipeline(
    chain_emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    second_pipeline(chain_emulator)
    settings = chain_settings()
    adapter = ready_adapter(chain_emulator, clinic_pipelines={"shanghai-jingan": "China Pipeline"})
    complaints = [
        make_complaint(id="S-7", clinic="shanghai-jingan", status="acknowledged"),
        make_complaint(id="G-7", clinic="tokyo-ginza", status="acknowledged"),
    ]
    summary = run(adapter, store, settings, complaints)
    assert (summary.created, summary.quarantined) == (2, 0)
    tickets = {
        t.properties["crm_complaint_id"]: t.properties
        for t in chain_emulator.portal.live("tickets")
    }
    assert (tickets["S-7"]["hs_pipeline"], tickets["S-7"]["hs_pipeline_stage"]) == ("7", "73")
    assert (tickets["G-7"]["hs_pipeline"], tickets["G-7"]["hs_pipeline_stage"]) == ("0", "3")
    # Reading back knows both pipelines' stages: no drift, and a close there is seen.
    chain_emulator.portal.objects["tickets"][
        next(
            t.id
            for t in chain_emulator.portal.live("tickets")
            if t.properties["crm_complaint_id"] == "S-7"
        )
    ].properties["hs_pipeline_stage"] = "74"
    report = reconcile(
        complaints, adapter=adapter, store=store, policy=Policy.from_settings(settings)
    )
    assert report.of(FindingKind.DRIFTED) == []
    moved = report.of(FindingKind.STATUS_MOVED)
    assert [(f.complaint_id, f.theirs) for f in moved] == [("S-7", "Closed")]


def test_an_unknown_clinic_pipeline_names_its_key(chain_emulator: HubSpotEmulator) -> None:
    adapter = ready_adapter(chain_emulator, clinic_pipelines={"taipei-daan": "Nope"})
    with pytest.raises(ConfigError) as caught:
        adapter.portal()
    assert caught.value.key == "adapters.hubspot.clinic_pipelines.taipei-daan"
