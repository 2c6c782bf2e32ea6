"""The engine against an in-memory CRM double: diffing, isolation, retries, bounds; each on
SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from crm_complaints.errors import AuthError, LockHeldError
from crm_complaints.readers import FieldProblem, QuarantineEntry
from crm_complaints.retry import RetryPolicy
from crm_complaints.state import RecordState, SqlStateStore
from crm_complaints.sync import sync
from tests.conftest import make_complaint, realistic_complaints
from tests.fakes import FakeAdapter, FakeCrm, limited, rejected, transient

NO_WAIT = RetryPolicy.no_wait()


@pytest.fixture
def store(any_store: SqlStateStore) -> SqlStateStore:
    """Every engine test runs on SQLite and on PostgreSQL (``any_store`` in conftest)."""
    return any_store


def run(adapter: FakeAdapter, store: SqlStateStore, complaints: list[Any], **kw: Any) -> Any:
    kw.setdefault("retry", NO_WAIT)
    return sync(complaints, adapter=adapter, store=store, **kw)


def test_first_sync_then_unchanged_rerun_costs_nothing(store: SqlStateStore) -> None:
    adapter = FakeAdapter()
    complaints = realistic_complaints(25)
    first = run(adapter, store, complaints, batch_size=10)
    assert (first.created, first.updated, first.unchanged) == (25, 0, 0)
    assert first.remote_calls == 3 and first.exit_code == 0
    assert [len(b) for b in adapter.pushed_batches] == [10, 10, 5]
    again = run(adapter, store, complaints, batch_size=10)
    assert (again.created, again.updated, again.unchanged, again.remote_calls) == (0, 0, 25, 0)


def test_changed_complaints_update_in_place(store: SqlStateStore) -> None:
    adapter = FakeAdapter()
    complaints = realistic_complaints(10)
    run(adapter, store, complaints)
    ids_before = {cid: t["id"] for cid, t in adapter.crm.tickets.items()}
    edited = list(complaints)
    for index in (1, 4, 7):
        edited[index] = edited[index].model_copy(update={"summary": f"edited {index}"})
    summary = run(adapter, store, edited)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 3, 7)
    assert {cid: t["id"] for cid, t in adapter.crm.tickets.items()} == ids_before
    assert adapter.crm.creates == 10 and adapter.crm.updates == 3
    record = store.get_many("fake", ["E2E-0004"])["E2E-0004"]
    assert record.refs == {"ticket": ids_before["E2E-0004"]}


def test_policy_change_resyncs_because_the_plan_changed(store: SqlStateStore) -> None:
    from crm_complaints.config import PolicyConfig
    from crm_complaints.policy import Policy

    adapter = FakeAdapter()
    complaints = realistic_complaints(4)
    run(adapter, store, complaints)
    stricter = Policy(PolicyConfig(initial_response_minutes=60))
    summary = run(adapter, store, complaints, policy=stricter)
    assert summary.updated == 4


def test_rejected_record_is_quarantined_and_the_rest_continue(store: SqlStateStore) -> None:
    crm = FakeCrm(script={"E2E-0002": [rejected("E2E-0002")]})
    adapter = FakeAdapter(crm)
    complaints = realistic_complaints(5)
    summary = run(adapter, store, complaints)
    assert (summary.created, summary.quarantined, summary.exit_code) == (4, 1, 3)
    record = store.get_many("fake", ["E2E-0002"])["E2E-0002"]
    assert record.state is RecordState.QUARANTINED
    assert "400 property invalid" in (record.last_error or "")
    # Unchanged and still rejected: not pushed again, still reported.
    again = run(adapter, store, complaints)
    assert again.remote_calls == 0 and again.quarantined == 1
    # Once the clinic fixes the record it goes through.
    fixed = [
        *complaints[:2],
        complaints[2].model_copy(update={"summary": "fixed"}),
        *complaints[3:],
    ]
    third = run(adapter, store, fixed)
    assert third.created == 1 and third.exit_code == 0


def test_transient_failures_are_retried_only_for_the_failed_records(store: SqlStateStore) -> None:
    crm = FakeCrm(script={"E2E-0001": [transient("E2E-0001"), transient("E2E-0001")]})
    adapter = FakeAdapter(crm)
    summary = run(adapter, store, realistic_complaints(4))
    assert summary.created == 4 and summary.failed == 0
    assert adapter.pushed_batches == [
        ["E2E-0000", "E2E-0001", "E2E-0002", "E2E-0003"],
        ["E2E-0001"],
        ["E2E-0001"],
    ]
    assert len(crm.tickets) == 4


def test_retries_are_bounded_and_leftovers_stay_for_the_next_run(store: SqlStateStore) -> None:
    crm = FakeCrm(script={"E2E-0000": [transient("E2E-0000")] * 10})
    adapter = FakeAdapter(crm)
    summary = run(adapter, store, realistic_complaints(2), retry=RetryPolicy.no_wait(3))
    assert (summary.created, summary.failed, summary.exit_code) == (1, 1, 3)
    assert len(adapter.pushed_batches) == 3
    record = store.get_many("fake", ["E2E-0000"])["E2E-0000"]
    assert record.state is RecordState.FAILED and record.attempts == 1
    crm.script.clear()
    rerun = run(adapter, store, realistic_complaints(2))
    assert (rerun.created, rerun.unchanged, rerun.exit_code) == (1, 1, 0)


def test_retry_waits_honour_retry_after_and_the_time_budget(store: SqlStateStore) -> None:
    slept: list[float] = []
    crm = FakeCrm(script={"E2E-0000": [transient("E2E-0000", retry_after=4.0)] * 3})
    policy = RetryPolicy(
        max_attempts=10, max_seconds=60, initial_backoff=0.1, max_backoff=1, sleep=slept.append
    )
    summary = run(FakeAdapter(crm), store, realistic_complaints(1), retry=policy)
    assert summary.created == 1
    assert len(slept) == 3 and all(4.0 <= s < 5 for s in slept)
    # A Retry-After longer than the budget stops at once instead of sleeping past it.
    slept.clear()
    crm.script["E2E-0001"] = [transient("E2E-0001", retry_after=3600)]
    summary = run(FakeAdapter(crm), store, realistic_complaints(2), retry=policy)
    assert summary.failed == 1 and slept == []


def test_whole_batch_transient_error_is_retried(store: SqlStateStore) -> None:
    crm = FakeCrm(batch_errors=[transient("*"), transient("*")])
    summary = run(FakeAdapter(crm), store, realistic_complaints(3))
    assert summary.created == 3


def test_daily_rate_limit_stops_the_run_cleanly(store: SqlStateStore) -> None:
    crm = FakeCrm(batch_errors=[limited("*", stop_run=True, retry_after=40000)])
    adapter = FakeAdapter(crm)
    summary = run(adapter, store, realistic_complaints(30), batch_size=10)
    assert summary.stopped is not None and summary.exit_code == 3
    assert summary.failed == 10 and len(adapter.pushed_batches) == 1
    assert store.recent_runs(1)[0].outcome == "stopped"


def test_auth_error_stops_the_run_and_is_raised(store: SqlStateStore) -> None:
    crm = FakeCrm(batch_errors=[AuthError("401 token expired", adapter="fake")])
    with pytest.raises(AuthError):
        run(FakeAdapter(crm), store, realistic_complaints(3))
    assert store.recent_runs(1)[0].outcome == "stopped"
    assert {r.state for r in store.problem_records()} == {RecordState.FAILED}


def test_a_record_the_adapter_did_not_answer_for_stays_pending(store: SqlStateStore) -> None:
    crm = FakeCrm(silent={"E2E-0001"})
    summary = run(FakeAdapter(crm), store, realistic_complaints(2), retry=RetryPolicy.no_wait(2))
    assert summary.created == 1 and summary.failed == 1


def test_reader_quarantine_and_duplicate_ids_are_quarantined(store: SqlStateStore) -> None:
    bad = QuarantineEntry(
        source="in.jsonl",
        line=3,
        complaint_id="X",
        problems=(FieldProblem(field="received_at", message="no offset"),),
    )
    twice = make_complaint(id="SAME")
    summary = run(FakeAdapter(), store, [twice, bad, twice.model_copy(update={"summary": "x"})])
    assert (summary.created, summary.quarantined) == (1, 2)
    stored = store.quarantine_of_run(summary.run_id)
    assert [(q["line"], q["complaint_id"]) for q in stored] == [(3, "X"), (3, "SAME")]


def test_dry_run_touches_nothing(store: SqlStateStore) -> None:
    adapter = FakeAdapter()
    complaints = realistic_complaints(3)
    run(adapter, store, complaints[:1])
    calls = adapter.calls
    edited = [complaints[0].model_copy(update={"summary": "edited"}), *complaints[1:]]
    summary = run(adapter, store, edited, dry_run=True)
    assert [(a.complaint_id, a.action.value) for a in summary.actions] == [
        ("E2E-0000", "update"),
        ("E2E-0001", "create"),
        ("E2E-0002", "create"),
    ]
    assert adapter.calls == calls and summary.remote_calls == 0
    assert len(store.recent_runs(10)) == 1
    assert set(store.get_many("fake", ["E2E-0001", "E2E-0002"])) == set()


def test_a_second_run_on_the_same_state_is_refused(store: SqlStateStore) -> None:
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with store.run_lock("fake"):
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(5)
    try:
        with pytest.raises(LockHeldError, match="another crm-complaints run"):
            run(FakeAdapter(), store, realistic_complaints(1))
    finally:
        release.set()
        thread.join()
    assert run(FakeAdapter(), store, realistic_complaints(1)).created == 1


def test_an_unexpected_error_is_raised_and_the_run_is_not_recorded_ok(
    store: SqlStateStore,
) -> None:
    class Exploding(FakeAdapter):
        def push(self, batch: Any) -> Any:
            raise ValueError("bug in an adapter")

    with pytest.raises(ValueError, match="bug in an adapter"):
        run(Exploding(), store, realistic_complaints(3))
    assert store.recent_runs(1)[0].outcome == "stopped"
    # Write-ahead: the complaints are pending, so the next run pushes them again.
    assert {r.state for r in store.problem_records()} == {RecordState.PENDING}


def test_portals_sharing_one_database_sync_side_by_side(state_url: str) -> None:
    """Two namespaces (portals) in one database: each run sees only its own rows and its own
    lock, so one portal's run neither blocks nor changes the other's."""
    from crm_complaints.state import open_store

    osaka, kyoto = (
        open_store(url=state_url, namespace="osaka"),
        open_store(url=state_url, namespace="kyoto"),
    )
    try:
        complaints = realistic_complaints(6)
        osaka_crm, kyoto_crm = FakeAdapter(), FakeAdapter()
        with osaka.run_lock("fake"):  # osaka's run is under way
            first = sync(complaints, adapter=kyoto_crm, store=kyoto, retry=NO_WAIT)
        assert (first.created, first.exit_code) == (6, 0)
        second = run(osaka_crm, osaka, complaints)
        assert second.created == 6  # kyoto's synced rows are not osaka's
        assert len(osaka_crm.crm.tickets) == len(kyoto_crm.crm.tickets) == 6
        assert [r.namespace for r in osaka.recent_runs()] == ["osaka"]
        assert run(kyoto_crm, kyoto, complaints).unchanged == 6
    finally:
        osaka.close()
        kyoto.close()
