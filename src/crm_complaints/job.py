"""One entry point for the library: everything a run needs, wired from one ``Settings``.

``sync`` and ``reconcile`` take many parts (adapter, state store, policy, retry bounds, CSV
mapping, lock wait); wired by hand, one forgotten part quietly changes the answer (a policy
without the clinic's calendar makes every complaint look drifted). :class:`Job` takes the
settings once and wires them the same way the CLI does::

    job = Job(load_settings("config.toml"))
    summary = job.sync("complaints.jsonl", adapter="hubspot")
    report = job.reconcile("complaints.jsonl", adapter="hubspot")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from .adapters.base import Adapter, SetupReport
from .adapters.registry import create_adapter
from .config import Settings
from .history import policy_with_history, record_cutoff
from .policy import Policy
from .readers import ReadResult, read_source
from .reconcile import ReconcileReport, reconcile
from .retry import RetryPolicy
from .schema import Complaint
from .state import SqlStateStore, open_store
from .sync import SyncSummary, sync

__all__ = ["Job", "Source"]

Source = Path | str | Iterable[ReadResult | Complaint]
"""A file (JSON Lines, CSV, a workbook; read with ``settings.csv``), a database URL (read
with ``source.query``), or complaints already read."""


class Job:
    """Runs of one configuration. Each run opens the adapter and the state store it needs and
    closes them after; ``environ`` (default ``os.environ``) is where adapters find secrets."""

    def __init__(self, settings: Settings, *, environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.environ: Mapping[str, str] = os.environ if environ is None else environ

    @cached_property
    def policy(self) -> Policy:
        return Policy.from_settings(self.settings)

    def policy_for(self, store: SqlStateStore, history_before: datetime | None = None) -> Policy:
        """The policy with the history cut-off: ``policy.history_before`` from the config, else
        ``history_before``, else the one recorded in the store by an earlier ``sync --history``
        (without it, a later run would reopen last month's tasks)."""
        if self.settings.policy.history_before is None and history_before is not None:
            config = self.settings.policy.model_copy(update={"history_before": history_before})
            return Policy(config, self.settings.clinic)
        if self.settings.policy.history_before is None:
            return policy_with_history(self.settings, store.engine, store.namespace)
        return self.policy

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy.from_config(self.settings.sync)

    def read(self, source: Source) -> Iterable[ReadResult | Complaint]:
        """The complaints of a source; invalid records come as quarantine entries."""
        if isinstance(source, str | Path):
            return read_source(source, self.settings)  # a file, or a database URL
        return source

    def adapter(self, name: str) -> Adapter[Any]:
        """A configured adapter (from ``[adapters.<name>]``); close it when done."""
        return create_adapter(name, self.settings, environ=self.environ)

    def store(self) -> SqlStateStore:
        """The configured state store; close it when done."""
        state = self.settings.state
        return open_store(state.path, state.url, namespace=state.namespace)

    @contextmanager
    def session(self, adapter: str) -> Iterator[tuple[Adapter[Any], SqlStateStore]]:
        """An adapter and the state store, closed on exit."""
        remote = self.adapter(adapter)
        try:
            store = self.store()
        except BaseException:
            remote.close()
            raise
        try:
            yield remote, store
        finally:
            remote.close()
            store.close()

    def setup(self, adapter: str) -> SetupReport:
        """The adapter's idempotent one-time bootstrap, retried like a sync (429, 5xx and
        dropped connections, within ``[sync]``'s bounds; setup is idempotent, so a retry after
        a half-done attempt only creates what is still missing)."""
        with self.adapter(adapter) as remote:
            for attempt in self.retry.retrying():
                with attempt:
                    return remote.setup()
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def sync(
        self,
        source: Source,
        *,
        adapter: str,
        dry_run: bool = False,
        batch_size: int | None = None,
        on_progress: Callable[[int], None] | None = None,
        retry_quarantined: bool = False,
        history_before: datetime | None = None,
    ) -> SyncSummary:
        """Push new and changed complaints; see :func:`crm_complaints.sync.sync`.
        ``history_before`` records the cut-off of an imported history first (see
        :mod:`crm_complaints.history`); later runs keep using it."""
        with self.session(adapter) as (remote, store):
            if history_before is not None and not dry_run:
                record_cutoff(store.engine, history_before, store.namespace)
            return sync(
                self.read(source),
                adapter=remote,
                store=store,
                policy=self.policy_for(store, history_before),
                batch_size=batch_size or self.settings.sync.batch_size,
                dry_run=dry_run,
                retry=self.retry,
                lock_wait_seconds=self.settings.state.lock_wait_seconds,
                on_progress=on_progress,
                retry_quarantined=retry_quarantined,
            )

    def reconcile(
        self,
        source: Source,
        *,
        adapter: str,
        repair: bool = False,
        now: datetime | None = None,
        recreate_deleted: bool = False,
    ) -> ReconcileReport:
        """Compare source, state and CRM; see :func:`crm_complaints.reconcile.reconcile`."""
        with self.session(adapter) as (remote, store):
            return reconcile(
                self.read(source),
                adapter=remote,
                store=store,
                policy=self.policy_for(store),
                config=self.settings.reconcile,
                repair=repair,
                recreate_deleted=recreate_deleted,
                now=now,
                retry=self.retry,
                lock_wait_seconds=self.settings.state.lock_wait_seconds,
            )
