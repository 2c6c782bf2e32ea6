"""Test helpers shipped in the wheel: a pytest plugin with a HubSpot emulator fixture."""
