"""The TicketDesk adapter against a `responses` double of TicketDesk, through the kit."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from crm_complaints_ticketdesk import TicketDeskAdapter, TicketDeskConfig

from crm_complaints.adapters import Adapter
from crm_complaints.config import DEFAULT_ALLOWED_FIELDS, Settings
from crm_complaints.errors import AuthError, ConfigError
from crm_complaints.testing import AdapterConformance, Failure

BASE = "https://desk.example.test"


class TicketDeskDouble:
    """An in-memory TicketDesk behind `responses` callbacks."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.fields: set[str] = set()
        self.tickets: dict[str, dict[str, Any]] = {}  # external_id → ticket
        self.received: list[str] = []
        self.failures: dict[str, Failure] = {}
        mock.add_callback(
            responses.PUT, f"{BASE}/api/v1/custom-fields/crm_complaint_id", self.field
        )
        mock.add_callback(responses.PUT, f"{BASE}/api/v1/custom-fields/crm_version", self.field)
        mock.add_callback(responses.POST, f"{BASE}/api/v1/tickets/bulk-upsert", self.upsert)
        mock.add_callback(responses.GET, f"{BASE}/api/v1/tickets", self.list)

    def field(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.failures.pop("(setup)", None) == "auth":
            return 401, {}, "{}"
        name = request.url.rsplit("/", 1)[1]
        status = 200 if name in self.fields else 201
        self.fields.add(name)
        return status, {}, "{}"

    def upsert(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.received.append(
            request.body.decode() if isinstance(request.body, bytes) else request.body
        )
        body = json.loads(request.body)
        for ticket in body["tickets"]:
            failure = self.failures.get(ticket["external_id"])
            if failure == "transient":
                del self.failures[ticket["external_id"]]
                return 503, {}, "{}"
            if failure == "rate_limited":
                del self.failures[ticket["external_id"]]
                return 429, {"Retry-After": "2"}, "{}"
            if failure == "auth":
                del self.failures[ticket["external_id"]]
                return 401, {}, "{}"
        results = []
        for ticket in body["tickets"]:
            key = ticket["external_id"]
            if self.failures.pop(key, None) == "rejected":
                results.append(
                    {"external_id": key, "error": {"code": "invalid_priority", "message": "…"}}
                )
                continue
            existing = self.tickets.get(key)
            ticket_id = existing["id"] if existing else len(self.tickets) + 1000
            self.tickets[key] = {**ticket, "id": ticket_id}
            results.append({"external_id": key, "id": ticket_id, "created": existing is None})
        return 200, {}, json.dumps({"results": results})

    def list(self, request: Any) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlsplit(request.url).query)
        if "external_id" in query:
            found = [self.tickets[k] for k in query["external_id"] if k in self.tickets]
            return 200, {}, json.dumps({"tickets": found})
        keys = sorted(self.tickets)
        start = int(query.get("cursor", ["0"])[0])
        page = keys[start : start + 20]
        next_cursor = str(start + 20) if start + 20 < len(keys) else None
        return (
            200,
            {},
            json.dumps({"tickets": [self.tickets[k] for k in page], "next_cursor": next_cursor}),
        )


class Harness:
    def __init__(self, double: TicketDeskDouble) -> None:
        self.double = double

    def make_adapter(self, allowed_fields: Sequence[str] = DEFAULT_ALLOWED_FIELDS) -> Adapter[Any]:
        return TicketDeskAdapter(TicketDeskConfig(base_url=BASE), allowed_fields=allowed_fields)

    def remote_count(self, complaint_id: str) -> int:
        return 1 if complaint_id in self.double.tickets else 0

    def remote_version(self, complaint_id: str) -> str | None:
        ticket = self.double.tickets.get(complaint_id)
        return ticket["fields"]["crm_version"] if ticket else None

    def remote_tasks(self, complaint_id: str) -> Mapping[str, datetime | None]:
        ticket = self.double.tickets.get(complaint_id) or {}
        return {
            t["kind"]: datetime.fromisoformat(t["due_at"]) if t.get("due_at") else None
            for t in ticket.get("tasks", [])
        }

    def received_text(self) -> str:
        return "\n".join(self.double.received)

    def inject(self, failure: Failure, complaint_id: str) -> None:
        self.double.failures[complaint_id] = failure


class TestTicketDeskConforms(AdapterConformance):
    @pytest.fixture
    def harness(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
        monkeypatch.setenv("TICKETDESK_TOKEN", "td-test-token")
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            yield Harness(TicketDeskDouble(mock))


def test_config_errors_name_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETDESK_TOKEN", "td-test-token")
    with pytest.raises(ConfigError, match=r"adapters\.ticketdesk\.base_url"):
        TicketDeskAdapter.from_settings(Settings(adapters={"ticketdesk": {}}))
    monkeypatch.delenv("TICKETDESK_TOKEN")
    with pytest.raises(ConfigError, match="TICKETDESK_TOKEN"):
        TicketDeskAdapter.from_settings(Settings(adapters={"ticketdesk": {"base_url": BASE}}))


def test_is_discovered_through_the_entry_point() -> None:
    from crm_complaints.adapters import load_adapter_class

    assert load_adapter_class("ticketdesk") is TicketDeskAdapter


def test_a_refused_token_in_setup_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """setup() goes through the same classification as push(): a 401 is an AuthError."""
    monkeypatch.setenv("TICKETDESK_TOKEN", "td-test-token")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        double = TicketDeskDouble(mock)
        double.failures["(setup)"] = "auth"
        adapter = TicketDeskAdapter(TicketDeskConfig(base_url=BASE))
        with pytest.raises(AuthError, match="TICKETDESK_TOKEN"):
            adapter.setup()
        assert adapter.calls == 1
