"""``crm-complaints check --adapter hubspot``: a HubSpot portal asked, before the first sync,
whether a sync can work there.

We cannot reach our users' portals, so this is the check they run on theirs (a sandbox or
production). Five steps, each reported as passed, failed (with the fix) or skipped (with why):

1. **token**: the environment variable ``adapters.hubspot.token_env`` names holds a token, and
   the token has every scope of :func:`required_scopes`. A private app token's scopes come from
   ``POST /oauth/v2/private-apps/get/access-token-info`` (body ``{"tokenKey": …}``, answer
   ``{"hubId", "appId", "userId", "scopes": [...]}``; documented at the end of
   https://developers.hubspot.com/docs/api/private-apps, see also
   https://github.com/HubSpot/hubspot-api-php/issues/171). Where that endpoint does not answer
   (another kind of token, a proxy), one read per scope is sent instead and a 403
   ``MISSING_SCOPES`` answer (``errors[].context.requiredGranularScopes``) names what is
   missing; write scopes cannot be probed without writing, so the round trip shows them.
2. **portal**: the pipeline, every stage, every owner e-mail (adapter-wide, per clinic, deputies
   and staff) and every option the config names exists; each problem named by its config key,
   never by the e-mail.
3. **properties**: our properties exist with the type we write (else run ``setup``); the
   ticket's ``crm_complaint_id`` must be unique-valued (the ticket upsert matches on it), the
   task key need not be (HubSpot has no unique task properties).
4. **round trip**: one synthetic complaint (``CHECK-<random hex>``, no personal data, never in
   the state store) pushed through the adapter, read back, and compared: version, owners, each
   task's due date, and each task's link to the ticket.
5. **clean up**: the synthetic ticket and its tasks archived, found again by the unique
   complaint id and the ticket's task links (not from the push's answer alone, so a push that
   failed half-way is cleaned up too); ids to delete by hand when archiving fails.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.objects.tasks import BasicApi as TaskBasicApi
from hubspot.crm.objects.tasks import BatchInputSimplePublicObjectId as TaskIdBatch
from hubspot.crm.objects.tasks import SimplePublicObjectId as TaskId
from hubspot.crm.tickets import BasicApi as TicketBasicApi
from hubspot.crm.tickets import BatchInputSimplePublicObjectId as TicketIdBatch
from hubspot.crm.tickets import BatchReadInputSimplePublicObjectId as TicketReadBatch
from hubspot.crm.tickets import SimplePublicObjectId as TicketId

from ....config import Settings
from ....errors import AdapterError, AuthError, ConfigError, TransientError
from ....policy import PlannedComplaint, Policy
from ....preflight import PreflightReport, Step, StepOutcome
from ....schema import Complaint, Department, Status
from ...base import Outcome, RemoteRecord
from .. import HubSpotAdapter
from ..client import HubSpotClient
from ..links import TASK_TO_TICKET
from ..owners import DEACTIVATED, OwnerDirectory
from ..portal import CONTACT_PROPERTIES, TASK_PROPERTIES, TICKET_PROPERTIES, PropertySpec
from ..properties import hubspot_time

__all__ = ["TOKEN_INFO_PATH", "ScopeNeed", "check", "required_scopes"]

TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"
CHECK_PREFIX = "CHECK-"
SETUP_FIX = "run `crm-complaints setup --adapter hubspot`, then check again"
SCOPES_FIX = (
    "in HubSpot, open the private app (Development → Legacy apps → your app → Scopes), add "
    "{scopes}, save, and put the new token in {env}"
)

STEP_TOKEN = "token and scopes"
STEP_PORTAL = "pipeline, stages, owners and options"
STEP_PROPERTIES = "properties"
STEP_ROUND_TRIP = "round trip"
STEP_CLEAN_UP = "clean up"


@dataclass(frozen=True)
class ScopeNeed:
    """One scope a sync or setup needs, what for, and (for reads) how to probe for it."""

    scope: str
    why: str
    accepted_instead: tuple[str, ...] = ()
    """Scopes HubSpot's specs accept in its place for the same requests."""
    probe: str | None = None
    """The read that shows the scope when the token cannot be introspected (see _PROBES)."""

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


# -- the check ----------------------------------------------------------------------------------
def check(settings: Settings, environ: Mapping[str, str]) -> PreflightReport:
    """Run the five steps against the configured portal (see the module docstring)."""
    report = PreflightReport("hubspot")
    try:
        adapter = HubSpotAdapter.from_settings(settings, environ=environ)
    except ConfigError as exc:
        report.add(_config_problem(exc))
        _skip_rest(report, STEP_TOKEN, "the adapter could not be configured")
        return report
    with adapter:
        _Preflight(adapter, settings, report).run()
    return report


def _config_problem(exc: ConfigError) -> Step:
    if exc.key == "adapters.hubspot.token_env":
        return Step.failed(
            STEP_TOKEN,
            str(exc),
            "set that variable to the private app's access token (Development → Legacy apps → "
            "your app → Auth → Show token), or name another with adapters.hubspot.token_env",
        )
    return Step.failed(STEP_TOKEN, f"config error {exc}", f"fix {exc.key or 'the config'}")


_ORDER = (STEP_TOKEN, STEP_PORTAL, STEP_PROPERTIES, STEP_ROUND_TRIP, STEP_CLEAN_UP)


def _skip_rest(report: PreflightReport, after: str, because: str) -> None:
    for name in _ORDER[_ORDER.index(after) + 1 :]:
        report.add(Step.skipped(name, because))


class _Preflight:
    """One run of the steps over one adapter; each step returns its Step."""

    def __init__(
        self,
        adapter: HubSpotAdapter,
        settings: Settings,
        report: PreflightReport,
    ) -> None:
        self.adapter = adapter
        self.client: HubSpotClient = adapter.client
        self.config = adapter.config
        self.settings = settings
        self.report = report
        api = self.client.tickets.api_client  # shares the token, host and retry settings
        self.ticket_basic = TicketBasicApi(api_client=api)
        self.task_basic = TaskBasicApi(api_client=self.client.tasks.api_client)

    def run(self) -> None:
        token = self.report.add(self._guarded(STEP_TOKEN, self._token_and_scopes))
        if token.outcome is not StepOutcome.PASSED:
            _skip_rest(self.report, STEP_TOKEN, "the token is missing, refused or lacks scopes")
            return
        portal = self.report.add(self._guarded(STEP_PORTAL, self._portal))
        properties = self.report.add(self._guarded(STEP_PROPERTIES, self._properties))
        if not all(s.outcome is StepOutcome.PASSED for s in (portal, properties)):
            failed = [s.name for s in (portal, properties) if s.outcome is StepOutcome.FAILED]
            _skip_rest(self.report, STEP_PROPERTIES, f"{' and '.join(failed)} failed first")
            return
        leftovers: _Leftovers = _Leftovers()
        self.report.add(self._guarded(STEP_ROUND_TRIP, partial(self._round_trip, leftovers)))
        self.report.add(self._clean_up(leftovers))

    def _guarded(self, name: str, step: Callable[[], Step]) -> Step:
        """A step whose HubSpot call failed outright becomes a failed step saying which call
        and what kind of failure (classified by the client; no bodies, no values)."""
        try:
            return step()
        except AuthError as exc:
            named = _missing_in(exc)
            if exc.status == 403 and named:
                return Step.failed(name, str(exc), self._scope_fix(named))
            return Step.failed(name, str(exc), f"check the token in {self.config.token_env}")
        except TransientError as exc:  # 429, 5xx, a dropped connection
            return Step.failed(name, str(exc), "HubSpot was busy or unreachable: check again")
        except AdapterError as exc:
            fix = "HubSpot refused the request the message names: fix what it says, check again"
            return Step.failed(name, str(exc), fix)
        except ConfigError as exc:
            return Step.failed(name, str(exc), f"fix {exc.key or 'the config'}")

    def _scope_fix(self, scopes: list[str]) -> str:
        return SCOPES_FIX.format(scopes=", ".join(scopes), env=self.config.token_env)

    # -- 1. token and scopes ---------------------------------------------------------------
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

    # -- 2. pipeline, stages, owners, options ------------------------------------------------
    def _portal(self) -> Step:
        problems: list[str] = []
        found: list[str] = []
        config = self.config
        pipelines = self.client.call(
            "read ticket pipelines", self.client.pipelines.get_all, object_type="tickets"
        )
        pipeline = next((p for p in pipelines.results if p.label == config.pipeline), None)
        if pipeline is None:
            known = sorted(p.label for p in pipelines.results)
            problems.append(
                f"adapters.hubspot.pipeline: no ticket pipeline labelled {config.pipeline!r} "
                f"(the portal has {known})"
            )
        else:
            labels = {s.label for s in pipeline.stages}
            for status in Status:
                wanted = config.stages.get(status)
                if wanted is None or wanted not in labels:
                    problems.append(
                        f"adapters.hubspot.stages.{status.value}: pipeline {config.pipeline!r} "
                        f"has no stage {wanted!r} (it has {sorted(labels)})"
                    )
            found.append(f"pipeline {config.pipeline!r} with its {len(labels)} stages")
        directory = self._owner_directory()
        named = list(self._owner_keys())
        for key, email in named:
            if directory.find(email) is None:
                why = directory.why_not(email)
                problems.append(
                    f"{key}: the owner is a deactivated HubSpot user (work would go to a "
                    "fallback owner)"
                    if why == DEACTIVATED
                    else f"{key}: no HubSpot owner has that e-mail"
                )
        found.append(f"{len(named)} owner e-mail(s)")
        problems += self._options("tickets", "hs_ticket_priority", config.priorities, "priorities")
        problems += self._options(
            "tasks", "hs_task_priority", config.task_priorities, "task_priorities"
        )
        if config.categories:
            problems += self._options(
                "tickets", "hs_ticket_category", config.categories, "categories"
            )
        found.append("priority and category options")
        if problems:
            return Step.failed(
                STEP_PORTAL,
                "; ".join(problems),
                "correct each key named (labels and e-mails exactly as HubSpot shows them), "
                "or create the missing pipeline stage / user in HubSpot",
            )
        return Step.passed(STEP_PORTAL, "found " + ", ".join(found))

    def _owner_keys(self) -> Iterable[tuple[str, str]]:
        """Every owner e-mail the config names, with its config key (the key is what we
        print: an e-mail is a person's)."""
        for department, email in self.config.owners.items():
            yield f"adapters.hubspot.owners.{department.value}", email
        clinics = {"default_clinic": self.settings.default_clinic}
        clinics.update({f"clinics.{k}": v for k, v in self.settings.clinics.items()})
        for prefix, clinic in clinics.items():
            for department, route in clinic.owners.items():
                yield f"{prefix}.owners.{department.value}.owner", route.owner
                if route.deputy:
                    yield f"{prefix}.owners.{department.value}.deputy", route.deputy
            for staff_id, email in clinic.staff.items():
                if "@" in email:  # an owner key; staff mapped to other keys are not e-mails
                    yield f"{prefix}.staff.{staff_id}", email

    def _owner_directory(self) -> OwnerDirectory:
        active = self._owner_emails(archived=False)
        deactivated = self._owner_emails(archived=True)
        return OwnerDirectory(active=active, deactivated=frozenset(deactivated) - set(active))

    def _owner_emails(self, *, archived: bool) -> dict[str, str]:
        found: dict[str, str] = {}
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": 500, "archived": archived}
            if after:
                kwargs["after"] = after
            page = self.client.call("read owners", self.client.owners.get_page, **kwargs)
            for owner in page.results:
                if owner.email:
                    found[owner.email.lower()] = str(owner.id)
            after = page.paging.next.after if page.paging and page.paging.next else None
            if not after:
                return found

    def _options(
        self, object_type: str, prop: str, wanted: Mapping[Any, str], key: str
    ) -> list[str]:
        spec = self.client.call(
            f"read property {prop}",
            self.client.properties.get_by_name,
            object_type=object_type,
            property_name=prop,
        )
        options = {o.value for o in spec.options or []} | {o.label for o in spec.options or []}
        values = sorted({o.value for o in spec.options or []})
        return [
            f"adapters.hubspot.{key}.{name.value}: {prop} has no option {label!r} (it has {values})"
            for name, label in wanted.items()
            if label not in options
        ]

    # -- 3. properties ------------------------------------------------------------------------
    def _properties(self) -> Step:
        objects: list[tuple[str, tuple[PropertySpec, ...]]] = [
            ("tickets", TICKET_PROPERTIES),
            ("tasks", TASK_PROPERTIES),
        ]
        if self.config.contacts:
            objects.append(("contacts", CONTACT_PROPERTIES))
        missing: list[str] = []
        wrong: list[str] = []
        for object_type, specs in objects:
            have = self.client.call(
                f"read {object_type} properties",
                self.client.properties.get_all,
                object_type=object_type,
            )
            by_name = {p.name: p for p in have.results}
            for spec in specs:
                found = by_name.get(spec.name)
                if found is None:
                    missing.append(f"{object_type}.{spec.name}")
                elif found.type != spec.type:
                    wrong.append(
                        f"{object_type}.{spec.name} is of type {found.type!r}, we write "
                        f"{spec.type!r}"
                    )
                elif spec.unique and object_type != "tasks" and not found.has_unique_value:
                    wrong.append(
                        f"{object_type}.{spec.name} does not require unique values (the "
                        "upsert matches on it)"
                    )
        if missing:
            return Step.failed(STEP_PROPERTIES, f"the portal lacks {', '.join(missing)}", SETUP_FIX)
        if wrong:
            return Step.failed(
                STEP_PROPERTIES,
                "; ".join(wrong),
                "another app or a person created these properties differently: rename or "
                "delete them in HubSpot (Settings → Properties), then " + SETUP_FIX,
            )
        count = sum(len(specs) for _, specs in objects)
        return Step.passed(STEP_PROPERTIES, f"all {count} of our properties exist as we write them")

    # -- 4. round trip ----------------------------------------------------------------------
    def _round_trip(self, leftovers: _Leftovers) -> Step:
        item = self._synthetic()
        leftovers.complaint_id = item.complaint_id
        [result] = self.adapter.push([item])
        leftovers.task_ids.update(v for k, v in result.refs.items() if k.startswith("task:"))
        if "ticket" in result.refs:
            leftovers.ticket_id = result.refs["ticket"]
        if result.outcome is not Outcome.SYNCED:
            kind = {
                Outcome.REJECTED: "refused it",
                Outcome.RETRY: "failed part-way (retryable)",
                Outcome.RATE_LIMITED: "rate limited it",
            }.get(result.outcome, str(result.outcome))
            return Step.failed(
                STEP_ROUND_TRIP,
                f"pushing synthetic complaint {item.complaint_id}: HubSpot {kind}: {result.error}",
                "fix what the message names (a scope, a property, an option) and check again"
                if result.outcome is Outcome.REJECTED
                else "HubSpot was busy or unreachable: run the check again",
            )
        records = self.adapter.read({item.complaint_id: result.refs})
        record = records.get(item.complaint_id)
        if record is None:
            return Step.failed(
                STEP_ROUND_TRIP,
                f"ticket {result.refs.get('ticket')} of {item.complaint_id} was written but "
                "reading it back by crm_complaint_id found nothing",
                "check that crm_complaint_id on tickets is unique-valued; then check again",
            )
        problems = self._compare(item, record)
        problems += self._check_links(record)
        if problems:
            return Step.failed(
                STEP_ROUND_TRIP,
                f"{item.complaint_id} read back differently: " + "; ".join(problems),
                "a HubSpot workflow or another app may rewrite our tickets or tasks: exclude "
                "tickets with crm_complaint_id set, then check again",
            )
        return Step.passed(
            STEP_ROUND_TRIP,
            f"wrote {item.complaint_id} (ticket {record.refs['ticket']}, "
            f"{len(item.plan.tasks)} tasks linked to it) and read back the same version, "
            "owners and due dates",
        )

    def _synthetic(self) -> PlannedComplaint:
        """A complaint with no personal data and an id no clinic uses, at a configured clinic
        (its calendar and routing) received now."""
        clinic_id = next(iter(self.settings.clinics), "preflight-check")
        clinic = self.settings.clinic(clinic_id)
        received = datetime.now(ZoneInfo(clinic.time_zone)).replace(microsecond=0)
        complaint = Complaint.model_validate(
            {
                "id": f"{CHECK_PREFIX}{secrets.token_hex(6).upper()}",
                "clinic": clinic_id,
                "received_at": received.isoformat(),
                "channel": "other",
                "category": "other",
                "summary": "crm-complaints check: synthetic complaint, safe to delete",
                "reporter": {"staff_id": "CHECK", "department": Department.FRONT_DESK.value},
            }
        )
        return Policy.from_settings(self.settings).planned(complaint)

    def _compare(self, item: PlannedComplaint, record: RemoteRecord) -> list[str]:
        problems: list[str] = []
        if record.version != item.version:
            problems.append("the ticket's crm_version is not the version written")
        properties = self.adapter.properties
        ticket_owner = properties.owner(item, None).owner_id
        if (record.owner or None) != ticket_owner:
            problems.append(f"ticket owner {record.owner or 'none'}, expected {ticket_owner}")
        for task in item.plan.tasks:
            remote = record.tasks.get(task.kind.value)
            if remote is None:
                problems.append(f"task {task.kind.value} missing")
                continue
            if remote.due_at is None or hubspot_time(remote.due_at) != hubspot_time(task.due_at):
                due = hubspot_time(remote.due_at) if remote.due_at else "none"
                problems.append(
                    f"task {task.kind.value} due {due}, written {hubspot_time(task.due_at)}"
                )
            owner = properties.owner(item, task).owner_id
            if (remote.owner or None) != owner:
                problems.append(
                    f"task {task.kind.value} owner {remote.owner or 'none'}, expected {owner}"
                )
            if remote.completed != task.completed:
                problems.append(f"task {task.kind.value} completion differs")
        return problems

    def _check_links(self, record: RemoteRecord) -> list[str]:
        ticket = record.refs["ticket"]
        task_ids = [v for k, v in record.refs.items() if k.startswith("task:")]
        linked = self._links("tasks", "tickets", task_ids)
        kinds = {v: k.removeprefix("task:") for k, v in record.refs.items()}
        return [
            f"task {kinds[tid]} is not linked to ticket {ticket} (association type "
            f"{TASK_TO_TICKET})"
            for tid in task_ids
            if (ticket, TASK_TO_TICKET) not in linked.get(tid, set())
        ]

    def _links(
        self, from_type: str, to_type: str, ids: list[str]
    ) -> dict[str, set[tuple[str, int]]]:
        """Each id's links: (target id, association type id) pairs, by v4 batch read."""
        if not ids:
            return {}
        models = self.client.link_models
        request = BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[
                PublicFetchAssociationsBatchRequest(id=i, local_vars_configuration=models)
                for i in ids
            ],
            local_vars_configuration=models,
        )
        answer = self.client.call_json(
            f"read {from_type} → {to_type} links",
            self.client.associations.get_page,
            from_object_type=from_type,
            to_object_type=to_type,
            batch_input_public_fetch_associations_batch_request=request,
        )
        found: dict[str, set[tuple[str, int]]] = {}
        for result in answer.get("results", []):
            source = str((result.get("from") or {}).get("id"))
            for target in result.get("to", []):
                for kind in target.get("associationTypes", []):
                    found.setdefault(source, set()).add(
                        (str(target["toObjectId"]), int(kind["typeId"]))
                    )
        return found

    # -- 5. clean up --------------------------------------------------------------------------
    def _clean_up(self, leftovers: _Leftovers) -> Step:
        if leftovers.complaint_id is None:
            return Step.skipped(STEP_CLEAN_UP, "nothing was written")
        cid = leftovers.complaint_id
        try:
            self._find_leftovers(leftovers)
        except AdapterError as exc:
            return Step.failed(
                STEP_CLEAN_UP,
                f"could not look up what {cid} left in HubSpot: {exc}",
                f"in HubSpot, delete the ticket whose Complaint ID is {cid} and its tasks "
                f"{leftovers.describe()}",
            )
        if leftovers.ticket_id is None and not leftovers.task_ids:
            return Step.passed(STEP_CLEAN_UP, f"{cid} left nothing in HubSpot")
        failures: list[str] = []
        if leftovers.task_ids:
            try:
                self.client.call(
                    "archive the synthetic tasks",
                    self.client.tasks.archive,
                    batch_input_simple_public_object_id=TaskIdBatch(
                        inputs=[TaskId(id=i) for i in sorted(leftovers.task_ids)]
                    ),
                )
            except AdapterError as exc:
                failures.append(f"tasks: {exc}")
        if leftovers.ticket_id is not None:
            try:
                self.client.call(
                    "archive the synthetic ticket",
                    self.client.tickets.archive,
                    batch_input_simple_public_object_id=TicketIdBatch(
                        inputs=[TicketId(id=leftovers.ticket_id)]
                    ),
                )
            except AdapterError as exc:
                failures.append(f"ticket: {exc}")
        if failures:
            return Step.failed(
                STEP_CLEAN_UP,
                f"archiving {cid} failed ({'; '.join(failures)})",
                f"delete by hand in HubSpot: {leftovers.describe()}",
            )
        return Step.passed(STEP_CLEAN_UP, f"archived {leftovers.describe()}")

    def _find_leftovers(self, leftovers: _Leftovers) -> None:
        """The ticket by its unique complaint id, and every task linked to it: exact reads,
        so whatever a failed push left behind is found too."""
        answer = self.client.call_json(
            "find the synthetic ticket",
            self.client.tickets.read,
            batch_read_input_simple_public_object_id=TicketReadBatch(
                id_property="crm_complaint_id",
                inputs=[TicketId(id=leftovers.complaint_id)],
                properties=["crm_complaint_id"],
                properties_with_history=[],
            ),
        )
        for result in answer.get("results", []):
            leftovers.ticket_id = str(result["id"])
        if leftovers.ticket_id is not None:
            linked = self._links("tickets", "tasks", [leftovers.ticket_id])
            leftovers.task_ids.update(t for t, _ in linked.get(leftovers.ticket_id, set()))


@dataclass
class _Leftovers:
    """What the round trip may have written, for the clean-up step."""

    complaint_id: str | None = None
    ticket_id: str | None = None
    task_ids: set[str] = field(default_factory=set)

    def describe(self) -> str:
        ticket = f"ticket {self.ticket_id}" if self.ticket_id else "no ticket"
        tasks = ", ".join(sorted(self.task_ids)) or "none"
        return f"{ticket}, tasks {tasks}"


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


def _probe(run: _Preflight, name: str) -> Probe:
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
