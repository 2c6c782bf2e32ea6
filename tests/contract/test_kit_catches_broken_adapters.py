"""The kit must fail adapters that break the contract, and say what is wrong."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from pydantic import BaseModel

from crm_complaints.adapters.base import (
    Adapter,
    PlannedComplaint,
    PushResult,
    RemoteRecord,
    RemoteRefs,
    SetupReport,
)
from crm_complaints.config import DEFAULT_ALLOWED_FIELDS
from crm_complaints.errors import RateLimitedError, RejectedError, TransientError
from crm_complaints.privacy import allowed_view
from crm_complaints.testing import (
    Failure,
    check_classification,
    check_no_duplicates_on_repeated_push,
    check_no_personal_data,
    check_one_result_per_complaint,
    check_setup_is_idempotent,
    check_updates_in_place,
)


class Double:
    """An in-memory ticket system: ticket id → record."""

    def __init__(self) -> None:
        self.tickets: dict[str, dict[str, Any]] = {}
        self.fields_created = 0
        self.failures: dict[str, Failure] = {}


class NoConfig(BaseModel):
    pass


class InMemoryAdapter(Adapter):
    """A correct adapter over the double; subclasses break one rule each."""

    name = "inmemory"
    config_model = NoConfig

    def __init__(self, double: Double, allowed_fields: Sequence[str]) -> None:
        super().__init__(NoConfig(), allowed_fields=allowed_fields)
        self.double = double

    def setup(self) -> SetupReport:
        if self.double.fields_created:
            return SetupReport(existing=("field",))
        self.double.fields_created += 1
        return SetupReport(created=("field",))

    def payload(self, item: PlannedComplaint) -> dict[str, Any]:
        return {
            "complaint": allowed_view(item.complaint, self.allowed_fields),
            "version": item.version,
        }

    def find(self, complaint_id: str) -> str | None:
        return next((k for k, v in self.double.tickets.items() if v["id"] == complaint_id), None)

    def push(self, batch: Sequence[PlannedComplaint]) -> list[PushResult]:
        self.calls += 1
        results = []
        for item in batch:
            failure = self.double.failures.pop(item.complaint_id, None)
            if failure == "rejected":
                results.append(
                    PushResult.failed(
                        item.complaint_id, RejectedError("422", complaint_id=item.complaint_id)
                    )
                )
                continue
            if failure == "rate_limited":
                limited = RateLimitedError("429", retry_after=1.0)
                results.append(PushResult.failed(item.complaint_id, limited))
                continue
            if failure:
                results.append(PushResult.failed(item.complaint_id, TransientError("503")))
                continue
            key = self.find(item.complaint_id)
            created = key is None
            key = key or str(len(self.double.tickets) + 1)
            self.double.tickets[key] = {"id": item.complaint_id, **self.payload(item)}
            results.append(PushResult.synced(item.complaint_id, {"ticket": key}, created=created))
        return results

    def read(self, refs: Mapping[str, RemoteRefs]) -> dict[str, RemoteRecord]:
        return {cid: RemoteRecord(cid, refs[cid]) for cid in refs if self.find(cid)}

    def list_owned(self) -> Iterator[RemoteRecord]:
        for key, ticket in self.double.tickets.items():
            yield RemoteRecord(ticket["id"], {"ticket": key})


class DuplicatingAdapter(InMemoryAdapter):
    """Creates a new ticket on every push: what a 'create' without an idempotency key does."""

    def find(self, complaint_id: str) -> str | None:
        return None


class SwallowingAdapter(InMemoryAdapter):
    """Reports refused records as synced."""

    def push(self, batch: Sequence[PlannedComplaint]) -> list[PushResult]:
        results = super().push(batch)
        return [PushResult.synced(r.complaint_id, {"ticket": "?"}, created=True) for r in results]


class LeakyAdapter(InMemoryAdapter):
    """Sends the whole complaint, allowlist or not."""

    def payload(self, item: PlannedComplaint) -> dict[str, Any]:
        return {"complaint": item.complaint.model_dump(mode="json"), "version": item.version}


class NonIdempotentSetup(InMemoryAdapter):
    def setup(self) -> SetupReport:
        return SetupReport(created=("field",))


class Harness:
    def __init__(self, adapter_class: type[InMemoryAdapter]) -> None:
        self.double = Double()
        self.adapter_class = adapter_class

    def make_adapter(self, allowed_fields: Sequence[str] = DEFAULT_ALLOWED_FIELDS) -> Adapter:
        return self.adapter_class(self.double, allowed_fields)

    def remote_count(self, complaint_id: str) -> int:
        return sum(1 for t in self.double.tickets.values() if t["id"] == complaint_id)

    def remote_version(self, complaint_id: str) -> str | None:
        found = [t["version"] for t in self.double.tickets.values() if t["id"] == complaint_id]
        return found[-1] if found else None

    def received_text(self) -> str:
        return json.dumps(self.double.tickets, ensure_ascii=False)

    def inject(self, failure: Failure, complaint_id: str) -> None:
        self.double.failures[complaint_id] = failure


def test_a_correct_adapter_passes() -> None:
    for check in (
        check_setup_is_idempotent,
        check_one_result_per_complaint,
        check_no_duplicates_on_repeated_push,
        check_updates_in_place,
        check_classification,
        check_no_personal_data,
    ):
        check(Harness(InMemoryAdapter))


def test_duplicates_on_re_push_fail_with_a_clear_message() -> None:
    with pytest.raises(
        AssertionError, match="pushing the same version twice created a second remote object"
    ):
        check_no_duplicates_on_repeated_push(Harness(DuplicatingAdapter))


def test_swallowed_rejections_fail() -> None:
    with pytest.raises(AssertionError, match="failure was classified as synced"):
        check_classification(Harness(SwallowingAdapter))


def test_personal_data_leaks_fail() -> None:
    with pytest.raises(AssertionError, match="personal data outside the allowlist"):
        check_no_personal_data(Harness(LeakyAdapter))


def test_non_idempotent_setup_fails() -> None:
    with pytest.raises(AssertionError, match="setup is not idempotent"):
        check_setup_is_idempotent(Harness(NonIdempotentSetup))
