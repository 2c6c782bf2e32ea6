"""A loopback HTTP server that behaves like the parts of HubSpot's CRM API we use.

Every request and every response is validated against HubSpot's published OpenAPI specs
(packaged beside this file) with ``openapi-core``: a request that breaks the contract gets
HubSpot's 400 error shape and is recorded in ``violations`` so a test can fail on it; a response
of ours that breaks it is an emulator bug, answered 500 and recorded too.

On top of the portal's strictness it emulates the traffic side: a private app's rate limit
(requests per rolling window, 429 with ``policyName`` and the ``X-HubSpot-RateLimit-*``
headers), a daily quota, and seeded fault injection (5xx, 423, dropped connections, latency).
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any

from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_schema_validator import OAS30Validator
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .portal import (
    DEFAULT_ASSOCIATION_TYPES,
    OBJECT_TYPE_IDS,
    HubSpotError,
    Portal,
    StoredObject,
    demo_portal,
    iso,
)

__all__ = ["Faults", "HubSpotEmulator", "RateLimit", "running_emulator"]

SPEC_FILES = {
    "/crm/v3/objects/tickets": "tickets.json",
    "/crm/v3/objects/tasks": "tasks.json",
    "/crm/v3/objects/contacts": "contacts.json",
    "/crm/v3/properties": "properties.json",
    "/crm/v3/owners": "crmOwners.json",
    "/crm/v3/pipelines": "pipelines.json",
    "/crm/v4": "associations.json",
}
MAX_BATCH = 100
SEARCH_RESULT_LIMIT = 10_000  # a search query stops answering past this many results
DEMO_TOKEN = "pat-emulator-demo-token"


@dataclass
class RateLimit:
    """A private app's limits: ``requests`` per rolling ``window_seconds``, and a daily quota."""

    requests: int = 100
    window_seconds: float = 10.0
    daily: int | None = None
    policy_name: str = "TEN_SECONDLY_ROLLING"


@dataclass
class Faults:
    """Seeded fault injection, each a probability per request."""

    server_error_rate: float = 0.0
    locked_rate: float = 0.0
    drop_rate: float = 0.0
    latency_seconds: float = 0.0
    seed: int = 0


@dataclass
class Stats:
    requests: int = 0
    writes: int = 0
    reads: int = 0
    rate_limited: int = 0
    injected: int = 0
    by_route: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Contract:
    """One HubSpot spec: the openapi-core view, and a validator for its ``Error`` schema."""

    api: OpenAPI
    error_validator: Any


def _load_specs(base_url: str) -> dict[str, _Contract]:
    loaded: dict[str, _Contract] = {}
    folder = resources.files("crm_complaints.emulator") / "specs"
    for prefix, name in SPEC_FILES.items():
        spec = json.loads((folder / name).read_text(encoding="utf-8"))
        spec["servers"] = [{"url": base_url}]
        # openapi-core cannot check oauth2 and warns on every request; we check the bearer
        # token ourselves, so the security requirements are dropped from our copy.
        spec.pop("security", None)
        for operations in spec["paths"].values():
            for operation in operations.values():
                if isinstance(operation, dict):
                    operation.pop("security", None)
        # Error answers are declared as */*, which openapi-core does not parse as JSON; their
        # bodies are checked against the spec's own Error schema instead.
        root = {"$ref": "#/components/schemas/Error", "components": spec["components"]}
        loaded[prefix] = _Contract(OpenAPI.from_dict(spec), OAS30Validator(root))
    return loaded


class HubSpotEmulator:
    """The WSGI application plus its server thread. Use :func:`running_emulator`."""

    def __init__(
        self,
        portal: Portal | None = None,
        *,
        token: str = DEMO_TOKEN,
        rate_limit: RateLimit | None = None,
        faults: Faults | None = None,
        validate: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.portal = portal or demo_portal()
        self.token = token
        self.rate_limit = rate_limit or RateLimit()
        self.faults = faults or Faults()
        self.validate = validate
        self.violations: list[str] = []
        self.stats = Stats()
        self._window: deque[float] = deque()
        self._daily_count = 0
        self._lock = threading.RLock()
        self._routes = Map(_rules())
        self.server: BaseWSGIServer = make_server(
            host, port, self, threaded=True, request_handler=_QuietHandler
        )
        self.base_url = f"http://{host}:{self.server.server_port}"
        self._specs = _load_specs(self.base_url) if validate else {}
        self._thread: threading.Thread | None = None
        # Scripted answers for tests: (status, text) — the next request whose body contains
        # the text gets that status instead of being processed.
        self.script: list[tuple[int, str]] = []

    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        """Switching faults on (or off) reseeds them, so a run is repeatable from that point."""
        self._faults = faults
        self._random = random.Random(faults.seed)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> HubSpotEmulator:
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="hubspot-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    # -- WSGI -------------------------------------------------------------------------------
    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        response = self._handle(request, environ)
        if response is None:  # a dropped connection
            return []
        return response(environ, start_response)

    def _spec_for(self, path: str) -> _Contract | None:
        for prefix, spec in self._specs.items():
            if path.startswith(prefix):
                return spec
        return None

    def _handle(self, request: Request, environ: dict[str, Any]) -> Response | None:
        # Read the whole body first, as a real server does: an early error answer must not
        # leave it unread on a keep-alive connection.
        request.get_data(cache=True)
        if request.path == "/_emulator/stats":  # not HubSpot's: for benchmarks in another process
            return _json(200, {**asdict(self.stats), "violations": list(self.violations)})
        with self._lock:
            self.stats.requests += 1
            roll = self._random.random()
        faults = self.faults
        if faults.latency_seconds:
            time.sleep(faults.latency_seconds)
        if roll < faults.drop_rate:
            self._count_injected()
            sock = environ.get("werkzeug.socket")
            if isinstance(sock, socket.socket):
                sock.shutdown(socket.SHUT_RDWR)
            return None
        roll -= faults.drop_rate
        if roll < faults.server_error_rate:
            self._count_injected()
            status = (502, 503, 504, 521, 522, 523, 524)[int(roll * 1e6) % 7]
            return _json(
                status, {"status": "error", "message": "upstream error", "category": "UNKNOWN"}
            )
        roll -= faults.server_error_rate
        if roll < faults.locked_rate:
            self._count_injected()
            return self._error(HubSpotError(423, "Locked: resource is busy", category="LOCKED"))
        scripted = self._scripted(request)
        if scripted is not None:
            return scripted
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {self.token}":
            return self._error(
                HubSpotError(
                    401, "Authentication credentials not found.", category="INVALID_AUTHENTICATION"
                )
            )
        limited = self._rate_limited()
        if limited is not None:
            return limited
        spec = self._spec_for(request.path)
        if self.validate and spec is not None:
            try:
                spec.api.validate_request(WerkzeugOpenAPIRequest(_canonical(request, environ)))
            except Exception as exc:
                message = f"{request.method} {request.path}: {type(exc).__name__}: {_cause(exc)}"
                self.violations.append("request " + message)
                return self._error(HubSpotError(400, f"Invalid input JSON: {message}"))
        try:
            endpoint, args = self._routes.bind_to_environ(environ).match()
            handler: Callable[..., Response] = getattr(self, f"_{endpoint}")
            response = handler(request, **args)
        except HubSpotError as exc:
            response = self._error(exc)
        except Exception as exc:
            status = getattr(exc, "code", 500) or 500
            response = self._error(
                HubSpotError(int(status), f"{type(exc).__name__}", category="OBJECT_NOT_FOUND")
            )
        self._add_rate_headers(response)
        with self._lock:
            kind = (
                "writes"
                if request.method in ("POST", "PATCH", "PUT", "DELETE")
                and not request.path.endswith(("/batch/read", "/search"))
                else "reads"
            )
            setattr(self.stats, kind, getattr(self.stats, kind) + 1)
            route = f"{request.method} {request.path}"
            self.stats.by_route[route] = self.stats.by_route.get(route, 0) + 1
        if self.validate and spec is not None:
            try:
                if response.status_code >= 400:
                    spec.error_validator.validate(json.loads(response.get_data()))
                else:
                    spec.api.validate_response(
                        WerkzeugOpenAPIRequest(_canonical(request, environ)),
                        WerkzeugOpenAPIResponse(response),
                    )
            except Exception as exc:
                self.violations.append(f"response {request.method} {request.path}: {_cause(exc)}")
                return _json(
                    500,
                    {
                        "status": "error",
                        "message": "emulator broke the contract",
                        "category": "EMULATOR",
                    },
                )
        return response

    def _scripted(self, request: Request) -> Response | None:
        if not self.script:
            return None
        body = request.get_data(as_text=True)
        with self._lock:
            found = next((i for i, (_, text) in enumerate(self.script) if text in body), None)
            if found is None:
                return None
            status, _ = self.script.pop(found)
            self.stats.injected += 1
        if status == 429:
            return self._limit_error(self.rate_limit.policy_name, "You have reached your limit.")
        category = "LOCKED" if status == 423 else "UNKNOWN"
        return self._error(HubSpotError(status, f"scripted {status}", category=category))

    def _count_injected(self) -> None:
        with self._lock:
            self.stats.injected += 1

    def _rate_limited(self) -> Response | None:
        limit = self.rate_limit
        now = time.monotonic()
        with self._lock:
            while self._window and now - self._window[0] >= limit.window_seconds:
                self._window.popleft()
            if limit.daily is not None and self._daily_count >= limit.daily:
                self.stats.rate_limited += 1
                return self._limit_error("DAILY", "You have reached your daily limit.")
            if len(self._window) >= limit.requests:
                self.stats.rate_limited += 1
                return self._limit_error(
                    limit.policy_name, f"You have reached your {limit.policy_name.lower()} limit."
                )
            self._window.append(now)
            self._daily_count += 1
        return None

    def _limit_error(self, policy: str, message: str) -> Response:
        error = HubSpotError(
            429,
            message,
            category="RATE_LIMITS",
            extra={
                "errorType": "RATE_LIMIT",
                "policyName": policy,
                "groupName": "api-calls:emulator",
            },
        )
        response = self._error(error)
        self._add_rate_headers(response)
        return response

    def _add_rate_headers(self, response: Response) -> None:
        limit = self.rate_limit
        with self._lock:
            used = len(self._window)
            daily = self._daily_count
        response.headers["X-HubSpot-RateLimit-Max"] = str(limit.requests)
        response.headers["X-HubSpot-RateLimit-Remaining"] = str(max(0, limit.requests - used))
        response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(
            int(limit.window_seconds * 1000)
        )
        if limit.daily is not None:
            response.headers["X-HubSpot-RateLimit-Daily"] = str(limit.daily)
            response.headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                max(0, limit.daily - daily)
            )

    def _error(self, error: HubSpotError) -> Response:
        response = _json(error.status, error.body())
        for key, value in error.headers.items():
            response.headers[key] = value
        return response

    # -- owners and pipelines -----------------------------------------------------------------
    def _owners(self, request: Request) -> Response:
        limit = min(int(request.args.get("limit", 100)), 500)
        after = int(request.args.get("after", 0) or 0)
        owners = self.portal.owners
        page = owners[after : after + limit]
        body: dict[str, Any] = {
            "results": [
                {
                    "id": o.id,
                    "email": o.email,
                    "firstName": o.first_name,
                    "lastName": o.last_name,
                    "type": "PERSON",
                    "userId": int(o.id),
                    "createdAt": iso(0),
                    "updatedAt": iso(0),
                    "archived": False,
                    "teams": [],
                }
                for o in page
            ]
        }
        if after + limit < len(owners):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return _json(200, body)

    def _pipelines(self, request: Request, object_type: str) -> Response:
        self.portal.object_type(object_type)
        return _json(200, {"results": self.portal.pipelines})

    # -- properties ---------------------------------------------------------------------------
    def _properties_list(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        return _json(200, {"results": list(self.portal.properties[kind].values())})

    def _property_get(self, request: Request, object_type: str, name: str) -> Response:
        return _json(200, self.portal.property(self.portal.object_type(object_type), name))

    def _properties_batch_read(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        inputs = _inputs(request)
        found = [
            self.portal.properties[kind][i["name"]]
            for i in inputs
            if i["name"] in self.portal.properties[kind]
        ]
        return _json(200, _batch(found))

    def _properties_batch_create(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        created = []
        with self.portal.lock:
            for spec in _inputs(request):
                created.append(self.portal.create_property(kind, spec))
        return _json(201, _batch(created))

    def _groups_list(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        return _json(200, {"results": list(self.portal.groups[kind].values())})

    def _group_get(self, request: Request, object_type: str, name: str) -> Response:
        kind = self.portal.object_type(object_type)
        group = self.portal.groups[kind].get(name)
        if group is None:
            raise HubSpotError(
                404, f"Property group {name} does not exist", category="OBJECT_NOT_FOUND"
            )
        return _json(200, group)

    def _group_create(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        body = _body(request)
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
        return _json(201, group)

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
        return _json(200, body)

    def _object_create(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        body = _body(request)
        obj = self.portal.create(kind, body.get("properties", {}))
        self._associate_inline(kind, obj.id, body.get("associations", []))
        return _json(201, obj.as_json())

    def _object_get(self, request: Request, object_type: str, object_id: str) -> Response:
        kind = self.portal.object_type(object_type)
        obj = self.portal.get(kind, object_id, request.args.get("idProperty"))
        return _json(200, obj.as_json(_wanted(request.args.getlist("properties"))))

    def _object_update(self, request: Request, object_type: str, object_id: str) -> Response:
        kind = self.portal.object_type(object_type)
        target = self.portal.get(kind, object_id, request.args.get("idProperty"))
        obj = self.portal.update(kind, target.id, _body(request).get("properties", {}))
        return _json(200, obj.as_json())

    def _object_archive(self, request: Request, object_type: str, object_id: str) -> Response:
        self.portal.archive(self.portal.object_type(object_type), object_id)
        return Response(status=204)

    def _batch_run(
        self,
        inputs: list[dict[str, Any]],
        work: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        created_status: int = 200,
    ) -> Response:
        """Per-input processing with HubSpot's partial-failure rules.

        With an ``objectWriteTraceId`` on every failing input, failures come back as 207 with
        ``errors[].context.objectWriteTraceId``; otherwise the first failure fails the call.
        """
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        with self.portal.lock:
            for item in inputs:
                trace = item.get("objectWriteTraceId")
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
        body = _batch(results)
        if errors:
            body["errors"] = errors
            body["numErrors"] = len(errors)
            return _json(207, body)
        return _json(created_status, body)

    def _batch_upsert(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        inputs = _inputs(request)

        def work(item: dict[str, Any]) -> dict[str, Any]:
            obj, new = self.portal.upsert(
                kind, item["id"], item.get("idProperty"), item["properties"]
            )
            return {**obj.as_json(), "new": new}

        return self._batch_run(inputs, work)

    def _batch_create(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)

        def work(item: dict[str, Any]) -> dict[str, Any]:
            obj = self.portal.create(kind, item.get("properties", {}))
            self._associate_inline(kind, obj.id, item.get("associations", []))
            return obj.as_json()

        return self._batch_run(_inputs(request), work, created_status=201)

    def _batch_update(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)

        def work(item: dict[str, Any]) -> dict[str, Any]:
            target = self.portal.get(kind, item["id"], item.get("idProperty"))
            return self.portal.update(kind, target.id, item["properties"]).as_json()

        return self._batch_run(_inputs(request), work)

    def _batch_read(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        body = _body(request)
        inputs = _inputs(request)
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
        payload = _batch(results)
        if missing:
            payload["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some objects, they may be deleted or not exist.",
                    "context": {"ids": missing},
                    "errors": [],
                    "links": {},
                }
            ]
            payload["numErrors"] = 1
            return _json(207, payload)
        return _json(200, payload)

    def _batch_archive(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        for item in _inputs(request):
            self.portal.archive(kind, item["id"])
        return Response(status=204)

    def _search(self, request: Request, object_type: str) -> Response:
        kind = self.portal.object_type(object_type)
        body = _body(request)
        limit = min(int(body.get("limit") or 10), 200)
        after = int(body.get("after") or 0)
        now = self.portal.clock()
        with self.portal.lock:
            visible = [o for o in self.portal.live(kind) if o.visible_at <= now]
        groups = body.get("filterGroups") or []
        if groups:
            visible = [o for o in visible if any(_matches(o, g.get("filters", [])) for g in groups)]
        visible.sort(key=lambda o: int(o.id))
        page = visible[after : after + limit]
        wanted = _wanted(body.get("properties") or [])
        payload: dict[str, Any] = {
            "total": len(visible),
            "results": [o.as_json(wanted) for o in page],
        }
        if after + limit < len(visible) and after + limit < SEARCH_RESULT_LIMIT:
            payload["paging"] = {"next": {"after": str(after + limit)}}
        return _json(200, payload)

    # -- associations v4 ------------------------------------------------------------------
    def _associate_inline(
        self, kind: str, object_id: str, associations: list[dict[str, Any]]
    ) -> None:
        for association in associations:
            to_id = str(association["to"]["id"])
            for spec in association.get("types", []):
                to_type = next(
                    (
                        t
                        for (f, t), type_id in DEFAULT_ASSOCIATION_TYPES.items()
                        if f == kind and type_id == spec["associationTypeId"]
                    ),
                    None,
                )
                if to_type is None:
                    raise HubSpotError(400, f"unknown association type {spec['associationTypeId']}")
                self.portal.associate(
                    kind, object_id, to_type, to_id, int(spec["associationTypeId"])
                )

    def _assoc_batch_create(self, request: Request, from_type: str, to_type: str) -> Response:
        source = self.portal.object_type(from_type)
        target = self.portal.object_type(to_type)

        def work(item: dict[str, Any]) -> dict[str, Any]:
            from_id, to_id = str(item["from"]["id"]), str(item["to"]["id"])
            for spec in item["types"]:
                self.portal.associate(
                    source, from_id, target, to_id, int(spec["associationTypeId"])
                )
            return {
                "fromObjectTypeId": OBJECT_TYPE_IDS[source],
                "fromObjectId": from_id,
                "toObjectTypeId": OBJECT_TYPE_IDS[target],
                "toObjectId": to_id,
                "labels": [],
            }

        inputs = _inputs(request)
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        with self.portal.lock:
            for item in inputs:
                try:
                    results.append(work(item))
                except HubSpotError as exc:
                    failure = exc.standard_error()
                    failure["context"] = {
                        **failure["context"],
                        "fromObjectId": [str(item["from"]["id"])],
                    }
                    errors.append(failure)
        body = _batch(results)
        if errors:
            body["errors"] = errors
            body["numErrors"] = len(errors)
            return _json(207, body)
        return _json(201, body)

    def _assoc_put(
        self, request: Request, from_type: str, from_id: str, to_type: str, to_id: str
    ) -> Response:
        source = self.portal.object_type(from_type)
        target = self.portal.object_type(to_type)
        specs = request.get_json(silent=True)
        if not isinstance(specs, list):
            raise HubSpotError(400, "Invalid input JSON: a list of association types")
        for spec in specs:
            self.portal.associate(source, from_id, target, to_id, int(spec["associationTypeId"]))
        return _json(
            201,
            {
                "fromObjectTypeId": OBJECT_TYPE_IDS[source],
                "fromObjectId": from_id,
                "toObjectTypeId": OBJECT_TYPE_IDS[target],
                "toObjectId": to_id,
                "labels": [],
            },
        )

    def _assoc_batch_read(self, request: Request, from_type: str, to_type: str) -> Response:
        source = self.portal.object_type(from_type)
        target = self.portal.object_type(to_type)
        results = []
        with self.portal.lock:
            for item in _inputs(request):
                from_id = str(item["id"])
                linked = self.portal.associated(source, from_id, target)
                if not linked:
                    continue
                results.append(
                    {
                        "from": {"id": from_id},
                        "to": [
                            {
                                "toObjectId": to_id,
                                "associationTypes": [
                                    {
                                        "category": "HUBSPOT_DEFINED",
                                        "typeId": type_id,
                                        "label": None,
                                    }
                                    for type_id in sorted(types)
                                ],
                            }
                            for to_id, types in sorted(linked.items())
                        ],
                    }
                )
        return _json(200, _batch(results))


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Silent: a request log line per call is noise in tests and benchmarks."""


def _canonical(request: Request, environ: dict[str, Any]) -> Request:
    """The SDK asks for ``/crm/v3/owners/``; HubSpot and the spec mean ``/crm/v3/owners``."""
    path = request.path
    if len(path) > 1 and path.endswith("/"):
        copy = dict(environ)
        copy["PATH_INFO"] = path.rstrip("/")
        return Request(copy)
    return request


def _rules() -> list[Rule]:
    objects = "/crm/v3/objects/<object_type>"
    props = "/crm/v3/properties/<object_type>"
    assoc = "/crm/v4/associations/<from_type>/<to_type>/batch"
    return [
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
    ]


def _json(status: int, body: Any) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json"
    )


def _body(request: Request) -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise HubSpotError(400, "Invalid input JSON: the body must be a JSON object")
    return data


def _inputs(request: Request) -> list[dict[str, Any]]:
    inputs = _body(request).get("inputs")
    if not isinstance(inputs, list):
        raise HubSpotError(400, "Invalid input JSON: inputs must be a list")
    if len(inputs) > MAX_BATCH:
        raise HubSpotError(
            400,
            f"Batch input is too large: {len(inputs)} inputs, the limit is {MAX_BATCH}",
            sub_category="TOO_MANY_INPUTS",
            context={"limit": [str(MAX_BATCH)]},
        )
    return inputs


def _batch(results: list[dict[str, Any]]) -> dict[str, Any]:
    now = iso(time.time())
    return {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}


def _wanted(names: list[str]) -> list[str] | None:
    flat = [n for name in names for n in name.split(",") if n]
    return flat or None


def _matches(obj: StoredObject, filters: list[dict[str, Any]]) -> bool:
    for condition in filters:
        value = obj.properties.get(condition.get("propertyName", ""))
        operator = condition.get("operator", "EQ")
        if operator == "EQ" and value != condition.get("value"):
            return False
        if operator == "NEQ" and value == condition.get("value"):
            return False
        if operator == "IN" and value not in (condition.get("values") or []):
            return False
        if operator == "HAS_PROPERTY" and not value:
            return False
        if operator in ("LT", "LTE", "GT", "GTE"):
            if not value:
                return False
            left, right = _comparable(value), _comparable(str(condition.get("value", "")))
            if left is None or right is None:
                return False
            if not {
                "LT": left < right,
                "LTE": left <= right,
                "GT": left > right,
                "GTE": left >= right,
            }[operator]:
                return False
        if operator == "NOT_HAS_PROPERTY" and value:
            return False
    return True


def _comparable(text: str) -> float | None:
    """Numbers, epoch milliseconds and ISO datetimes compare as numbers (as HubSpot does)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        return None


def _cause(exc: BaseException) -> str:
    inner = exc.__cause__
    return str(inner or exc).splitlines()[0][:500]


@contextmanager
def running_emulator(portal: Portal | None = None, **kw: Any) -> Iterator[HubSpotEmulator]:
    """Start an emulator on a free loopback port; stop it on exit."""
    emulator = HubSpotEmulator(portal, **kw).start()
    try:
        yield emulator
    finally:
        emulator.stop()
