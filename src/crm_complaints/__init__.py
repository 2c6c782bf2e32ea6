"""crm-complaints: clinic complaints → plans (who acts, by when) → a CRM, exactly once."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from .calendar import BusinessCalendar
from .config import Settings, load_settings
from .errors import (
    AdapterError,
    AuthError,
    ConfigError,
    CrmComplaintsError,
    LockHeldError,
    PermanentError,
    RateLimitedError,
    RecordError,
    RejectedError,
    StateError,
    TransientError,
    WebhookVerificationError,
)
from .exit_codes import ExitCode
from .policy import Plan, PlannedComplaint, PlannedTask, Policy, TaskKind
from .readers import QuarantineEntry, read_complaints, read_csv, read_jsonl
from .schema import Complaint

if TYPE_CHECKING:
    from .job import Job


def __getattr__(name: str) -> Any:
    """``Job`` on first use: it imports SQLAlchemy and every adapter, which ``report``,
    ``plan`` and ``validate`` (and a library user planning only) never need."""
    if name == "Job":
        from .job import Job

        return Job
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


try:
    __version__ = version("crm-complaints")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AdapterError",
    "AuthError",
    "BusinessCalendar",
    "Complaint",
    "ConfigError",
    "CrmComplaintsError",
    "ExitCode",
    "Job",
    "LockHeldError",
    "PermanentError",
    "Plan",
    "PlannedComplaint",
    "PlannedTask",
    "Policy",
    "QuarantineEntry",
    "RateLimitedError",
    "RecordError",
    "RejectedError",
    "Settings",
    "StateError",
    "TaskKind",
    "TransientError",
    "WebhookVerificationError",
    "__version__",
    "load_settings",
    "read_complaints",
    "read_csv",
    "read_jsonl",
]
