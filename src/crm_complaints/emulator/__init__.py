"""A local HubSpot emulator held to HubSpot's own OpenAPI specs, for tests, demos and benchmarks."""

from __future__ import annotations

from .portal import DEMO_OWNERS, HubSpotError, Owner, Portal, demo_portal
from .server import DEMO_TOKEN, Faults, HubSpotEmulator, RateLimit, running_emulator

__all__ = [
    "DEMO_OWNERS",
    "DEMO_TOKEN",
    "Faults",
    "HubSpotEmulator",
    "HubSpotError",
    "Owner",
    "Portal",
    "RateLimit",
    "demo_portal",
    "running_emulator",
]
