"""HubSpot's CRM schema as the emulator knows it: object types, their ids, the default
association types between them, and the properties and property groups a new portal starts with.

Kept apart from the portal's storage so the definitions read as data, and so a property created
through the API is built by the same function as a default one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .wire import HubSpotError, iso

__all__ = [
    "DEFAULT_ASSOCIATION_TYPES",
    "OBJECT_TYPES",
    "OBJECT_TYPE_IDS",
    "READ_ONLY",
    "default_groups",
    "default_properties",
    "define_group",
    "define_property",
    "patch_property",
]

OBJECT_TYPES = ("tickets", "tasks", "contacts")
OBJECT_TYPE_IDS = {"contacts": "0-1", "tickets": "0-5", "tasks": "0-27"}
# (from, to) → the HUBSPOT_DEFINED default association type id
DEFAULT_ASSOCIATION_TYPES = {
    ("tasks", "tickets"): 230,
    ("tickets", "tasks"): 229,
    ("tickets", "contacts"): 16,
    ("contacts", "tickets"): 15,
    ("tasks", "contacts"): 204,
    ("contacts", "tasks"): 203,
}
# Properties HubSpot sets itself: writing one is a 400.
READ_ONLY = {"hs_object_id", "createdate", "hs_lastmodifieddate"}
# type → the fieldTypes it takes ("Valid values for type field and compatible fieldType values",
# https://developers.hubspot.com/docs/api/crm/properties).
FIELD_TYPES = {
    "bool": {"booleancheckbox", "calculation_equation"},
    "enumeration": {"booleancheckbox", "checkbox", "radio", "select", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "string": {"file", "text", "textarea", "calculation_equation", "html", "phonenumber"},
    "number": {"number", "calculation_equation"},
    "phone_number": {"phonenumber"},
}
# What a PATCH may change ("Provided fields will be overwritten"; PropertyUpdate in the spec).
_PATCHABLE = (
    "label", "description", "groupName", "displayOrder", "hidden", "formField", "type",
    "fieldType", "options",
)  # fmt: skip


def define_property(
    name: str,
    label: str,
    *,
    type_: str = "string",
    field_type: str = "text",
    group: str = "ticketinformation",
    options: Iterable[tuple[str, str]] = (),
    unique: bool = False,
) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "groupName": group,
        "description": "",
        "options": [
            {"label": lab, "value": val, "hidden": False, "displayOrder": i}
            for i, (val, lab) in enumerate(options)
        ],
        "hasUniqueValue": unique,
        "hidden": False,
        "formField": False,
        "displayOrder": -1,
        "calculated": False,
        "externalOptions": False,
        "modificationMetadata": {
            "archivable": True,
            "readOnlyDefinition": not name.startswith("crm_"),
            "readOnlyValue": False,
        },
        "createdAt": iso(0),
        "updatedAt": iso(0),
        "archived": False,
    }


def patch_property(
    current: Mapping[str, Any], changes: Mapping[str, Any], groups: Iterable[str], now: str
) -> dict[str, Any]:
    """``current`` with a PATCH's ``changes`` applied, as HubSpot checks them: a property
    HubSpot defines keeps its definition, ``type`` and ``fieldType`` must go together, the
    group must exist, and ``options`` (which replace the old ones whole) need distinct values.
    Values objects already hold are left as they are, valid under the new options or not."""
    name = current["name"]
    if current["modificationMetadata"]["readOnlyDefinition"]:
        raise HubSpotError(
            400,
            f"Property {name} is defined by HubSpot: its definition cannot be changed",
            category="VALIDATION_ERROR",
            context={"propertyName": [name]},
        )
    patched = dict(current)
    patched.update({k: changes[k] for k in _PATCHABLE if changes.get(k) is not None})
    if patched["fieldType"] not in FIELD_TYPES.get(patched["type"], ()):
        raise HubSpotError(
            400,
            f"Property {name}: fieldType {patched['fieldType']} is not valid for type "
            f"{patched['type']}",
            category="VALIDATION_ERROR",
            context={"propertyName": [name]},
        )
    if patched["groupName"] not in set(groups):
        raise HubSpotError(400, f"Property group {patched['groupName']} does not exist")
    if changes.get("options") is not None:
        values = [str(o["value"]) for o in changes["options"]]
        if len(set(values)) != len(values):
            raise HubSpotError(
                400,
                f"Property {name}: options must have distinct values",
                category="VALIDATION_ERROR",
                context={"propertyName": [name]},
            )
        patched["options"] = [
            {
                "label": str(o["label"]),
                "value": str(o["value"]),
                "hidden": bool(o.get("hidden", False)),
                "displayOrder": int(o.get("displayOrder", i)),
                **({"description": str(o["description"])} if o.get("description") else {}),
            }
            for i, o in enumerate(changes["options"])
        ]
    patched["updatedAt"] = now
    return patched


def default_properties() -> dict[str, dict[str, dict[str, Any]]]:
    tickets = [
        define_property("subject", "Ticket name"),
        define_property("content", "Ticket description", field_type="textarea"),
        define_property("hs_pipeline", "Pipeline", type_="enumeration", field_type="select"),
        define_property(
            "hs_pipeline_stage", "Ticket status", type_="enumeration", field_type="select"
        ),
        define_property(
            "hs_ticket_priority",
            "Priority",
            type_="enumeration",
            field_type="select",
            options=[("LOW", "Low"), ("MEDIUM", "Medium"), ("HIGH", "High"), ("URGENT", "Urgent")],
        ),
        define_property(
            "hs_ticket_category",
            "Category",
            type_="enumeration",
            field_type="select",
            options=[
                ("PRODUCT_ISSUE", "Product issue"),
                ("BILLING_ISSUE", "Billing issue"),
                ("FEATURE_REQUEST", "Feature request"),
                ("GENERAL_INQUIRY", "General inquiry"),
            ],
        ),
        define_property(
            "hubspot_owner_id", "Ticket owner", type_="enumeration", field_type="select"
        ),
        define_property("hs_object_id", "Record ID", type_="number", field_type="number"),
        define_property("createdate", "Create date", type_="datetime", field_type="date"),
        define_property(
            "hs_lastmodifieddate", "Last modified", type_="datetime", field_type="date"
        ),
    ]
    tasks = [
        define_property(
            "hs_timestamp", "Due date", type_="datetime", field_type="date", group="task"
        ),
        define_property("hs_task_subject", "Task title", group="task"),
        define_property("hs_task_body", "Task notes", field_type="textarea", group="task"),
        # Unix milliseconds, ";" between several; checked against hs_timestamp by the portal.
        define_property("hs_task_reminders", "Reminder", group="task"),
        define_property(
            "hs_task_status",
            "Task status",
            type_="enumeration",
            field_type="select",
            group="task",
            options=[
                ("NOT_STARTED", "Not started"),
                ("IN_PROGRESS", "In progress"),
                ("WAITING", "Waiting"),
                ("COMPLETED", "Completed"),
                ("DEFERRED", "Deferred"),
            ],
        ),
        define_property(
            "hs_task_priority",
            "Priority",
            type_="enumeration",
            field_type="select",
            group="task",
            options=[("NONE", "None"), ("LOW", "Low"), ("MEDIUM", "Medium"), ("HIGH", "High")],
        ),
        define_property(
            "hs_task_type",
            "Task type",
            type_="enumeration",
            field_type="select",
            group="task",
            options=[("EMAIL", "Email"), ("CALL", "Call"), ("TODO", "To-do")],
        ),
        define_property(
            "hubspot_owner_id",
            "Assigned to",
            type_="enumeration",
            field_type="select",
            group="task",
        ),
        define_property(
            "hs_object_id", "Record ID", type_="number", field_type="number", group="task"
        ),
        define_property(
            "hs_lastmodifieddate",
            "Last modified",
            type_="datetime",
            field_type="date",
            group="task",
        ),
    ]
    contacts = [
        define_property("email", "Email", group="contactinformation", unique=False),
        define_property("firstname", "First name", group="contactinformation"),
        define_property("lastname", "Last name", group="contactinformation"),
        define_property("phone", "Phone", group="contactinformation"),
        define_property(
            "hs_object_id",
            "Record ID",
            type_="number",
            field_type="number",
            group="contactinformation",
        ),
    ]
    return {
        "tickets": {p["name"]: p for p in tickets},
        "tasks": {p["name"]: p for p in tasks},
        "contacts": {p["name"]: p for p in contacts},
    }


def define_group(name: str, label: str) -> dict[str, Any]:
    return {"name": name, "label": label, "displayOrder": -1, "archived": False}


def default_groups() -> dict[str, dict[str, dict[str, Any]]]:
    return {
        "tickets": {"ticketinformation": define_group("ticketinformation", "Ticket information")},
        "tasks": {"task": define_group("task", "Task information")},
        "contacts": {
            "contactinformation": define_group("contactinformation", "Contact information")
        },
    }
