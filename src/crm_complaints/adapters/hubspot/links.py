"""Associations made after the fact: ticket→contact, and a known task to a new ticket or contact.

New tasks carry their links inline (see :mod:`.tasks`); this is for the rest, one v4 batch
request per 100 pairs. HubSpot reports a bad pair in ``errors[]`` with ``context`` keys such
as ``INVALID_OBJECT_IDS``, ``objectId`` and ``objectType`` (for example
https://github.com/HubSpot/hubspot-api-nodejs/issues/646: ``{"context": {"INVALID_OBJECT_IDS":
["CONTACT=… is not valid"], "objectId": ["…"], "objectType": ["CONTACT"]}}``), not by the pair
we sent. So a pair counts as linked only when the answer is in and no error names either of its
ids; an error naming no id we can match fails every pair of the request. A failed link leaves
its complaint pending (retried by the next run), never silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicAssociationMultiPost,
    PublicAssociationMultiPost,
    PublicObjectId,
)

from ...errors import AdapterError, RejectedError, TransientError
from .batching import chunks
from .client import HubSpotClient, describe

__all__ = ["TASK_TO_CONTACT", "TASK_TO_TICKET", "TICKET_TO_CONTACT", "Link", "Linker"]

TASK_TO_TICKET = 230
TICKET_TO_CONTACT = 16
TASK_TO_CONTACT = 204
_ID_IN_TEXT = re.compile(r"=(\d+)\b")


@dataclass(frozen=True)
class Link:
    complaint_id: str
    source: str
    target: str


class Linker:
    """Makes links and remembers the ones confirmed, so a retry does not send them again."""

    def __init__(self, client: HubSpotClient, done: set[tuple[str, str]]) -> None:
        self.client = client
        self.done = done

    def link(
        self,
        links: Iterable[Link],
        from_type: str,
        to_type: str,
        type_id: int,
        fail: Callable[[str, AdapterError], None],
    ) -> list[Link]:
        """Link each pair not confirmed before; a pair that fails fails its complaint.
        Returns the pairs this call linked (for the audit trail)."""
        todo = [link for link in links if (link.source, link.target) not in self.done]
        linked: list[Link] = []
        for chunk in chunks(todo):
            linked += self._link_chunk(chunk, from_type, to_type, type_id, fail)
        return linked

    def _link_chunk(
        self,
        chunk: list[Link],
        from_type: str,
        to_type: str,
        type_id: int,
        fail: Callable[[str, AdapterError], None],
    ) -> list[Link]:
        models = self.client.link_models
        inputs = [
            PublicAssociationMultiPost(
                _from=PublicObjectId(id=link.source, local_vars_configuration=models),
                to=PublicObjectId(id=link.target, local_vars_configuration=models),
                types=[
                    AssociationSpec(
                        association_category="HUBSPOT_DEFINED",
                        association_type_id=type_id,
                        local_vars_configuration=models,
                    )
                ],
                local_vars_configuration=models,
            )
            for link in chunk
        ]
        what = f"associate {from_type} with {to_type}"
        try:
            answer = self.client.call_json(
                what,
                self.client.associations.create,
                from_object_type=from_type,
                to_object_type=to_type,
                batch_input_public_association_multi_post=BatchInputPublicAssociationMultiPost(
                    inputs=inputs
                ),
            )
        except RejectedError as exc:
            for cid in {link.complaint_id for link in chunk}:
                fail(cid, exc)
            return []
        failed = failed_links(answer.get("errors") or [], chunk)
        linked: list[Link] = []
        for link in chunk:
            if link in failed:
                fail(
                    link.complaint_id,
                    TransientError(
                        f"{what} refused ({failed[link]}); the link is tried again next run",
                        adapter=self.client.adapter,
                    ),
                )
            else:
                self.done.add((link.source, link.target))
                linked.append(link)
        return linked


def failed_links(errors: Iterable[dict[str, Any]], sent: list[Link]) -> dict[Link, str]:
    """The pairs an association answer's ``errors[]`` refuse, each with what HubSpot said
    (category and sub-category only: messages can quote values)."""
    failed: dict[Link, str] = {}
    for error in errors:
        ids = _ids_named(error.get("context") or {})
        reason = describe(error) or "error"
        named = [link for link in sent if link.source in ids or link.target in ids]
        for link in named or sent:  # an error we cannot place fails the whole request
            failed.setdefault(link, reason)
    return failed


def _ids_named(context: dict[str, Any]) -> set[str]:
    """Every object id an error's context names, whatever key HubSpot filed it under."""
    ids: set[str] = set()
    for key, values in context.items():
        for value in values if isinstance(values, list) else [values]:
            text = str(value)
            if text.isdigit() and key != "objectWriteTraceId":
                ids.add(text)
            elif key == "INVALID_OBJECT_IDS":
                ids.update(_ID_IN_TEXT.findall(text))
    return ids
