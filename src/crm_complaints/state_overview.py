"""Every namespace and adapter of a state database at a glance (``status --all-namespaces``)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .migrations import records, runs
from .state_records import RecordState, RunRecord, aware, utc_now

__all__ = ["NamespaceStatus", "namespace_overview", "run_record"]


@dataclass(frozen=True)
class NamespaceStatus:
    """One portal (namespace) and adapter at a glance, for an integrator running many."""

    namespace: str
    adapter: str
    last_run: RunRecord | None
    pending: int
    failed: int
    quarantined: int
    last_reconcile: RunRecord | None
    """The last finished reconciliation: its ``counts["overdue"]`` is the overdue work it saw."""

    @property
    def overdue(self) -> int | None:
        """Overdue tasks as of the last reconciliation (``None``: never reconciled)."""
        if self.last_reconcile is None:
            return None
        return int(self.last_reconcile.counts.get("overdue", 0))


def run_record(row: sa.RowMapping) -> RunRecord:
    return RunRecord(
        id=row["id"],
        kind=row["kind"],
        adapter=row["adapter"],
        started_at=aware(row["started_at"]) or utc_now(),
        finished_at=aware(row["finished_at"]),
        outcome=row["outcome"],
        counts=json.loads(row["counts"] or "{}"),
        namespace=row["namespace"],
    )


def namespace_overview(engine: Engine) -> list[NamespaceStatus]:
    with engine.connect() as conn:
        counted: dict[tuple[str, str], dict[str, int]] = {}
        by_state = sa.select(
            records.c.namespace, records.c.adapter, records.c.state, sa.func.count()
        ).group_by(records.c.namespace, records.c.adapter, records.c.state)
        for namespace, adapter, state, count in conn.execute(by_state):
            counted.setdefault((namespace, adapter), {})[state] = int(count)
        last_ids = sa.select(sa.func.max(runs.c.id)).group_by(runs.c.namespace, runs.c.adapter)
        last = {
            (run.namespace, run.adapter): run
            for run in map(
                run_record, conn.execute(sa.select(runs).where(runs.c.id.in_(last_ids))).mappings()
            )
        }
        reconciled_ids = (
            sa.select(sa.func.max(runs.c.id))
            .where(runs.c.kind == "reconcile", runs.c.finished_at.is_not(None))
            .group_by(runs.c.namespace, runs.c.adapter)
        )
        reconciled = {
            (run.namespace, run.adapter): run
            for run in map(
                run_record,
                conn.execute(sa.select(runs).where(runs.c.id.in_(reconciled_ids))).mappings(),
            )
        }
    return [
        NamespaceStatus(
            namespace=namespace,
            adapter=adapter,
            last_run=last.get((namespace, adapter)),
            pending=counted.get((namespace, adapter), {}).get(RecordState.PENDING.value, 0),
            failed=counted.get((namespace, adapter), {}).get(RecordState.FAILED.value, 0),
            quarantined=counted.get((namespace, adapter), {}).get(RecordState.QUARANTINED.value, 0),
            last_reconcile=reconciled.get((namespace, adapter)),
        )
        for namespace, adapter in sorted(set(counted) | set(last))
    ]
