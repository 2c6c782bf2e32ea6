"""The edge between the HubSpot adapter and HubSpot: every request goes through here.

Each call is rate-limited (a client-side limiter, so a healthy run never sees a 429), counted,
given a timeout, and its failure translated into the error tree: 429 (``policyName``: the rolling
window, search's per-second limit, or the daily quota that stops the run), 423 (wait at least
2 s), 477 (the account is being migrated: wait ``Retry-After``), 5xx and dropped connections are
transient; 401/403 stop the run; other 4xx reject. Per-record errors inside a 207 answer are
mapped back by ``objectWriteTraceId``. The SDK's own urllib3 retries are off: retrying is the
engine's job. Messages carry categories and property names, never property values, response
bodies or the token.

Every app on an account spends the same budgets, so a well-behaved client still meets other
apps' traffic. Every answer's ``X-HubSpot-RateLimit-*`` headers go to the limiter, which slows
down when less is left than we need (:meth:`.SlidingWindowLimiter.observe`); an answer saying
``X-HubSpot-RateLimit-Daily-Remaining: 0`` stops the run before the next request, as a DAILY 429
would. CRM search has a separate, smaller limit (and its answers carry no rate-limit headers),
so search calls also pass a second limiter. Sources (checked 2026-11):
https://developers.hubspot.com/docs/api/usage-details (limits, headers, 429 ``policyName``,
"the daily limit resets at midnight based on your time zone setting"),
https://developers.hubspot.com/changelog/crm-search-api-rate-limit-increase (search: 4 per
second per token; the usage page says 5 per account: we default to 4),
https://developers.hubspot.com/docs/api-reference/error-handling (423, 477, 5xx),
https://developers.hubspot.com/docs/api-reference/latest/account/account-information/get-account-details
(``timeZone``, ``utcOffsetMilliseconds``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from http.client import HTTPException
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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

__all__ = ["HubSpotClient", "errors_by_trace", "rejection", "seconds_to_midnight"]

log = logging.getLogger(__name__)
T = TypeVar("T")
LOCKED_WAIT_SECONDS = 2.0  # HubSpot's advice for 423 Locked
MIGRATING_WAIT_SECONDS = 60.0  # 477 without a readable Retry-After
SECONDLY_WAIT_SECONDS = 1.0  # search's per-second limit: its 429s carry no window header
ACCOUNT_DETAILS_PATH = "/account-info/v3/details"


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
            config.rate_limit_requests,
            config.rate_limit_window_seconds,
            headroom=config.rate_limit_headroom,
        )
        self.search_limiter = SlidingWindowLimiter(
            config.search_rate_limit_requests, config.search_rate_limit_window_seconds
        )
        self._api_client = self.tickets.api_client  # for the one endpoint the SDK lacks
        # The day's budget as of the last answer, counted down by each request we send since;
        # at 0 we stop before sending (HubSpot would answer a DAILY 429) until the reset.
        self._daily_left: int | None = None
        self._daily_reset_at: datetime | None = None
        self._daily_lock = threading.Lock()
        self._zone: tzinfo | None = (
            ZoneInfo(config.portal_timezone) if config.portal_timezone else None
        )
        self._zone_asked = False
        self._zone_wanted = False  # set when the day's budget runs low
        self._zone_lock = threading.Lock()
        # One model configuration per SDK package: by default every request model copies a
        # fresh Configuration (and resets loggers), which costs more than the request itself.
        self.ticket_models = TicketsConfiguration()
        self.task_models = TasksConfiguration()
        self.link_models = AssociationsConfiguration()

    def call(self, what: str, method: Callable[..., T], **kwargs: Any) -> T:
        """One SDK call: rate-limited, counted, with a timeout, errors classified; the answer's
        rate-limit headers (on success and on error) go to the limiter."""
        self._refuse_if_daily_spent(what)
        self._count()
        try:
            with ExitStack() as limits:
                if _is_search(method):
                    limits.enter_context(self.search_limiter.slot())
                limits.enter_context(self.limiter.slot())
                try:
                    answer, headers = self._send(method, kwargs)
                except Exception as exc:
                    self._observe(_headers(exc), self.limiter.now())
                    raise
                self._observe(headers, self.limiter.now())
        except (urllib3.exceptions.HTTPError, HTTPException, OSError) as exc:
            raise TransientError(
                f"{what}: connection failed ({type(exc).__name__})", adapter=self.adapter
            ) from exc
        except Exception as exc:
            status = getattr(exc, "status", None)
            if not isinstance(status, int):
                raise
            raise self.classify(what, status, exc) from exc
        self._learn_zone_if_needed()
        return answer

    def _send(self, method: Callable[..., T], kwargs: dict[str, Any]) -> tuple[T, dict[str, str]]:
        """The answer and its headers. With ``_preload_content=False`` the SDK hands back the
        urllib3 response itself; otherwise the method's ``*_with_http_info`` twin (every SDK
        12 API method has one) returns ``(data, status, headers)`` when asked to."""
        timeout = self.config.timeout_seconds
        if kwargs.get("_preload_content") is False:
            raw = method(**kwargs, _request_timeout=timeout)
            return raw, _lower(getattr(raw, "headers", None))
        twin = getattr(
            getattr(method, "__self__", None),
            f"{getattr(method, '__name__', '')}_with_http_info",
            None,
        )
        if twin is None:
            return method(**kwargs, _request_timeout=timeout), {}
        data, _status, headers = twin(
            **kwargs, _return_http_data_only=False, _request_timeout=timeout
        )
        return data, _lower(headers)

    def _observe(self, headers: Mapping[str, str], answered_at: float) -> None:
        """Feed HubSpot's figures to the limiter; remember a daily budget spent."""
        remaining = _int(headers.get("x-hubspot-ratelimit-remaining"))
        if remaining is not None:
            limit = _int(headers.get("x-hubspot-ratelimit-max"))
            self.limiter.observe(remaining, limit=limit, answered_at=answered_at)
        daily_left = _int(headers.get("x-hubspot-ratelimit-daily-remaining"))
        if daily_left is None:
            return
        daily = _int(headers.get("x-hubspot-ratelimit-daily")) or 0
        if daily_left <= max(daily // 100, 50) and self._zone is None:
            self._zone_wanted = True  # the day's budget runs low: learn when it resets
        with self._daily_lock:
            self._daily_left = daily_left
            if daily_left <= 0 and self._daily_reset_at is None:
                wait = self.seconds_to_daily_reset()[0]
                self._daily_reset_at = datetime.now(UTC) + timedelta(seconds=wait)

    def _refuse_if_daily_spent(self, what: str) -> None:
        """Count one request against the day's budget, or refuse it when nothing is left."""
        with self._daily_lock:
            if self._daily_reset_at is not None and datetime.now(UTC) >= self._daily_reset_at:
                self._daily_left, self._daily_reset_at = None, None  # a new day
            if self._daily_left is None:
                return
            if self._daily_left > 0:
                self._daily_left -= 1
                return
            wait, where = self.seconds_to_daily_reset()
            if self._daily_reset_at is None:
                self._daily_reset_at = datetime.now(UTC) + timedelta(seconds=wait)
        raise RateLimitedError(
            f"{what}: not sent, HubSpot said the daily API quota is used up "
            f"(X-HubSpot-RateLimit-Daily-Remaining: 0); it resets at midnight {where}",
            retry_after=wait,
            stop_run=True,
            adapter=self.adapter,
        )

    def seconds_to_daily_reset(self) -> tuple[float, str]:
        """Seconds to the portal's next midnight, and in which zone that was counted: the
        daily quota resets at midnight in the account's time zone, not UTC."""
        if self._zone is not None:
            return seconds_to_midnight(self._zone), f"in the portal's time zone ({self._zone})"
        return (
            seconds_to_midnight(UTC),
            "UTC (the portal's time zone is unknown: set adapters.hubspot.portal_timezone)",
        )

    def _learn_zone_if_needed(self) -> None:
        """Ask HubSpot once for the portal's time zone, while budget is left to ask with."""
        if not self._zone_wanted or self._zone is not None:
            return
        with self._zone_lock:
            if self._zone_asked:
                return
            self._zone_asked = True
        try:
            details = self.call_json("read account details", self._account_details)
        except AdapterError as exc:
            log.warning("could not read the portal's time zone: %s", exc)
            return
        self._zone = _zone_of(details)

    def _account_details(self, **kwargs: Any) -> Any:
        """``GET /account-info/v3/details`` through the SDK's HTTP layer (no SDK API has it)."""
        return self._api_client.call_api(
            ACCOUNT_DETAILS_PATH,
            "GET",
            header_params={"Accept": "application/json"},
            auth_settings=["oauth2"],
            _return_http_data_only=True,
            **kwargs,
        )

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
                to_reset, where = self.seconds_to_daily_reset()
                return RateLimitedError(
                    f"{what}: daily API quota exhausted; it resets at midnight {where}",
                    retry_after=to_reset,
                    stop_run=True,
                    **kw,
                )
            window = headers.get("x-hubspot-ratelimit-interval-milliseconds", "")
            wait = parse_retry_after(headers.get("retry-after"))
            if wait is None and policy.upper() == "SECONDLY":
                wait = SECONDLY_WAIT_SECONDS
            if wait is None:
                wait = float(window) / 1000 if window.isdigit() else 10.0
            return RateLimitedError(
                f"{what}: rate limited ({policy or 'rolling window'})", retry_after=wait, **kw
            )
        if status == 423:
            return TransientError(f"{what}: locked (423)", retry_after=LOCKED_WAIT_SECONDS, **kw)
        if status == 477:
            wait = parse_retry_after(headers.get("retry-after"))
            return TransientError(
                f"{what}: the HubSpot account is being migrated (477 Migration in progress)",
                retry_after=MIGRATING_WAIT_SECONDS if wait is None else wait,
                **kw,
            )
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
    return _lower(getattr(exc, "headers", None))


def _lower(headers: object) -> dict[str, str]:
    if not headers:
        return {}
    items = headers.items() if hasattr(headers, "items") else []
    return {str(k).lower(): str(v) for k, v in items}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _is_search(method: Callable[..., Any]) -> bool:
    return getattr(method, "__name__", "") == "do_search"


def _zone_of(details: Mapping[str, Any]) -> tzinfo | None:
    """The account's ``timeZone`` (IANA), else its fixed ``utcOffsetMilliseconds``."""
    name = details.get("timeZone")
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    offset = details.get("utcOffsetMilliseconds")
    if isinstance(offset, int) and abs(offset) < 86_400_000:
        return timezone(timedelta(milliseconds=offset))
    return None


def seconds_to_midnight(zone: tzinfo, now: datetime | None = None) -> float:
    """Seconds from ``now`` to the next midnight on the wall clock of ``zone`` (DST-aware:
    the wall-clock date is advanced, then converted back)."""
    moment = (now or datetime.now(UTC)).astimezone(zone)
    next_day = (moment + timedelta(days=1)).date()
    midnight = datetime(next_day.year, next_day.month, next_day.day, tzinfo=zone)
    return max(0.0, (midnight.astimezone(UTC) - moment.astimezone(UTC)).total_seconds())
