"""The normalized complaint, schema version "1": the public contract other tools write.

Strict where a mistake would change who acts or when: unknown fields, naive datetimes, an amount
without a currency and out-of-vocabulary categories are errors, never silently dropped.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from iso4217 import Currency
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    field_serializer,
    model_validator,
)

__all__ = [
    "SCHEMA_VERSION",
    "Attachment",
    "Category",
    "Channel",
    "Complaint",
    "Customer",
    "Demand",
    "DemandKind",
    "Department",
    "Related",
    "Reporter",
    "RiskFlag",
    "Severity",
    "Status",
    "StatusChange",
]

SCHEMA_VERSION: Literal["1"] = "1"


class Channel(StrEnum):
    PHONE = "phone"
    WALK_IN = "walk_in"
    EMAIL = "email"
    WEB_FORM = "web_form"
    SOCIAL_MEDIA = "social_media"
    LETTER = "letter"
    REVIEW_SITE = "review_site"
    OTHER = "other"


class Category(StrEnum):
    MEDICAL_QUALITY = "medical_quality"
    TREATMENT_OUTCOME = "treatment_outcome"
    SIDE_EFFECT = "side_effect"
    PRODUCT = "product"
    PRICE_BILLING = "price_billing"
    SERVICE_ATTITUDE = "service_attitude"
    WAIT_TIME = "wait_time"
    FACILITY = "facility"
    PRIVACY = "privacy"
    OTHER = "other"


class RiskFlag(StrEnum):
    BODILY_HARM = "bodily_harm"
    SOCIAL_MEDIA = "social_media"
    LEGAL_ACTION = "legal_action"
    MEDIA = "media"
    REGULATOR = "regulator"
    REPEAT_COMPLAINT = "repeat_complaint"


class DemandKind(StrEnum):
    REFUND = "refund"
    COMPENSATION = "compensation"
    APOLOGY = "apology"
    REDO_TREATMENT = "redo_treatment"
    EXPLANATION = "explanation"
    OTHER = "other"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class Status(StrEnum):
    """The standard flow, in order: each later status implies the earlier steps are done."""

    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    COORDINATING = "coordinating"
    RESOLUTION_PROPOSED = "resolution_proposed"
    RESOLVING = "resolving"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def rank(self) -> int:
        return _STATUS_RANK[self]

    @property
    def is_closed(self) -> bool:
        """Resolved or closed: what a CRM's "closed" stage corresponds to."""
        return self.rank >= _STATUS_RANK[Status.RESOLVED]


_STATUS_RANK = {status: index for index, status in enumerate(Status)}


class Department(StrEnum):
    FRONT_DESK = "front_desk"
    CARE_STAFF = "care_staff"
    PHYSICIAN = "physician"
    MANAGEMENT = "management"


ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LanguageTag = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", max_length=35),
]
# The ISO 4217 list as its maintenance agency (SIX) publishes it, from the iso4217 package, which
# follows each amendment. Not money: XXX ("no currency") and XTS (reserved for testing).
_CURRENCY_CODES = frozenset(c.code for c in Currency) - {"XXX", "XTS"}


def _iso_4217(code: str) -> str:
    # A made-up code would otherwise match no amount threshold and so route as "over every one".
    if code not in _CURRENCY_CODES:
        raise ValueError("is not an ISO 4217 currency code (such as JPY, CNY, TWD, USD, EUR)")
    return code


CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_iso_4217)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Demand(_Strict):
    """What the customer asks for; an amount needs its ISO 4217 currency."""

    kind: DemandKind
    amount: Annotated[Decimal, Field(ge=0, max_digits=18)] | None = None
    currency: CurrencyCode | None = None

    @model_validator(mode="after")
    def _amount_needs_currency(self) -> Demand:
        if self.amount is not None and self.currency is None:
            raise ValueError("an amount needs its currency (ISO 4217 code such as JPY)")
        return self


class Reporter(_Strict):
    """The staff member who first heard the complaint (the one who must report it)."""

    staff_id: Name | None = None
    name: Name | None = None
    department: Department | None = None


class Customer(_Strict):
    """Personal data: never logged, sent to a CRM only when the field allowlist says so."""

    external_id: Name | None = None
    name: Name | None = None
    email: Annotated[str, StringConstraints(max_length=254)] | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    preferred_language: LanguageTag | None = None


class Related(_Strict):
    treatment: Name | None = None
    product: Name | None = None
    lot_number: Name | None = None
    practitioner: Name | None = None


class Attachment(_Strict):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    label: Name | None = None


class StatusChange(_Strict):
    """The complaint entered ``status`` at ``at`` (for pausing while it waits on the patient)."""

    status: Status
    at: AwareDatetime


class Complaint(_Strict):
    """One complaint case as the clinic recorded it, normalized."""

    schema_version: Literal["1"] = SCHEMA_VERSION
    id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    clinic: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    received_at: AwareDatetime
    occurred_at: AwareDatetime | None = None
    acknowledged_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    channel: Channel = Channel.OTHER
    language: LanguageTag | None = None
    category: Category = Category.OTHER
    summary: ShortText
    description: str | None = None
    risk_flags: frozenset[RiskFlag] = frozenset()
    demand: Demand | None = None
    severity: Severity | None = None
    status: Status = Status.RECEIVED
    reporter: Reporter | None = None
    assignee: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254)]
        | None
    ) = None
    """The staff member who owns the primary department's tasks (a staff id or an e-mail,
    e.g. the practitioner who treated the patient), when it maps to an owner."""
    customer: Customer | None = None
    status_changes: tuple[StatusChange, ...] = ()
    """When the complaint entered each status, any order (``policy.pause_statuses`` needs
    them: a pause runs from entering a pause status to entering another one)."""
    related: Related | None = None
    attachments: tuple[Attachment, ...] = ()
    custom: dict[str, JsonValue] = Field(default_factory=dict)

    @field_serializer("risk_flags")
    def _sorted_flags(self, flags: frozenset[RiskFlag]) -> list[str]:
        # Sorted so the serialized form, and so the content hash, is stable.
        return sorted(f.value for f in flags)

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON form: equal for equal content, whatever the key order.
        An unset ``assignee`` and empty ``status_changes`` are left out, so complaints without
        them keep the version they had before the fields existed (no resync on upgrade)."""
        data = self.model_dump(mode="json")
        if data.get("assignee") is None:
            data.pop("assignee", None)
        if not data.get("status_changes"):
            data.pop("status_changes", None)
        return canonical_hash(data)


def canonical_hash(data: Any) -> str:
    """SHA-256 over canonical JSON (sorted keys, no spaces, UTF-8)."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()
