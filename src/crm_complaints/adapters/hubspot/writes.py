"""What one push wrote to HubSpot, per complaint: the rows of the audit trail.

Each write HubSpot confirmed is listed (:class:`~crm_complaints.adapters.base.RemoteWrite`):
the ticket's upsert (``create``, or ``update`` when HubSpot answers that the ticket existed)
or update; the contact's upsert; each task created or updated (a known task with no changed
field is not sent, so not listed; a task created names the ticket and contact it was linked
to inline, in the same request); and each association written on its own (a known task
relinked to a recreated ticket, a ticket to its contact). Reads and lookups write nothing. Nothing
in a push archives (only ``check`` archives, its own synthetic ticket: no complaint's).
A write that got no answer is not listed: whether it happened is not known, and the
engine's row for the push says it did not finish.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from ..base import RemoteWrite, WriteOperation

__all__ = ["WriteLog"]


class WriteLog:
    """The writes of one push, per complaint, in the order HubSpot confirmed them
    (thread-safe: tickets are written from several threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._writes: dict[str, list[RemoteWrite]] = {}

    def add(
        self, complaint_id: str, operation: WriteOperation, what: str, ids: Mapping[str, str]
    ) -> None:
        with self._lock:
            self._writes.setdefault(complaint_id, []).append(RemoteWrite(operation, what, ids))

    def object(self, complaint_id: str, created: bool, key: str, object_id: str) -> None:
        """A ticket, task or contact created or updated; ``key`` as the refs name it."""
        self.add(complaint_id, "create" if created else "update", key, {key: object_id})

    def link(self, complaint_id: str, ends: Mapping[str, str]) -> None:
        """An association; ``ends`` names both objects as the refs do."""
        self.add(complaint_id, "link", "association", ends)

    def of(self, complaint_id: str) -> tuple[RemoteWrite, ...]:
        with self._lock:
            return tuple(self._writes.get(complaint_id, ()))
