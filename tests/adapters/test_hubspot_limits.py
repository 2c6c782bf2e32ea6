"""HubSpot's limits as they really are: budgets shared with other apps, search's own limit and
result cap, the daily quota's reset in the portal's time zone, 477 while an account migrates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from crm_complaints.adapters.hubspot import HubSpotAdapter, read
from crm_complaints.adapters.hubspot.client import seconds_to_midnight
from crm_complaints.emulator import DEMO_TOKEN, RateLimit, running_emulator, server
from crm_complaints.emulator import account as emulator_account
from crm_complaints.errors import RateLimitedError, RejectedError, TransientError
from crm_complaints.policy import Policy
from crm_complaints.retry import RetryPolicy
from crm_complaints.schema import Complaint
from crm_complaints.state import SqlStateStore
from crm_complaints.sync import SyncSummary, sync
from tests.conftest import realistic_complaints
from tests.hubspot_support import make_adapter

NO_WAIT = RetryPolicy.no_wait(max_attempts=40)
AUTH = {"Authorization": f"Bearer {DEMO_TOKEN}"}
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", DEMO_TOKEN)


def run_sync(
    adapter: HubSpotAdapter, store: SqlStateStore, complaints: list[Complaint], **kw: Any
) -> SyncSummary:
    kw.setdefault("retry", NO_WAIT)
    return sync(complaints, adapter=adapter, store=store, policy=Policy(), **kw)


# -- budgets shared with other apps ----------------------------------------------------------
def test_a_neighbour_spending_the_budget_slows_us_down_instead_of_earning_429s(
    store: SqlStateStore,
) -> None:
    # Another app spends half of a 20-per-second budget; we were told the whole 20 is ours.
    limit = RateLimit(requests=20, window_seconds=1.0, neighbour_share=0.5)
    with running_emulator(rate_limit=limit) as emulator:
        adapter = make_adapter(emulator, rate_limit_requests=20, rate_limit_window_seconds=1.0)
        adapter.setup()
        summary = run_sync(adapter, store, realistic_complaints(300))
        assert summary.created == 300 and summary.failed == 0
        assert emulator.stats.neighbour > 0
        # The neighbour was seen: our share fell below the limit less the headroom (how far it
        # fell depends on when the answers are read; a loaded CI machine saw 11, a quiet one 6).
        assert adapter.limiter.lowest_share < 20 - 4
        assert emulator.stats.rate_limited <= 1


def test_the_neighbour_shows_in_the_headers_and_takes_its_places() -> None:
    # 10 per 2 s, half of it another app's: one request of theirs every 0.4 s from the start.
    limit = RateLimit(requests=10, window_seconds=2.0, neighbour_share=0.5)
    with running_emulator(rate_limit=limit) as emulator:
        url = f"{emulator.base_url}/crm/v3/owners"
        answers = [requests.get(url, headers=AUTH, timeout=5) for _ in range(10)]
        first = answers[0]
        assert first.headers["X-HubSpot-RateLimit-Max"] == "10"
        assert int(first.headers["X-HubSpot-RateLimit-Remaining"]) <= 8  # theirs and ours
        statuses = [a.status_code for a in answers]
        assert statuses.count(200) <= 9 and statuses[-1] == 429
        assert emulator.stats.neighbour >= 1


def test_headers_of_sdk_deserialized_answers_reach_the_limiter_too() -> None:
    # Discovery uses the SDK's models (not call_json): its answers' headers must count as well.
    limit = RateLimit(requests=40, window_seconds=10.0, neighbour_share=0.5)
    with running_emulator(rate_limit=limit) as emulator:
        adapter = make_adapter(emulator, rate_limit_requests=40, rate_limit_window_seconds=10.0)
        adapter.client.call(
            "read pipelines", adapter.client.pipelines.get_all, object_type="tickets"
        )
        assert adapter.limiter.share < 40


def test_daily_remaining_zero_stops_the_run_before_a_request_is_wasted(
    store: SqlStateStore,
) -> None:
    with running_emulator(rate_limit=RateLimit(daily=40)) as emulator:
        adapter = make_adapter(emulator, portal_timezone="Asia/Tokyo")
        adapter.setup()
        summary = run_sync(adapter, store, realistic_complaints(600))
        assert summary.stopped is not None and "quota" in summary.stopped
        assert 0 < summary.created < 600
        # At most the requests already in flight when the last of the budget was announced.
        assert emulator.stats.rate_limited <= adapter.config.concurrency


def test_daily_remaining_zero_refuses_the_next_request_without_sending_it() -> None:
    with running_emulator(rate_limit=RateLimit(daily=5)) as emulator:
        adapter = make_adapter(emulator, portal_timezone="Asia/Tokyo")
        for _ in range(5):
            adapter.client.call("read owners", adapter.client.owners.get_page)
        sent = emulator.stats.requests
        with pytest.raises(RateLimitedError) as stopped:
            adapter.client.call("read owners", adapter.client.owners.get_page)
        assert stopped.value.stop_run and "Asia/Tokyo" in str(stopped.value)
        assert emulator.stats.requests == sent and emulator.stats.rate_limited == 0


# -- search: its own limit, no headers, the result cap ----------------------------------------
def test_search_answers_carry_no_rate_limit_headers_and_have_their_own_limit() -> None:
    limit = RateLimit(search_requests=2, search_window_seconds=5.0)
    with running_emulator(rate_limit=limit) as emulator:
        url = f"{emulator.base_url}/crm/v3/objects/tickets/search"
        body = {"filterGroups": [], "properties": [], "sorts": [], "limit": 1, "after": "0"}
        answers = [requests.post(url, json=body, headers=AUTH, timeout=5) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[2].json()["policyName"] == "SECONDLY"
        assert not any(
            h.lower().startswith("x-hubspot-ratelimit") for a in answers for h in a.headers
        )
        owners = requests.get(f"{emulator.base_url}/crm/v3/owners", headers=AUTH, timeout=5)
        assert owners.status_code == 200  # the rest of the API is not held back by search
        assert "X-HubSpot-RateLimit-Remaining" in owners.headers


def test_our_search_limiter_keeps_reconcile_reads_free_of_secondly_429s(
    store: SqlStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read, "SEARCH_PAGE", 5)
    limit = RateLimit(search_requests=3, search_window_seconds=0.5)
    with running_emulator(rate_limit=limit) as emulator:
        adapter = make_adapter(
            emulator, search_rate_limit_requests=3, search_rate_limit_window_seconds=0.5
        )
        adapter.setup()
        run_sync(adapter, store, realistic_complaints(30))
        assert len(list(adapter.list_owned())) == 30  # 7 pages of 5: 7 searches
        assert emulator.stats.search_rate_limited == 0
        assert adapter.client.search_limiter.waited_seconds > 0


def test_reads_retry_429s_and_transient_errors(
    store: SqlStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read, "SEARCH_PAGE", 5)
    with running_emulator(rate_limit=RateLimit(search_requests=2, search_window_seconds=0.5)) as em:
        # A client that believes search is unlimited: HubSpot's SECONDLY 429s must be retried.
        adapter = make_adapter(em, search_rate_limit_requests=1000)
        adapter.setup()
        run_sync(adapter, store, realistic_complaints(30))
        adapter._reader.retry = RetryPolicy(
            max_attempts=30, max_seconds=60, initial_backoff=0.01, max_backoff=0.05
        )
        em.script.append((503, "crm_complaint_id"))  # and one 503 on the way
        assert len(list(adapter.list_owned())) == 30
        assert em.stats.search_rate_limited > 0 and em.stats.injected == 1


def test_a_read_that_keeps_failing_raises_its_last_error(store: SqlStateStore) -> None:
    with running_emulator() as emulator:
        adapter = make_adapter(emulator)
        adapter.setup()
        run_sync(adapter, store, realistic_complaints(3))
        adapter._reader.retry = RetryPolicy.no_wait(max_attempts=3)
        emulator.script.extend([(503, "crm_complaint_id")] * 3)
        with pytest.raises(TransientError, match="503"):
            list(adapter.list_owned())
        assert emulator.stats.injected == 3


def test_list_tasks_goes_past_the_search_result_cap(
    store: SqlStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "SEARCH_RESULT_LIMIT", 10)
    monkeypatch.setattr(read, "SEARCH_RESULT_CAP", 10)
    monkeypatch.setattr(read, "SEARCH_PAGE", 4)
    with running_emulator() as emulator:
        adapter = make_adapter(emulator)
        adapter.setup()
        run_sync(adapter, store, realistic_complaints(6))
        ours = {t.id for t in emulator.portal.live("tasks")}
        assert len(ours) > 25
        listed = [t.id for t in adapter.list_tasks(changed_since=EPOCH)]
        assert sorted(listed) == sorted(ours)  # every task once, none lost at the cap
        overdue = [
            t.id for t in adapter.list_tasks(due_before=datetime.now(UTC) + timedelta(days=9999))
        ]
        open_tasks = {
            t.id for t in emulator.portal.live("tasks")
            if t.properties.get("hs_task_status") != "COMPLETED"
        }  # fmt: skip
        assert sorted(overdue) == sorted(open_tasks) and len(open_tasks) > 10


# -- 477 and the daily reset -----------------------------------------------------------------
def test_477_migration_in_progress_is_transient_and_waits_retry_after() -> None:
    with running_emulator() as emulator:
        adapter = make_adapter(emulator)
        answer = SimpleNamespace(status=477, body="{}", headers={"Retry-After": "7"})
        error = adapter.client.classify("upsert tickets", 477, answer)  # type: ignore[arg-type]
        assert isinstance(error, TransientError) and error.retry_after == 7
        emulator.script.append((477, ""))
        with pytest.raises(TransientError) as raised:
            adapter.client.call("read owners", adapter.client.owners.get_page)
        assert not isinstance(raised.value, RejectedError)
        assert raised.value.retry_after and raised.value.retry_after > 0


def test_seconds_to_midnight_count_on_the_portal_clock() -> None:
    moment = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)  # 23:30 in Tokyo
    assert seconds_to_midnight(ZoneInfo("Asia/Tokyo"), moment) == 30 * 60
    assert seconds_to_midnight(UTC, moment) == 9.5 * 3600
    # The night the clocks go back in New York (2026-11-01) has 25 hours.
    before = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # 00:00 EDT
    assert seconds_to_midnight(ZoneInfo("America/New_York"), before) == 25 * 3600


def test_a_daily_429_counts_to_midnight_in_the_portal_time_zone_read_from_hubspot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(emulator_account, "TIME_ZONE", "Pacific/Kiritimati")  # UTC+14
    with running_emulator(rate_limit=RateLimit(daily=8)) as emulator:
        adapter = make_adapter(emulator)
        with pytest.raises(RateLimitedError) as stopped:
            for _ in range(20):
                adapter.client.call("read owners", adapter.client.owners.get_page)
        assert stopped.value.stop_run
        assert "Pacific/Kiritimati" in str(stopped.value)
        expected = seconds_to_midnight(ZoneInfo("Pacific/Kiritimati"))
        assert stopped.value.retry_after == pytest.approx(expected, abs=5)
        assert emulator.stats.by_route.get("GET /account-info/v3/details") == 1


def test_the_configured_portal_time_zone_wins_and_a_bad_one_is_refused() -> None:
    with running_emulator(rate_limit=RateLimit(daily=1)) as emulator:
        adapter = make_adapter(emulator, portal_timezone="Asia/Tokyo")
        adapter.client.call("read owners", adapter.client.owners.get_page)
        with pytest.raises(RateLimitedError) as stopped:
            adapter.client.call("read owners", adapter.client.owners.get_page)
        assert "Asia/Tokyo" in str(stopped.value)
        assert stopped.value.retry_after == pytest.approx(
            seconds_to_midnight(ZoneInfo("Asia/Tokyo")), abs=5
        )
        assert "GET /account-info/v3/details" not in emulator.stats.by_route
        with pytest.raises(ValueError, match="IANA"):
            make_adapter(emulator, portal_timezone="Mars/Olympus")
