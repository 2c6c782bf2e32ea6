"""Reading back what HubSpot holds, as :class:`RemoteRecord` and :class:`RemoteTask`.

``read`` is exact: batch reads of tickets by our unique ``crm_complaint_id`` and of their tasks
by the ids in the refs, 100 per request, which see every write at once. ``list_owned`` and
``list_tasks`` are for reconciliation and use search, 200 per request: twice as many objects
per request as the list endpoints and only ours, at the price of lagging writes by seconds (a
ticket written a moment ago may be reported missing; repairing it is a harmless upsert). A
search query stops at 10,000 results (HubSpot answers 400 past them), so both walks sort by
``hs_object_id`` and restart with ``hs_object_id > last id seen`` when a query reaches the cap.

Reads are retried like writes (:class:`~crm_complaints.retry.RetryPolicy`: classified transient
errors and 429s, Retry-After honoured, bounded in attempts and time; the last error is raised,
never swallowed). Each request is retried on its own, so a walk never starts over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from hubspot.crm.objects.tasks import BatchReadInputSimplePublicObjectId as TaskReadBatch
from hubspot.crm.objects.tasks import PublicObjectSearchRequest as TaskSearch
from hubspot.crm.objects.tasks import SimplePublicObjectId as TaskId
from hubspot.crm.tickets import BatchReadInputSimplePublicObjectId as TicketReadBatch
from hubspot.crm.tickets import PublicObjectSearchRequest as TicketSearch
from hubspot.crm.tickets import SimplePublicObjectId as TicketId

from ...retry import RetryPolicy
from ..base import RemoteRecord, RemoteRefs, RemoteTask
from .client import HubSpotClient
from .portal import TICKET_PROPERTIES, Portal

__all__ = ["Reader"]

MAX_INPUTS = 100
SEARCH_PAGE = 200
SEARCH_RESULT_CAP = 10_000
TICKET_READ_PROPERTIES = [
    "subject",
    "hs_lastmodifieddate",
    "hs_pipeline",
    "hs_pipeline_stage",
    "hs_ticket_priority",
    "hs_ticket_category",
    "hubspot_owner_id",
    *(spec.name for spec in TICKET_PROPERTIES),
]
TASK_READ_PROPERTIES = [
    "crm_task_key",
    "hs_lastmodifieddate",
    "hs_timestamp",
    "hs_task_status",
    "hs_task_priority",
    "hs_task_type",
    "hs_task_subject",
    "hubspot_owner_id",
]


class Reader:
    """Reads tickets and tasks of ours; ``portal`` gives stage labels and closed stages."""

    def __init__(
        self,
        client: HubSpotClient,
        portal: Callable[[], Portal],
        retry: RetryPolicy | None = None,
    ) -> None:
        self.client = client
        self.portal = portal
        self.retry = retry or RetryPolicy()

    def read(self, refs: Mapping[str, RemoteRefs]) -> dict[str, RemoteRecord]:
        """Batch read tickets by complaint id and their tasks by id, 100 per request."""
        tickets = {
            result["properties"]["crm_complaint_id"]: result
            for result in self._read_by(
                "tickets", self.client.tickets.read, TicketReadBatch, TicketId,
                "crm_complaint_id", list(refs), TICKET_READ_PROPERTIES,
            )
        }  # fmt: skip
        task_ids = [
            task_id
            for cid in tickets
            for ref, task_id in refs[cid].items()
            if ref.startswith("task:")
        ]
        tasks: dict[str, dict[str, RemoteTask]] = {}
        for result in self._read_by(
            "tasks", self.client.tasks.read, TaskReadBatch, TaskId,
            None, task_ids, TASK_READ_PROPERTIES, ours="crm_task_key",
        ):  # fmt: skip
            task = remote_task(result)
            tasks.setdefault(task.complaint_id, {})[task.kind] = task
        return {cid: self.record(cid, t, tasks.get(cid, {})) for cid, t in tickets.items()}

    def record(
        self, cid: str, ticket: Mapping[str, Any], tasks: Mapping[str, RemoteTask]
    ) -> RemoteRecord:
        """A ticket (and its tasks) as the generic record reconciliation compares."""
        props: dict[str, Any] = dict(ticket.get("properties") or {})
        refs = {"ticket": str(ticket["id"])}
        refs.update({f"task:{kind}": task.id for kind, task in tasks.items()})
        portal = self.portal()
        stage = props.get("hs_pipeline_stage") or ""
        return RemoteRecord(
            complaint_id=cid,
            refs=refs,
            version=props.get("crm_version"),
            stage=portal.stage_labels.get(stage, stage),
            closed=stage in portal.closed_stage_ids,
            owner=props.get("hubspot_owner_id"),
            modified_at=_parse_time(props.get("hs_lastmodifieddate")),
            tasks=dict(tasks),
            fields={
                "subject": props.get("subject"),
                "priority": props.get("hs_ticket_priority"),
                "departments": props.get("crm_departments"),
                "coordinator": props.get("crm_coordinator"),
                # Codes, as the ticket holds them (option values; labels are the portal's).
                "category": props.get("crm_category"),
                "severity": props.get("crm_severity"),
                "channel": props.get("crm_channel"),
                "risk_flags": props.get("crm_risk_flags"),
                "demand_kind": props.get("crm_demand_kind"),
                "demand_amount": props.get("crm_demand_amount"),
                "demand_currency": props.get("crm_demand_currency"),
                "received_at": props.get("crm_received_at"),
            },
            raw=props,
        )

    def list_owned(self, *, changed_since: datetime | None = None) -> Iterator[RemoteRecord]:
        """Every ticket carrying our external id (changed after ``changed_since``, when given:
        ``pull``), 200 to a request through search (tasks are left empty: :meth:`list_tasks`
        reads only the ones that matter)."""
        ours = [{"propertyName": "crm_complaint_id", "operator": "HAS_PROPERTY"}]
        if changed_since is not None:
            ours.append(
                {
                    "propertyName": "hs_lastmodifieddate",
                    "operator": "GT",
                    "value": _ms(changed_since),
                }
            )
        for ticket in self._walk("tickets", [ours], TICKET_READ_PROPERTIES):
            cid = ticket["properties"].get("crm_complaint_id")
            if cid:
                yield self.record(cid, ticket, {})

    def list_tasks(
        self, *, due_before: datetime | None = None, changed_since: datetime | None = None
    ) -> Iterator[RemoteTask]:
        """Search, not a full read: open tasks of ours due before a moment, and tasks of ours
        changed after one."""
        ours = {"propertyName": "crm_task_key", "operator": "HAS_PROPERTY"}
        groups = []
        if due_before is not None:
            groups.append(
                [
                    ours,
                    {"propertyName": "hs_task_status", "operator": "NEQ", "value": "COMPLETED"},
                    {"propertyName": "hs_timestamp", "operator": "LT", "value": _ms(due_before)},
                ]
            )
        if changed_since is not None:
            groups.append(
                [
                    ours,
                    {
                        "propertyName": "hs_lastmodifieddate",
                        "operator": "GT",
                        "value": _ms(changed_since),
                    },
                ]
            )
        if not groups:
            return
        for result in self._walk("tasks", groups, TASK_READ_PROPERTIES):
            yield remote_task(result)

    def _walk(
        self, object_type: str, groups: list[list[dict[str, str]]], properties: list[str]
    ) -> Iterator[dict[str, Any]]:
        """Every object matching any of the filter ``groups``, in id order, past the search
        cap: a query that reaches it is followed by a new one above the last id seen (each
        group gets ``hs_object_id > last``, since groups are OR-ed)."""
        last_id = 0
        while True:
            floor = {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)}
            seen = 0
            capped = False
            for page, after in self._search(object_type, [[*g, floor] for g in groups], properties):
                for result in page:
                    seen += 1
                    last_id = max(last_id, int(result["id"]))
                    yield result
                if after + len(page) >= SEARCH_RESULT_CAP:
                    capped = True  # the query hit the cap: start a new one above the last id
                    break
            if not capped or not seen:
                return

    def _search(
        self, object_type: str, groups: list[list[dict[str, str]]], properties: list[str]
    ) -> Iterator[tuple[list[dict[str, Any]], int]]:
        """Pages of one search query (and the offset each began at), sorted by id, until the
        query runs out or reaches the result cap."""
        filter_groups = [{"filters": filters} for filters in groups]
        request = TicketSearch if object_type == "tickets" else TaskSearch
        api = self.client.ticket_search if object_type == "tickets" else self.client.task_search
        after = 0
        while True:
            page = self._call(
                f"search {object_type}",
                api.do_search,
                public_object_search_request=request(
                    filter_groups=filter_groups,
                    properties=properties,
                    limit=min(SEARCH_PAGE, SEARCH_RESULT_CAP - after),
                    after=str(after),
                    sorts=["hs_object_id"],
                ),
            )
            yield page.get("results", []), after
            following = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not following or int(following) >= SEARCH_RESULT_CAP:
                return
            after = int(following)

    def _call(self, what: str, method: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
        """One read request, retried on transient errors and 429s by the retry policy."""
        for attempt in self.retry.retrying():
            with attempt:
                return self.client.call_json(what, method, **kwargs)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    def _read_by(
        self,
        what: str,
        method: Callable[..., Any],
        batch_model: Callable[..., Any],
        id_model: Callable[..., Any],
        id_property: str | None,
        values: list[str],
        properties: list[str],
        *,
        ours: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Objects whose unique ``id_property`` (``None``: the object id) is one of ``values``,
        100 per request; only those carrying our property ``ours`` (default ``id_property``)."""
        marker = ours or id_property
        for start in range(0, len(values), MAX_INPUTS):
            answer = self._call(
                f"read {what}",
                method,
                batch_read_input_simple_public_object_id=batch_model(
                    id_property=id_property,
                    inputs=[id_model(id=value) for value in values[start : start + MAX_INPUTS]],
                    properties=properties,
                    properties_with_history=[],
                ),
                archived=False,
            )
            for result in answer.get("results", []):
                if marker is None or result["properties"].get(marker):
                    yield result


def remote_task(result: Mapping[str, Any]) -> RemoteTask:
    """A task object of ours (it carries ``crm_task_key``) as a RemoteTask."""
    props = result["properties"]
    cid, _, kind = (props.get("crm_task_key") or "").rpartition(":")
    return RemoteTask(
        complaint_id=cid,
        kind=kind,
        due_at=_parse_time(props.get("hs_timestamp")),
        completed=props.get("hs_task_status") == "COMPLETED",
        id=str(result["id"]),
        owner=props.get("hubspot_owner_id"),
        modified_at=_parse_time(props.get("hs_lastmodifieddate")),
    )


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))
