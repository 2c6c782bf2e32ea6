"""The emulator against HubSpot's own specs: schemathesis drives every spec'd operation.

Zero server errors, zero answers that break the spec, and 405 (with ``Allow``) for methods a
path does not declare. Examples per operation are bounded so the run stays within a minute or
two; the seed is fixed so a failure reproduces.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from crm_complaints.emulator import DEMO_TOKEN, HubSpotEmulator, RateLimit, running_emulator
from crm_complaints.emulator.contract import SPEC_FILES
from crm_complaints.emulator.operations import all_scopes

SPECS = Path(__file__).resolve().parents[2] / "src" / "crm_complaints" / "emulator" / "specs"
CHECKS = "not_a_server_error,response_schema_conformance,unsupported_method"


@pytest.mark.parametrize("spec", sorted(SPEC_FILES.values()))
def test_schemathesis_finds_nothing(spec: str, tmp_path: Path) -> None:
    with running_emulator(rate_limit=RateLimit(requests=1_000_000)) as emulator:
        done = subprocess.run(
            [
                sys.executable, "-m", "schemathesis.cli", "run", str(SPECS / spec),
                "--url", emulator.base_url,
                "-H", f"Authorization: Bearer {DEMO_TOKEN}",
                "--checks", CHECKS,
                "--phases", "examples,coverage,fuzzing",
                "--max-examples", "15", "--seed", "7", "--workers", "1",
            ],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-4000:]
        # Requests that break the spec are schemathesis's on purpose; answers must not.
        assert [v for v in emulator.violations if v.startswith("response")] == []


@pytest.fixture
def emulator() -> HubSpotEmulator:  # type: ignore[misc]
    with running_emulator(scopes={"tickets", "crm.objects.owners.read"}) as running:
        yield running


def send(
    emulator: HubSpotEmulator, method: str, path: str, body: bytes | None = None
) -> requests.Response:
    return requests.request(
        method,
        emulator.base_url + path,
        data=body,
        headers={"Authorization": f"Bearer {DEMO_TOKEN}", "Content-Type": "application/json"},
        timeout=10,
    )


def test_an_undeclared_method_is_405_with_allow(emulator: HubSpotEmulator) -> None:
    answer = send(emulator, "PUT", "/crm/v3/objects/tickets/batch/create", b"{}")
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"
    assert answer.json()["status"] == "error"


def test_a_body_that_is_not_utf8_json_is_400_not_500(emulator: HubSpotEmulator) -> None:
    answer = send(emulator, "POST", "/crm/v3/objects/tickets/batch/create", b"\xff\xfe{")
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("Invalid input JSON")


def test_an_operation_not_emulated_says_so(emulator: HubSpotEmulator) -> None:
    answer = send(
        emulator,
        "POST",
        "/crm/v3/objects/tickets/merge",
        b'{"objectIdToMerge": "1", "primaryObjectId": "2"}',
    )
    assert answer.status_code == 400
    assert answer.json()["category"] == "NOT_EMULATED"
    assert "does not emulate" in answer.json()["message"]


def test_a_token_without_a_scope_gets_hubspots_403(emulator: HubSpotEmulator) -> None:
    assert send(emulator, "GET", "/crm/v3/objects/tickets?limit=1").status_code == 200
    refused = send(emulator, "GET", "/crm/v3/objects/tasks?limit=1")
    assert refused.status_code == 403
    body = refused.json()
    assert body["category"] == "MISSING_SCOPES"
    required = body["errors"][0]["context"]["requiredGranularScopes"]
    assert required in (["crm.objects.contacts.read"], ["crm.objects.tasks.read"])  # tasks.json


def test_the_default_token_holds_every_scope_the_specs_name() -> None:
    scopes = all_scopes()
    assert {"tickets", "crm.objects.contacts.write", "crm.schemas.contacts.read"} <= scopes
    with running_emulator() as emulator:
        assert send(emulator, "GET", "/crm/v3/objects/tasks?limit=1").status_code == 200


def test_contract_violations_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with running_emulator() as emulator:
        broken = dataclasses.replace(emulator.portal.owners[0], email=12)  # type: ignore[arg-type]
        emulator.portal.owners = [broken, *emulator.portal.owners[1:]]
        with caplog.at_level("WARNING"):
            answer = send(emulator, "GET", "/crm/v3/owners")
        assert answer.status_code == 500
        assert emulator.violations
    assert any("broke HubSpot's contract" in r.getMessage() for r in caplog.records)
    assert json.dumps([r.getMessage() for r in caplog.records]).count("12") == 0


def test_allow_lists_the_methods_of_the_most_literal_path(emulator: HubSpotEmulator) -> None:
    """``/contacts/merge`` is the merge path (POST), never a contact whose id is "merge"."""
    merge = send(emulator, "GET", "/crm/v3/objects/tickets/merge")
    assert merge.status_code == 405 and merge.headers["Allow"] == "POST"
    groups = send(emulator, "OPTIONS", "/crm/v3/properties/tickets/groups")
    assert groups.status_code == 405 and groups.headers["Allow"] == "GET, POST"
    one = send(emulator, "PUT", "/crm/v3/objects/tickets/123")
    assert one.status_code == 405 and one.headers["Allow"] == "DELETE, GET, PATCH"
    head = send(emulator, "HEAD", "/crm/v3/objects/tickets")  # the specs declare no HEAD
    assert head.status_code == 405 and head.headers["Allow"] == "GET, POST"


def test_a_violation_never_quotes_a_value() -> None:
    """Violations are answered, listed, served by the stats endpoint and printed: they name
    the place and the rule, never the (patient's) value."""
    secret = "hanako.yamada@example.jp"
    with running_emulator() as emulator:
        answer = send(
            emulator,
            "POST",
            "/crm/v3/objects/tickets/batch/create",
            json.dumps({"inputs": [{"properties": {"subject": 12, "email": [secret]}}]}).encode(),
        )
        search = send(emulator, "POST", "/crm/v3/objects/tickets/search",
                      json.dumps({"limit": secret}).encode())  # fmt: skip
        listed = requests.get(f"{emulator.base_url}?after={secret}", timeout=10)
        stats = requests.get(emulator.base_url + "/_emulator/stats", timeout=10).text
        assert answer.status_code == search.status_code == 400
        assert len(emulator.violations) == 2, emulator.violations
        assert "$.limit: type" in emulator.violations[1]
        for text in (answer.text, search.text, listed.text, stats, *emulator.violations):
            assert secret not in text
