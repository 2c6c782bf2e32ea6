"""What the base class does for every adapter: classify HTTP answers, count, read secrets."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pytest
import responses
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
from crm_complaints.errors import (
    AuthError,
    ConfigError,
    RateLimitedError,
    RejectedError,
    TransientError,
    from_http_status,
    parse_retry_after,
)

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
URL = "https://crm.example.test/api"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("1.5", 1.5),
        (" 7 ", 7.0),
        ("-3", 0.0),
        ("Wed, 25 Nov 2026 09:00:30 GMT", 30.0),
        ("Wed, 25 Nov 2026 08:59:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_takes_seconds_or_an_http_date(value: str | None, seconds: float) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, AuthError),
        (403, AuthError),
        (429, RateLimitedError),
        (408, TransientError),
        (423, TransientError),
        (500, TransientError),
        (503, TransientError),
        (524, TransientError),
        (0, TransientError),
        (301, RejectedError),
        (400, RejectedError),
        (404, RejectedError),
        (422, RejectedError),
    ],
)
def test_one_mapping_of_statuses_to_errors(status: int, kind: type[Exception]) -> None:
    error = from_http_status(status, {"retry-after": "4"}, what="upsert", adapter="x")
    assert type(error) is kind
    assert error.status == status and error.adapter == "x"
    if isinstance(error, TransientError):
        assert error.retry_after == 4.0


def test_for_complaint_keeps_the_class_and_the_wait() -> None:
    error = RateLimitedError("slow down", retry_after=3.0, stop_run=True, adapter="x", status=429)
    one = error.for_complaint("C-1")
    assert type(one) is RateLimitedError
    assert (one.complaint_id, one.retry_after, one.stop_run, one.status) == ("C-1", 3.0, True, 429)
    assert "complaint C-1" in str(one) and error.complaint_id is None


class Config(BaseModel):
    token_env: str = "TEST_TOKEN"


class HttpAdapter(Adapter[Config]):
    """Just enough of an adapter to exercise the base class."""

    name = "http"
    config_model = Config

    def setup(self) -> SetupReport:
        self.request("PUT", URL, what="setup", timeout=5)
        return SetupReport()

    def push(self, batch: Sequence[PlannedComplaint]) -> list[PushResult]:
        return []

    def read(self, refs: Mapping[str, RemoteRefs]) -> dict[str, RemoteRecord]:
        return {}

    def list_owned(self) -> Iterator[RemoteRecord]:
        yield RemoteRecord(
            "C-1",
            {"ticket": "1"},
            tasks={
                "old": RemoteTask("C-1", "old", NOW + timedelta(days=1), False, modified_at=NOW),
                "new": RemoteTask(
                    "C-1", "new", NOW + timedelta(days=1), False, modified_at=NOW + timedelta(1)
                ),
                "late": RemoteTask("C-1", "late", NOW - timedelta(hours=1), False),
                "done": RemoteTask("C-1", "done", NOW - timedelta(hours=1), True, modified_at=NOW),
            },
        )


def test_config_type_is_checked_and_secrets_come_from_environ() -> None:
    adapter = HttpAdapter(Config(), environ={"TEST_TOKEN": "t0ken"})
    assert adapter.secret("TEST_TOKEN", config_key="adapters.http.token_env", what="a token")
    with pytest.raises(ConfigError, match=r"adapters\.http\.token_env.*MISSING") as info:
        adapter.secret("MISSING", config_key="adapters.http.token_env", what="a token")
    assert "t0ken" not in str(info.value)

    class Other(BaseModel):
        pass

    with pytest.raises(TypeError, match="needs a Config"):
        HttpAdapter(Other())  # type: ignore[arg-type]


@responses.activate
def test_request_counts_and_classifies() -> None:
    adapter = HttpAdapter(Config(), environ={})
    responses.put(URL, status=401)
    with pytest.raises(AuthError, match="setup: refused our credentials"):
        adapter.setup()
    responses.put(URL, status=429, headers={"Retry-After": "2"})
    with pytest.raises(RateLimitedError) as limited:
        adapter.setup()
    assert limited.value.retry_after == 2.0
    responses.put(URL, status=302, headers={"Location": "https://elsewhere.test/"})
    with pytest.raises(RejectedError, match="redirect"):
        adapter.setup()
    assert adapter.calls == 3 and len(responses.calls) == 3  # the redirect was not followed


def test_calls_are_counted_across_threads() -> None:
    adapter = HttpAdapter(Config(), environ={})

    def bump() -> None:
        for _ in range(10_000):
            adapter.count_call()

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert adapter.calls == 40_000


def test_default_list_tasks_yields_only_overdue_or_changed() -> None:
    adapter = HttpAdapter(Config(), environ={})
    overdue = {t.kind for t in adapter.list_tasks(due_before=NOW)}
    assert overdue == {"late"}
    changed = {t.kind for t in adapter.list_tasks(changed_since=NOW + timedelta(hours=1))}
    assert changed == {"new", "late"}  # "late" does not say when it changed: counted as changed
    assert {t.kind for t in adapter.list_tasks()} == set()
