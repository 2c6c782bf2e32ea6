"""HubSpot's CRM schema as the emulator knows it: object types, their ids, the default
association types between them, and the properties and property groups a new portal starts with.

Kept apart from the portal's storage so the definitions read as data, and so a property created
through the API is built by the same function as a default one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .wire import iso

__all__ = [
    "DEFAULT_ASSOCIATION_TYPES",
    "OBJECT_TYPES",
    "OBJECT_TYPE_IDS",
    "READ_ONLY",
    "default_groups",
    "default_properties",
    "define_group",
    "define_property",
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
