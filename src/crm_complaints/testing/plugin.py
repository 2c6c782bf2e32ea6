"""pytest plugin (entry point ``pytest11``): fixtures for testing against a local HubSpot.

``hubspot_emulator`` starts the emulator on a free loopback port with the demo portal and sets
``HUBSPOT_ACCESS_TOKEN`` to its token; the test fails if any request or response broke
HubSpot's OpenAPI contract.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..emulator import DEMO_TOKEN, HubSpotEmulator, running_emulator


@pytest.fixture
def hubspot_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubSpotEmulator]:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", DEMO_TOKEN)
    with running_emulator() as emulator:
        yield emulator
    assert emulator.violations == [], "requests or responses broke HubSpot's OpenAPI contract"
