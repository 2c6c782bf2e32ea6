"""``[adapters.hubspot]``: the HubSpot adapter's settings, and the keys it writes under."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ...labels import Language
from ...policy import TaskKind
from ...schema import Category, Department, Severity, Status

__all__ = ["DEFAULT_HOST", "HubSpotConfig", "task_key"]

DEFAULT_HOST = "https://api.hubapi.com"


def task_key(complaint_id: str, kind: TaskKind | str) -> str:
    """``crm_task_key`` of a task: ``<complaint id>:<task kind>``, unique per complaint."""
    return f"{complaint_id}:{TaskKind(kind).value}"


class HubSpotConfig(BaseModel):
    """``[adapters.hubspot]``: mappings by label or e-mail, discovered from the portal at start."""

    model_config = ConfigDict(extra="forbid")

    token_env: str = "HUBSPOT_ACCESS_TOKEN"
    host: str = DEFAULT_HOST
    allow_insecure_http: bool = False
    pipeline: str = "Support Pipeline"
    clinic_pipelines: dict[str, str] = Field(default_factory=dict)
    """Clinic id → the ticket pipeline (by label) of that clinic's tickets; ``stages`` names
    their stages. Clinics not listed use ``pipeline``."""
    stages: dict[Status, str] = Field(
        default_factory=lambda: {
            Status.RECEIVED: "New",
            Status.ACKNOWLEDGED: "Waiting on us",
            Status.INVESTIGATING: "Waiting on us",
            Status.COORDINATING: "Waiting on us",
            Status.RESOLUTION_PROPOSED: "Waiting on contact",
            Status.RESOLVING: "Waiting on contact",
            Status.RESOLVED: "Closed",
            Status.CLOSED: "Closed",
        }
    )
    owners: dict[Department, str] = Field(default_factory=dict)
    # Option names of the portal, which happen to match the policy's default labels.
    priorities: dict[Severity, str] = Field(
        default_factory=lambda: {
            Severity.LOW: "LOW",
            Severity.MEDIUM: "MEDIUM",
            Severity.HIGH: "HIGH",
            Severity.CRITICAL: "URGENT",
        }
    )
    task_priorities: dict[Severity, str] = Field(
        default_factory=lambda: {
            Severity.LOW: "LOW",
            Severity.MEDIUM: "MEDIUM",
            Severity.HIGH: "HIGH",
            Severity.CRITICAL: "HIGH",
        }
    )
    categories: dict[Category, str] = Field(default_factory=dict)
    property_group: str = "crm_complaints"
    option_language: Language = "en"
    """Language of the option labels ``setup`` writes on our dropdown and checkbox properties
    (category, severity, departments…), as staff see them in HubSpot's views and reports; the
    values stay our stable codes, so changing this only relabels (run ``setup`` again)."""
    rate_limit_requests: int = Field(100, ge=1)
    rate_limit_window_seconds: float = Field(10.0, gt=0)
    rate_limit_headroom: int = Field(4, ge=0)
    """Places of the window we leave unused while other apps spend the account's budget too
    (seen in ``X-HubSpot-RateLimit-Remaining``): our estimate of their use errs low by about
    the requests we have in flight, so the default matches ``concurrency``."""
    search_rate_limit_requests: int = Field(4, ge=1)
    search_rate_limit_window_seconds: float = Field(1.0, gt=0)
    """CRM search has its own limit per account (4-5 requests a second, 429 ``SECONDLY``)."""
    portal_timezone: str | None = None
    """IANA zone the portal's daily quota resets in (its midnight). Unset: asked of HubSpot
    (``GET /account-info/v3/details``, ``timeZone``) when the daily budget runs low."""
    timeout_seconds: float = Field(30.0, gt=0)
    contacts: bool = False
    """Also upsert a contact per customer (keyed on customer.external_id) and link the ticket and
    its tasks to it. Only allowed fields go on the contact (by default none but the id)."""
    reminders: bool = True
    """Write the plan's reminders to ``hs_task_reminders`` (``policy.reminders`` says when);
    false leaves that property alone (e.g. when HubSpot workflows set it)."""
    concurrency: int = Field(4, ge=1, le=16)
    """Task requests in flight at once; the rate limiter still caps the request rate."""

    @field_validator("portal_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"not an IANA time zone name (like Asia/Tokyo): {exc}") from exc
        return value
