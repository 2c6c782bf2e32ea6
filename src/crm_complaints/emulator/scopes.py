"""A private app token's scopes, as HubSpot checks and reports them.

- **Checked per operation.** Each operation's ``security`` in HubSpot's specs lists
  alternatives (``[{"oauth2": ["crm.objects.deals.read"]}, {"oauth2": ["tickets"]}, …]``); the
  token must hold every scope of one of them. A token that holds none answers HubSpot's 403
  ``MISSING_SCOPES``, whose ``errors[0].context.requiredGranularScopes`` lists the scopes any
  one of which would do ("One or more of the following scopes are required."; the shape as
  HubSpot sends it: https://github.com/HubSpot/hubspot-api-nodejs/issues/397).
- **Introspection.** ``POST /oauth/v2/private-apps/get/access-token-info`` with
  ``{"tokenKey": …}`` answers ``{"userId", "hubId", "appId", "scopes"}``; it needs no scope
  and the ``Authorization`` header is optional (documented at the end of
  https://developers.hubspot.com/docs/api/private-apps; see also
  https://github.com/HubSpot/hubspot-api-php/issues/171). HubSpot does not document its answer
  to a token it does not know: the emulator answers 401, so a client can only ever conclude
  less from it, never that a token is good.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from .account import PORTAL_ID
from .wire import HubSpotError, error_response, json_response

__all__ = ["APP_ID", "TOKEN_INFO_PATH", "USER_ID", "TokenInfo", "missing", "missing_scopes_error"]

TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"
APP_ID = 2_000_001
USER_ID = 1_000_001

Security = tuple[frozenset[str], ...]


def missing(security: Security, granted: frozenset[str] | None) -> list[str] | None:
    """None when ``granted`` meets ``security`` (None grants every scope); else the scopes
    HubSpot names as required: those of every alternative the token lacks."""
    if granted is None or not security:
        return None
    if any(needed <= granted for needed in security):
        return None
    return sorted({scope for needed in security for scope in needed - granted})


def missing_scopes_error(required: list[str]) -> HubSpotError:
    """HubSpot's 403 for a token without a needed scope."""
    return HubSpotError(
        403,
        "This app hasn't been granted all required scopes to make this call. Read more about "
        "required scopes here: https://developers.hubspot.com/scopes.",
        category="MISSING_SCOPES",
        extra={
            "errors": [
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": required},
                }
            ],
            "links": {"scopes": "https://developers.hubspot.com/scopes"},
        },
    )


class TokenInfo:
    """The introspection endpoint, a stage in front of the bearer-token check (the endpoint
    needs no header). ``enabled()`` is read per request: a test turns it off to play a token
    whose scopes cannot be read there (another kind of token, a proxy in between)."""

    def __init__(
        self,
        token: Callable[[], str],
        granted: Callable[[], Iterable[str]],
        enabled: Callable[[], bool],
    ) -> None:
        self._token = token
        self._granted = granted
        self._enabled = enabled

    def check(self, request: Request, environ: dict[str, Any]) -> Response | None:
        if request.path.rstrip("/") != TOKEN_INFO_PATH or not self._enabled():
            return None
        if request.method != "POST":
            return error_response(
                HubSpotError(
                    405,
                    f"Method {request.method} is not allowed on {TOKEN_INFO_PATH}",
                    category="METHOD_NOT_ALLOWED",
                    headers={"Allow": "POST"},
                )
            )
        try:
            body = json.loads(request.get_data().decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            body = None
        key = body.get("tokenKey") if isinstance(body, dict) else None
        if not isinstance(key, str) or not key:
            return error_response(HubSpotError(400, "Invalid input JSON: tokenKey is required"))
        if key != self._token():
            return error_response(
                HubSpotError(
                    401,
                    "The token is not a valid private app token.",
                    category="INVALID_AUTHENTICATION",
                )
            )
        return json_response(
            200,
            {
                "userId": USER_ID,
                "hubId": PORTAL_ID,
                "appId": APP_ID,
                "scopes": sorted(self._granted()),
            },
        )
