"""crm-complaints: clinic complaints → plans (who acts, by when) → a CRM, exactly once."""

from __future__ import annotations

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
)
from .policy import Plan, PlannedTask, Policy, TaskKind
from .readers import QuarantineEntry, read_complaints, read_csv, read_jsonl
from .schema import Complaint

__version__ = "0.1.0"

__all__ = [
    "AdapterError",
    "AuthError",
    "BusinessCalendar",
    "Complaint",
    "ConfigError",
    "CrmComplaintsError",
    "LockHeldError",
    "PermanentError",
    "Plan",
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
    "__version__",
    "load_settings",
    "read_complaints",
    "read_csv",
    "read_jsonl",
]
