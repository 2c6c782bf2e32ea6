"""The generic webhook adapter: one signed JSON event per complaint version.

Events follow the Standard Webhooks spec. ``webhook-id`` is derived from the complaint id and
its version, so a retry or a rerun after a crash carries the same id and a receiver that
de-duplicates on it sees every version exactly once. Only ``https`` URLs are accepted, except
loopback or an explicit ``allow_insecure_http``; redirects are never followed; TLS is verified.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field

from ..errors import (
    AdapterError,
    AuthError,
    ConfigError,
    RateLimitedError,
    RejectedError,
    TransientError,
)
from ..privacy import allowed_view
from ..urls import check_url
from ..webhook import signature_headers
from .base import Adapter, PlannedComplaint, PushResult, RemoteRecord, RemoteRefs, SetupReport

__all__ = ["WebhookAdapter", "WebhookConfig", "event_id"]

USER_AGENT = "crm-complaints-webhook/1"


class WebhookConfig(BaseModel):
    """``[adapters.webhook]``: where to POST, and the name of the env var holding the secret."""

    model_config = ConfigDict(extra="forbid")

    url: str
    secret_env: str = "CRM_COMPLAINTS_WEBHOOK_SECRET"
    allow_insecure_http: bool = False
    timeout_seconds: float = Field(10.0, gt=0, le=300)
    state_url: str | None = None
    """Optional GET endpoint answering ``?id=…`` with what the receiver holds (reconciliation)."""


def event_id(complaint_id: str, version: str, redelivery: str = "") -> str:
    """Deterministic per complaint version (and deliberate redelivery): receivers de-duplicate
    on it, so retries and reruns are seen once, and a repair is seen again."""
    digest = hashlib.sha256(f"{complaint_id}\x00{version}\x00{redelivery}".encode()).hexdigest()[
        :32
    ]
    return f"msg_{digest}"


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class WebhookAdapter(Adapter):
    """POSTs ``complaint.created`` / ``complaint.updated`` events to one URL."""

    name = "webhook"
    config_model = WebhookConfig
    max_batch_size = 100

    def __init__(self, config: BaseModel, **kw: Any) -> None:
        super().__init__(config, **kw)
        if not isinstance(config, WebhookConfig):
            raise TypeError("WebhookAdapter needs a WebhookConfig")
        self.settings: WebhookConfig = config
        insecure = config.allow_insecure_http
        check_url(config.url, allow_insecure_http=insecure, key="adapters.webhook.url")
        if config.state_url:
            check_url(
                config.state_url, allow_insecure_http=insecure, key="adapters.webhook.state_url"
            )
        secret = os.environ.get(config.secret_env, "")
        if not secret.startswith("whsec_"):
            raise ConfigError(
                f"environment variable {config.secret_env} must hold a whsec_… secret",
                key="adapters.webhook.secret_env",
            )
        self._secret = secret
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.trust_env = False  # no proxies from the environment for signed deliveries

    def setup(self) -> SetupReport:
        """Nothing to create on a webhook receiver."""
        return SetupReport(existing=(self.settings.url,))

    def event(self, item: PlannedComplaint) -> tuple[str, bytes]:
        """The event id and body for one complaint version (pure; used by tests too)."""
        message_id = event_id(item.complaint_id, item.version, item.redelivery)
        payload = {
            "type": "complaint.created" if item.is_new else "complaint.updated",
            "id": message_id,
            "data": {
                "complaint_id": item.complaint_id,
                "version": item.version,
                "complaint": allowed_view(item.complaint, self.allowed_fields),
                "plan": item.plan.model_dump(mode="json"),
            },
        }
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return message_id, body.encode()

    def push(self, batch: Sequence[PlannedComplaint]) -> list[PushResult]:
        return [self._deliver(item) for item in batch]

    def _deliver(self, item: PlannedComplaint) -> PushResult:
        message_id, body = self.event(item)
        headers = {
            "Content-Type": "application/json",
            **signature_headers(self._secret, message_id, body),
        }
        cid = item.complaint_id
        self.calls += 1
        try:
            response = self.session.post(
                self.settings.url,
                data=body,
                headers=headers,
                timeout=self.settings.timeout_seconds,
                allow_redirects=False,
                verify=True,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            error: AdapterError = TransientError(
                f"delivery failed: {type(exc).__name__}", adapter=self.name, complaint_id=cid
            )
            return PushResult.failed(item.complaint_id, error)
        status = response.status_code
        response.close()
        if 200 <= status < 300:
            return PushResult.synced(
                item.complaint_id, {"delivery": message_id}, created=item.is_new
            )
        if status == 429:
            error = RateLimitedError(
                "receiver answered 429",
                retry_after=_retry_after(response),
                status=status,
                adapter=self.name,
                complaint_id=cid,
            )
        elif status == 408 or status >= 500:
            error = TransientError(
                f"receiver answered {status}",
                retry_after=_retry_after(response),
                status=status,
                adapter=self.name,
                complaint_id=cid,
            )
        elif status in (401, 403):
            raise AuthError(
                f"receiver refused our signature ({status}); check {self.settings.secret_env}",
                status=status,
                adapter=self.name,
                complaint_id=cid,
            )
        elif 300 <= status < 400:
            error = RejectedError(
                f"receiver answered a redirect ({status}), which is not followed",
                status=status,
                adapter=self.name,
                complaint_id=cid,
            )
        else:
            error = RejectedError(
                f"receiver refused the event ({status})",
                status=status,
                adapter=self.name,
                complaint_id=cid,
            )
        return PushResult.failed(item.complaint_id, error)

    def _get_state(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if not self.settings.state_url:
            raise ConfigError(
                "reading back needs a state_url on the receiver", key="adapters.webhook.state_url"
            )
        self.calls += 1
        try:
            response = self.session.get(
                self.settings.state_url,
                params=params,
                timeout=self.settings.timeout_seconds,
                allow_redirects=False,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(
                f"state read failed: {type(exc).__name__}", adapter=self.name
            ) from exc
        if response.status_code != 200:
            raise TransientError(
                f"state read answered {response.status_code}",
                adapter=self.name,
                status=response.status_code,
            )
        data: dict[str, Any] = response.json()
        return data

    @staticmethod
    def _record(entry: Mapping[str, Any]) -> RemoteRecord:
        plan = entry.get("plan") or {}
        return RemoteRecord(
            complaint_id=str(entry["complaint_id"]),
            refs={"delivery": str(entry.get("event_id", ""))},
            fields={
                "version": entry.get("version"),
                "priority": plan.get("priority"),
                "coordinator": plan.get("coordinator"),
            },
            tasks={t["kind"]: t for t in plan.get("tasks", [])},
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

    def close(self) -> None:
        self.session.close()
