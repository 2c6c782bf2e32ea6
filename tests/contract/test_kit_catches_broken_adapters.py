"""The kit must fail adapters that break the contract, and say what is wrong."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import pytest
from pydantic import BaseModel

from crm_complaints.adapters.base import (
    Adapter,
    PlannedComplaint,
    PushResult,
    RemoteRecord,
    RemoteRefs,
    RemoteTask,
    SetupReport,
)
from crm_complaints.config import DEFAULT_ALLOWED_FIELDS
from crm_complaints.errors import AuthError, RateLimitedError, RejectedError, TransientError
from crm_complaints.privacy import allowed_view
from crm_complaints.schema import Status
from crm_complaints.testing import (
    Failure,
    check_auth_stops_the_run,
    check_calls_are_counted,
    check_classification,
    check_no_duplicates_on_repeated_push,
    check_no_personal_data,
    check_one_result_per_complaint,
    check_read_back,
    check_setup_is_idempotent,
    check_tasks_arrive_with_due_dates,
    check_unchanged_rerun_costs_nothing,
    check_updates_in_place,
)

ALL_CHECKS = (
    check_setup_is_idempotent,
    check_one_result_per_complaint,
    check_no_duplicates_on_repeated_push,
    check_updates_in_place,
    check_classification,
    check_auth_stops_the_run,
    check_tasks_arrive_with_due_dates,
    check_read_back,
    check_no_personal_data,
    check_calls_are_counted,
)


class Double:
    """An in-memory ticket system: ticket id → record."""

    def __init__(self) -> None:
        self.tickets: dict[str, dict[str, Any]] = {}
        self.fields_created = 0
        self.failures: dict[str, Failure] = {}


class NoConfig(BaseModel):
    pass


class InMemoryAdapter(Adapter[NoConfig]):
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
            "status": item.complaint.status.value,
            "tasks": {
                t.kind.value: {"due_at": t.due_at.isoformat(), "completed": t.completed}
                for t in item.plan.tasks
            },
        }

    def find(self, complaint_id: str) -> str | None:
        return next((k for k, v in self.double.tickets.items() if v["id"] == complaint_id), None)

    def push(self, batch: Sequence[PlannedComplaint]) -> list[PushResult]:
        self.count_call()
        results = []
        for item in batch:
            failure = self.double.failures.pop(item.complaint_id, None)
            if failure == "auth":
                raise AuthError("401", adapter=self.name)
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

    def record(self, key: str, ticket: Mapping[str, Any]) -> RemoteRecord:
        cid = ticket["id"]
        return RemoteRecord(
            cid,
            {"ticket": key},
            version=ticket["version"],
            stage=ticket["status"],
            closed=ticket["status"] in (Status.RESOLVED, Status.CLOSED),
            tasks={
                kind: RemoteTask(
                    cid,
                    kind,
                    datetime.fromisoformat(task["due_at"]) if task.get("due_at") else None,
                    task["completed"],
                )
                for kind, task in ticket["tasks"].items()
            },
        )

    def read(self, refs: Mapping[str, RemoteRefs]) -> dict[str, RemoteRecord]:
        self.count_call()
        found = {cid: self.find(cid) for cid in refs}
        return {
            cid: self.record(key, self.double.tickets[key]) for cid, key in found.items() if key
        }

    def list_owned(self) -> Iterator[RemoteRecord]:
        self.count_call()
        for key, ticket in self.double.tickets.items():
            yield self.record(key, ticket)


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


class AuthAsRejection(InMemoryAdapter):
    """Treats a refused token as one refused record: the run would quarantine everything."""

    def push(self, batch: Sequence[PlannedComplaint]) -> list[PushResult]:
        try:
            return super().push(batch)
        except AuthError as exc:
            return [PushResult.failed(i.complaint_id, RejectedError(str(exc))) for i in batch]


class NoDueDates(InMemoryAdapter):
    """Creates the tasks but forgets their due dates."""

    def payload(self, item: PlannedComplaint) -> dict[str, Any]:
        data = super().payload(item)
        data["tasks"] = {kind: {**t, "due_at": None} for kind, t in data["tasks"].items()}
        return data


class ForgetfulReadBack(InMemoryAdapter):
    """Writes correctly but reads back neither ``closed`` nor the tasks."""

    def record(self, key: str, ticket: Mapping[str, Any]) -> RemoteRecord:
        return RemoteRecord(ticket["id"], {"ticket": key}, version=ticket["version"])


class Harness:
    def __init__(self, adapter_class: type[InMemoryAdapter]) -> None:
        self.double = Double()
        self.adapter_class = adapter_class

    def make_adapter(self, allowed_fields: Sequence[str] = DEFAULT_ALLOWED_FIELDS) -> Adapter[Any]:
        return self.adapter_class(self.double, allowed_fields)

    def remote_count(self, complaint_id: str) -> int:
        return sum(1 for t in self.double.tickets.values() if t["id"] == complaint_id)

    def remote_version(self, complaint_id: str) -> str | None:
        found = [t["version"] for t in self.double.tickets.values() if t["id"] == complaint_id]
        return found[-1] if found else None

    def remote_tasks(self, complaint_id: str) -> Mapping[str, datetime | None]:
        for ticket in self.double.tickets.values():
            if ticket["id"] == complaint_id:
                return {
                    kind: datetime.fromisoformat(t["due_at"]) if t["due_at"] else None
                    for kind, t in ticket["tasks"].items()
                }
        return {}

    def received_text(self) -> str:
        return json.dumps(self.double.tickets, ensure_ascii=False)

    def inject(self, failure: Failure, complaint_id: str) -> None:
        self.double.failures[complaint_id] = failure


def test_a_correct_adapter_passes(tmp_path: Any) -> None:
    for check in ALL_CHECKS:
        check(Harness(InMemoryAdapter))
    check_unchanged_rerun_costs_nothing(Harness(InMemoryAdapter), str(tmp_path))


def test_duplicates_on_re_push_fail_with_a_clear_message() -> None:
    with pytest.raises(
        AssertionError, match="pushing the same version twice created a second remote object"
    ):
        check_no_duplicates_on_repeated_push(Harness(DuplicatingAdapter))


def test_swallowed_rejections_fail() -> None:
    with pytest.raises(AssertionError, match="failure was classified as synced"):
        check_classification(Harness(SwallowingAdapter))


def test_personal_data_leaks_fail_without_printing_the_data() -> None:
    with pytest.raises(AssertionError, match="personal data outside the allowlist") as failed:
        check_no_personal_data(Harness(LeakyAdapter))
    message = str(failed.value)
    assert "customer.email" in message and "description" in message
    assert "@example" not in message and "山田" not in message and "redness" not in message


def test_non_idempotent_setup_fails() -> None:
    with pytest.raises(AssertionError, match="setup is not idempotent"):
        check_setup_is_idempotent(Harness(NonIdempotentSetup))


def test_a_401_treated_as_a_rejection_fails() -> None:
    with pytest.raises(AssertionError, match="a 401 must raise AuthError"):
        check_auth_stops_the_run(Harness(AuthAsRejection))


def test_tasks_without_due_dates_fail() -> None:
    with pytest.raises(AssertionError, match="without their planned due date"):
        check_tasks_arrive_with_due_dates(Harness(NoDueDates))


def test_read_back_without_closed_or_tasks_fails() -> None:
    with pytest.raises(AssertionError, match=r"RemoteRecord\.closed is None"):
        check_read_back(Harness(ForgetfulReadBack))
