"""The CRM endpoints the emulator answers, one handler each, behind werkzeug's URL map.

Owners, pipelines, properties and property groups, objects (single, batch and search) and v4
associations. Handlers speak HTTP only; the rules HubSpot enforces on the data live in the
portal, so the same rule holds whether a test goes through HTTP or uses the portal directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import account
from .associations import AssociationEndpoints
from .portal import Portal
from .search_filters import matches
from .wire import (
    MAX_BATCH,
    HubSpotError,
    batch_answer,
    batch_body,
    batch_inputs,
    error_response,
    iso,
    json_response,
    request_body,
)

_log = logging.getLogger(__name__)

__all__ = ["MAX_BATCH", "Endpoints"]


class Endpoints(AssociationEndpoints):
    """The handlers, bound to one portal (v4 associations in :mod:`.associations`).

    Built per request (it is cheap), so a portal reassigned on the emulator, or a search cap a
    test lowers, takes effect from the next request on.
    """

    def __init__(self, portal: Portal, *, search_result_limit: int) -> None:
        self.portal = portal
        self.search_result_limit = search_result_limit

    def dispatch(self, request: Request, environ: dict[str, Any]) -> Response:
        """The handler's answer; HubSpot's error shape for a HubSpotError or an unknown route."""
        try:
            endpoint, args = URL_MAP.bind_to_environ(environ).match()
            handler: Callable[..., Response] = getattr(self, f"_{endpoint}")
            return handler(request, **args)
        except HubSpotError as exc:
            return error_response(exc)
        except HTTPException as exc:  # werkzeug's routing: 404 and the like
            return error_response(
                HubSpotError(exc.code or 404, type(exc).__name__, category="OBJECT_NOT_FOUND")
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            # A request the contract let through whose values a handler cannot use (an
            # ``after`` that is not a number, an input without its ``id``): HubSpot answers
            # 400, never 500. Logged with the route only, so an emulator bug still shows.
            _log.warning(
                "unusable input on %s %s: %s", request.method, request.path, exc.__class__.__name__
            )
            return error_response(
                HubSpotError(
                    400, f"Invalid input: {type(exc).__name__}", category="VALIDATION_ERROR"
                )
            )

    def _account_details(self, request: Request) -> Response:
        """The account's settings (time zone): see :mod:`.account`."""
        return json_response(200, account.account_details())

    # -- owners and pipelines -----------------------------------------------------------------
    def _owners(self, request: Request) -> Response:
        limit = min(int(request.args.get("limit", 100)), 500)
        after = int(request.args.get("after", 0) or 0)
        # archived=true lists only deactivated users' owners, without userId (HubSpot moves
        # it to userIdIncludingInactive): https://developers.hubspot.com/docs/guides/api/crm/owners
        archived = request.args.get("archived", "false").lower() == "true"
        owners = [o for o in self.portal.owners if o.archived == archived]
        page = owners[after : after + limit]
        body: dict[str, Any] = {
            "results": [
                {
                    "id": o.id,
                    "email": o.email,
                    "firstName": o.first_name,
                    "lastName": o.last_name,
                    "type": "PERSON",
                    **({} if o.archived else {"userId": int(o.id)}),
                    "userIdIncludingInactive": int(o.id),
                    "createdAt": iso(0),
                    "updatedAt": iso(0),
                    "archived": o.archived,
                    "teams": [],
                }
                for o in page
            ]
        }
        if after + limit < len(owners):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return json_response(200, body)

    def _pipelines(self, request: Request, object_type: str) -> Response:
        self.portal.object_type(object_type)
        return json_response(200, {"results": self.portal.pipelines})

    # -- properties ---------------------------------------------------------------------------
    def _properties_list(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        return json_response(200, {"results": list(self.portal.properties[kind].values())})

    def _property_get(self, request: Request, object_type: str, name: str) -> Response:
        return json_response(200, self.portal.property(self.portal.object_type(object_type), name))

    def _property_update(self, request: Request, object_type: str, name: str) -> Response:
        kind = self.portal.object_type(object_type)
        return json_response(200, self.portal.update_property(kind, name, request_body(request)))

    def _properties_batch_read(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        inputs = batch_inputs(request)
        found = [
            self.portal.properties[kind][i["name"]]
            for i in inputs
            if i["name"] in self.portal.properties[kind]
        ]
        return json_response(200, batch_body(found))

    def _properties_batch_create(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        created = []
        with self.portal.lock:
            for spec in batch_inputs(request):
                created.append(self.portal.create_property(kind, spec))
        return json_response(201, batch_body(created))

    def _groups_list(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        return json_response(200, {"results": list(self.portal.groups[kind].values())})

    def _group_get(self, request: Request, object_type: str, name: str) -> Response:
        kind = self.portal.object_type(object_type)
        group = self.portal.groups[kind].get(name)
        if group is None:
            raise HubSpotError(
                404, f"Property group {name} does not exist", category="OBJECT_NOT_FOUND"
            )
        return json_response(200, group)

    def _group_create(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        body = request_body(request)
        with self.portal.lock:
            if body["name"] in self.portal.groups[kind]:
                raise HubSpotError(
                    409,
                    f"Property group {body['name']} already exists",
                    category="OBJECT_ALREADY_EXISTS",
                )
            group = {
                "name": body["name"],
                "label": body["label"],
                "displayOrder": body.get("displayOrder", -1),
                "archived": False,
            }
            self.portal.groups[kind][body["name"]] = group
        return json_response(201, group)

    # -- objects ------------------------------------------------------------------------------
    def _objects_list(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        limit = min(int(request.args.get("limit", 10)), 100)
        after = request.args.get("after")
        wanted = _wanted(request.args.getlist("properties"))
        with self.portal.lock:
            live = sorted(self.portal.live(kind), key=lambda o: int(o.id))
        if after:
            live = [o for o in live if int(o.id) > int(after)]
        page = live[:limit]
        body: dict[str, Any] = {"results": [o.as_json(wanted) for o in page]}
        if len(live) > limit:
            body["paging"] = {"next": {"after": page[-1].id}}
        return json_response(200, body)

    def _object_create(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        with self.portal.lock:
            obj = self._create_linked(kind, request_body(request))
        return json_response(201, obj.as_json())

    def _object_get(self, request: Request, object_type: str, object_id: str) -> Response:
        kind = self.portal.object_type(object_type)
        obj = self.portal.get(kind, object_id, request.args.get("idProperty"))
        return json_response(200, obj.as_json(_wanted(request.args.getlist("properties"))))

    def _object_update(self, request: Request, object_type: str, object_id: str) -> Response:
        kind = self.portal.object_type(object_type)
        target = self.portal.get(kind, object_id, request.args.get("idProperty"))
        obj = self.portal.update(kind, target.id, request_body(request).get("properties", {}))
        return json_response(200, obj.as_json())

    def _object_archive(self, request: Request, object_type: str, object_id: str) -> Response:
        self.portal.archive(self.portal.object_type(object_type), object_id)
        return Response(status=204)

    def _batch_run(
        self,
        inputs: list[dict[str, Any]],
        work: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        created_status: int = 200,
        partial: bool = True,
    ) -> Response:
        """Per-input processing with HubSpot's partial-failure rules.

        With an ``objectWriteTraceId`` on every failing input, failures come back as 207 with
        ``errors[].context.objectWriteTraceId``; otherwise the first failure fails the call.
        HubSpot promises that only for batch create: with ``partial=False`` (upsert, update) one
        bad input fails the whole request and nothing of it is written. A batch create that
        fails this way keeps the inputs before the failing one: HubSpot does not promise a
        rollback, so a client must not count on one.
        """
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        with self.portal.lock:
            for item in inputs:
                trace = item.get("objectWriteTraceId") if partial else None
                try:
                    result = work(item)
                except HubSpotError as exc:
                    if not trace:
                        raise
                    failure = exc.standard_error()
                    failure["context"] = {**failure["context"], "objectWriteTraceId": [trace]}
                    errors.append(failure)
                    continue
                if trace:
                    result["objectWriteTraceId"] = trace
                results.append(result)
        return batch_answer(results, errors, created_status)

    def _batch_upsert(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        inputs = batch_inputs(request)

        def work(item: dict[str, Any]) -> dict[str, Any]:
            obj, new = self.portal.upsert(
                kind, item["id"], item.get("idProperty"), item["properties"]
            )
            return {**obj.as_json(), "new": new}

        def check(item: dict[str, Any]) -> None:
            found = self.portal.find(kind, item["id"], item.get("idProperty") or "hs_object_id")
            self.portal.check_write(kind, item["properties"], found)

        return self._all_or_nothing(inputs, check, work)

    def _batch_create(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)

        def work(item: dict[str, Any]) -> dict[str, Any]:
            return self._create_linked(kind, item).as_json()

        return self._batch_run(batch_inputs(request), work, created_status=201)

    def _batch_update(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)

        def work(item: dict[str, Any]) -> dict[str, Any]:
            target = self.portal.get(kind, item["id"], item.get("idProperty"))
            return self.portal.update(kind, target.id, item["properties"]).as_json()

        def check(item: dict[str, Any]) -> None:
            target = self.portal.get(kind, item["id"], item.get("idProperty"))
            self.portal.check_write(kind, item["properties"], target)

        return self._all_or_nothing(batch_inputs(request), check, work)

    def _all_or_nothing(
        self,
        inputs: list[dict[str, Any]],
        check: Callable[[dict[str, Any]], None],
        work: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> Response:
        """Batch upsert and update: every input is checked before any is written, so one bad
        input refuses the whole request (HubSpot promises per-input errors only for create)."""
        with self.portal.lock:
            for item in inputs:
                check(item)
            return self._batch_run(inputs, work, partial=False)

    def _batch_read(self, request: Request, object_type: str) -> Response:
        """Objects by id (or by a unique ``idProperty``); ids missing or archived are one
        ``OBJECT_NOT_FOUND`` entry in ``errors[]`` with ``context.ids``, and the answer a 207
        (HubSpot's wording: "Could not get some CONTACT objects, they may be deleted or not
        exist. Check that ids are valid.")."""
        kind = self.portal.object_type(object_type)
        body = request_body(request)
        inputs = batch_inputs(request)
        id_property = body.get("idProperty")
        wanted = _wanted(body.get("properties") or [])
        results = []
        missing = []
        with self.portal.lock:
            for item in inputs:
                obj = self.portal.find(kind, item["id"], id_property)
                if obj is None:
                    missing.append(item["id"])
                else:
                    results.append(obj.as_json(wanted))
        errors: list[dict[str, Any]] = []
        if missing:
            errors.append(
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {kind[:-1].upper()} objects, they may be "
                    "deleted or not exist. Check that ids are valid.",
                    "context": {"ids": missing},
                    "errors": [],
                    "links": {},
                }
            )
        return batch_answer(results, errors, 200)

    def _batch_archive(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        for item in batch_inputs(request):
            self.portal.archive(kind, item["id"])
        return Response(status=204)

    def _search(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        body = request_body(request)
        limit = min(int(body.get("limit") or 10), 200)
        after = int(body.get("after") or 0)
        now = self.portal.clock()
        with self.portal.lock:
            visible = [o for o in self.portal.live(kind) if o.visible_at <= now]
        groups = body.get("filterGroups") or []
        if groups:
            specs = self.portal.properties[kind]
            visible = [
                o for o in visible if any(matches(o, g.get("filters", []), specs) for g in groups)
            ]
        visible.sort(key=lambda o: int(o.id))
        page = visible[after : after + limit]
        wanted = _wanted(body.get("properties") or [])
        payload: dict[str, Any] = {
            "total": len(visible),
            "results": [o.as_json(wanted) for o in page],
        }
        if after + limit < len(visible) and after + limit < self.search_result_limit:
            payload["paging"] = {"next": {"after": str(after + limit)}}
        return json_response(200, payload)


def _rules() -> list[Rule]:
    objects = "/crm/v3/objects/<object_type>"
    props = "/crm/v3/properties/<object_type>"
    assoc = "/crm/v4/associations/<from_type>/<to_type>/batch"
    return [
        Rule("/account-info/v3/details", endpoint="account_details", methods=["GET"]),
        Rule("/crm/v3/owners", endpoint="owners", methods=["GET"]),
        Rule("/crm/v3/owners/", endpoint="owners", methods=["GET"]),
        Rule("/crm/v3/pipelines/<object_type>", endpoint="pipelines", methods=["GET"]),
        Rule(props, endpoint="properties_list", methods=["GET"]),
        Rule(f"{props}/batch/read", endpoint="properties_batch_read", methods=["POST"]),
        Rule(f"{props}/batch/create", endpoint="properties_batch_create", methods=["POST"]),
        Rule(f"{props}/groups", endpoint="groups_list", methods=["GET"]),
        Rule(f"{props}/groups", endpoint="group_create", methods=["POST"]),
        Rule(f"{props}/groups/<name>", endpoint="group_get", methods=["GET"]),
        Rule(f"{props}/<name>", endpoint="property_get", methods=["GET"]),
        Rule(f"{props}/<name>", endpoint="property_update", methods=["PATCH"]),
        Rule(objects, endpoint="objects_list", methods=["GET"]),
        Rule(objects, endpoint="object_create", methods=["POST"]),
        Rule(f"{objects}/batch/upsert", endpoint="batch_upsert", methods=["POST"]),
        Rule(f"{objects}/batch/create", endpoint="batch_create", methods=["POST"]),
        Rule(f"{objects}/batch/update", endpoint="batch_update", methods=["POST"]),
        Rule(f"{objects}/batch/read", endpoint="batch_read", methods=["POST"]),
        Rule(f"{objects}/batch/archive", endpoint="batch_archive", methods=["POST"]),
        Rule(f"{objects}/search", endpoint="search", methods=["POST"]),
        Rule(f"{objects}/<object_id>", endpoint="object_get", methods=["GET"]),
        Rule(f"{objects}/<object_id>", endpoint="object_update", methods=["PATCH"]),
        Rule(f"{objects}/<object_id>", endpoint="object_archive", methods=["DELETE"]),
        Rule(f"{assoc}/create", endpoint="assoc_batch_create", methods=["POST"]),
        Rule(
            "/crm/v4/objects/<from_type>/<from_id>/associations/<to_type>/<to_id>",
            endpoint="assoc_put",
            methods=["PUT"],
        ),
        Rule(f"{assoc}/read", endpoint="assoc_batch_read", methods=["POST"]),
        Rule(
            "/crm/v4/objects/<object_type>/<object_id>/associations/<to_type>",
            endpoint="assoc_list",
            methods=["GET"],
        ),
    ]


URL_MAP = Map(_rules())


# What a read answers when it names no ``properties``. HubSpot answers a default set per
# object type ("returning only default properties", https://developers.hubspot.com/docs/api/crm/search;
# the per-type lists are not all documented); the emulator answers the part every type shares, so
# a client that needs a property has to ask for it, here as in HubSpot, never the other way round.
DEFAULT_READ = ["hs_object_id", "createdate", "hs_lastmodifieddate"]


def _wanted(names: list[str]) -> list[str]:
    flat = [n for name in names for n in name.split(",") if n]
    return flat or DEFAULT_READ
