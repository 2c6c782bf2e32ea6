"""The ``[alerts]`` section: when to nudge, when to escalate, and where each message goes.

Channels are apprise URLs (Slack, Teams, e-mail, LINE, JSON webhooks…), which embed tokens and
passwords: the config names the *environment variables* that hold them, never the URLs.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..schema import Department, Severity

__all__ = ["AlertsConfig", "Level"]


class Level(StrEnum):
    """How late a task is, in the order a task passes through them."""

    DUE_SOON = "due_soon"
    """Due within ``due_soon_minutes``: the owner's department."""
    OVERDUE = "overdue"
    """Past due: the department and the coordinator."""
    ESCALATION = "escalation"
    """A first response or dual-path report late by more than ``escalate_after_minutes``:
    management (the executive path)."""


_KINDS = (
    "report_supervisor",
    "report_executive",
    "initial_response",
    "investigation",
    "resolution_plan",
    "incident_report",
    "follow_up",
)
_CHANNEL_KEYS = frozenset({d.value for d in Department} | {level.value for level in Level})


def _check_channels(value: dict[str, list[str]]) -> dict[str, list[str]]:
    unknown = sorted(set(value) - _CHANNEL_KEYS)
    if unknown:
        raise ValueError(f"unknown channel key(s) {unknown}; use a department or a level")
    for names in value.values():
        for name in names:
            if not name or not name.replace("_", "").isalnum():
                raise ValueError(
                    f"{name!r} is not an environment variable name (the variable holds the "
                    "apprise URL; URLs carry secrets and stay out of the config)"
                )
    return value


class AlertsConfig(BaseModel):
    """Every number and route of ``crm-complaints alerts``; the defaults are the clinics' rules."""

    model_config = ConfigDict(extra="forbid")

    due_soon_minutes: int = Field(30, ge=0, le=10080)
    """A task due within this many minutes gets a ``due_soon`` alert (0: none)."""
    escalate_after_minutes: int = Field(30, ge=0)
    """A task of ``escalate_kinds`` overdue by more than this escalates to management."""
    escalate_kinds: frozenset[str] = frozenset(
        {"report_supervisor", "report_executive", "initial_response"}
    )
    quiet_outside_hours: bool = True
    """Hold alerts while the clinic is closed (sent at the first run after it opens)..."""
    always_severities: frozenset[Severity] = frozenset({Severity.CRITICAL})
    """...except for complaints of these severities, sent day and night."""
    max_alerts_per_message: int = Field(30, ge=1, le=500)
    """Alerts listed in one message (chat services cap a message's length)."""
    max_messages_per_channel: int = Field(3, ge=1, le=100)
    """Messages per channel and run (apprise waits 5.5 s between two to one service); the
    rest is left for the next runs, most urgent first, never dropped."""
    channels: dict[str, list[str]] = Field(default_factory=dict)
    """Key (a department, or a level for extra recipients of every alert of that level) →
    names of environment variables holding apprise URLs; for every clinic."""
    clinics: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    """Clinic id → channels as above; a key named here replaces the all-clinics one."""

    @field_validator("escalate_kinds")
    @classmethod
    def _known_kinds(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = sorted(value - set(_KINDS))
        if unknown:
            raise ValueError(f"unknown task kind(s) {unknown}; use {', '.join(_KINDS)}")
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return _check_channels(value)

    @field_validator("clinics")
    @classmethod
    def _clinic_channels(
        cls, value: dict[str, dict[str, list[str]]]
    ) -> dict[str, dict[str, list[str]]]:
        for channels in value.values():
            _check_channels(channels)
        return value

    def channel_names(self, clinic: str, key: str) -> list[str]:
        """The environment variable names for one clinic and key (a department or level)."""
        own = self.clinics.get(clinic, {})
        return list(own[key] if key in own else self.channels.get(key, []))
