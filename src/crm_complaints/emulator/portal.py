"""The in-memory state of an emulated HubSpot portal, strict the way HubSpot is.

Objects (tickets, tasks, contacts) with properties that must exist, enumeration options that
must be valid, pipelines, stages and owners that must exist, required ticket properties, and
unique-value properties that are enforced. Associations as in CRM v4. Search sees an object
only after a configurable visibility delay, like HubSpot's eventually consistent index.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from .schema import (
    DEFAULT_ASSOCIATION_TYPES,
    OBJECT_TYPE_IDS,
    OBJECT_TYPES,
    READ_ONLY,
    default_groups,
    default_properties,
    define_property,
    patch_property,
)
from .wire import HubSpotError, iso

__all__ = ["HubSpotError", "Owner", "Portal", "StoredObject", "demo_portal", "iso"]


@dataclass
class StoredObject:
    id: str
    properties: dict[str, str]
    created_at: float
    updated_at: float
    visible_at: float
    archived: bool = False

    def as_json(self, wanted: Iterable[str] | None = None) -> dict[str, Any]:
        props = self.properties
        if wanted is not None:
            props = {k: props[k] for k in wanted if k in props}
        return {
            "id": self.id,
            "properties": dict(props),
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": self.archived,
        }


@dataclass(frozen=True)
class Owner:
    id: str
    email: str
    first_name: str
    last_name: str
    archived: bool = False
    """A deactivated user: listed only with ``archived=true`` and no longer assignable."""


@dataclass
class Portal:
    """One HubSpot account's CRM data, in memory and thread-safe.

    ``unique_task_properties``: HubSpot documents unique-value properties (``hasUniqueValue``)
    for contacts, companies, deals, tickets and custom objects, never for tasks
    (https://developers.hubspot.com/docs/api/crm/properties, "Create unique identifier
    properties"), so creating one on tasks is refused with a 400 ``VALIDATION_ERROR``, as a
    real portal may; a test that needs the lenient behaviour turns this on.
    """

    owners: list[Owner] = field(default_factory=list)
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    search_delay_seconds: float = 0.0
    clock: Callable[[], float] = time.time
    properties: dict[str, dict[str, dict[str, Any]]] = field(default_factory=default_properties)
    groups: dict[str, dict[str, dict[str, Any]]] = field(default_factory=default_groups)
    objects: dict[str, dict[str, StoredObject]] = field(
        default_factory=lambda: {t: {} for t in OBJECT_TYPES}
    )
    unique_index: dict[tuple[str, str, str], str] = field(default_factory=dict)
    associations: dict[tuple[str, str, str], dict[str, set[int]]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # For tests: property values the portal refuses (a per-record 400, as for a bad value).
    poisoned: set[str] = field(default_factory=set)
    unique_task_properties: bool = False  # see the class docstring
    _ids: Iterable[int] = field(default_factory=lambda: itertools.count(10_000_001))

    # -- schema ---------------------------------------------------------------------------
    def object_type(self, name: str) -> str:
        for known, type_id in OBJECT_TYPE_IDS.items():
            if name in (known, type_id, known.rstrip("s"), f"p_{known}"):
                return known
        raise HubSpotError(400, f"Unable to infer object type from: {name}")

    def property(self, object_type: str, name: str) -> dict[str, Any]:
        found = self.properties[object_type].get(name)
        if found is None or found.get("archived"):
            raise HubSpotError(404, f"Property {name} does not exist", category="OBJECT_NOT_FOUND")
        return found

    def create_property(self, object_type: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        name = spec["name"]
        if name in self.properties[object_type]:
            raise HubSpotError(
                409, f"Property {name} already exists", category="OBJECT_ALREADY_EXISTS"
            )
        if spec["groupName"] not in self.groups[object_type]:
            raise HubSpotError(400, f"Property group {spec['groupName']} does not exist")
        if (
            object_type == "tasks"
            and spec.get("hasUniqueValue")
            and not self.unique_task_properties
        ):
            raise HubSpotError(
                400,
                f"Property {name}: unique values are not supported on tasks",
                context={"propertyName": [name]},
            )
        unique_count = sum(1 for p in self.properties[object_type].values() if p["hasUniqueValue"])
        if spec.get("hasUniqueValue") and unique_count >= 10:
            raise HubSpotError(400, "At most 10 unique-value properties per object type")
        created = define_property(
            name,
            spec["label"],
            type_=spec["type"],
            field_type=spec["fieldType"],
            group=spec["groupName"],
            options=[(o["value"], o["label"]) for o in spec.get("options", [])],
            unique=bool(spec.get("hasUniqueValue")),
        )
        created["description"] = spec.get("description", "")
        created["createdAt"] = created["updatedAt"] = iso(self.clock())
        self.properties[object_type][name] = created
        return created

    def update_property(
        self, object_type: str, name: str, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A PATCH of one property: see :func:`.schema.patch_property`."""
        with self.lock:
            current = self.property(object_type, name)
            patched = patch_property(current, changes, self.groups[object_type], iso(self.clock()))
            self.properties[object_type][name] = patched
            return patched

    # -- property values ------------------------------------------------------------------
    def _owner_ids(self) -> set[str]:
        return {o.id for o in self.owners if not o.archived}

    def _check(
        self,
        object_type: str,
        props: Mapping[str, str],
        *,
        current: StoredObject | None,
    ) -> dict[str, str]:
        clean: dict[str, str] = {}
        for name, value in props.items():
            spec = self.properties[object_type].get(name)
            if spec is None:
                raise HubSpotError(
                    400,
                    f'Property values were not valid: [{{"name":"{name}",'
                    f'"message":"Property \\"{name}\\" does not exist"}}]',
                    sub_category="PROPERTY_DOESNT_EXIST",
                    context={"propertyName": [name]},
                )
            if name in READ_ONLY:
                raise HubSpotError(
                    400, f"{name} is a read-only property", context={"propertyName": [name]}
                )
            value = "" if value is None else str(value)
            if value in self.poisoned:
                raise HubSpotError(
                    400,
                    f'Property values were not valid: [{{"name":"{name}"}}]',
                    sub_category="INVALID_PROPERTY_VALUE",
                    context={"propertyName": [name]},
                )
            if value and spec["type"] == "enumeration":
                self._check_option(object_type, name, value, spec, props, current)
            if value and spec["type"] == "number":
                _check_number(name, value)
            if value and spec["type"] == "datetime":
                value = _normalize_datetime(name, value)
            if value and spec["type"] == "date":
                value = _normalize_date(name, value)
            clean[name] = value
        merged = {**(current.properties if current else {}), **clean}
        if object_type == "tickets":
            missing = [
                p for p in ("subject", "hs_pipeline", "hs_pipeline_stage") if not merged.get(p)
            ]
            if missing:
                raise HubSpotError(
                    400,
                    f"Missing required properties: {missing}",
                    sub_category="REQUIRED_PROPERTY",
                    context={"propertyName": missing},
                )
        if object_type == "tasks" and not merged.get("hs_timestamp"):
            raise HubSpotError(
                400,
                "hs_timestamp is required for tasks",
                context={"propertyName": ["hs_timestamp"]},
            )
        if object_type == "tasks" and merged.get("hs_task_reminders"):
            _check_reminders(merged["hs_task_reminders"], merged["hs_timestamp"])
        for name, value in clean.items():
            spec = self.properties[object_type][name]
            if spec["hasUniqueValue"] and value:
                holder = self.unique_index.get((object_type, name, value))
                if holder is not None and (current is None or holder != current.id):
                    raise HubSpotError(
                        409,
                        f"A {object_type[:-1]} with {name}={value} already exists",
                        category="CONFLICT",
                        context={"propertyName": [name], "existingObjectId": [holder]},
                    )
        return clean

    def _check_option(
        self,
        object_type: str,
        name: str,
        value: str,
        spec: Mapping[str, Any],
        props: Mapping[str, str],
        current: StoredObject | None,
    ) -> None:
        if name == "hubspot_owner_id":
            valid = value in self._owner_ids()
        elif name == "hs_pipeline":
            valid = any(p["id"] == value for p in self.pipelines)
        elif name == "hs_pipeline_stage":
            pipeline_id = props.get("hs_pipeline") or (
                current.properties.get("hs_pipeline") if current else None
            )
            stages = [
                s["id"] for p in self.pipelines if p["id"] == pipeline_id for s in p["stages"]
            ]
            valid = value in stages
        else:
            # Multiple checkboxes hold several options joined by ";": each must be one.
            options = {o["value"] for o in spec["options"]}
            tokens = value.split(";") if spec["fieldType"] == "checkbox" else [value]
            wrong = next((t for t in tokens if t not in options), None)
            valid, value = wrong is None, wrong or value
        if not valid:
            raise HubSpotError(
                400,
                f'Property values were not valid: [{{"name":"{name}",'
                f'"message":"{value} was not one of the allowed options"}}]',
                sub_category="INVALID_OPTION",
                context={"propertyName": [name]},
            )

    # -- objects ----------------------------------------------------------------------------
    def _index(self, object_type: str, obj: StoredObject, old: Mapping[str, str]) -> None:
        for name, spec in self.properties[object_type].items():
            if not spec["hasUniqueValue"]:
                continue
            if old.get(name):
                self.unique_index.pop((object_type, name, old[name]), None)
            if obj.properties.get(name) and not obj.archived:
                self.unique_index[(object_type, name, obj.properties[name])] = obj.id

    def _check_email(self, object_type: str, props: Mapping[str, str], current: str | None) -> None:
        """A contact's e-mail is unique in HubSpot: a second one answers 409 with the holder's
        id (https://github.com/HubSpot/hubspot-api-python/issues/51)."""
        email = (props.get("email") or "").strip().lower()
        if object_type != "contacts" or not email:
            return
        for other in self.live("contacts"):
            if other.id != current and (other.properties.get("email") or "").lower() == email:
                raise HubSpotError(
                    409, f"Contact already exists. Existing ID: {other.id}", category="CONFLICT"
                )

    def check_write(
        self, object_type: str, props: Mapping[str, str], current: StoredObject | None
    ) -> None:
        """Raise what writing ``props`` would raise, writing nothing."""
        with self.lock:
            self._check_email(object_type, props, current.id if current else None)
            self._check(object_type, props, current=current)

    def create(self, object_type: str, props: Mapping[str, str]) -> StoredObject:
        with self.lock:
            self._check_email(object_type, props, None)
            clean = self._check(object_type, props, current=None)
            now = self.clock()
            new_id = str(next(self._ids))  # type: ignore[call-overload]
            obj = StoredObject(
                new_id, {**clean, "hs_object_id": new_id}, now, now, now + self.search_delay_seconds
            )
            obj.properties["createdate"] = iso(now)
            obj.properties["hs_lastmodifieddate"] = iso(now)
            self.objects[object_type][new_id] = obj
            self._index(object_type, obj, {})
            return obj

    def update(self, object_type: str, object_id: str, props: Mapping[str, str]) -> StoredObject:
        with self.lock:
            obj = self.get(object_type, object_id)
            self._check_email(object_type, props, obj.id)
            clean = self._check(object_type, props, current=obj)
            old = dict(obj.properties)
            obj.properties.update(clean)
            obj.updated_at = self.clock()
            obj.properties["hs_lastmodifieddate"] = iso(obj.updated_at)
            self._index(object_type, obj, old)
            return obj

    def find(self, object_type: str, value: str, id_property: str | None) -> StoredObject | None:
        if not id_property or id_property == "hs_object_id":
            obj = self.objects[object_type].get(value)
            return obj if obj and not obj.archived else None
        spec = self.properties[object_type].get(id_property)
        if spec is None or not spec["hasUniqueValue"]:
            raise HubSpotError(
                400,
                f"{id_property} is not a unique-value property",
                context={"idProperty": [id_property]},
            )
        holder = self.unique_index.get((object_type, id_property, value))
        return self.objects[object_type].get(holder) if holder else None

    def get(self, object_type: str, object_id: str, id_property: str | None = None) -> StoredObject:
        found = self.find(object_type, object_id, id_property)
        if found is None:
            raise HubSpotError(
                404, "Object not found. objectId are usually numeric.", category="OBJECT_NOT_FOUND"
            )
        return found

    def upsert(
        self, object_type: str, id_value: str, id_property: str | None, props: Mapping[str, str]
    ) -> tuple[StoredObject, bool]:
        with self.lock:
            existing = self.find(object_type, id_value, id_property or "hs_object_id")
            if existing is not None:
                return self.update(object_type, existing.id, props), False
            if not id_property:
                raise HubSpotError(404, f"Object {id_value} not found", category="OBJECT_NOT_FOUND")
            return self.create(object_type, {**props, id_property: id_value}), True

    def archive(self, object_type: str, object_id: str) -> None:
        with self.lock:
            obj = self.objects[object_type].get(object_id)
            if obj is None or obj.archived:
                return  # archiving is idempotent in HubSpot (204 either way)
            old = dict(obj.properties)
            obj.archived = True
            self._index(object_type, obj, old)
            for key in [k for k in self.associations if k[0] == object_type and k[1] == object_id]:
                for to_id in self.associations.pop(key):
                    back = self.associations.get((key[2], to_id, object_type))
                    if back:
                        back.pop(object_id, None)

    def live(self, object_type: str) -> list[StoredObject]:
        return [o for o in self.objects[object_type].values() if not o.archived]

    # -- associations ---------------------------------------------------------------------
    def associate(
        self, from_type: str, from_id: str, to_type: str, to_id: str, type_id: int
    ) -> None:
        with self.lock:
            self.get(from_type, from_id)
            self.get(to_type, to_id)
            expected = DEFAULT_ASSOCIATION_TYPES.get((from_type, to_type))
            if expected is not None and type_id != expected:
                raise HubSpotError(
                    400,
                    f"association type {type_id} is not valid from {from_type} to {to_type}",
                )
            self.associations.setdefault((from_type, from_id, to_type), {}).setdefault(
                to_id, set()
            ).add(type_id)
            back = DEFAULT_ASSOCIATION_TYPES.get((to_type, from_type), type_id)
            self.associations.setdefault((to_type, to_id, from_type), {}).setdefault(
                from_id, set()
            ).add(back)

    def associated(self, from_type: str, from_id: str, to_type: str) -> dict[str, set[int]]:
        return dict(self.associations.get((from_type, from_id, to_type), {}))


def _check_reminders(reminders: str, due: str) -> None:
    """``hs_task_reminders``: Unix milliseconds ("You must use Unix timestamp in
    milliseconds", https://developers.hubspot.com/docs/api/crm/tasks), several separated by
    ``;``, none after the due date (``hs_timestamp``)."""
    due_ms = datetime.fromisoformat(due.replace("Z", "+00:00")).timestamp() * 1000
    for part in reminders.split(";"):
        if not part.isdigit():
            message = "must be a Unix timestamp in milliseconds"
        elif int(part) > due_ms:
            message = "a reminder cannot be after the task's due date"
        else:
            continue
        raise HubSpotError(
            400,
            f'Property values were not valid: [{{"name":"hs_task_reminders",'
            f'"message":"{message}"}}]',
            sub_category="INVALID_PROPERTY_VALUE",
            context={"propertyName": ["hs_task_reminders"]},
        )


def _check_number(name: str, value: str) -> None:
    """A ``number`` property takes a decimal number as a string ("17", "12.5")."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise HubSpotError(
            400,
            f'Property values were not valid: [{{"name":"{name}",'
            f'"message":"{value} was not a valid number"}}]',
            sub_category="INVALID_PROPERTY_VALUE",
            context={"propertyName": [name]},
        )


def _normalize_datetime(name: str, value: str) -> str:
    try:
        if value.isdigit():
            moment = int(value) / 1000
        else:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                raise ValueError("naive")
            moment = parsed.timestamp()
    except ValueError:
        raise HubSpotError(
            400,
            f'Property values were not valid: [{{"name":"{name}",'
            '"message":"not a valid datetime"}]',
            context={"propertyName": [name]},
        ) from None
    return iso(moment)


def _normalize_date(name: str, value: str) -> str:
    """A ``date`` property: ``YYYY-MM-DD`` or epoch milliseconds at midnight UTC, anything
    else refused ("must be set to midnight UTC ... If you try to set a value that is not
    midnight UTC, you will receive an error":
    https://developers.hubspot.com/docs/faq/how-should-timestamps-be-formatted-for-hubspots-apis).
    Read back as ``YYYY-MM-DD``."""
    try:
        if value.isdigit():
            moment = datetime.fromtimestamp(int(value) / 1000, UTC)
            if moment.time() != datetime.min.time():
                raise ValueError("not midnight UTC")
            return moment.date().isoformat()
        return date.fromisoformat(value).isoformat()
    except (ValueError, OverflowError, OSError):
        raise HubSpotError(
            400,
            f'Property values were not valid: [{{"name":"{name}",'
            '"message":"a date must be midnight UTC"}]',
            context={"propertyName": [name]},
        ) from None


DEMO_STAGES = (
    ("1", "New", "OPEN"),
    ("2", "Waiting on contact", "OPEN"),
    ("3", "Waiting on us", "OPEN"),
    ("4", "Closed", "CLOSED"),
)
DEMO_OWNERS = (
    Owner("101", "frontdesk@clinic.example", "Misaki", "Sato"),
    Owner("102", "care@clinic.example", "Yui", "Tanaka"),
    Owner("103", "doctor@clinic.example", "Ken", "Kobayashi"),
    Owner("104", "director@clinic.example", "Hiroshi", "Watanabe"),
)


def demo_portal(**kw: Any) -> Portal:
    """A portal with one ticket pipeline ("Support Pipeline") and an owner per department."""
    stages = [
        {
            "id": stage_id,
            "label": label,
            "displayOrder": i,
            "metadata": {"ticketState": state, "isClosed": str(state == "CLOSED").lower()},
            "createdAt": iso(0),
            "updatedAt": iso(0),
            "archived": False,
            "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
        }
        for i, (stage_id, label, state) in enumerate(DEMO_STAGES)
    ]
    pipeline = {
        "id": "0",
        "label": "Support Pipeline",
        "displayOrder": 0,
        "stages": stages,
        "createdAt": iso(0),
        "updatedAt": iso(0),
        "archived": False,
    }
    return Portal(owners=list(DEMO_OWNERS), pipelines=[pipeline], **kw)
