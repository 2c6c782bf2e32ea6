"""Importing history: a first sync of months of past complaints starts the CRM clean.

Rule: for a complaint received before the cut-off, every task due before the cut-off is planned
as **done** (written to the CRM as a completed task, not skipped, so the ticket shows the whole
flow and reconciliation finds nothing missing); tasks due at or after the cut-off stay open and
get reminders and alerts as usual. Complaints received on or after the cut-off are untouched.

The cut-off is ``policy.history_before`` in the config, or the one ``sync --history BEFORE``
recorded in the state store (table ``history_cutoffs``, per namespace). It must outlive that
one run: a later sync planning the same complaints without it would reopen last month's tasks
in the CRM, and alerts would fire on them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .config import Settings
from .migrations import DEFAULT_NAMESPACE, metadata
from .policy import Policy

__all__ = [
    "history_cutoffs",
    "parse_cutoff",
    "policy_with_history",
    "record_cutoff",
    "recorded_cutoff",
]

history_cutoffs = sa.Table(
    "history_cutoffs",
    metadata,
    sa.Column("namespace", sa.String(64), primary_key=True, server_default=DEFAULT_NAMESPACE),
    sa.Column("before", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)


def recorded_cutoff(engine: Engine, namespace: str = DEFAULT_NAMESPACE) -> datetime | None:
    """The cut-off ``sync --history`` recorded for this namespace, if any (aware, UTC)."""
    with engine.connect() as conn:
        value = conn.scalar(
            sa.select(history_cutoffs.c.before).where(history_cutoffs.c.namespace == namespace)
        )
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite drops the offset


def record_cutoff(engine: Engine, before: datetime, namespace: str = DEFAULT_NAMESPACE) -> None:
    """Record (or move) this namespace's cut-off; ``before`` must be timezone-aware."""
    if before.tzinfo is None:
        raise ValueError("the history cut-off needs a time-zone offset")
    moment = before.astimezone(UTC)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        updated = conn.execute(
            history_cutoffs.update()
            .where(history_cutoffs.c.namespace == namespace)
            .values(before=moment, recorded_at=now)
        )
        if updated.rowcount == 0:
            conn.execute(
                history_cutoffs.insert().values(namespace=namespace, before=moment, recorded_at=now)
            )


def policy_with_history(settings: Settings, engine: Engine, namespace: str) -> Policy:
    """The policy of ``settings``, with the recorded cut-off when the config names none, so
    sync, reconcile and alerts agree on which past tasks are done."""
    if settings.policy.history_before is None:
        recorded = recorded_cutoff(engine, namespace)
        if recorded is not None:
            config = settings.policy.model_copy(update={"history_before": recorded})
            return Policy(config, settings.clinic)
    return Policy.from_settings(settings)


def parse_cutoff(text: str, zone: tzinfo) -> datetime:
    """``--history BEFORE``: an ISO time with offset, or a date (its midnight in ``zone``,
    the default clinic's)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=zone)
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date (2026-11-01) or a time with offset") from exc
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no offset; write it like 2026-11-01T00:00:00+09:00")
    return moment
