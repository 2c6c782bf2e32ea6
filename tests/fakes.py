"""An in-memory CRM double and an adapter over it, with scripted failures per complaint."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from crm_complaints.adapters.base import (
    Adapter,
    PlannedComplaint,
    PushResult,
    RemoteRecord,
    RemoteRefs,
    SetupReport,
)
from crm_complaints.errors import (
    AdapterError,
    AuthError,
    RateLimitedError,
    RejectedError,
    TransientError,
)


class FakeConfig(BaseModel):
    pass


@dataclass
class FakeCrm:
    """What the remote holds: one ticket per complaint id, keyed by our id."""

    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 1
    creates: int = 0
    updates: int = 0
    # Scripted answers: complaint id → list of errors to raise on successive pushes.
    script: dict[str, list[AdapterError]] = field(default_factory=dict)
    batch_errors: list[AdapterError] = field(default_factory=list)
    silent: set[str] = field(default_factory=set)

    def upsert(self, item: PlannedComplaint) -> tuple[str, bool]:
        existing = self.tickets.get(item.complaint_id)
        if existing is None:
            ticket_id = str(self.next_id)
            self.next_id += 1
            self.tickets[item.complaint_id] = {"id": ticket_id, "version": item.version}
            self.creates += 1
            return ticket_id, True
        existing["version"] = item.version
        self.updates += 1
        return str(existing["id"]), False


class FakeAdapter(Adapter[FakeConfig]):
    name = "fake"
    config_model = FakeConfig

    def __init__(self, crm: FakeCrm | None = None) -> None:
        super().__init__(FakeConfig())
        self.crm = crm or FakeCrm()
        self.pushed_batches: list[list[str]] = []

    def setup(self) -> SetupReport:
        return SetupReport(existing=("nothing",))

    def push(self, batch: Sequence[PlannedComplaint]) -> list[PushResult]:
        self.count_call()
        self.pushed_batches.append([i.complaint_id for i in batch])
        if self.crm.batch_errors:
            raise self.crm.batch_errors.pop(0)
        results = []
        for item in batch:
            if item.complaint_id in self.crm.silent:
                continue
            queued = self.crm.script.get(item.complaint_id)
            if queued:
                error = queued.pop(0)
                if isinstance(error, AuthError):
                    raise error
                results.append(PushResult.failed(item.complaint_id, error))
                continue
            ticket_id, created = self.crm.upsert(item)
            results.append(
                PushResult.synced(item.complaint_id, {"ticket": ticket_id}, created=created)
            )
        return results

    def read(self, refs: Mapping[str, RemoteRefs]) -> dict[str, RemoteRecord]:
        self.count_call()
        return {
            cid: RemoteRecord(cid, {"ticket": t["id"]}, version=t["version"])
            for cid, t in self.crm.tickets.items()
            if cid in refs
        }

    def list_owned(self) -> Iterator[RemoteRecord]:
        self.count_call()
        for cid, t in self.crm.tickets.items():
            yield RemoteRecord(cid, {"ticket": t["id"]}, version=t["version"])


def transient(cid: str, retry_after: float | None = None) -> TransientError:
    return TransientError(
        "503 from fake", retry_after=retry_after, adapter="fake", complaint_id=cid
    )


def rejected(cid: str) -> RejectedError:
    return RejectedError("400 property invalid", adapter="fake", complaint_id=cid)


def limited(cid: str, *, stop_run: bool = False, retry_after: float = 1.0) -> RateLimitedError:
    return RateLimitedError(
        "429 TEN_SECONDLY_ROLLING", retry_after=retry_after, stop_run=stop_run, adapter="fake"
    )
