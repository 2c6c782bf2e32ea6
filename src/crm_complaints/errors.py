"""Errors of crm-complaints, grouped by what the runtime should do with them.

::

    CrmComplaintsError
    ├─ ConfigError            bad or missing config; names the key
    ├─ RecordError            one record is invalid; names the record and field (quarantine, go on)
    ├─ StateError             state store trouble, migrations
    │  └─ LockHeldError       another run holds the state lock
    └─ AdapterError           carries adapter name and complaint id, never personal data
       ├─ TransientError      retry; carries retry_after when the CRM said so
       │  └─ RateLimitedError
       └─ PermanentError      retrying won't help
          ├─ AuthError
          └─ RejectedError    this record was refused; quarantine it

Only the sync engine retries. Adapters classify what their CRM said into this tree, at their edge,
and chain the original exception with ``raise ... from``. Messages never carry secrets or
personal data: status codes, field names and ids only.
"""

from __future__ import annotations

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
        where = " ".join(p for p in (f"record {record}" if record else "", field or "") if p)
        super().__init__(f"{where}: {message}" if where else message)


class StateError(CrmComplaintsError):
    """The state store cannot be opened, migrated or written."""


class LockHeldError(StateError):
    """Another sync or reconcile run holds the lock on this state store."""


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
