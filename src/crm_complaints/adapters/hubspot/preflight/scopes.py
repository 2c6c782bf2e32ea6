"""Step 1, **token and scopes**: the scopes a sync needs, and the token asked for them.

A private app token's scopes come from ``POST /oauth/v2/private-apps/get/access-token-info``
(body ``{"tokenKey": …}``, answer ``{"hubId", "appId", "userId", "scopes": [...]}``; documented
at the end of https://developers.hubspot.com/docs/api/private-apps, see also
https://github.com/HubSpot/hubspot-api-php/issues/171). Where that endpoint does not answer
(another kind of token, a proxy), one read per scope is sent instead and a 403
``MISSING_SCOPES`` answer (``errors[].context.requiredGranularScopes``) names what is missing;
write scopes cannot be probed without writing, so the round trip shows them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ....errors import AdapterError, AuthError
from ....preflight import Step
from .context import STEP_TOKEN, _Context

TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"


@dataclass(frozen=True)
class ScopeNeed:
    """One scope a sync or setup needs, what for, and (for reads) how to probe for it."""

    scope: str
    why: str
    accepted_instead: tuple[str, ...] = ()
    """Scopes HubSpot's specs accept in its place for the same requests."""
    probe: str | None = None
    """The read that shows the scope when the token cannot be introspected (see _probe)."""

    def held_by(self, granted: Iterable[str]) -> bool:
        have = set(granted)
        return self.scope in have or any(s in have for s in self.accepted_instead)


# From the ``security`` sections of the packaged specs (src/crm_complaints/emulator/specs/) and
# HubSpot's guides: tickets.json requires ``tickets`` for every ticket endpoint, and the same
# scope is among those accepted for ticket pipelines, ticket properties (read and create) and
# v4 associations; tasks.json requires crm.objects.contacts.read / .write (the tasks guide,
# https://developers.hubspot.com/docs/api-reference/latest/crm/activities/tasks/guide, says
# the same); properties.json accepts no tasks-specific scope for creating a property, only the
# schema scopes of the object groups, of which tasks belong to contacts; crmOwners.json
# requires crm.objects.owners.read (or ``automation``).
_NEEDS: tuple[ScopeNeed, ...] = (
    ScopeNeed(
        "tickets",
        "tickets: upsert, read, search, archive; ticket pipelines and properties; setup",
        probe="tickets",
    ),
    ScopeNeed(
        "crm.objects.contacts.read",
        "tasks: read and search (HubSpot files tasks under the contacts scopes)",
        probe="tasks",
    ),
    ScopeNeed("crm.objects.contacts.write", "tasks: create, update and archive"),
    ScopeNeed(
        "crm.schemas.contacts.read",
        "task properties: read crm_task_key's definition",
        accepted_instead=("crm.schemas.tasks.read",),
        probe="task properties",
    ),
    ScopeNeed("crm.schemas.contacts.write", "setup: create crm_task_key on tasks"),
    ScopeNeed(
        "crm.objects.owners.read",
        "owners: map e-mails to owners and see deactivated users",
        accepted_instead=("automation",),
        probe="owners",
    ),
)


def required_scopes(contacts: bool = False) -> list[ScopeNeed]:
    """The scopes our operations need. ``contacts`` (``adapters.hubspot.contacts``) needs
    none beyond these: contacts and their ``crm_customer_id`` property use the same scopes as
    tasks."""
    del contacts  # the same list either way; kept so callers say which they asked for
    return list(_NEEDS)


class _TokenStep(_Context):
    """Step 1, mixed into the preflight run."""

    def _token_and_scopes(self) -> Step:
        needs = required_scopes(self.config.contacts)
        try:
            info = self.client.call_json("read the token's scopes", self._token_info)
        except AuthError as exc:
            if exc.status == 401:
                return Step.failed(
                    STEP_TOKEN,
                    f"HubSpot refused the token in {self.config.token_env} (401)",
                    f"put a current private app token in {self.config.token_env} (a rotated or "
                    "deleted app's token stops working)",
                )
            info = None
        except AdapterError:
            info = None  # no introspection here: probe instead
        granted = info.get("scopes") if isinstance(info, dict) else None
        if isinstance(granted, list):
            missing = [n.scope for n in needs if not n.held_by(map(str, granted))]
            portal = f" on portal {info.get('hubId')}" if info and info.get("hubId") else ""
            if missing:
                return Step.failed(
                    STEP_TOKEN,
                    f"the token{portal} lacks scope(s) {', '.join(missing)}",
                    self._scope_fix(missing),
                )
            return Step.passed(
                STEP_TOKEN,
                f"token in {self.config.token_env}{portal} has all {len(needs)} scopes needed "
                f"({', '.join(n.scope for n in needs)})",
            )
        return self._probe_scopes(needs)

    def _token_info(self, **kwargs: Any) -> Any:
        """The introspection request: the token travels in the body to the host its header
        already goes to; the body is never logged (the SDK logs response bodies only)."""
        token = self.adapter.secret(
            self.config.token_env, config_key="adapters.hubspot.token_env", what="a token"
        )
        return self.client.tickets.api_client.call_api(
            TOKEN_INFO_PATH,
            "POST",
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            body={"tokenKey": token},
            auth_settings=["oauth2"],
            _return_http_data_only=True,
            **kwargs,
        )

    def _probe_scopes(self, needs: list[ScopeNeed]) -> Step:
        """One read per probe-able scope; 403 MISSING_SCOPES names the scope missing."""
        missing: list[str] = []
        for need in needs:
            if need.probe is None:
                continue
            method, kwargs = _probe(self, need.probe)
            try:
                self.client.call(f"probe {need.scope} ({need.probe})", method, **kwargs)
            except AuthError as exc:
                if exc.status == 401:
                    return Step.failed(
                        STEP_TOKEN,
                        f"HubSpot refused the token in {self.config.token_env} (401)",
                        f"put a current private app token in {self.config.token_env}",
                    )
                for scope in _missing_in(exc) or [need.scope]:
                    if scope not in missing:
                        missing.append(scope)
        unprobed = [n.scope for n in needs if n.probe is None]
        if missing:
            return Step.failed(
                STEP_TOKEN,
                f"the token lacks scope(s) {', '.join(missing)} (HubSpot answered 403 "
                "MISSING_SCOPES to a read)",
                self._scope_fix(missing + [s for s in unprobed if s not in missing]),
            )
        return Step.passed(
            STEP_TOKEN,
            f"token in {self.config.token_env} can read what a sync reads (probed: the token "
            f"could not be introspected); {', '.join(unprobed)} cannot be probed without "
            "writing: the round trip (and `setup`) show them",
        )


def _missing_in(exc: AuthError) -> list[str]:
    """The scopes a 403 ``MISSING_SCOPES`` answer names (``requiredGranularScopes``); HubSpot
    lists alternatives there, any one of which would do."""
    body = getattr(exc.__cause__, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body) if isinstance(body, str) else {}
    except ValueError:
        return []
    if not isinstance(data, dict) or data.get("category") != "MISSING_SCOPES":
        return []
    named: list[str] = []
    for error in data.get("errors") or []:
        context = error.get("context") or {} if isinstance(error, dict) else {}
        for scope in context.get("requiredGranularScopes") or []:
            if str(scope) not in named:
                named.append(str(scope))
    return named


Probe = tuple[Callable[..., Any], dict[str, Any]]


def _probe(run: _Context, name: str) -> Probe:
    """The read that shows one scope: the SDK method and its arguments (bound methods, so the
    client reads the answer's rate-limit headers)."""
    if name == "tickets":
        return run.ticket_basic.get_page, {"limit": 1, "properties": ["hs_object_id"]}
    if name == "tasks":
        return run.task_basic.get_page, {"limit": 1, "properties": ["hs_object_id"]}
    if name == "task properties":
        return run.client.properties.get_by_name, {
            "object_type": "tasks",
            "property_name": "hs_timestamp",
        }
    if name == "owners":
        return run.client.owners.get_page, {"limit": 1}
    raise ValueError(f"no probe {name!r}")
