"""The record of alerts sent: each (complaint, task, level, channel, deadline) once.

Protocol (at most one duplicate in a crash window, never a lost alert):

1. **claim**: before sending, the rows are written ``sending`` and committed;
2. **send** through apprise (one message per channel and level per run, listing its alerts);
3. **settle**: ``sent`` when apprise confirmed delivery, ``failed`` (with the reason) otherwise.

A run skips only ``sent`` rows. A process killed between 1 and 3 leaves ``sending``: the next
run sends again (the one possible duplicate, when the channel had it already); a failure stays
``failed`` and is tried at every run until it goes through. Nothing is ever marked sent before
the channel said so. The table lives on the state store's engine (migration 4) and, like every
table there, is keyed by the store's namespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..migrations import DEFAULT_NAMESPACE, metadata

__all__ = ["Delivery", "DeliveryState", "Ledger", "deadline_key", "notifications"]

notifications = sa.Table(
    "alert_notifications",
    metadata,
    sa.Column("namespace", sa.String(64), primary_key=True, server_default=DEFAULT_NAMESPACE),
    sa.Column("complaint_id", sa.String(128), primary_key=True),
    sa.Column("task", sa.String(32), primary_key=True),
    sa.Column("level", sa.String(16), primary_key=True),
    sa.Column("channel", sa.String(128), primary_key=True),
    sa.Column("deadline", sa.String(32), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
)


class DeliveryState(StrEnum):
    SENDING = "sending"  # claimed; the outcome is unknown (in flight, or the process died)
    SENT = "sent"  # the channel confirmed it
    FAILED = "failed"  # the channel refused or was unreachable; tried again next run


@dataclass(frozen=True, order=True)
class Delivery:
    """One alert to one channel (an environment variable name, never its URL), for one
    deadline: a due date that moves (a pause, a changed calendar) and passes again alerts
    again."""

    complaint_id: str
    task: str
    level: str
    channel: str
    deadline: str
    """The due time in UTC, ISO 8601 (see :func:`deadline_key`)."""


def deadline_key(due_at: datetime) -> str:
    """A due time as the ledger keys it: UTC, to the second, whatever the zone it came in."""
    return due_at.astimezone(UTC).replace(microsecond=0).isoformat()


class Ledger:
    """Reads and writes ``alert_notifications`` rows of one namespace."""

    def __init__(self, engine: Engine, namespace: str = DEFAULT_NAMESPACE) -> None:
        self.engine = engine
        self.namespace = namespace

    def sent(self, complaint_ids: Iterable[str]) -> set[Delivery]:
        """The deliveries already confirmed for these complaints."""
        ids = sorted(set(complaint_ids))
        found: set[Delivery] = set()
        t = notifications.c
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                rows = conn.execute(
                    sa.select(t.complaint_id, t.task, t.level, t.channel, t.deadline).where(
                        t.namespace == self.namespace,
                        t.state == DeliveryState.SENT.value,
                        t.complaint_id.in_(ids[start : start + 500]),
                    )
                )
                found.update(Delivery(*row) for row in rows)
        return found

    def states(self) -> dict[Delivery, str]:
        """Every delivery of this namespace and its state (for tests and ``status``)."""
        t = notifications.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.complaint_id, t.task, t.level, t.channel, t.deadline, t.state).where(
                    t.namespace == self.namespace
                )
            )
            return {Delivery(*row[:5]): row[5] for row in rows}

    def claim(self, deliveries: Sequence[tuple[Delivery, datetime]]) -> None:
        """Step 1: each (delivery, due time) written ``sending``, committed before sending."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            for delivery, due_at in deliveries:
                updated = conn.execute(
                    notifications.update()
                    .where(*self._key(delivery))
                    .values(
                        state=DeliveryState.SENDING.value,
                        due_at=due_at,
                        attempts=notifications.c.attempts + 1,
                        updated_at=now,
                    )
                )
                if updated.rowcount == 0:
                    conn.execute(
                        notifications.insert().values(
                            namespace=self.namespace,
                            complaint_id=delivery.complaint_id,
                            task=delivery.task,
                            level=delivery.level,
                            channel=delivery.channel,
                            deadline=delivery.deadline,
                            state=DeliveryState.SENDING.value,
                            due_at=due_at,
                            attempts=1,
                            updated_at=now,
                        )
                    )

    def settle(self, deliveries: Iterable[Delivery], error: str | None) -> None:
        """Step 3: ``sent`` when ``error`` is None, else ``failed`` with the reason."""
        now = datetime.now(UTC)
        values: dict[str, object] = {"updated_at": now, "last_error": error}
        if error is None:
            values.update(state=DeliveryState.SENT.value, sent_at=now)
        else:
            values.update(state=DeliveryState.FAILED.value)
        with self.engine.begin() as conn:
            for delivery in deliveries:
                conn.execute(notifications.update().where(*self._key(delivery)).values(**values))

    def _key(self, delivery: Delivery) -> tuple[sa.ColumnElement[bool], ...]:
        t = notifications.c
        return (
            t.namespace == self.namespace,
            t.complaint_id == delivery.complaint_id,
            t.task == delivery.task,
            t.level == delivery.level,
            t.channel == delivery.channel,
            t.deadline == delivery.deadline,
        )
