"""A crm-complaints adapter for TicketDesk, a fictional ticket REST API (an example to copy).

TicketDesk's API, as far as we use it:

- ``PUT  /api/v1/custom-fields/{name}``: create a custom field; 201 created, 200 existed.
- ``POST /api/v1/tickets/bulk-upsert``: ``{"key": "external_id", "tickets": [...]}``, at most
  50 tickets; answers one result per ticket, ``{"external_id", "id", "created"}`` or
  ``{"external_id", "error": {"code", "message"}}``.
- ``GET  /api/v1/tickets?external_id=…`` (repeatable) and ``?cursor=…`` to page through all.
- Bearer token auth; 429 with ``Retry-After``; 5xx on trouble.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field

from crm_complaints.adapters import (
    Adapter,
    PlannedComplaint,
    PushResult,
    RemoteRecord,
    RemoteRefs,
    SetupReport,
)
from crm_complaints.errors import (
    AuthError,
    ConfigError,
    RateLimitedError,
    RejectedError,
    TransientError,
)
from crm_complaints.privacy import allowed_view

__all__ = ["TicketDeskAdapter", "TicketDeskConfig"]

MAX_TICKETS = 50
CUSTOM_FIELDS = ("crm_complaint_id", "crm_version")


class TicketDeskConfig(BaseModel):
    """``[adapters.ticketdesk]`` in the crm-complaints config."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
    token_env: str = "TICKETDESK_TOKEN"
    timeout_seconds: float = Field(10.0, gt=0)


class TicketDeskAdapter(Adapter):
    """One TicketDesk ticket per complaint, keyed by ``external_id`` = the complaint id."""

    name = "ticketdesk"
    config_model = TicketDeskConfig
    max_batch_size = MAX_TICKETS

    def __init__(self, config: BaseModel, **kw: Any) -> None:
        super().__init__(config, **kw)
        assert isinstance(config, TicketDeskConfig)
        self.settings = config
        token = os.environ.get(config.token_env)
        if not token:
            raise ConfigError(
                f"environment variable {config.token_env} must hold the API token",
                key="adapters.ticketdesk.token_env",
            )
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    # -- one place where HTTP answers become crm-complaints errors ---------------------------
    def _request(self, method: str, path: str, **kw: Any) -> Any:
        self.calls += 1
        url = self.settings.base_url.rstrip("/") + path
        try:
            response = self.session.request(
                method, url, timeout=self.settings.timeout_seconds, allow_redirects=False, **kw
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(
                f"{method} {path}: {type(exc).__name__}", adapter=self.name
            ) from exc
        status = response.status_code
        if status in (401, 403):
            raise AuthError(
                f"TicketDesk refused the token ({status})", adapter=self.name, status=status
            )
        if status == 429:
            wait = response.headers.get("Retry-After", "1")
            raise RateLimitedError(
                "TicketDesk rate limit",
                retry_after=float(wait) if wait.isdigit() else 1.0,
                adapter=self.name,
                status=status,
            )
        if status >= 500:
            raise TransientError(f"TicketDesk answered {status}", adapter=self.name, status=status)
        if status >= 400:
            raise RejectedError(
                f"TicketDesk refused the request ({status})", adapter=self.name, status=status
            )
        return response.json() if response.content else {}

    # -- the interface ------------------------------------------------------------------------
    def setup(self) -> SetupReport:
        created, existing = [], []
        for name in CUSTOM_FIELDS:
            self.calls += 1
            response = self.session.put(
                f"{self.settings.base_url.rstrip('/')}/api/v1/custom-fields/{name}",
                json={"type": "text"},
                timeout=self.settings.timeout_seconds,
            )
            if response.status_code == 201:
                created.append(name)
            elif response.status_code == 200:
                existing.append(name)
            else:
                raise TransientError(f"setup of {name}: {response.status_code}", adapter=self.name)
        return SetupReport(created=tuple(created), existing=tuple(existing))

    def _ticket(self, item: PlannedComplaint) -> dict[str, Any]:
        view = allowed_view(item.complaint, self.allowed_fields)
        first_due = min((t.due_at for t in item.plan.tasks if not t.completed), default=None)
        summary = view.get("summary", item.complaint.category.value)
        return {
            "external_id": item.complaint_id,
            "subject": f"[{item.complaint_id}] {summary}",
            "priority": item.plan.priority.lower(),
            "status": item.complaint.status.value,
            "due_at": first_due.isoformat() if first_due else None,
            "fields": {"crm_complaint_id": item.complaint_id, "crm_version": item.version},
            "complaint": view,
        }

    def push(self, batch: Sequence[PlannedComplaint]) -> list[PushResult]:
        answer = self._request(
            "POST",
            "/api/v1/tickets/bulk-upsert",
            json={"key": "external_id", "tickets": [self._ticket(i) for i in batch]},
        )
        by_id = {r["external_id"]: r for r in answer.get("results", [])}
        results = []
        for item in batch:
            cid = item.complaint_id
            result = by_id.get(cid)
            if result is None:
                results.append(
                    PushResult.failed(
                        cid, TransientError("no result", adapter=self.name, complaint_id=cid)
                    )
                )
            elif "error" in result:
                code = result["error"].get(
                    "code", "refused"
                )  # never the message: it may quote values
                results.append(
                    PushResult.failed(
                        cid,
                        RejectedError(
                            f"TicketDesk refused it: {code}", adapter=self.name, complaint_id=cid
                        ),
                    )
                )
            else:
                results.append(
                    PushResult.synced(
                        cid, {"ticket": str(result["id"])}, created=bool(result["created"])
                    )
                )
        return results

    def _record(self, ticket: Mapping[str, Any]) -> RemoteRecord:
        return RemoteRecord(
            complaint_id=ticket["external_id"],
            refs={"ticket": str(ticket["id"])},
            fields={
                "priority": ticket.get("priority"),
                "status": ticket.get("status"),
                "version": (ticket.get("fields") or {}).get("crm_version"),
            },
        )

    def read(self, refs: Mapping[str, RemoteRefs]) -> dict[str, RemoteRecord]:
        ids = list(refs)
        found: dict[str, RemoteRecord] = {}
        for start in range(0, len(ids), MAX_TICKETS):
            answer = self._request(
                "GET", "/api/v1/tickets", params={"external_id": ids[start : start + MAX_TICKETS]}
            )
            for ticket in answer.get("tickets", []):
                found[ticket["external_id"]] = self._record(ticket)
        return found

    def list_owned(self) -> Iterator[RemoteRecord]:
        cursor: str | None = None
        while True:
            answer = self._request(
                "GET", "/api/v1/tickets", params={"cursor": cursor} if cursor else {}
            )
            for ticket in answer.get("tickets", []):
                if (ticket.get("fields") or {}).get("crm_complaint_id"):
                    yield self._record(ticket)
            cursor = answer.get("next_cursor")
            if not cursor:
                return

    def close(self) -> None:
        self.session.close()
