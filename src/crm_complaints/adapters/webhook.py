"""The generic webhook adapter: one signed JSON event per complaint version.

Events follow the Standard Webhooks spec. ``webhook-id`` is derived from the complaint id and
its revision (a per-complaint counter in the state store), so a retry or a rerun after a crash
carries the same id and a receiver that de-duplicates on it sees every revision exactly once,
including a complaint changed back to an earlier content. Only ``https`` URLs are accepted, except
loopback or an explicit ``allow_insecure_http``; redirects are never followed; TLS is verified.
Every event carries the whole complaint and, in ``data.changed_fields``, the names of the
complaint's fields (and ``plan.<field>``) whose value differs from the last event delivered:
every field it carries on a created event, and whenever the last delivery is not known (the
first event after an upgrade, or after a delivery that got no answer), so that a field left
out of the list is always one that did not change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import (
    AdapterError,
    AuthError,
    ConfigError,
    RejectedError,
    TransientError,
    WebhookVerificationError,
)
from ..fields import value_hash
from ..privacy import allowed_view
from ..schema import Status
from ..urls import check_url
from ..webhook import check_secret, signature_headers
from .base import (
    Adapter,
    PlannedComplaint,
    PushResult,
    RemoteRecord,
    RemoteRefs,
    RemoteTask,
    RemoteWrite,
    SetupReport,
    WriteOperation,
)

__all__ = ["WebhookAdapter", "WebhookConfig", "event_id"]

# Answers about the endpoint, not the event: quarantining records for them would quarantine all.
_ENDPOINT_WIDE = {404, 405, 410}


class WebhookConfig(BaseModel):
    """``[adapters.webhook]``: where to POST, and the name of the env var holding the secret."""

    model_config = ConfigDict(extra="forbid")

    url: str
    secret_env: str = "CRM_COMPLAINTS_WEBHOOK_SECRET"
    allow_insecure_http: bool = False
    timeout_seconds: float = Field(10.0, gt=0, le=300)
    state_url: str | None = None
    """Optional GET endpoint answering ``?id=…`` with what the receiver holds (reconciliation)."""


def event_id(complaint_id: str, version: str, revision: int = 0, redelivery: str = "") -> str:
    """Deterministic per complaint revision (and deliberate redelivery): receivers de-duplicate
    on it, so retries and reruns of one revision are seen once, while a new revision is seen
    even when its content equals an earlier one (A → B → A), and a repair is seen again."""
    key = f"{complaint_id}\x00{revision}\x00{version}\x00{redelivery}"
    return "msg_" + hashlib.sha256(key.encode()).hexdigest()[:32]


class WebhookAdapter(Adapter[WebhookConfig]):
    """POSTs ``complaint.created`` / ``complaint.updated`` events to one URL."""

    name = "webhook"
    config_model = WebhookConfig
    max_batch_size = 100
    user_agent = "crm-complaints-webhook/1"

    def __init__(self, config: WebhookConfig, **kw: Any) -> None:
        super().__init__(config, **kw)
        insecure = config.allow_insecure_http
        check_url(config.url, allow_insecure_http=insecure, key="adapters.webhook.url")
        if config.state_url:
            check_url(
                config.state_url, allow_insecure_http=insecure, key="adapters.webhook.state_url"
            )
        self._secret = self.secret(
            config.secret_env,
            config_key="adapters.webhook.secret_env",
            what="a whsec_… secret",
            prefix="whsec_",
        )
        try:
            check_secret(self._secret)
        except WebhookVerificationError as exc:
            raise ConfigError(
                f"environment variable {config.secret_env}: {exc}",
                key="adapters.webhook.secret_env",
            ) from exc

    def auth_hint(self) -> str:
        return f"check {self.config.secret_env}"

    def setup(self) -> SetupReport:
        """Nothing to create on a webhook receiver."""
        return SetupReport(existing=(self.config.url,))

    def field_hashes(self, item: PlannedComplaint) -> dict[str, str]:
        """A hash per complaint field we send and per ``plan.<field>``: what
        ``changed_fields`` compares with the last delivery's."""
        view = allowed_view(item.complaint, self.allowed_fields)
        plan = item.plan.model_dump(mode="json")
        values = {**view, **{f"plan.{name}": value for name, value in plan.items()}}
        return {
            name: value_hash([json.dumps(value, sort_keys=True, ensure_ascii=False)])
            for name, value in values.items()
        }

    def event(self, item: PlannedComplaint) -> tuple[str, bytes]:
        """The event id and body for one complaint version (pure; used by tests too)."""
        message_id = event_id(item.complaint_id, item.version, item.revision, item.redelivery)
        data: dict[str, Any] = {
            "complaint_id": item.complaint_id,
            "version": item.version,
            "complaint": allowed_view(item.complaint, self.allowed_fields),
            "plan": item.plan.model_dump(mode="json"),
        }
        now = self.field_hashes(item)
        last = None if item.is_new else (item.sent or {}).get("event")
        if not last:  # new to the receiver, or what it holds is not known: all of it
            data["changed_fields"] = sorted(now)
        else:
            data["changed_fields"] = sorted(
                name for name in set(now) | set(last) if now.get(name) != last.get(name)
            )
        payload = {
            "type": "complaint.created" if item.is_new else "complaint.updated",
            "id": message_id,
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "data": data,
        }
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return message_id, body.encode()

    def push(self, batch: Sequence[PlannedComplaint]) -> list[PushResult]:
        return [self._deliver(item) for item in batch]

    def _deliver(self, item: PlannedComplaint) -> PushResult:
        """One delivery; a refusal of our signature stops the run, the rest is per record."""
        message_id, body = self.event(item)
        headers = {
            "Content-Type": "application/json",
            **signature_headers(self._secret, message_id, body),
        }
        try:
            self.request(
                "POST",
                self.config.url,
                what="delivery",
                timeout=self.config.timeout_seconds,
                complaint_id=item.complaint_id,
                data=body,
                headers=headers,
            ).close()
        except AuthError:
            raise
        except RejectedError as exc:
            if exc.status in _ENDPOINT_WIDE or 300 <= (exc.status or 0) < 400:
                raise ConfigError(
                    f"the receiver answered {exc.status} for every event sent there (no such "
                    "endpoint, or it moved): check the URL; no complaint was quarantined",
                    key="adapters.webhook.url",
                ) from exc
            return PushResult.failed(item.complaint_id, exc)
        except AdapterError as exc:
            failed = PushResult.failed(item.complaint_id, exc)
            if isinstance(exc, TransientError) and item.sent is not None:
                # No answer: the receiver may hold this version or the last one; the next
                # event names every field changed rather than none.
                return replace(failed, sent={"event": {}})
            return failed
        delivery = {"delivery": message_id}
        operation: WriteOperation = "create" if item.is_new else "update"
        return PushResult.synced(
            item.complaint_id,
            delivery,
            created=item.is_new,
            sent={"event": self.field_hashes(item)},
            writes=[RemoteWrite(operation, "event", delivery)],  # one delivered event
        )

    def _get_state(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if not self.config.state_url:
            raise ConfigError(
                "reading back needs a state_url on the receiver", key="adapters.webhook.state_url"
            )
        try:
            response = self.request(
                "GET",
                self.config.state_url,
                what="state read",
                timeout=self.config.timeout_seconds,
                params=params,
            )
        except RejectedError as exc:  # a wrong URL, not a record problem
            raise ConfigError(exc.reason, key="adapters.webhook.state_url") from exc
        data: dict[str, Any] = response.json()
        return data

    @staticmethod
    def _record(entry: Mapping[str, Any]) -> RemoteRecord:
        cid = str(entry["complaint_id"])
        plan = entry.get("plan") or {}
        status = (entry.get("complaint") or {}).get("status")
        tasks = {
            str(task["kind"]): RemoteTask(
                complaint_id=cid,
                kind=str(task["kind"]),
                due_at=datetime.fromisoformat(task["due_at"]) if task.get("due_at") else None,
                completed=bool(task.get("completed")),
            )
            for task in plan.get("tasks", [])
        }
        return RemoteRecord(
            complaint_id=cid,
            refs={"delivery": str(entry.get("event_id", ""))},
            version=entry.get("version"),
            stage=status,
            closed=Status(status).is_closed if status in set(Status) else None,
            tasks=tasks,
            fields={"priority": plan.get("priority"), "coordinator": plan.get("coordinator")},
            raw=entry,
        )

    def expected_fields(self, item: PlannedComplaint) -> Mapping[str, str]:
        return {
            "version": item.version,
            "priority": item.plan.priority,
            "coordinator": item.plan.coordinator.value,
        }

    def read(self, refs: Mapping[str, RemoteRefs]) -> dict[str, RemoteRecord]:
        ids = list(refs)
        found: dict[str, RemoteRecord] = {}
        for start in range(0, len(ids), 100):
            data = self._get_state({"id": ids[start : start + 100]})
            for entry in data.get("results", []):
                record = self._record(entry)
                found[record.complaint_id] = record
        return found

    def list_owned(self) -> Iterator[RemoteRecord]:
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if after:
                params["after"] = after
            data = self._get_state(params)
            for entry in data.get("results", []):
                yield self._record(entry)
            after = data.get("next")
            if not after:
                return
