"""A crm-complaints adapter for TicketDesk, a fictional ticket REST API (an example to copy).

TicketDesk's API, as far as we use it:

- ``PUT  /api/v1/custom-fields/{name}``: create a custom field; 201 created, 200 existed.
- ``POST /api/v1/tickets/bulk-upsert``: ``{"key": "external_id", "tickets": [...]}``, at most
  50 tickets; answers one result per ticket, ``{"external_id", "id", "created"}`` or
  ``{"external_id", "error": {"code", "message"}}``. A ticket holds its to-dos
  (``tasks``: kind, due date, done) and a status; ``resolved`` and ``closed`` count as closed.
- ``GET  /api/v1/tickets?external_id=…`` (repeatable) and ``?cursor=…`` to page through all.
- Bearer token auth; 429 with ``Retry-After``; 5xx on trouble.

The base class does the rest: ``self.request`` counts each request and turns every answer that
is not 2xx into the right error (401/403 stop the run, 429 and 5xx are retried, other 4xx
reject), ``self.secret`` reads the token from the environment.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crm_complaints.adapters import (
    Adapter,
    PlannedComplaint,
    PushResult,
    RemoteRecord,
    RemoteRefs,
    RemoteTask,
    SetupReport,
)
from crm_complaints.errors import RejectedError, TransientError
from crm_complaints.privacy import allowed_view

__all__ = ["TicketDeskAdapter", "TicketDeskConfig"]

MAX_TICKETS = 50
CUSTOM_FIELDS = ("crm_complaint_id", "crm_version")
CLOSED = ("resolved", "closed")


class TicketDeskConfig(BaseModel):
    """``[adapters.ticketdesk]`` in the crm-complaints config."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
    token_env: str = "TICKETDESK_TOKEN"
    timeout_seconds: float = Field(10.0, gt=0)


class TicketDeskAdapter(Adapter[TicketDeskConfig]):
    """One TicketDesk ticket per complaint, keyed by ``external_id`` = the complaint id."""

    name = "ticketdesk"
    config_model = TicketDeskConfig
    max_batch_size = MAX_TICKETS

    def __init__(self, config: TicketDeskConfig, **kw: Any) -> None:
        super().__init__(config, **kw)
        token = self.secret(
            config.token_env, config_key="adapters.ticketdesk.token_env", what="the API token"
        )
        self.http.headers["Authorization"] = f"Bearer {token}"

    def auth_hint(self) -> str:
        return f"check the token in {self.config.token_env}"

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        """Every request goes through here: counted and classified by ``self.request``."""
        url = self.config.base_url.rstrip("/") + path
        timeout = self.config.timeout_seconds
        response = self.request(method, url, what=f"{method} {path}", timeout=timeout, **kw)
        return response.json() if response.content else {}

    def setup(self) -> SetupReport:
        created, existing = [], []
        for name in CUSTOM_FIELDS:
            url = self.config.base_url.rstrip("/") + f"/api/v1/custom-fields/{name}"
            response = self.request(
                "PUT", url, what=f"create field {name}", timeout=self.config.timeout_seconds,
                json={"type": "text"},
            )  # fmt: skip
            (created if response.status_code == 201 else existing).append(name)
        return SetupReport(created=tuple(created), existing=tuple(existing))

    def _ticket(self, item: PlannedComplaint) -> dict[str, Any]:
        view = allowed_view(item.complaint, self.allowed_fields)
        return {
            "external_id": item.complaint_id,
            "subject": f"[{item.complaint_id}] {view.get('summary', item.complaint.category)}",
            "priority": item.plan.priority.lower(),
            "status": item.complaint.status.value,
            "tasks": [
                {"kind": t.kind.value, "due_at": t.due_at.isoformat(), "done": t.completed}
                for t in item.plan.tasks
            ],
            "fields": {"crm_complaint_id": item.complaint_id, "crm_version": item.version},
            "complaint": view,
        }

    def push(self, batch: Sequence[PlannedComplaint]) -> list[PushResult]:
        body = {"key": "external_id", "tickets": [self._ticket(i) for i in batch]}
        answer = self._call("POST", "/api/v1/tickets/bulk-upsert", json=body)
        by_id = {r["external_id"]: r for r in answer.get("results", [])}
        results = []
        for item in batch:
            result = by_id.get(item.complaint_id)
            if result is None:  # no answer is not success
                results.append(
                    PushResult.failed(
                        item.complaint_id, TransientError("no result", adapter=self.name)
                    )
                )
            elif "error" in result:  # the code, never the message: it may quote values
                refused = RejectedError(
                    f"TicketDesk refused it: {result['error'].get('code')}", adapter=self.name
                )
                results.append(PushResult.failed(item.complaint_id, refused))
            else:
                refs = {"ticket": str(result["id"])}
                results.append(
                    PushResult.synced(item.complaint_id, refs, created=result["created"])
                )
        return results

    def _record(self, ticket: Mapping[str, Any]) -> RemoteRecord:
        cid = ticket["external_id"]
        return RemoteRecord(
            complaint_id=cid,
            refs={"ticket": str(ticket["id"])},
            version=(ticket.get("fields") or {}).get("crm_version"),
            stage=ticket.get("status"),
            closed=ticket.get("status") in CLOSED,
            tasks={
                t["kind"]: RemoteTask(
                    cid, t["kind"], datetime.fromisoformat(t["due_at"]), t["done"]
                )
                for t in ticket.get("tasks", [])
            },
            fields={"priority": ticket.get("priority")},
            raw=ticket,
        )

    def expected_fields(self, item: PlannedComplaint) -> Mapping[str, str]:
        return {"version": item.version, "priority": item.plan.priority.lower()}

    def read(self, refs: Mapping[str, RemoteRefs]) -> dict[str, RemoteRecord]:
        ids = list(refs)
        found: dict[str, RemoteRecord] = {}
        for start in range(0, len(ids), MAX_TICKETS):
            params = {"external_id": ids[start : start + MAX_TICKETS]}
            for ticket in self._call("GET", "/api/v1/tickets", params=params).get("tickets", []):
                found[ticket["external_id"]] = self._record(ticket)
        return found

    def list_owned(self) -> Iterator[RemoteRecord]:
        cursor: str | None = None
        while True:
            params = {"cursor": cursor} if cursor else {}
            answer = self._call("GET", "/api/v1/tickets", params=params)
            for ticket in answer.get("tickets", []):
                if (ticket.get("fields") or {}).get("crm_complaint_id"):
                    yield self._record(ticket)
            cursor = answer.get("next_cursor")
            if not cursor:
                return
