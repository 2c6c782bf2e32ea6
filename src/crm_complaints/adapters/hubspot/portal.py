"""What we need to know of a HubSpot portal, and what we create in it.

Discovery resolves the config's labels and e-mails (pipeline, stages, owners, priority and
category options) to the portal's ids once per adapter; a mapping the portal lacks is a
ConfigError naming the key, and so are our properties when missing or in an older release's
form. Our properties and ``setup`` live in :mod:`.definitions` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ...errors import ConfigError
from ...schema import Category, Department, Severity, Status
from .client import HubSpotClient
from .config import HubSpotConfig
from .definitions import (
    CONTACT_PROPERTIES,
    TASK_PROPERTIES,
    TICKET_PROPERTIES,
    PropertySpec,
    our_properties,
    setup,
    stale,
)
from .owners import UNKNOWN, OwnerDirectory

__all__ = [
    "CONTACT_PROPERTIES",
    "TASK_PROPERTIES",
    "TICKET_PROPERTIES",
    "Portal",
    "PropertySpec",
    "discover",
    "setup",
]


@dataclass(frozen=True)
class Portal:
    """What discovery found: ids behind the labels and e-mails of the config."""

    pipeline_id: str
    stage_ids: Mapping[Status, str]
    stage_labels: Mapping[str, str]
    closed_stage_ids: frozenset[str]
    owner_ids: Mapping[Department, str]
    priority_values: Mapping[Severity, str]
    category_values: Mapping[Category, str]
    owners: OwnerDirectory = field(default_factory=OwnerDirectory)
    """Every owner by e-mail, active and deactivated, for per-clinic routing (see .owners)."""
    clinic_pipelines: Mapping[str, tuple[str, Mapping[Status, str]]] = field(default_factory=dict)
    """Clinic id → (pipeline id, stage ids) for clinics with a pipeline of their own."""

    def pipeline_for(self, clinic: str) -> tuple[str, Mapping[Status, str]]:
        """The pipeline and stage ids a clinic's tickets go to."""
        return self.clinic_pipelines.get(clinic, (self.pipeline_id, self.stage_ids))


def discover(
    client: HubSpotClient, config: HubSpotConfig, answers: dict[str, Any] | None = None
) -> Portal:
    """Read pipelines, owners, options and our properties, and resolve the config against
    them. ``answers`` keeps each answer across attempts: under a tight rate limit a retry
    resumes where the last attempt was cut off instead of starting over (and never finishing)."""
    read = _Reads(client, {} if answers is None else answers)
    pipelines = read.once(
        "pipelines",
        partial(client.call, "read pipelines", client.pipelines.get_all, object_type="tickets"),
    )
    pipeline, stage_ids = _pipeline(pipelines.results, config, config.pipeline, "pipeline")
    used = [pipeline]
    clinic_pipelines: dict[str, tuple[str, Mapping[Status, str]]] = {}
    for clinic, label in config.clinic_pipelines.items():
        found, found_stages = _pipeline(
            pipelines.results, config, label, f"clinic_pipelines.{clinic}"
        )
        clinic_pipelines[clinic] = (found.id, found_stages)
        used.append(found)
    owners: OwnerDirectory = read.once("owners", partial(_owner_directory, client))
    owner_ids: dict[Department, str] = {}
    for department, email in config.owners.items():
        found = owners.find(email)
        if found is not None:
            owner_ids[department] = found
        elif owners.why_not(email) == UNKNOWN:  # a typo; a deactivated user falls back instead
            raise ConfigError(
                f"no HubSpot owner with e-mail {email!r}",
                key=f"adapters.hubspot.owners.{department.value}",
            )
    priorities = read.once("priorities", partial(_option_values, client, "hs_ticket_priority"))
    categories = (
        read.once("categories", partial(_option_values, client, "hs_ticket_category"))
        if config.categories
        else {}
    )
    portal = Portal(
        pipeline_id=pipeline.id,
        stage_ids=stage_ids,
        stage_labels={s.id: s.label for p in used for s in p.stages},
        closed_stage_ids=frozenset(
            s.id
            for p in used
            for s in p.stages
            if (s.metadata or {}).get("ticketState") == "CLOSED"
        ),
        owner_ids=owner_ids,
        owners=owners,
        clinic_pipelines=clinic_pipelines,
        priority_values={
            severity: _option(priorities, wanted, f"adapters.hubspot.priorities.{severity.value}")
            for severity, wanted in config.priorities.items()
        },
        category_values={
            category: _option(categories, wanted, f"adapters.hubspot.categories.{category.value}")
            for category, wanted in config.categories.items()
        },
    )
    _require_our_properties(read, config)
    return portal


def _pipeline(
    pipelines: Sequence[Any], config: HubSpotConfig, label: str, key: str
) -> tuple[Any, dict[Status, str]]:
    """A ticket pipeline by label and its stage ids for every status (``stages`` labels)."""
    pipeline = next((p for p in pipelines if p.label == label), None)
    if pipeline is None:
        known = sorted(p.label for p in pipelines)
        raise ConfigError(
            f"no ticket pipeline labelled {label!r} (the portal has {known})",
            key=f"adapters.hubspot.{key}",
        )
    by_label = {s.label: s.id for s in pipeline.stages}
    stage_ids: dict[Status, str] = {}
    for status in Status:
        wanted = config.stages.get(status)
        if wanted is None or wanted not in by_label:
            raise ConfigError(
                f"pipeline {label!r} has no stage {wanted!r} (it has {sorted(by_label)})",
                key=f"adapters.hubspot.stages.{status.value}",
            )
        stage_ids[status] = by_label[wanted]
    return pipeline, stage_ids


class _Reads:
    """Discovery's answers, each read once and kept (see :func:`discover`)."""

    def __init__(self, client: HubSpotClient, answers: dict[str, Any]) -> None:
        self.client = client
        self.answers = answers

    def once(self, name: str, read: Callable[[], Any]) -> Any:
        if name not in self.answers:
            self.answers[name] = read()
        return self.answers[name]


def _require_our_properties(read: _Reads, config: HubSpotConfig) -> None:
    """Writes before ``setup`` would be refused record by record and quarantine everything:
    a missing property, or one still in an older release's text form or lacking an option
    for a value we send, stops the run with what to do instead."""
    client = read.client
    missing: list[str] = []
    outdated: list[str] = []
    for object_type, wanted in our_properties(config):
        have = read.once(
            f"{object_type} properties",
            partial(
                client.call,
                f"read {object_type} properties",
                client.properties.get_all,
                object_type=object_type,
            ),
        )
        by_name = {p.name: p for p in have.results}
        for spec in wanted:
            found = by_name.get(spec.name)
            why = "missing" if found is None else stale(spec, found)
            if why == "missing":
                missing.append(f"{object_type}.{spec.name}")
            elif why:
                outdated.append(f"{object_type}.{spec.name} {why}")
    if missing or outdated:
        for object_type, _ in our_properties(config):  # read again once setup has run
            read.answers.pop(f"{object_type} properties", None)
        problems = []
        if missing:
            problems.append(f"lacks our properties {missing}")
        if outdated:
            problems.append(f"has our properties in an older form ({'; '.join(outdated)})")
        raise ConfigError(
            f"the portal {' and '.join(problems)}: run "
            "`crm-complaints setup --adapter hubspot` first",
            key="adapters.hubspot",
        )


def _owner_directory(client: HubSpotClient) -> OwnerDirectory:
    """Active owners, then the deactivated ones (``archived=true`` lists only those)."""
    active = _owner_emails(client, archived=False)
    deactivated = _owner_emails(client, archived=True)
    return OwnerDirectory(active=active, deactivated=frozenset(deactivated) - set(active))


def _owner_emails(client: HubSpotClient, *, archived: bool) -> dict[str, str]:
    found: dict[str, str] = {}
    after: str | None = None
    what = "read deactivated owners" if archived else "read owners"
    while True:
        kwargs: dict[str, Any] = {"limit": 500}
        if archived:
            kwargs["archived"] = True
        if after:
            kwargs["after"] = after
        page = client.call(what, client.owners.get_page, **kwargs)
        for owner in page.results:
            if owner.email:
                found[owner.email.lower()] = str(owner.id)
        after = page.paging.next.after if page.paging and page.paging.next else None
        if not after:
            return found


def _option_values(client: HubSpotClient, prop: str) -> dict[str, str]:
    """An enumeration property's options, by value and by label, to their value."""
    spec = client.call(
        f"read property {prop}",
        client.properties.get_by_name,
        object_type="tickets",
        property_name=prop,
    )
    options: dict[str, str] = {}
    for option in spec.options or []:
        options[option.value] = option.value
        options[option.label] = option.value
    return options


def _option(options: Mapping[str, str], wanted: str, key: str) -> str:
    value = options.get(wanted)
    if value is None:
        raise ConfigError(
            f"the portal has no option {wanted!r} (it has {sorted(set(options.values()))})",
            key=key,
        )
    return value
