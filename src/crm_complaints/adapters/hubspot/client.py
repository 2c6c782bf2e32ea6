"""The edge between the HubSpot adapter and HubSpot: every request goes through here.

Each call is rate-limited (a client-side limiter, so a healthy run never sees a 429), counted,
given a timeout, and its failure translated into the error tree: 429 (``policyName``: the rolling
window, or the daily quota that stops the run), 423 (wait at least 2 s), 5xx and dropped
connections are transient; 401/403 stop the run; other 4xx reject. Per-record errors inside a
207 answer are mapped back by ``objectWriteTraceId``. The SDK's own urllib3 retries are off:
retrying is the engine's job. Messages carry categories and property names, never property
values, response bodies or the token.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from http.client import HTTPException
from typing import Any, TypeVar

import urllib3
from hubspot import HubSpot
from hubspot.crm.associations.v4 import Configuration as AssociationsConfiguration
from hubspot.crm.objects.tasks import Configuration as TasksConfiguration
from hubspot.crm.tickets import Configuration as TicketsConfiguration
from urllib3.util.retry import Retry

from ...errors import (
    AdapterError,
    AuthError,
    RateLimitedError,
    RejectedError,
    TransientError,
    from_http_status,
    parse_retry_after,
)
from ...ratelimit import SlidingWindowLimiter
from ...urls import check_url
from .config import HubSpotConfig

__all__ = ["HubSpotClient", "errors_by_trace", "rejection"]

T = TypeVar("T")
LOCKED_WAIT_SECONDS = 2.0  # HubSpot's advice for 423 Locked


class HubSpotClient:
    """The SDK's API objects, behind one limited, counted, classifying ``call``."""

    def __init__(
        self, config: HubSpotConfig, token: str, count: Callable[[], None], adapter: str
    ) -> None:
        host = check_url(
            config.host.rstrip("/"),
            allow_insecure_http=config.allow_insecure_http,
            key="adapters.hubspot.host",
        )
        self.config = config
        self.adapter = adapter
        self._count = count
        no_retries = Retry(total=0, connect=0, read=0, redirect=0, status=0, raise_on_status=False)
        sdk = HubSpot(access_token=token, host=host, retry=no_retries)
        # Cache the API objects: every attribute access on the SDK builds a new pool.
        self.tickets = sdk.crm.tickets.batch_api
        self.tasks = sdk.crm.objects.tasks.batch_api
        self.task_search = sdk.crm.objects.tasks.search_api
        self.ticket_search = sdk.crm.tickets.search_api
        self.contacts = sdk.crm.contacts.batch_api
        self.associations = sdk.crm.associations.v4.batch_api
        self.pipelines = sdk.crm.pipelines.pipelines_api
        self.owners = sdk.crm.owners.owners_api
        self.properties = sdk.crm.properties.core_api
        self.property_batch = sdk.crm.properties.batch_api
        self.groups = sdk.crm.properties.groups_api
        self.limiter = SlidingWindowLimiter(
            config.rate_limit_requests, config.rate_limit_window_seconds
        )
        # One model configuration per SDK package: by default every request model copies a
        # fresh Configuration (and resets loggers), which costs more than the request itself.
        self.ticket_models = TicketsConfiguration()
        self.task_models = TasksConfiguration()
        self.link_models = AssociationsConfiguration()

    def call(self, what: str, method: Callable[..., T], **kwargs: Any) -> T:
        """One SDK call: rate-limited, counted, with a timeout, errors classified."""
        self._count()
        try:
            with self.limiter.slot():
                return method(**kwargs, _request_timeout=self.config.timeout_seconds)
        except (urllib3.exceptions.HTTPError, HTTPException, OSError) as exc:
            raise TransientError(
                f"{what}: connection failed ({type(exc).__name__})", adapter=self.adapter
            ) from exc
        except Exception as exc:
            status = getattr(exc, "status", None)
            if not isinstance(status, int):
                raise
            raise self.classify(what, status, exc) from exc

    def call_json(self, what: str, method: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
        """An SDK call whose answer we parse ourselves, for the hot batch endpoints.

        The SDK's own deserialization builds a model per object and parses every timestamp
        with dateutil, which costs more than the request; and at DEBUG it logs whole response
        bodies, which hold property values. Requests are still built and sent by the SDK.
        """
        response = self.call(what, method, _preload_content=False, **kwargs)
        try:
            raw = response.data
        finally:
            response.release_conn()
        return _json_object(raw) if raw else {}

    def classify(self, what: str, status: int, exc: Exception) -> AdapterError:
        """HubSpot's own rules first (daily quota, window length, 423), then the generic ones."""
        body = _json_object(getattr(exc, "body", None))
        headers = _headers(exc)
        kw: dict[str, Any] = {"adapter": self.adapter, "status": status}
        if status in (401, 403):
            return AuthError(
                f"{what}: HubSpot refused the token in {self.config.token_env} ({status} "
                f"{body.get('category') or 'unauthorized'}); check the private app's token and "
                "scopes",
                **kw,
            )
        if status == 429:
            policy = str(body.get("policyName", ""))
            if policy.upper() == "DAILY":
                return RateLimitedError(
                    f"{what}: daily API quota exhausted",
                    retry_after=_seconds_to_utc_midnight(),
                    stop_run=True,
                    **kw,
                )
            window = headers.get("x-hubspot-ratelimit-interval-milliseconds", "")
            wait = parse_retry_after(headers.get("retry-after"))
            if wait is None:
                wait = float(window) / 1000 if window.isdigit() else 10.0
            return RateLimitedError(
                f"{what}: rate limited ({policy or 'rolling window'})", retry_after=wait, **kw
            )
        if status == 423:
            return TransientError(f"{what}: locked (423)", retry_after=LOCKED_WAIT_SECONDS, **kw)
        return from_http_status(
            status, headers, what=what, adapter=self.adapter, detail=describe(body)
        )


def errors_by_trace(
    answer: Mapping[str, Any], what: str, adapter: str
) -> Iterator[tuple[str, RejectedError]]:
    """The per-record refusals of a 207 answer, by the ``objectWriteTraceId`` we sent."""
    for error in answer.get("errors", []):
        for trace in (error.get("context") or {}).get("objectWriteTraceId", []):
            yield trace, rejection(what, error, trace.split(":")[0], adapter)


def rejection(
    what: str, error: Mapping[str, Any], complaint_id: str, adapter: str
) -> RejectedError:
    """One refusal of a batch answer's ``errors[]`` as a RejectedError for one complaint."""
    context = error.get("context") or {}
    props = context.get("propertyName") or []
    detail = f" on {', '.join(props)}" if props else ""
    category = error.get("category") or "error"
    return RejectedError(
        f"{what} refused: {category}{detail}",
        adapter=adapter,
        complaint_id=complaint_id,
        status=409 if category == "CONFLICT" else 400,
    )


def describe(body: Mapping[str, Any]) -> str:
    """Category and property names only: HubSpot's messages can quote property values."""
    if not body:
        return ""
    context = body.get("context") or {}
    props = context.get("propertyName") if isinstance(context, dict) else None
    parts = [str(body.get("category") or "")]
    if body.get("subCategory"):
        parts.append(str(body["subCategory"]))
    if props:
        parts.append("on " + ", ".join(map(str, props)))
    return " ".join(p for p in parts if p)


def _json_object(raw: object) -> dict[str, Any]:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str):
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _headers(exc: Exception) -> dict[str, str]:
    """The answer's headers with lower-case names (the SDK's exception holds them)."""
    headers = getattr(exc, "headers", None) or {}
    return {str(k).lower(): str(v) for k, v in dict(headers).items()}


def _seconds_to_utc_midnight() -> float:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()
