"""The adapter conformance kit: what every adapter must do, checked against a CRM double.

An integrator supplies a :class:`Harness` for their adapter and a test double of their CRM (a
loopback server, or ``responses`` callbacks over an in-memory store), then gets the whole suite
with one class::

    from crm_complaints.testing import AdapterConformance

    class TestMyAdapter(AdapterConformance):
        @pytest.fixture
        def harness(self):
            with my_double() as double:
                yield MyHarness(double)

Every check asserts on what actually arrived at the double, not merely that nothing crashed.
The checks are plain functions too (``check_*``), so a failing adapter gets a message that says
what is wrong, e.g. "pushing the same version twice created a second remote object".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import pytest

from ..adapters.base import Adapter, Outcome, PushResult, RemoteRecord
from ..config import DEFAULT_ALLOWED_FIELDS
from ..errors import AuthError, RateLimitedError, RejectedError, TransientError
from ..policy import PlannedComplaint, Policy
from ..schema import Complaint, Status
from ..state import open_store
from ..sync import sync
from .samples import sample_complaints

__all__ = [
    "AdapterConformance",
    "Failure",
    "Harness",
    "check_auth_stops_the_run",
    "check_calls_are_counted",
    "check_classification",
    "check_no_duplicates_on_repeated_push",
    "check_no_personal_data",
    "check_one_result_per_complaint",
    "check_read_back",
    "check_setup_is_idempotent",
    "check_tasks_arrive_with_due_dates",
    "check_unchanged_rerun_costs_nothing",
    "check_updates_in_place",
    "planned",
    "with_status",
]

Failure = Literal["transient", "rate_limited", "rejected", "auth"]


class Harness(Protocol):
    """What the kit needs to know about an adapter and its CRM double."""

    def make_adapter(self, allowed_fields: Sequence[str] = DEFAULT_ALLOWED_FIELDS) -> Adapter[Any]:
        """A fresh adapter connected to the double (setup not yet run)."""

    def remote_count(self, complaint_id: str) -> int:
        """How many primary remote objects (tickets) the double holds for this complaint."""

    def remote_version(self, complaint_id: str) -> str | None:
        """The complaint version the double holds, as the adapter wrote it; None if absent."""

    def remote_tasks(self, complaint_id: str) -> Mapping[str, datetime | None]:
        """The follow-up tasks the double holds for this complaint: task kind → due date as
        stored (``None`` when a task arrived without one)."""

    def received_text(self) -> str:
        """Everything the double received or holds, as text (to look for personal data)."""

    def inject(self, failure: Failure, complaint_id: str) -> None:
        """Make the double's next answer about this complaint a failure of that kind: a 5xx,
        a 429, a per-record refusal (400/422), or a refused token (401)."""


def planned(
    complaints: Sequence[Complaint], previous: Mapping[str, Mapping[str, str]] | None = None
) -> list[PlannedComplaint]:
    """Plan complaints the way the engine does (default policy), with optional stored refs."""
    policy = Policy()
    return [policy.planned(c, (previous or {}).get(c.id)) for c in complaints]


def with_status(complaints: Sequence[Complaint], status: Status) -> list[Complaint]:
    """The same complaints moved to ``status``, with the timestamps a clinic would have set
    (acknowledged an hour after receipt, resolved and closed a day later)."""
    moved = []
    for complaint in complaints:
        data = complaint.model_dump()
        data["status"] = status
        if status.rank >= Status.ACKNOWLEDGED.rank:
            data["acknowledged_at"] = complaint.received_at + timedelta(hours=1)
        if status.rank >= Status.RESOLVED.rank:
            data["resolved_at"] = complaint.received_at + timedelta(days=1)
        if status is Status.CLOSED:
            data["closed_at"] = complaint.received_at + timedelta(days=1, hours=1)
        moved.append(Complaint.model_validate(data))
    return moved


def _mixed_statuses(prefix: str) -> list[Complaint]:
    """Open, resolved and closed complaints (a resolved one plans a follow-up task)."""
    open_ = sample_complaints(3, f"{prefix}-OPEN")
    resolved = with_status(sample_complaints(2, f"{prefix}-RES"), Status.RESOLVED)
    closed = with_status(sample_complaints(2, f"{prefix}-CLO"), Status.CLOSED)
    return [*open_, *resolved, *closed]


def _by_id(results: Sequence[PushResult]) -> dict[str, PushResult]:
    return {r.complaint_id: r for r in results}


def _push_ok(adapter: Adapter[Any], items: Sequence[PlannedComplaint]) -> dict[str, PushResult]:
    results = _by_id(adapter.push(items))
    failed = {cid: r.outcome.value for cid, r in results.items() if r.outcome is not Outcome.SYNCED}
    assert not failed, f"a healthy double refused records: {failed}"
    return results


def _same_moment(a: datetime | None, b: datetime) -> bool:
    return a is not None and abs((a - b).total_seconds()) < 1


def check_setup_is_idempotent(harness: Harness) -> None:
    adapter = harness.make_adapter()
    adapter.setup()
    again = adapter.setup()
    assert again.created == (), (
        f"setup is not idempotent: the second run created {list(again.created)}"
    )


def check_one_result_per_complaint(harness: Harness) -> None:
    adapter = harness.make_adapter()
    adapter.setup()
    items = planned(sample_complaints(5, "KIT-ONE"))
    results = adapter.push(items)
    ids = [r.complaint_id for r in results]
    assert sorted(ids) == sorted(i.complaint_id for i in items), (
        f"push must return exactly one result per complaint; got {ids}"
    )
    for result in results:
        assert result.outcome is Outcome.SYNCED, f"{result.complaint_id}: {result.outcome}"
        assert result.refs, f"{result.complaint_id}: a synced result must carry remote refs"
        assert result.created, f"{result.complaint_id}: a first push must say it created"
        assert harness.remote_count(result.complaint_id) == 1, (
            f"{result.complaint_id} did not arrive at the CRM double"
        )


def check_no_duplicates_on_repeated_push(harness: Harness) -> None:
    adapter = harness.make_adapter()
    adapter.setup()
    items = planned(sample_complaints(4, "KIT-DUP"))
    _push_ok(adapter, items)
    _push_ok(adapter, items)  # a retry or a rerun after a crash: no refs stored yet
    for item in items:
        count = harness.remote_count(item.complaint_id)
        assert count == 1, (
            f"pushing the same version twice created a second remote object for "
            f"{item.complaint_id} ({count} now): key remote objects on the complaint id"
        )


def check_updates_in_place(harness: Harness) -> None:
    adapter = harness.make_adapter()
    adapter.setup()
    original = sample_complaints(3, "KIT-UPD")
    first = _push_ok(adapter, planned(original))
    changed = [
        Complaint.model_validate({**c.model_dump(), "status": "investigating"}) for c in original
    ]
    refs = {cid: r.refs for cid, r in first.items()}
    items = planned(changed, refs)
    second = _push_ok(adapter, items)
    for item in items:
        cid = item.complaint_id
        assert harness.remote_count(cid) == 1, f"an update of {cid} created a new remote object"
        assert harness.remote_version(cid) == item.version, (
            f"{cid}: the remote still holds the old version after an update"
        )
        assert not second[cid].created, f"{cid}: an update must not report created"
        shared = {
            k for k in set(first[cid].refs) & set(second[cid].refs) if not k.startswith("delivery")
        }
        moved = {k for k in shared if first[cid].refs[k] != second[cid].refs[k]}
        assert not moved, f"{cid}: an update changed remote ids {sorted(moved)}"


def check_classification(harness: Harness) -> None:
    """Transient → retry, 429 → rate limited, refusal → rejected; the rest of the batch syncs."""
    expected: dict[Failure, tuple[Outcome, ...]] = {
        "transient": (Outcome.RETRY, Outcome.RATE_LIMITED),
        "rate_limited": (Outcome.RATE_LIMITED,),
        "rejected": (Outcome.REJECTED,),
    }
    for failure, outcomes in expected.items():
        adapter = harness.make_adapter()
        adapter.setup()
        items = planned(sample_complaints(3, f"KIT-{failure.upper()}"))
        victim = items[1].complaint_id
        harness.inject(failure, victim)
        try:
            results = _by_id(adapter.push(items))
        except (TransientError, RejectedError) as exc:
            # A whole-batch error is allowed for transient failures only.
            assert failure != "rejected", (
                f"a refused record must be a per-record REJECTED result, not {type(exc).__name__}"
            )
            assert isinstance(exc, TransientError)
            if failure == "rate_limited":
                assert isinstance(exc, RateLimitedError), "a 429 must raise RateLimitedError"
            continue
        got = results[victim].outcome
        assert got in outcomes, f"a {failure} failure was classified as {got.value}"
        if failure == "rejected":
            others = [r for cid, r in results.items() if cid != victim]
            assert all(r.outcome is Outcome.SYNCED for r in others), (
                "one refused record must not fail the rest of the batch"
            )
            error = results[victim].error
            assert isinstance(error, RejectedError) and error.complaint_id == victim, (
                "a rejection must carry the complaint id"
            )


def check_auth_stops_the_run(harness: Harness) -> None:
    """A refused token (401) must raise AuthError: as a per-record rejection it would
    quarantine every complaint, and as a transient error it would retry forever."""
    adapter = harness.make_adapter()
    adapter.setup()
    items = planned(sample_complaints(2, "KIT-AUTH"))
    harness.inject("auth", items[0].complaint_id)
    try:
        results = adapter.push(items)
    except AuthError:
        return
    except Exception as exc:
        raise AssertionError(f"a 401 must raise AuthError, not {type(exc).__name__}") from exc
    got = {r.complaint_id: r.outcome.value for r in results}
    raise AssertionError(f"a 401 must raise AuthError to stop the run; the adapter returned {got}")


def check_tasks_arrive_with_due_dates(harness: Harness) -> None:
    """Every planned task reaches the CRM with its due date: the deadlines are the product."""
    adapter = harness.make_adapter()
    adapter.setup()
    items = planned(_mixed_statuses("KIT-DUE"))
    _push_ok(adapter, items)
    for item in items:
        held = harness.remote_tasks(item.complaint_id)
        wanted = {task.kind.value for task in item.plan.tasks}
        missing = sorted(wanted - set(held))
        assert not missing, f"{item.complaint_id}: planned tasks missing at the CRM: {missing}"
        wrong = sorted(
            task.kind.value
            for task in item.plan.tasks
            if not _same_moment(held[task.kind.value], task.due_at)
        )
        assert not wrong, (
            f"{item.complaint_id}: tasks arrived without their planned due date: {wrong}"
        )


def check_read_back(harness: Harness) -> None:
    """``read`` and ``list_owned`` give reconciliation what it compares: the version written,
    whether the CRM counts the complaint closed, and every task with due date and completion."""
    adapter = harness.make_adapter()
    adapter.setup()
    items = planned(_mixed_statuses("KIT-READ"))
    refs = {cid: r.refs for cid, r in _push_ok(adapter, items).items()}
    found = adapter.read(refs)
    assert set(found) == set(refs), f"read() missed {sorted(set(refs) - set(found))}"
    for item in items:
        _check_record(found[item.complaint_id], item, tasks=True)
    owned = {r.complaint_id: r for r in adapter.list_owned()}
    assert set(refs) <= set(owned), f"list_owned() missed {sorted(set(refs) - set(owned))}"
    for item in items:
        _check_record(owned[item.complaint_id], item, tasks=False)


def _check_record(record: RemoteRecord, item: PlannedComplaint, *, tasks: bool) -> None:
    cid = item.complaint_id
    assert record.complaint_id == cid, f"a record for {cid} says it is {record.complaint_id}"
    assert record.version == item.version, (
        f"{cid}: read back version {record.version!r}, wrote {item.version!r}"
    )
    closed = item.complaint.status.is_closed
    assert record.closed is not None, (
        f"{cid}: RemoteRecord.closed is None; reconciliation needs to know if the CRM counts "
        "the complaint closed"
    )
    assert record.closed == closed, f"{cid}: read back closed={record.closed}, wrote {closed}"
    if not tasks:
        return
    for task in item.plan.tasks:
        held = record.tasks.get(task.kind.value)
        assert held is not None, f"{cid}: read() lost the {task.kind.value} task"
        assert _same_moment(held.due_at, task.due_at), (
            f"{cid}: read() gives {task.kind.value} due {held.due_at}, planned {task.due_at}"
        )
        assert held.completed == task.completed, (
            f"{cid}: read() gives {task.kind.value} completed={held.completed}, "
            f"planned {task.completed}"
        )


def check_no_personal_data(harness: Harness) -> None:
    adapter = harness.make_adapter()
    adapter.setup()
    complaints = sample_complaints(4, "KIT-PII")
    _push_ok(adapter, planned(complaints))
    text = harness.received_text()
    for complaint in complaints:
        customer, reporter = complaint.customer, complaint.reporter
        values = {
            "description": complaint.description,
            "customer.name": customer.name if customer else None,
            "customer.email": customer.email if customer else None,
            "customer.phone": customer.phone if customer else None,
            "reporter.name": reporter.name if reporter else None,
        }
        # Field names only: a kit failure must not print the personal data it found.
        leaked = sorted(name for name, value in values.items() if value and value in text)
        if leaked:  # raised, not asserted: pytest would print the compared values
            raise AssertionError(
                f"personal data outside the allowlist reached the CRM for {complaint.id}: "
                f"{', '.join(leaked)}"
            )


def check_calls_are_counted(harness: Harness) -> None:
    adapter = harness.make_adapter()
    adapter.setup()
    before = adapter.calls
    _push_ok(adapter, planned(sample_complaints(2, "KIT-CALLS")))
    assert adapter.calls > before, "adapter.calls must count every request it makes"


def check_unchanged_rerun_costs_nothing(harness: Harness, tmp_dir: str) -> None:
    adapter = harness.make_adapter()
    adapter.setup()
    store = open_store(f"{tmp_dir}/kit-state.db")
    try:
        complaints = sample_complaints(6, "KIT-RERUN")
        first = sync(complaints, adapter=adapter, store=store)
        assert first.created == 6, f"the engine could not sync through the adapter: {first.line()}"
        again = sync(complaints, adapter=adapter, store=store)
        assert again.remote_calls == 0, f"an unchanged rerun made {again.remote_calls} calls"
    finally:
        store.close()


class AdapterConformance:
    """Subclass in a test module and provide a ``harness`` fixture; every test runs."""

    @pytest.fixture
    def harness(self) -> Iterator[Harness]:
        pytest.fail("override the `harness` fixture: it tells the kit about your adapter")

    def test_setup_is_idempotent(self, harness: Harness) -> None:
        check_setup_is_idempotent(harness)

    def test_one_result_per_complaint(self, harness: Harness) -> None:
        check_one_result_per_complaint(harness)

    def test_no_duplicates_on_repeated_push(self, harness: Harness) -> None:
        check_no_duplicates_on_repeated_push(harness)

    def test_updates_in_place(self, harness: Harness) -> None:
        check_updates_in_place(harness)

    def test_classification(self, harness: Harness) -> None:
        check_classification(harness)

    def test_auth_stops_the_run(self, harness: Harness) -> None:
        check_auth_stops_the_run(harness)

    def test_tasks_arrive_with_due_dates(self, harness: Harness) -> None:
        check_tasks_arrive_with_due_dates(harness)

    def test_read_back(self, harness: Harness) -> None:
        check_read_back(harness)

    def test_no_personal_data(self, harness: Harness) -> None:
        check_no_personal_data(harness)

    def test_calls_are_counted(self, harness: Harness) -> None:
        check_calls_are_counted(harness)

    def test_unchanged_rerun_costs_nothing(self, harness: Harness, tmp_path: object) -> None:
        check_unchanged_rerun_costs_nothing(harness, str(tmp_path))
