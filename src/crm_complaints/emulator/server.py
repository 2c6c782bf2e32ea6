"""A loopback HTTP server that behaves like the parts of HubSpot's CRM API we use.

Each request goes through the stages HubSpot puts in front of its handlers, in HubSpot's order:
injected faults (:mod:`.faults`), the token-info endpoint and the bearer token (:mod:`.scopes`),
the spec's methods and scopes (:mod:`.operations`), the rate limit and daily quota
(:mod:`.traffic`) and the OpenAPI contract (:mod:`.contract`); then the endpoint handler
(:mod:`.endpoints`) answers from the portal (:mod:`.portal`), and the answer is itself held
to the contract. This module wires the stages together and runs the server thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar, cast, overload

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .contract import Contract
from .endpoints import URL_MAP, Endpoints
from .faults import ConnectionDropped, FaultInjector, Faults
from .operations import Operations, all_scopes
from .portal import Portal, demo_portal
from .scopes import TokenInfo
from .traffic import RateLimit, Stats, Traffic
from .wire import HubSpotError, error_response, json_response

__all__ = ["Faults", "HubSpotEmulator", "RateLimit", "running_emulator"]

DEMO_TOKEN = "pat-emulator-demo-token"
# A search query stops answering past this many results. Read on every search, so a test can
# lower it on a running emulator by patching it here.
SEARCH_RESULT_LIMIT = 10_000
STATS_PATH = "/_emulator/stats"  # not HubSpot's: for benchmarks in another process

T = TypeVar("T")
Stage = Callable[[Request, dict[str, Any]], Response | None]


class _OnStage(Generic[T]):
    """An emulator setting that lives on the stage it tunes, read and reassigned through the
    emulator (``emulator.rate_limit = RateLimit(...)`` takes effect on the next request)."""

    def __init__(self, stage: str, name: str) -> None:
        self.stage = stage
        self.name = name

    @overload
    def __get__(self, emulator: None, owner: type[Any]) -> _OnStage[T]: ...
    @overload
    def __get__(self, emulator: HubSpotEmulator, owner: type[Any]) -> T: ...
    def __get__(self, emulator: HubSpotEmulator | None, owner: type[Any]) -> _OnStage[T] | T:
        if emulator is None:
            return self
        return cast(T, getattr(getattr(emulator, self.stage), self.name))

    def __set__(self, emulator: HubSpotEmulator, value: T) -> None:
        setattr(getattr(emulator, self.stage), self.name, value)


class HubSpotEmulator:
    """The WSGI application plus its server thread. Use :func:`running_emulator`."""

    rate_limit = _OnStage[RateLimit]("_traffic", "limit")
    faults = _OnStage[Faults]("_faults", "faults")  # reassigning reseeds them
    script = _OnStage[list[tuple[int, str]]]("_faults", "script")
    validate = _OnStage[bool]("_contract", "enabled")
    violations = _OnStage[list[str]]("_contract", "violations")

    def __init__(
        self,
        portal: Portal | None = None,
        *,
        token: str = DEMO_TOKEN,
        rate_limit: RateLimit | None = None,
        faults: Faults | None = None,
        validate: bool = True,
        scopes: Iterable[str] | None = None,
        introspection: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """``scopes``: what the private app's token was granted (None: every scope the specs
        name); an operation whose ``security`` the token does not meet answers 403, and the
        token-info endpoint lists them. ``introspection=False``: that endpoint does not answer
        (404), as for a token HubSpot cannot introspect there. See :mod:`.scopes`."""
        self.portal = portal or demo_portal()
        self.token = token
        self.stats = Stats()
        self._traffic = Traffic(rate_limit or RateLimit(), self.stats)
        self._faults = FaultInjector(faults or Faults(), self._traffic, self.stats)
        self.server: BaseWSGIServer = make_server(
            host, port, self, threaded=True, request_handler=_QuietHandler
        )
        self.base_url = f"http://{host}:{self.server.server_port}"
        self._contract = Contract(self.base_url, enabled=validate)
        self._operations = Operations(URL_MAP, scopes)
        self.introspection = introspection
        self._token_info = TokenInfo(
            lambda: self.token, self._granted, lambda: bool(self.introspection)
        )
        self._thread: threading.Thread | None = None

    @property
    def scopes(self) -> frozenset[str] | None:
        """The token's scopes (None: every scope); reassign to change them from the next
        request on."""
        return self._operations.scopes

    @scopes.setter
    def scopes(self, scopes: Iterable[str] | None) -> None:
        self._operations.scopes = frozenset(scopes) if scopes is not None else None

    def _granted(self) -> frozenset[str]:
        return self.scopes if self.scopes is not None else all_scopes()

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

    def _handle(self, request: Request, environ: dict[str, Any]) -> Response | None:
        """The pipeline: the stages in front, the handler, then the answer's own checks."""
        # Read the whole body first, as a real server does: an early error answer must not
        # leave it unread on a keep-alive connection.
        request.get_data(cache=True)
        if request.path == STATS_PATH:
            return json_response(
                200, {**self.stats.snapshot(), "violations": list(self.violations)}
            )
        self.stats.count("requests")
        try:
            refusal = self._refusal(request, environ)
        except ConnectionDropped:
            return None
        if refusal is not None:
            return refusal
        endpoints = Endpoints(self.portal, search_result_limit=SEARCH_RESULT_LIMIT)
        response = endpoints.dispatch(request, environ)
        self._traffic.add_headers(response, request)  # none on search answers
        self.stats.count_served(request)
        return self._contract.check_response(request, environ, response)

    def _refusal(self, request: Request, environ: dict[str, Any]) -> Response | None:
        """The first answer a stage in front of the handlers gives instead of letting it pass."""
        stages: tuple[Stage, ...] = (
            self._faults.check,
            self._token_info.check,  # needs no Authorization header
            self._check_token,
            self._operations.check,
            self._traffic.check,
            self._contract.check_request,
        )
        for stage in stages:
            answer = stage(request, environ)
            if answer is not None:
                return answer
        return None

    def _check_token(self, request: Request, environ: dict[str, Any]) -> Response | None:
        """HubSpot's 401 unless the request carries the private app's bearer token."""
        if request.headers.get("Authorization", "") == f"Bearer {self.token}":
            return None
        return error_response(
            HubSpotError(
                401, "Authentication credentials not found.", category="INVALID_AUTHENTICATION"
            )
        )


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Silent: a request log line per call is noise in tests and benchmarks."""


@contextmanager
def running_emulator(portal: Portal | None = None, **kw: Any) -> Iterator[HubSpotEmulator]:
    """Start an emulator on a free loopback port; stop it on exit."""
    emulator = HubSpotEmulator(portal, **kw).start()
    try:
        yield emulator
    finally:
        emulator.stop()
