"""Adapters write planned complaints into another system. See :mod:`.base` for the interface."""

from __future__ import annotations

from .base import (
    Adapter,
    Outcome,
    PlannedComplaint,
    PushResult,
    RemoteRecord,
    RemoteRefs,
    SetupReport,
)
from .registry import available_adapters, create_adapter, load_adapter_class

__all__ = [
    "Adapter",
    "Outcome",
    "PlannedComplaint",
    "PushResult",
    "RemoteRecord",
    "RemoteRefs",
    "SetupReport",
    "available_adapters",
    "create_adapter",
    "load_adapter_class",
]
