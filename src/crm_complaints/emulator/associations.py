"""The v4 associations endpoints, and objects created with their associations inline.

A mixin of :class:`~crm_complaints.emulator.endpoints.Endpoints`: it needs the portal."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from .portal import Portal, StoredObject
from .schema import DEFAULT_ASSOCIATION_TYPES, OBJECT_TYPE_IDS
from .wire import HubSpotError, batch_answer, batch_inputs, json_response

__all__ = ["AssociationEndpoints"]


class AssociationEndpoints:
    """Handlers of ``/crm/v4/associations`` and ``/crm/v4/objects/…/associations``."""

    portal: Portal

    def _create_linked(self, kind: str, item: dict[str, Any]) -> StoredObject:
        """An object and its inline ``associations`` in one step (the caller holds the lock).

        Every association is checked before the object is written, so a bad one refuses the
        object and writes nothing of it: a retry cannot leave a duplicate behind. A target that
        does not exist gets HubSpot's answer to an invalid association (400
        ``VALIDATION_ERROR`` "One or more associations are invalid", ``context``
        ``INVALID_OBJECT_IDS: ["TICKET=123 is not valid"]``, ``objectId``, ``objectType``;
        https://github.com/HubSpot/hubspot-api-nodejs/issues/646).
        """
        links = [
            link
            for association in item.get("associations") or []
            for link in self._inline_links(kind, association)
        ]
        obj = self.portal.create(kind, item.get("properties", {}))
        for to_type, to_id, type_id in links:
            self.portal.associate(kind, obj.id, to_type, to_id, type_id)
        return obj

    def _inline_links(self, kind: str, association: dict[str, Any]) -> list[tuple[str, str, int]]:
        """One inline association's (target type, target id, type id), each checked."""
        to_id = str(association["to"]["id"])
        links = []
        for spec in association["types"]:
            type_id = int(spec["associationTypeId"])
            to_type = next(
                (
                    t
                    for (f, t), known in DEFAULT_ASSOCIATION_TYPES.items()
                    if f == kind and known == type_id
                ),
                None,
            )
            if to_type is None:
                raise HubSpotError(
                    400,
                    f"association type {type_id} is not valid from {kind}",
                    context={"associationTypeId": [str(type_id)]},
                )
            self._must_exist(to_type, to_id)
            links.append((to_type, to_id, type_id))
        return links

    def _must_exist(self, kind: str, object_id: str) -> None:
        """HubSpot's answer to an association with an object that does not exist (or is
        archived): 400 "One or more associations are invalid", naming it
        (https://github.com/HubSpot/hubspot-api-nodejs/issues/646)."""
        if self.portal.find(kind, object_id, None) is None:
            name = kind[:-1].upper()
            raise HubSpotError(
                400,
                "One or more associations are invalid",
                context={
                    "INVALID_OBJECT_IDS": [f"{name}={object_id} is not valid"],
                    "objectId": [object_id],
                    "objectType": [name],
                },
            )

    def _assoc_batch_create(self, request: Request, from_type: str, to_type: str) -> Response:
        source = self.portal.object_type(from_type)
        target = self.portal.object_type(to_type)

        def work(item: dict[str, Any]) -> dict[str, Any]:
            from_id, to_id = str(item["from"]["id"]), str(item["to"]["id"])
            self._must_exist(source, from_id)
            self._must_exist(target, to_id)
            for spec in item["types"]:
                self.portal.associate(
                    source, from_id, target, to_id, int(spec["associationTypeId"])
                )
            return _association(source, from_id, target, to_id)

        inputs = batch_inputs(request)
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        with self.portal.lock:
            for item in inputs:
                try:
                    results.append(work(item))
                except HubSpotError as exc:
                    failure = exc.standard_error()
                    if "objectId" not in failure["context"]:  # name the pair's source
                        failure["context"] = {
                            **failure["context"],
                            "fromObjectId": [str(item["from"]["id"])],
                        }
                    errors.append(failure)
        return batch_answer(results, errors, 201)

    def _assoc_put(
        self, request: Request, from_type: str, from_id: str, to_type: str, to_id: str
    ) -> Response:
        source = self.portal.object_type(from_type)
        target = self.portal.object_type(to_type)
        specs = request.get_json(silent=True)
        if not isinstance(specs, list):
            raise HubSpotError(400, "Invalid input JSON: a list of association types")
        with self.portal.lock:
            self._must_exist(source, from_id)
            self._must_exist(target, to_id)
            for spec in specs:
                self.portal.associate(
                    source, from_id, target, to_id, int(spec["associationTypeId"])
                )
        return json_response(201, _association(source, from_id, target, to_id))

    def _assoc_batch_read(self, request: Request, from_type: str, to_type: str) -> Response:
        """Each input's links, one result per object that has any; an object with none (or
        that does not exist) is an ``errors[]`` entry and the answer a 207, as HubSpot does
        (``crm.associations.NO_ASSOCIATIONS_FOUND``: "No company is associated with deal 1.",
        context ``fromObjectId``, ``fromObjectType``, ``toObjectType``; seen in clients'
        fixtures, e.g. https://github.com/HubSpot/hubspot-api-nodejs/issues/656 for the 207).
        ``toObjectId`` is a JSON number as HubSpot sends it (see :mod:`.errata`). HubSpot pages
        a long ``to`` list per input; the emulator never holds enough links to need it."""
        source = self.portal.object_type(from_type)
        target = self.portal.object_type(to_type)
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        with self.portal.lock:
            for item in batch_inputs(request):
                from_id = str(item["id"])
                linked = self.portal.associated(source, from_id, target)
                if not linked:
                    errors.append(_no_associations(source, from_id, target))
                    continue
                results.append({"from": {"id": from_id}, "to": _linked(linked)})
        return batch_answer(results, errors, 200)

    def _assoc_list(
        self, request: Request, object_type: str, object_id: str, to_type: str
    ) -> Response:
        """One object's associations of one type (v4), a page of ``limit`` (at most 500)
        after the ``after`` cursor."""
        source = self.portal.object_type(object_type)
        target = self.portal.object_type(to_type)
        limit = min(int(request.args.get("limit", 500)), 500)
        after = int(request.args.get("after") or 0)
        with self.portal.lock:
            self.portal.get(source, object_id)
            linked = _linked(self.portal.associated(source, object_id, target))
        body: dict[str, Any] = {"results": linked[after : after + limit]}
        if after + limit < len(linked):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return json_response(200, body)


def _linked(linked: dict[str, set[int]]) -> list[dict[str, Any]]:
    """Linked objects as v4 lists them, by id: ``toObjectId`` a number, as HubSpot sends it."""
    return [
        {"toObjectId": int(to_id), "associationTypes": _types(types)}
        for to_id, types in sorted(linked.items(), key=lambda item: int(item[0]))
    ]


def _no_associations(source: str, from_id: str, target: str) -> dict[str, Any]:
    """HubSpot's per-input error for an object with no links of the type asked for."""
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
        "message": f"No {target[:-1]} is associated with {source[:-1]} {from_id}.",
        "context": {
            "fromObjectId": [from_id],
            "fromObjectType": [source[:-1]],
            "toObjectType": [target[:-1]],
        },
        "errors": [],
        "links": {},
    }


def _types(types: set[int]) -> list[dict[str, Any]]:
    """An association's types as HubSpot lists them: unlabeled ones with ``"label": null``,
    which its spec does not allow (see :mod:`.errata`)."""
    return [
        {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
        for type_id in sorted(types)
    ]


def _association(source: str, from_id: str, target: str, to_id: str) -> dict[str, Any]:
    """One created association, as the v4 API reports it."""
    return {
        "fromObjectTypeId": OBJECT_TYPE_IDS[source],
        "fromObjectId": from_id,
        "toObjectTypeId": OBJECT_TYPE_IDS[target],
        "toObjectId": to_id,
        "labels": [],
    }
