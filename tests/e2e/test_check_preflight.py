"""`crm-complaints check --adapter hubspot` against the local HubSpot: all good, then each
failure users meet on their own portals, each named with its fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result
from werkzeug.wrappers import Request, Response

from crm_complaints.adapters.hubspot.preflight import TOKEN_INFO_PATH, required_scopes
from crm_complaints.cli import app
from crm_complaints.config import load_settings
from crm_complaints.emulator import DEMO_OWNERS, DEMO_TOKEN, HubSpotEmulator, Portal, demo_portal
from crm_complaints.emulator.portal import HubSpotError
from crm_complaints.emulator.wire import error_response, json_response
from crm_complaints.job import Job
from tests.hubspot_support import OWNERS

STEPS = ["token and scopes", "pipeline, stages, owners and options", "properties", "round trip",
         "clean up"]  # fmt: skip
ALL_SCOPES = [need.scope for need in required_scopes()]


def write_config(tmp_path: Path, emulator: HubSpotEmulator, extra: str = "") -> Path:
    owners = "".join(f'{dept} = "{email}"\n' for dept, email in OWNERS.items())
    config = tmp_path / "config.toml"
    config.write_text(
        f'[state]\npath = "{tmp_path / "state.db"}"\n'
        f'[adapters.hubspot]\nhost = "{emulator.base_url}"\n'
        f"[adapters.hubspot.owners]\n{owners}{extra}",
        encoding="utf-8",
    )
    return config


def run_check(config: Path, *, token: str | None = DEMO_TOKEN, json_out: bool = True) -> Result:
    env = {"HUBSPOT_ACCESS_TOKEN": token}  # None unsets it
    args = ["check", "--adapter", "hubspot", "--config", str(config)]
    return CliRunner().invoke(app, [*args, "--format", "json"] if json_out else args, env=env)


def steps_of(result: Result) -> dict[str, dict[str, str]]:
    report = json.loads(result.stdout)
    assert [s["name"] for s in report["steps"]] == STEPS
    assert report["exit_code"] == result.exit_code
    return {s["name"]: s for s in report["steps"]}


def set_up(config: Path) -> None:
    Job(load_settings(config), environ={"HUBSPOT_ACCESS_TOKEN": DEMO_TOKEN}).setup("hubspot")


@pytest.fixture
def emulator() -> Iterator[HubSpotEmulator]:
    # Unique task properties refused, as HubSpot documents: check must pass without them.
    running = HubSpotEmulator(demo_portal(unique_task_properties=False)).start()
    try:
        yield running
    finally:
        running.stop()
    assert running.violations == [], "requests or responses broke HubSpot's OpenAPI contract"


def test_a_set_up_portal_passes_and_the_synthetic_complaint_is_archived(
    tmp_path: Path, emulator: HubSpotEmulator
) -> None:
    config = write_config(tmp_path, emulator)
    set_up(config)
    result = run_check(config)
    assert result.exit_code == 0, result.output
    steps = steps_of(result)
    assert {s["outcome"] for s in steps.values()} == {"passed"}
    portal = emulator.portal
    # Everything the round trip wrote is archived: one ticket and its six tasks, all CHECK-.
    written = [o for o in portal.objects["tickets"].values()]
    assert len(written) == 1 and written[0].archived
    assert written[0].properties["crm_complaint_id"].startswith("CHECK-")
    tasks = list(portal.objects["tasks"].values())
    assert len(tasks) == 6 and all(t.archived for t in tasks)
    assert portal.live("tickets") == [] and portal.live("tasks") == []
    ticket_id = written[0].id
    assert ticket_id in steps["clean up"]["detail"]
    # Updating the deleted ticket was tried and made nothing (still one ticket, archived).
    assert "answered 'not found' and made nothing" in steps["clean up"]["detail"]
    assert not (tmp_path / "state.db").exists(), "check must not touch the state store"
    assert DEMO_TOKEN not in result.output


def test_text_output_says_ok_per_step_and_exits_0(
    tmp_path: Path, emulator: HubSpotEmulator
) -> None:
    config = write_config(tmp_path, emulator)
    set_up(config)
    result = run_check(config, json_out=False)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:5]] == [f"ok   {name}" for name in STEPS]
    assert lines[-1] == "hubspot: all checks passed"


def test_before_setup_the_missing_properties_are_named_with_the_setup_command(
    tmp_path: Path, emulator: HubSpotEmulator
) -> None:
    result = run_check(write_config(tmp_path, emulator))
    assert result.exit_code == 2, result.output
    steps = steps_of(result)
    properties = steps["properties"]
    assert properties["outcome"] == "failed"
    assert "tasks.crm_task_key" in properties["detail"]
    assert "tickets.crm_complaint_id" in properties["detail"]
    assert "crm-complaints setup --adapter hubspot" in properties["fix"]
    assert steps["round trip"]["outcome"] == "skipped"
    assert "properties failed" in steps["round trip"]["detail"]
    assert emulator.portal.objects["tickets"] == {}, "nothing is written before setup"


def test_an_owner_missing_from_the_portal_is_named_by_its_config_key_not_its_email(
    tmp_path: Path, emulator: HubSpotEmulator
) -> None:
    config = write_config(
        tmp_path,
        emulator,
        '[clinics.tokyo-ginza.owners]\nphysician = { owner = "doctor@clinic.example", '
        'deputy = "locum.gone@clinic.example" }\n',
    )
    set_up(config)
    result = run_check(config)
    assert result.exit_code == 2, result.output
    portal_step = steps_of(result)["pipeline, stages, owners and options"]
    assert portal_step["outcome"] == "failed"
    assert "clinics.tokyo-ginza.owners.physician.deputy: no HubSpot owner" in portal_step["detail"]
    assert "locum.gone" not in result.output  # an e-mail is a person's: only the key is printed
    assert "e-mail" in portal_step["fix"]


def test_a_deactivated_owner_is_reported_as_such(tmp_path: Path) -> None:
    owners = [o if o.email != OWNERS["physician"] else _deactivated(o) for o in DEMO_OWNERS]
    portal = demo_portal()
    portal.owners = owners
    running = HubSpotEmulator(portal).start()
    try:
        config = write_config(tmp_path, running)
        set_up(config)
        result = run_check(config)
    finally:
        running.stop()
    assert result.exit_code == 2, result.output
    detail = steps_of(result)["pipeline, stages, owners and options"]["detail"]
    assert "adapters.hubspot.owners.physician: the owner is a deactivated HubSpot user" in detail


def test_a_stage_missing_from_the_pipeline_names_each_status_that_maps_to_it(
    tmp_path: Path, emulator: HubSpotEmulator
) -> None:
    pipeline = emulator.portal.pipelines[0]
    pipeline["stages"] = [s for s in pipeline["stages"] if s["label"] != "Waiting on contact"]
    config = write_config(tmp_path, emulator)
    set_up(config)
    result = run_check(config)
    assert result.exit_code == 2, result.output
    steps = steps_of(result)
    detail = steps["pipeline, stages, owners and options"]["detail"]
    assert "adapters.hubspot.stages.resolution_proposed" in detail
    assert "adapters.hubspot.stages.resolving" in detail
    assert "no stage 'Waiting on contact'" in detail
    assert steps["round trip"]["outcome"] == "skipped"


def test_an_option_the_portal_lacks_is_named_by_its_config_key(
    tmp_path: Path, emulator: HubSpotEmulator
) -> None:
    config = write_config(
        tmp_path, emulator, '[adapters.hubspot.priorities]\ncritical = "EMERGENCY"\n'
    )
    set_up(config)
    result = run_check(config)
    assert result.exit_code == 2, result.output
    detail = steps_of(result)["pipeline, stages, owners and options"]["detail"]
    assert "adapters.hubspot.priorities.critical: hs_ticket_priority has no option" in detail


def test_no_token_names_the_variable_and_skips_the_rest(
    tmp_path: Path, emulator: HubSpotEmulator
) -> None:
    result = run_check(write_config(tmp_path, emulator), token=None)
    assert result.exit_code == 2, result.output
    steps = steps_of(result)
    assert steps["token and scopes"]["outcome"] == "failed"
    assert "HUBSPOT_ACCESS_TOKEN" in steps["token and scopes"]["detail"]
    assert "private app" in steps["token and scopes"]["fix"]
    assert [steps[name]["outcome"] for name in STEPS[1:]] == ["skipped"] * 4
    assert emulator.stats.snapshot()["requests"] == 0


def test_a_refused_token_fails_without_printing_it(
    tmp_path: Path, emulator: HubSpotEmulator
) -> None:
    wrong = "pat-na1-00000000-wrong-token"
    result = run_check(write_config(tmp_path, emulator), token=wrong)
    assert result.exit_code == 2, result.output
    token_step = steps_of(result)["token and scopes"]
    assert token_step["outcome"] == "failed" and "401" in token_step["detail"]
    assert wrong not in result.output


# -- scopes ---------------------------------------------------------------------------------
class ScopedEmulator(HubSpotEmulator):
    """HubSpot's scope checks on the requests the check sends: a private app token's scopes
    answered at the introspection endpoint (or not, like another kind of token), and 403
    MISSING_SCOPES with ``requiredGranularScopes`` for a request the token may not make."""

    def __init__(self, granted: list[str], *, introspection: bool = True, **kw: Any) -> None:
        super().__init__(demo_portal(), **kw)
        self.granted = set(granted)
        self.introspection = introspection
        self.asked: list[str] = []

    def _handle(self, request: Request, environ: dict[str, Any]) -> Response | None:
        if request.path == TOKEN_INFO_PATH and self.introspection:
            assert request.get_json()["tokenKey"] == self.token
            return json_response(
                200, {"userId": 1, "hubId": 4242, "appId": 7, "scopes": sorted(self.granted)}
            )
        needed = _scope_for(request)
        if needed is not None and needed not in self.granted:
            self.asked.append(needed)
            return error_response(
                HubSpotError(
                    403,
                    "This app hasn't been granted all required scopes to make this call.",
                    category="MISSING_SCOPES",
                    extra={
                        "errors": [
                            {
                                "message": "One or more of the following scopes are required.",
                                "context": {"requiredGranularScopes": [needed]},
                            }
                        ]
                    },
                )
            )
        return super()._handle(request, environ)


def _scope_for(request: Request) -> str | None:
    path = request.path
    reading = request.method == "GET" or path.endswith(("/read", "/search"))
    if path.startswith("/crm/v3/objects/tasks"):
        return "crm.objects.contacts.read" if reading else "crm.objects.contacts.write"
    if path.startswith("/crm/v3/properties/tasks"):
        return "crm.schemas.contacts.read" if reading else "crm.schemas.contacts.write"
    if path.startswith("/crm/v3/owners"):
        return "crm.objects.owners.read"
    if path.startswith("/crm/v3/objects/tickets"):
        return "tickets"
    return None


def test_a_missing_scope_is_named_from_the_tokens_own_scopes(tmp_path: Path) -> None:
    granted = [s for s in ALL_SCOPES if s != "crm.objects.contacts.write"]
    running = ScopedEmulator(granted).start()
    try:
        result = run_check(write_config(tmp_path, running))
    finally:
        running.stop()
    assert result.exit_code == 2, result.output
    token_step = steps_of(result)["token and scopes"]
    assert token_step["detail"].endswith("lacks scope(s) crm.objects.contacts.write")
    assert "crm.objects.contacts.write" in token_step["fix"] and "Scopes" in token_step["fix"]
    assert "portal 4242" in token_step["detail"]
    assert DEMO_TOKEN not in result.output


def test_every_scope_granted_passes_the_token_step(tmp_path: Path) -> None:
    running = ScopedEmulator(ALL_SCOPES).start()
    try:
        config = write_config(tmp_path, running)
        set_up(config)
        result = run_check(config)
    finally:
        running.stop()
    assert result.exit_code == 0, result.output
    assert running.asked == []


def test_without_introspection_a_read_probe_names_the_missing_scope(tmp_path: Path) -> None:
    granted = [s for s in ALL_SCOPES if s != "crm.objects.owners.read"]
    running = ScopedEmulator(granted, introspection=False).start()
    try:
        result = run_check(write_config(tmp_path, running))
    finally:
        running.stop()
    assert result.exit_code == 2, result.output
    token_step = steps_of(result)["token and scopes"]
    assert "lacks scope(s) crm.objects.owners.read" in token_step["detail"]
    assert "MISSING_SCOPES" in token_step["detail"]
    # The fix lists the write scopes too: a probe cannot see them.
    assert "crm.objects.contacts.write" in token_step["fix"]


def test_a_write_scope_missing_behind_probes_fails_the_round_trip_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    """Probes read; a token that cannot write tasks is caught by the round trip, and the
    ticket it did write is archived."""
    granted = [s for s in ALL_SCOPES if s != "crm.objects.contacts.write"]
    running = ScopedEmulator(ALL_SCOPES, introspection=False).start()
    try:
        config = write_config(tmp_path, running)
        set_up(config)
        running.granted = set(granted)
        result = run_check(config)
    finally:
        running.stop()
    assert result.exit_code == 2, result.output
    steps = steps_of(result)
    assert steps["token and scopes"]["outcome"] == "passed"
    assert steps["round trip"]["outcome"] == "failed"
    assert "crm.objects.contacts.write" in steps["round trip"]["fix"]
    assert steps["clean up"]["outcome"] == "passed"
    assert running.portal.live("tickets") == [] and running.portal.live("tasks") == []


# -- clean-up failures ----------------------------------------------------------------------
class UndeletablePortal(Portal):
    """A portal whose archive endpoint is down (HubSpot answers 503)."""

    def archive(self, object_type: str, object_id: str) -> None:
        raise HubSpotError(503, "Service unavailable", category="SERVICE_UNAVAILABLE")


def test_when_archiving_fails_the_ids_to_delete_by_hand_are_given(tmp_path: Path) -> None:
    demo = demo_portal()
    running = HubSpotEmulator(
        UndeletablePortal(owners=demo.owners, pipelines=demo.pipelines)
    ).start()
    try:
        config = write_config(tmp_path, running)
        set_up(config)
        result = run_check(config)
    finally:
        running.stop()
    assert result.exit_code == 2, result.output
    steps = steps_of(result)
    assert steps["round trip"]["outcome"] == "passed"
    clean_up = steps["clean up"]
    assert clean_up["outcome"] == "failed"
    [ticket] = running.portal.live("tickets")
    tasks = running.portal.live("tasks")
    assert len(tasks) == 6
    assert clean_up["fix"].startswith("delete by hand in HubSpot:")
    for leftover in [ticket, *tasks]:
        assert leftover.id in clean_up["fix"]


def _deactivated(owner: Any) -> Any:
    from dataclasses import replace

    return replace(owner, archived=True)


def test_hubspot_down_during_the_round_trip_says_check_again_and_leaves_nothing(
    tmp_path: Path, emulator: HubSpotEmulator
) -> None:
    config = write_config(tmp_path, emulator)
    set_up(config)
    emulator.script = [(503, '"crm_complaint_id": "CHECK-')]  # the synthetic ticket's upsert
    result = run_check(config)
    assert result.exit_code == 2, result.output
    steps = steps_of(result)
    assert steps["round trip"]["outcome"] == "failed"
    assert "retryable" in steps["round trip"]["detail"]
    assert "check again" in steps["round trip"]["fix"]
    assert steps["clean up"]["outcome"] == "passed"
    assert emulator.portal.objects["tickets"] == {} and emulator.portal.objects["tasks"] == {}
    assert emulator.stats.snapshot()["injected"] == 1


def test_an_adapter_without_a_preflight_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["check", "--adapter", "webhook"])
    assert result.exit_code == 2
    assert "no preflight check for adapter 'webhook'" in result.output


def test_hubspot_down_while_probing_scopes_is_a_failed_step_not_a_crash(
    tmp_path: Path, emulator: HubSpotEmulator
) -> None:
    # Any request matches "": the first 503 meets the introspection (we fall back to probes),
    # the second the first probe.
    emulator.script = [(503, ""), (503, "")]
    result = run_check(write_config(tmp_path, emulator))
    assert result.exit_code == 2, result.output
    token_step = steps_of(result)["token and scopes"]
    assert token_step["outcome"] == "failed" and "503" in token_step["detail"]
    assert "check again" in token_step["fix"]


def test_the_emulators_own_scope_checks_name_the_missing_task_scope(tmp_path: Path) -> None:
    """The emulator holds each request to its spec's ``security`` (no introspection there):
    the task read probe meets its 403 MISSING_SCOPES."""
    granted = [s for s in ALL_SCOPES if s != "crm.objects.contacts.read"]
    running = HubSpotEmulator(demo_portal(), scopes=granted).start()
    try:
        result = run_check(write_config(tmp_path, running))
    finally:
        running.stop()
    assert result.exit_code == 2, result.output
    token_step = steps_of(result)["token and scopes"]
    assert "lacks scope(s) crm.objects.contacts.read" in token_step["detail"]
    assert running.portal.objects["tickets"] == {}


def test_exactly_the_documented_scopes_suffice_for_setup_and_the_round_trip(
    tmp_path: Path,
) -> None:
    """The README's scope list, held to every spec'd operation's ``security`` by the
    emulator: setup, discovery, the round trip and the clean-up all get through."""
    running = HubSpotEmulator(demo_portal(), scopes=ALL_SCOPES).start()
    try:
        config = write_config(tmp_path, running)
        set_up(config)
        result = run_check(config)
    finally:
        running.stop()
    assert result.exit_code == 0, result.output
    assert running.violations == []
