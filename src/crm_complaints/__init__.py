"""crm-complaints: clinic complaints → plans (who acts, by when) → a CRM, exactly once."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

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
from .job import Job
from .policy import Plan, PlannedComplaint, PlannedTask, Policy, TaskKind
from .readers import QuarantineEntry, read_complaints, read_csv, read_jsonl
from .schema import Complaint

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
