"""Adapters write planned complaints into another system. See :mod:`.base` for the interface."""

from __future__ import annotations

from .base import (
    Adapter,
    CountedSession,
    Outcome,
    PlannedComplaint,
    PushResult,
    RemoteRecord,
    RemoteRefs,
    RemoteTask,
    RemoteWrite,
    SetupReport,
)
from .registry import available_adapters, create_adapter, load_adapter_class

__all__ = [
    "Adapter",
    "CountedSession",
    "Outcome",
    "PlannedComplaint",
    "PushResult",
    "RemoteRecord",
    "RemoteRefs",
    "RemoteTask",
    "RemoteWrite",
    "SetupReport",
    "available_adapters",
    "create_adapter",
    "load_adapter_class",
]
