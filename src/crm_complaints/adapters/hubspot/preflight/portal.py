"""Steps 2 and 3, what the portal holds: the pipeline, stages, owners and options the config
names (each problem named by its config key, never by the e-mail), and our properties with the
types we write."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ....preflight import Step
from ....schema import Status
from ..definitions import stale
from ..owners import DEACTIVATED, OwnerDirectory
from ..portal import CONTACT_PROPERTIES, TASK_PROPERTIES, TICKET_PROPERTIES, PropertySpec
from .context import STEP_PORTAL, STEP_PROPERTIES, _Context

SETUP_FIX = "run `crm-complaints setup --adapter hubspot`, then check again"


class _PortalSteps(_Context):
    """Steps 2 and 3, mixed into the preflight run."""

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
        outdated: list[str] = []
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
                elif (why := stale(spec, found)) is not None:  # setup brings it up to date
                    outdated.append(f"{object_type}.{spec.name} {why}")
                elif spec.unique and object_type != "tasks" and not found.has_unique_value:
                    wrong.append(
                        f"{object_type}.{spec.name} does not require unique values (the "
                        "upsert matches on it)"
                    )
        if missing:
            return Step.failed(STEP_PROPERTIES, f"the portal lacks {', '.join(missing)}", SETUP_FIX)
        if outdated:
            return Step.failed(STEP_PROPERTIES, "; ".join(outdated), SETUP_FIX)
        if wrong:
            return Step.failed(
                STEP_PROPERTIES,
                "; ".join(wrong),
                "another app or a person created these properties differently: rename or "
                "delete them in HubSpot (Settings → Properties), then " + SETUP_FIX,
            )
        count = sum(len(specs) for _, specs in objects)
        return Step.passed(STEP_PROPERTIES, f"all {count} of our properties exist as we write them")
