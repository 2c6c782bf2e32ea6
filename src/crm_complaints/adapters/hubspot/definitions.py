"""The custom properties we own in HubSpot, and ``setup``, which creates and updates them.

Our ticket properties are HubSpot-native so a clinic's own views and reports work on them:
category, severity, coordinator, channel and demand kind are dropdowns (``enumeration`` /
``select``), departments and risk flags multiple checkboxes (``enumeration`` / ``checkbox``,
values joined by ``;``), the demand amount a ``number``, received at a ``datetime``. Option
values are our stable codes; their labels are in ``option_language`` (see :mod:`...labels`).

``setup`` is idempotent: it creates what is missing, and on a property that exists it adds the
options we lack (a category added in a later release), relabels options whose label differs
from the config, and turns a property an older release made as text into its dropdown or
checkbox form, each with one ``PATCH /crm/v3/properties/{objectType}/{propertyName}`` ("Perform
a partial update of a property ... Provided fields will be overwritten",
https://developers.hubspot.com/docs/api-reference/crm-properties-v3/core/patch-crm-v3-properties-objectType-propertyName).
An ``options`` array given there replaces the property's options ("you must include all of the
options that you want to use with the property; there is no way to append or remove a single
option", https://developers.hubspot.com/docs/methods/contacts/v2/update_contact_property), so we
always send every existing option back, ours and any a person added: an option is never
dropped, since tickets may hold it. The values older releases wrote as text are exactly the
option values, so converting keeps every stored value valid. A second run writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from hubspot.crm.properties import (
    BatchInputPropertyCreate,
    OptionInput,
    PropertyCreate,
    PropertyGroupCreate,
    PropertyUpdate,
)

from ...labels import Labelled, label
from ...schema import Category, Channel, DemandKind, Department, RiskFlag, Severity
from ..base import SetupReport
from .client import HubSpotClient
from .config import HubSpotConfig

__all__ = [
    "CONTACT_PROPERTIES",
    "TASK_PROPERTIES",
    "TICKET_PROPERTIES",
    "PropertySpec",
    "our_properties",
    "setup",
    "stale",
]

CHECKBOX = "checkbox"
"""``fieldType`` of a multiple checkboxes property: its value is the chosen options' values
joined by ``;`` (https://developers.hubspot.com/docs/faq/how-do-i-set-multiple-values-for-checkbox-properties)."""


class PropertySpec(NamedTuple):
    """One custom property we own; an enumeration has one option per value of ``values``."""

    name: str
    label: str
    type: str
    field_type: str
    unique: bool = False
    values: tuple[Labelled, ...] = ()

    def options(self, language: str) -> list[dict[str, Any]]:
        """Our options, in the enum's order, labelled in ``language``."""
        return [
            {"value": v.value, "label": label(v, language), "displayOrder": i, "hidden": False}
            for i, v in enumerate(self.values)
        ]


def _select(name: str, text: str, values: Sequence[Labelled]) -> PropertySpec:
    return PropertySpec(name, text, "enumeration", "select", values=tuple(values))


def _checkboxes(name: str, text: str, values: Sequence[Labelled]) -> PropertySpec:
    return PropertySpec(name, text, "enumeration", CHECKBOX, values=tuple(values))


TICKET_PROPERTIES: tuple[PropertySpec, ...] = (
    PropertySpec("crm_complaint_id", "Complaint ID", "string", "text", True),
    _select("crm_category", "Complaint category", list(Category)),
    _select("crm_severity", "Complaint severity", list(Severity)),
    _checkboxes("crm_departments", "Departments involved", list(Department)),
    _select("crm_coordinator", "Coordinating department", list(Department)),
    _select("crm_channel", "Complaint channel", list(Channel)),
    PropertySpec("crm_clinic", "Clinic", "string", "text"),
    PropertySpec("crm_received_at", "Complaint received", "datetime", "date"),
    _checkboxes("crm_risk_flags", "Complaint risk flags", list(RiskFlag)),
    _select("crm_demand_kind", "Customer's demand", list(DemandKind)),
    PropertySpec("crm_demand_amount", "Demanded amount", "number", "number"),
    # Text, not a dropdown: any ISO 4217 code may come, and a code without its option would
    # keep the whole ticket out of HubSpot. Reports still group by it.
    PropertySpec("crm_demand_currency", "Demanded amount's currency", "string", "text"),
    PropertySpec("crm_version", "Synced version", "string", "text"),
)
TASK_PROPERTIES: tuple[PropertySpec, ...] = (
    # Not unique: HubSpot documents unique values for tickets, not tasks (see .tasks).
    PropertySpec("crm_task_key", "Complaint task key", "string", "text"),
)
CONTACT_PROPERTIES: tuple[PropertySpec, ...] = (
    PropertySpec("crm_customer_id", "Complaint customer id", "string", "text", True),
)


def our_properties(config: HubSpotConfig) -> list[tuple[str, tuple[PropertySpec, ...]]]:
    """Per object type, the properties we own there."""
    objects = [("tickets", TICKET_PROPERTIES), ("tasks", TASK_PROPERTIES)]
    if config.contacts:
        objects.append(("contacts", CONTACT_PROPERTIES))
    return objects


def stale(spec: PropertySpec, have: Any) -> str | None:
    """Why a property the portal has cannot take what we write (``None``: it can): a type an
    older release created, or a value of ours without its option. Labels do not count."""
    if (have.type, have.field_type) != (spec.type, spec.field_type):
        return f"is {have.type}/{have.field_type}, not {spec.type}/{spec.field_type}"
    values = {o.value for o in have.options or []}
    lacking = [v.value for v in spec.values if v.value not in values]
    return f"has no option for {lacking}" if lacking else None


def _update(spec: PropertySpec, have: Any, language: str) -> PropertyUpdate | None:
    """The PATCH that brings an existing property to ``spec`` (``None``: nothing to change).
    Every existing option is sent back (the list replaces the old one); ours get the label
    of ``language``; ours that are missing are added after them."""
    converting = (have.type, have.field_type) != (spec.type, spec.field_type)
    if not spec.values:
        if not converting:
            return None
        return PropertyUpdate(type=spec.type, field_type=spec.field_type)
    wanted = {o["value"]: o for o in spec.options(language)}
    options: list[OptionInput] = []
    changed = converting
    for option in have.options or []:
        ours = wanted.pop(option.value, None)
        text = ours["label"] if ours else option.label
        changed |= text != option.label
        options.append(
            OptionInput(
                value=option.value,
                label=text,
                hidden=bool(option.hidden),
                display_order=option.display_order,
                description=option.description,
            )
        )
    for missing in wanted.values():  # in the enum's order
        changed = True
        options.append(
            OptionInput(
                value=missing["value"],
                label=missing["label"],
                hidden=False,
                display_order=missing["displayOrder"],
            )
        )
    if not changed:
        return None
    if converting:
        return PropertyUpdate(type=spec.type, field_type=spec.field_type, options=options)
    return PropertyUpdate(options=options)


def setup(client: HubSpotClient, config: HubSpotConfig) -> SetupReport:
    """Create our property group and properties on tickets and tasks (and contacts), and bring
    existing ones up to date (options, their labels, type); a second run writes nothing."""
    created: list[str] = []
    updated: list[str] = []
    existing: list[str] = []
    group = config.property_group
    language = config.option_language
    for object_type, wanted in our_properties(config):
        groups = client.call(
            f"read {object_type} property groups", client.groups.get_all, object_type=object_type
        )
        if any(g.name == group for g in groups.results):
            existing.append(f"{object_type} property group {group}")
        else:
            client.call(
                f"create {object_type} property group",
                client.groups.create,
                object_type=object_type,
                property_group_create=PropertyGroupCreate(
                    name=group, label="Complaints (crm-complaints)", display_order=-1
                ),
            )
            created.append(f"{object_type} property group {group}")
        have = client.call(
            f"read {object_type} properties", client.properties.get_all, object_type=object_type
        )
        by_name: Mapping[str, Any] = {p.name: p for p in have.results}
        missing = [spec for spec in wanted if spec.name not in by_name]
        for spec in wanted:
            if spec.name not in by_name:
                continue
            change = _update(spec, by_name[spec.name], language)
            if change is None:
                existing.append(f"{object_type}.{spec.name}")
                continue
            client.call(
                f"update {object_type} property",
                client.properties.update,
                object_type=object_type,
                property_name=spec.name,
                property_update=change,
            )
            updated.append(f"{object_type}.{spec.name}")
        if missing:
            client.call(
                f"create {object_type} properties",
                client.property_batch.create,
                object_type=object_type,
                batch_input_property_create=BatchInputPropertyCreate(
                    inputs=[_property_create(spec, group, language) for spec in missing]
                ),
            )
            created += [f"{object_type}.{spec.name}" for spec in missing]
    return SetupReport(created=tuple(created), existing=tuple(existing), updated=tuple(updated))


def _property_create(spec: PropertySpec, group: str, language: str) -> PropertyCreate:
    return PropertyCreate(
        name=spec.name,
        label=spec.label,
        type=spec.type,
        field_type=spec.field_type,
        group_name=group,
        has_unique_value=spec.unique,
        options=[
            OptionInput(
                value=o["value"], label=o["label"], hidden=False, display_order=o["displayOrder"]
            )
            for o in spec.options(language)
        ],
        description="Written by crm-complaints; do not edit by hand.",
    )
