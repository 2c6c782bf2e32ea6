"""Errors of crm-complaints, grouped by what the runtime should do with them.

::

    CrmComplaintsError
    ├─ ConfigError            bad or missing config; names the key
    ├─ RecordError            one record is invalid; names the record and field (quarantine, go on)
    ├─ StateError             state store trouble, migrations
    │  └─ LockHeldError       another run holds the state lock
    ├─ WebhookVerificationError  a delivery we received failed its signature check
    └─ AdapterError           carries adapter name and complaint id, never personal data
       ├─ TransientError      retry; carries retry_after when the CRM said so
       │  └─ RateLimitedError
       └─ PermanentError      retrying won't help
          ├─ AuthError
          └─ RejectedError    this record was refused; quarantine it

Only the sync engine retries. Adapters classify what their CRM said into this tree, at their edge,
and chain the original exception with ``raise ... from``: :func:`from_http_status` is the one
place an HTTP status (and its ``Retry-After``) becomes an error, so every adapter classifies the
same way. Messages never carry secrets or personal data: status codes, field names and ids only.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Self, TypedDict

__all__ = [
    "AdapterError",
    "AuthError",
    "ConfigError",
    "CrmComplaintsError",
    "LockHeldError",
    "PermanentError",
    "RateLimitedError",
    "RecordError",
    "RejectedError",
    "StateError",
    "TransientError",
    "WebhookVerificationError",
    "from_http_status",
    "parse_retry_after",
]


class CrmComplaintsError(Exception):
    """Root of every error this library raises on purpose."""


class ConfigError(CrmComplaintsError):
    """The configuration is missing, malformed or names something that does not exist."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        self.key = key
        super().__init__(f"{key}: {message}" if key else message)


class RecordError(CrmComplaintsError):
    """One input record is invalid; it is quarantined and the run goes on."""

    def __init__(self, message: str, *, record: str | None = None, field: str | None = None):
        self.record = record
        self.field = field
        self.reason = message
        where = " ".join(p for p in (f"record {record}" if record else "", field or "") if p)
        super().__init__(f"{where}: {message}" if where else message)


class StateError(CrmComplaintsError):
    """The state store cannot be opened, migrated or written."""


class LockHeldError(StateError):
    """Another sync or reconcile run holds the lock on this state store."""


class WebhookVerificationError(CrmComplaintsError):
    """A delivery failed verification: missing headers, stale timestamp or bad signature."""


class AdapterError(CrmComplaintsError):
    """A remote system refused or failed; says which adapter and which complaint."""

    def __init__(
        self,
        message: str,
        *,
        adapter: str = "",
        complaint_id: str | None = None,
        status: int | None = None,
    ) -> None:
        self.adapter = adapter
        self.complaint_id = complaint_id
        self.status = status
        self.reason = message
        parts = [p for p in (adapter, complaint_id and f"complaint {complaint_id}") if p]
        prefix = f"[{' '.join(parts)}] " if parts else ""
        super().__init__(f"{prefix}{message}")

    def for_complaint(self, complaint_id: str) -> Self:
        """The same error (same class, status and ``retry_after``), about one complaint: for
        a whole-request failure reported per complaint of the request."""
        other = copy.copy(self)
        other.complaint_id = complaint_id
        parts = [p for p in (self.adapter, f"complaint {complaint_id}") if p]
        other.args = (f"[{' '.join(parts)}] {self.reason}",)
        return other


class TransientError(AdapterError):
    """Worth retrying later; ``retry_after`` (seconds) is set when the remote said how long."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        adapter: str = "",
        complaint_id: str | None = None,
        status: int | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, adapter=adapter, complaint_id=complaint_id, status=status)


class RateLimitedError(TransientError):
    """The remote's rate limit was hit. ``stop_run`` means wait for a reset far away (daily)."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        stop_run: bool = False,
        adapter: str = "",
        complaint_id: str | None = None,
        status: int | None = None,
    ) -> None:
        self.stop_run = stop_run
        super().__init__(
            message,
            retry_after=retry_after,
            adapter=adapter,
            complaint_id=complaint_id,
            status=status,
        )


class PermanentError(AdapterError):
    """Retrying will not help."""


class AuthError(PermanentError):
    """Credentials are missing, wrong or lack a scope; the whole run stops."""


class RejectedError(PermanentError):
    """The remote refused this one record (validation, conflict); it is quarantined."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds (``"120"``, ``"1.5"``) or an
    HTTP date (RFC 9110 §10.2.3). ``None`` when absent or unreadable; never negative."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _Where(TypedDict):
    adapter: str
    complaint_id: str | None
    status: int | None


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    wanted = name.lower()
    return next((str(v) for k, v in headers.items() if str(k).lower() == wanted), None)


def from_http_status(
    status: int,
    headers: Mapping[str, str] | None = None,
    *,
    what: str,
    adapter: str = "",
    complaint_id: str | None = None,
    auth_hint: str = "check the credentials",
    detail: str = "",
) -> AdapterError:
    """The error an HTTP answer of ``status`` (not 2xx) means, for the engine.

    401/403 → :class:`AuthError` (the run stops: every record would fail the same way);
    429 → :class:`RateLimitedError` with ``Retry-After``; 408, 423, 425, 5xx and 0 (no answer)
    → :class:`TransientError`; a redirect (never followed) and any other 4xx →
    :class:`RejectedError`. ``what`` names the request (``"upsert tickets"``), ``detail`` adds
    what the body said (categories and field names only, never values).
    """
    where = _Where(adapter=adapter, complaint_id=complaint_id, status=status)
    suffix = f" {detail}" if detail else ""
    retry_after = parse_retry_after(_header(headers, "Retry-After"))
    if status in (401, 403):
        return AuthError(
            f"{what}: refused our credentials ({status}){suffix}; {auth_hint}", **where
        )
    if status == 429:
        return RateLimitedError(f"{what}: rate limited{suffix}", retry_after=retry_after, **where)
    if status in (0, 408, 423, 425) or status >= 500:
        answer = "no answer" if status == 0 else f"answered {status}"
        return TransientError(f"{what}: {answer}{suffix}", retry_after=retry_after, **where)
    if 300 <= status < 400:
        return RejectedError(f"{what}: answered a redirect ({status}), not followed", **where)
    return RejectedError(f"{what}: refused ({status}){suffix}", **where)
