"""The emulator against HubSpot's own specs: schemathesis drives every spec'd operation.

Every check about the emulator's answers must pass: no server error, status codes, content
types, headers and bodies as the spec declares, 405 with a correct ``Allow`` for methods a path
does not declare, auth enforced. Two checks are left out on purpose, each for a documented
reason: ``positive_data_acceptance`` (a schema-valid request may still be refused: an operation
the emulator does not emulate answers NOT_EMULATED, a property or pipeline that does not exist
is refused as HubSpot refuses it) and ``negative_data_rejection`` (HubSpot accepts requests its
spec calls invalid: :mod:`crm_complaints.emulator.errata`). Examples per operation are bounded
so the run stays within a minute or two on two cores; the seed is fixed so a failure
reproduces.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from crm_complaints.emulator import DEMO_TOKEN, HubSpotEmulator, RateLimit, running_emulator
from crm_complaints.emulator.contract import SPEC_FILES
from crm_complaints.emulator.endpoints import Endpoints
from crm_complaints.emulator.operations import all_scopes

SPECS = Path(__file__).resolve().parents[2] / "src" / "crm_complaints" / "emulator" / "specs"
LEFT_OUT = "positive_data_acceptance,negative_data_rejection"
UNLIMITED = RateLimit(requests=1_000_000, search_requests=None)


def schemathesis(
    emulator: HubSpotEmulator, spec: str, cwd: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    """One schemathesis run over one packaged spec against the running emulator."""
    return subprocess.run(
        [
            sys.executable, "-m", "schemathesis.cli", "run", str(SPECS / spec),
            "--url", emulator.base_url,
            "-H", f"Authorization: Bearer {DEMO_TOKEN}",
            "--checks", "all", "--exclude-checks", LEFT_OUT,
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", "12", "--seed", "7", "--workers", "1", "--no-shrink",
            *extra,
        ],
        capture_output=True, text=True, timeout=600, cwd=cwd,
    )  # fmt: skip


def operations_in(spec: str) -> int:
    paths: dict[str, Any] = json.loads((SPECS / spec).read_text(encoding="utf-8"))["paths"]
    return sum(1 for ops in paths.values() for m in ops if m in ("get", "post", "put", "patch",
                                                                  "delete"))  # fmt: skip


@pytest.mark.parametrize("spec", sorted(SPEC_FILES.values()))
def test_schemathesis_finds_nothing(spec: str, tmp_path: Path) -> None:
    with running_emulator(rate_limit=UNLIMITED) as emulator:
        done = schemathesis(emulator, spec, tmp_path)
    assert done.returncode == 0, done.stdout[-4000:]
    tested = re.search(r"Tested: (\d+)", done.stdout)
    assert tested and int(tested.group(1)) == operations_in(spec), done.stdout[-2000:]
    # Requests that break the spec are schemathesis's on purpose; answers must not.
    assert [v for v in emulator.violations if v.startswith("response")] == []


def test_the_schemathesis_run_fails_on_a_server_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test above can fail: a handler that crashes is found."""

    def crash(self: Endpoints, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Endpoints, "_search", crash)
    with running_emulator(rate_limit=UNLIMITED) as emulator:
        done = schemathesis(emulator, "tickets.json", tmp_path,
                            "--include-path", "/crm/v3/objects/tickets/search")  # fmt: skip
    assert done.returncode != 0
    assert "Server error" in done.stdout


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
