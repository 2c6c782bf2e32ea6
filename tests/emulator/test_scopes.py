"""Tokens carry scopes: each operation holds the token to its spec's ``security`` (any one
alternative suffices), a missing scope is HubSpot's 403 MISSING_SCOPES, and the private app
token-info endpoint lists what the token was granted."""

from __future__ import annotations

from typing import Any

import requests

from crm_complaints.emulator import DEMO_TOKEN, HubSpotEmulator, running_emulator
from crm_complaints.emulator.operations import all_scopes
from crm_complaints.emulator.scopes import TOKEN_INFO_PATH, missing

AUTH = {"Authorization": f"Bearer {DEMO_TOKEN}"}


def send(emulator: HubSpotEmulator, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, emulator.base_url + path, json=body, headers=AUTH, timeout=10)


def test_any_one_alternative_suffices() -> None:
    security = (frozenset({"crm.objects.owners.read"}), frozenset({"tickets"}))
    assert missing(security, frozenset({"tickets"})) is None
    assert missing(security, None) is None
    assert missing(security, frozenset({"other"})) == ["crm.objects.owners.read", "tickets"]
    assert missing((frozenset({"a", "b"}),), frozenset({"a"})) == ["b"]


def test_a_missing_scope_is_hubspots_403_naming_the_alternatives() -> None:
    with running_emulator(scopes={"tickets"}) as emulator:
        assert send(emulator, "GET", "/crm/v3/objects/tickets?limit=1").status_code == 200
        refused = send(emulator, "GET", "/crm/v3/owners")
        assert refused.status_code == 403
        body = refused.json()
        assert body["status"] == "error" and body["category"] == "MISSING_SCOPES"
        assert body["message"].startswith("This app hasn't been granted all required scopes")
        assert body["correlationId"]
        detail = body["errors"][0]
        assert detail["message"] == "One or more of the following scopes are required."
        assert detail["context"]["requiredGranularScopes"] == [
            "automation",
            "crm.objects.owners.read",
        ]
        assert emulator.portal.owners  # nothing was read
        assert [v for v in emulator.violations if v.startswith("response")] == []


def test_scopes_can_change_on_a_running_emulator() -> None:
    with running_emulator() as emulator:
        assert emulator.scopes is None
        emulator.scopes = {"tickets"}
        assert send(emulator, "GET", "/crm/v3/objects/tasks?limit=1").status_code == 403
        emulator.scopes = None
        assert send(emulator, "GET", "/crm/v3/objects/tasks?limit=1").status_code == 200


def test_token_info_lists_the_granted_scopes_without_an_authorization_header() -> None:
    granted = {"tickets", "crm.objects.contacts.read", "crm.objects.owners.read"}
    with running_emulator(scopes=granted) as emulator:
        answer = requests.post(
            emulator.base_url + TOKEN_INFO_PATH, json={"tokenKey": DEMO_TOKEN}, timeout=10
        )
        assert answer.status_code == 200
        info = answer.json()
        assert info["scopes"] == sorted(granted)
        assert {"hubId", "appId", "userId"} <= set(info)
        assert all(isinstance(info[k], int) for k in ("hubId", "appId", "userId"))


def test_token_info_of_the_default_token_names_every_scope_the_specs_name() -> None:
    with running_emulator() as emulator:
        info = send(emulator, "POST", TOKEN_INFO_PATH, {"tokenKey": DEMO_TOKEN}).json()
    assert set(info["scopes"]) == all_scopes()
    assert {"tickets", "crm.objects.contacts.write", "crm.schemas.contacts.read"} <= set(
        info["scopes"]
    )


def test_token_info_refuses_what_it_cannot_vouch_for() -> None:
    with running_emulator() as emulator:
        wrong = send(emulator, "POST", TOKEN_INFO_PATH, {"tokenKey": "pat-na1-wrong"})
        assert wrong.status_code == 401
        assert wrong.json()["category"] == "INVALID_AUTHENTICATION"
        assert "pat-na1-wrong" not in wrong.text
        assert send(emulator, "POST", TOKEN_INFO_PATH, {}).status_code == 400
        assert send(emulator, "GET", TOKEN_INFO_PATH).status_code == 405
        emulator.introspection = False  # a token HubSpot cannot introspect there
        assert send(emulator, "POST", TOKEN_INFO_PATH, {"tokenKey": DEMO_TOKEN}).status_code == 404
