"""Configuration: one TOML file, overridden by ``CRM_COMPLAINTS_*`` environment variables.

Secrets never live here: adapters name the environment variable that holds them
(``secret_env``, ``token_env``). Every key is documented in the README.
"""

from __future__ import annotations

import os
import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .alerts.settings import AlertsConfig
from .calendar import BusinessCalendar
from .errors import ConfigError
from .fields import FieldOwner, FieldOwners
from .schema import Category, Channel, DemandKind, Department, RiskFlag, Severity, Status

__all__ = [
    "DEFAULT_ALLOWED_FIELDS",
    "ClinicConfig",
    "CsvConfig",
    "OwnerRoute",
    "PolicyConfig",
    "ReconcileConfig",
    "ReminderConfig",
    "Settings",
    "SourceConfig",
    "StateConfig",
    "SyncConfig",
    "ValueWords",
    "load_settings",
]

CONFIG_ENV = "CRM_COMPLAINTS_CONFIG"

# Everything but the customer's name, e-mail and phone, the staff member's name and the free text.
DEFAULT_ALLOWED_FIELDS: tuple[str, ...] = (
    "schema_version",
    "id",
    "clinic",
    "received_at",
    "occurred_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
    "updated_at",
    "channel",
    "language",
    "category",
    "summary",
    "risk_flags",
    "demand",
    "severity",
    "status",
    "reporter.staff_id",
    "reporter.department",
    "customer.external_id",
    "customer.preferred_language",
    "related",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OwnerRoute(_Section):
    """Who owns a department's tasks at one clinic: an owner key (the e-mail the CRM knows the
    person by), an optional deputy, and the dates the owner is away (clinic-local, inclusive).
    A deputy stands in while the owner is away, and backs the owner up otherwise (an owner the
    CRM reports as deactivated)."""

    owner: str = Field(min_length=1)
    deputy: str | None = Field(None, min_length=1)
    away: list[str] = Field(default_factory=list)
    """``"2026-12-24..2026-12-31"`` or one date ``"2026-12-24"``; judged at a task's due time."""

    @field_validator("away")
    @classmethod
    def _date_ranges(cls, value: list[str]) -> list[str]:
        for text in value:
            _date_range(text)
        return value

    def away_on(self, day: date) -> bool:
        """Whether the owner is marked away on this clinic-local date."""
        return any(start <= day <= end for start, end in map(_date_range, self.away))


def _date_range(text: str) -> tuple[date, date]:
    first, _, last = text.partition("..")
    try:
        start = date.fromisoformat(first.strip())
        end = date.fromisoformat(last.strip()) if last else start
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date or a range like 2026-12-24..2026-12-31") from exc
    if end < start:
        raise ValueError(f"{text!r} ends before it starts")
    return start, end


class ClinicConfig(_Section):
    """A clinic's locale, business calendar and routing (who owns each department's tasks)."""

    time_zone: str = "Asia/Tokyo"
    country: str = "JP"
    subdivision: str | None = None
    language: str = "ja"
    hours: dict[str, list[str]] | None = None
    closures: list[date] = Field(default_factory=list)
    annual_closures: list[str] = Field(default_factory=list)
    owners: dict[Department, OwnerRoute] = Field(default_factory=dict)
    """Department → owner (a bare owner key, or ``{owner, deputy, away}``); departments not
    named here fall back to the adapter's own mapping, then to management."""
    staff: dict[str, str] = Field(default_factory=dict)
    """Staff id → owner key, for complaints whose ``assignee`` is a staff id."""

    @field_validator("owners", mode="before")
    @classmethod
    def _bare_owner_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"owner": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    def calendar(self) -> BusinessCalendar:
        return BusinessCalendar.from_strings(
            time_zone=self.time_zone,
            country=self.country,
            subdivision=self.subdivision,
            hours=self.hours,
            closures=self.closures,
            annual_closures=self.annual_closures,
        )


ReminderSetting = Annotated[int, Field(ge=0, le=10080)] | Literal["opening", "off"]
"""Minutes before the due time, ``"opening"`` (the due day's opening time) or ``"off"``."""


class ReminderConfig(_Section):
    """When the CRM reminds a task's owner, per task kind (HubSpot: ``hs_task_reminders``)."""

    enabled: bool = True
    report_supervisor: ReminderSetting = 10
    report_executive: ReminderSetting = 10
    initial_response: ReminderSetting = 30
    investigation: ReminderSetting = "opening"
    resolution_plan: ReminderSetting = "opening"
    incident_report: ReminderSetting = "opening"
    follow_up: ReminderSetting = "opening"


class PolicyConfig(_Section):
    """Every number and mapping of the routing policy; the defaults are the clinics' rules."""

    critical_flags: frozenset[RiskFlag] = frozenset(
        {RiskFlag.BODILY_HARM, RiskFlag.LEGAL_ACTION, RiskFlag.MEDIA, RiskFlag.REGULATOR}
    )
    high_flags: frozenset[RiskFlag] = frozenset({RiskFlag.SOCIAL_MEDIA, RiskFlag.REPEAT_COMPLAINT})
    high_categories: frozenset[Category] = frozenset({Category.SIDE_EFFECT})
    medium_categories: frozenset[Category] = frozenset(
        {
            Category.MEDICAL_QUALITY,
            Category.TREATMENT_OUTCOME,
            Category.PRODUCT,
            Category.PRIVACY,
        }
    )
    monetary_demand_kinds: frozenset[DemandKind] = frozenset(
        {DemandKind.REFUND, DemandKind.COMPENSATION}
    )
    amount_thresholds: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "JPY": Decimal(100000),
            "CNY": Decimal(5000),
            "TWD": Decimal(20000),
            "USD": Decimal(1000),
            "EUR": Decimal(1000),
        }
    )
    priority: dict[Severity, str] = Field(
        default_factory=lambda: {
            Severity.LOW: "LOW",
            Severity.MEDIUM: "MEDIUM",
            Severity.HIGH: "HIGH",
            Severity.CRITICAL: "URGENT",
        }
    )
    primary_department: dict[Category, Department] = Field(
        default_factory=lambda: {
            Category.MEDICAL_QUALITY: Department.PHYSICIAN,
            Category.TREATMENT_OUTCOME: Department.PHYSICIAN,
            Category.SIDE_EFFECT: Department.PHYSICIAN,
            Category.PRODUCT: Department.CARE_STAFF,
            Category.PRICE_BILLING: Department.FRONT_DESK,
            Category.SERVICE_ATTITUDE: Department.FRONT_DESK,
            Category.WAIT_TIME: Department.FRONT_DESK,
            Category.FACILITY: Department.FRONT_DESK,
            Category.OTHER: Department.FRONT_DESK,
            Category.PRIVACY: Department.MANAGEMENT,
        }
    )
    escalate_at: Severity = Severity.HIGH
    report_minutes: int = Field(30, ge=1)
    initial_response_minutes: int = Field(120, ge=1)
    investigation_business_days: int = Field(1, ge=1)
    resolution_plan_business_days: int = Field(3, ge=1)
    incident_report_business_days: int = Field(10, ge=1)
    follow_up_business_days: int = Field(7, ge=1)
    reminders: ReminderConfig = Field(default_factory=ReminderConfig)
    pause_statuses: frozenset[Status] = frozenset()
    """Statuses in which a complaint waits on the patient (e.g. ``resolution_proposed``): the
    patient-dependent business-day tasks pause and their due dates move by the time paused.
    Empty (the default): nothing pauses. Needs ``status_changes`` on the complaint."""
    history_before: AwareDatetime | None = None
    """Importing history: tasks of complaints received before this moment that fell due before
    it are planned as done (see :mod:`crm_complaints.history`)."""

    @field_validator("primary_department")
    @classmethod
    def _every_category_routed(
        cls, value: dict[Category, Department]
    ) -> dict[Category, Department]:
        missing = [c.value for c in Category if c not in value]
        if missing:
            raise ValueError(f"no primary department for categories {missing}")
        return value

    @field_validator("priority")
    @classmethod
    def _every_severity_prioritized(cls, value: dict[Severity, str]) -> dict[Severity, str]:
        missing = [s.value for s in Severity if s not in value]
        if missing:
            raise ValueError(f"no priority for severities {missing}")
        return value


class ValueWords(_Section):
    """The clinic's own words for enumerated values, beyond the labels we know in en, ja,
    zh-Hans and zh-Hant: ``[csv.values.category] "施術効果" = "treatment_outcome"``."""

    category: dict[str, Category] = Field(default_factory=dict)
    channel: dict[str, Channel] = Field(default_factory=dict)
    status: dict[str, Status] = Field(default_factory=dict)
    severity: dict[str, Severity] = Field(default_factory=dict)
    demand_kind: dict[str, DemandKind] = Field(default_factory=dict)
    department: dict[str, Department] = Field(default_factory=dict)
    risk_flags: dict[str, RiskFlag] = Field(default_factory=dict)
    clinic: dict[str, str] = Field(default_factory=dict)
    """The clinic's name as the sheet writes it → its id in ``[clinics]`` (``"銀座院" =
    "tokyo-ginza"``)."""
    yes: list[str] = Field(default_factory=list)
    """Further words meaning "yes" in a yes/no column of one risk flag (あり, 有, yes… known)."""
    no: list[str] = Field(default_factory=list)


class CsvConfig(_Section):
    """How a clinic's table (CSV, spreadsheet or SQL query) maps onto complaint fields: headers
    to dotted field names, the clinic's words for values, and how its dates are written."""

    columns: dict[str, str] = Field(default_factory=dict)
    list_separator: str = ";"
    delimiter: str | None = None
    """None: a comma, or a tab when the header row holds tabs and no commas (Excel's
    "Unicode text")."""
    encoding: str | None = None
    """None: detected (BOM, UTF-8, UTF-16, cp932, GB18030, Big5); set, it wins."""
    local_time: bool = False
    """Read a date-time without an offset in the clinic's time zone (else it is an error)."""
    sheet: str | int | None = None
    """A spreadsheet's sheet by name or 1-based position (default: the first)."""
    values: ValueWords = Field(default_factory=ValueWords)

    @field_validator("columns")
    @classmethod
    def _targets_are_fields(cls, value: dict[str, str]) -> dict[str, str]:
        from .field_paths import is_column_target

        for header, target in value.items():
            if not is_column_target(target):
                raise ValueError(
                    f"csv.columns.{header}: {target!r} is not a complaint field (a dotted name "
                    "such as customer.name, risk_flags.social_media or custom.<key>)"
                )
        return value


class SourceConfig(_Section):
    """Where ``sync``, ``plan`` and the rest read when no source is given: a file, or a
    database (a SQLAlchemy URL, from ``url_env`` to keep its password out of the file, and a
    query whose columns map like a CSV's)."""

    path: Path | None = None
    url: str | None = None
    url_env: str | None = None
    query: str | None = None
    adapter: str | None = None
    """The adapter ``sync`` and ``reconcile`` use when ``--adapter`` is not given."""


class StateConfig(_Section):
    """Where sync state lives. ``url`` (SQLAlchemy URL) wins over ``path`` when given.
    ``namespace`` (a tenant or portal key) lets jobs of many portals share one database
    without seeing each other's rows; each namespace and adapter has its own run lock."""

    path: Path = Path("crm-complaints.db")
    url: str | None = None
    namespace: str = Field("default", pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    lock_wait_seconds: float = Field(0.0, ge=0)
    audit_retention_days: int | None = Field(None, ge=1)
    """Audit-trail rows older than this are removed by ``audit prune``; unset keeps all."""


class SyncConfig(_Section):
    """Batching and the bounds of retrying."""

    batch_size: int = Field(500, ge=1, le=1000)
    max_attempts: int = Field(6, ge=1, le=50)
    max_retry_seconds: float = Field(120.0, ge=0)
    initial_backoff_seconds: float = Field(0.5, ge=0)
    max_backoff_seconds: float = Field(30.0, ge=0)
    fields: dict[str, FieldOwner] = Field(default_factory=dict)
    """Who owns each remote field (``source``, ``create`` or ``crm``), over the defaults in
    :mod:`crm_complaints.fields`; e.g. ``task_due = "create"`` lets staff move due dates."""

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, FieldOwner]) -> dict[str, FieldOwner]:
        FieldOwners(value)  # names the unknown field
        return value

    def field_owners(self) -> FieldOwners:
        return FieldOwners(self.fields)


class ReconcileConfig(_Section):
    """Which remote fields reconcile compares; whether a difference is drift or "changed in the
    CRM" follows the field's owner (``[sync.fields]``)."""

    owned_fields: tuple[str, ...] = (
        "subject",
        "priority",
        "stage",
        "owner",
        "departments",
        "coordinator",
        "category",
        "severity",
        "channel",
        "task_due",
    )
    ignore_fields: tuple[str, ...] = ()
    """Owned fields a person may change in the CRM without it counting as drift (e.g. owner)."""
    fail_on_crm_changes: bool = False
    """Count "changed in the CRM" and "deleted in the CRM" findings for the exit code (by
    default they are information: staff work in the CRM on purpose)."""


class Settings(BaseSettings):
    """The whole configuration. Env vars override TOML, e.g. ``CRM_COMPLAINTS_STATE__PATH``."""

    model_config = SettingsConfigDict(
        env_prefix="CRM_COMPLAINTS_", env_nested_delimiter="__", extra="forbid"
    )

    default_clinic: ClinicConfig = Field(default_factory=ClinicConfig)
    clinics: dict[str, ClinicConfig] = Field(default_factory=dict)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    csv: CsvConfig = Field(default_factory=CsvConfig)
    source: SourceConfig = Field(default_factory=SourceConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    sync: SyncConfig = Field(default_factory=SyncConfig)
    reconcile: ReconcileConfig = Field(default_factory=ReconcileConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    allowed_fields: tuple[str, ...] = DEFAULT_ALLOWED_FIELDS
    adapters: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init kwargs; the environment must win over it.
        return (env_settings, init_settings)

    def clinic(self, clinic_id: str) -> ClinicConfig:
        """A named clinic's config; a clinic the config doesn't name uses the default."""
        return self.clinics.get(clinic_id, self.default_clinic)

    def adapter_settings(self, name: str) -> dict[str, Any]:
        return dict(self.adapters.get(name, {}))


def load_settings(path: Path | str | None = None) -> Settings:
    """Read the TOML file (argument, else ``$CRM_COMPLAINTS_CONFIG``, else none) and validate."""
    chosen = path if path is not None else os.environ.get(CONFIG_ENV) or None
    data: dict[str, Any] = {}
    if chosen is not None:
        file = Path(chosen)
        try:
            with file.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {file} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {file} is not valid TOML: {exc}") from exc
    try:
        settings = Settings(**data)
        for name, clinic in {"default_clinic": settings.default_clinic, **settings.clinics}.items():
            try:
                clinic.calendar()
            except (ValueError, KeyError) as exc:
                key = name if name == "default_clinic" else f"clinics.{name}"
                raise ConfigError(str(exc).strip("'\""), key=key) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(first["msg"], key=key) from exc
    return settings
