"""The webhook adapter's requests, classification of answers, and URL/secret policy."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from standardwebhooks.webhooks import Webhook

from crm_complaints.adapters.base import Outcome, PlannedComplaint, RemoteWrite
from crm_complaints.adapters.webhook import WebhookAdapter, WebhookConfig, event_id
from crm_complaints.config import Settings
from crm_complaints.errors import AuthError, ConfigError
from crm_complaints.policy import Policy
from crm_complaints.schema import Complaint
from tests.conftest import make_complaint, realistic_complaints

URL = "https://crm.example.org/hooks/complaints"


def planned(complaint: Complaint, previous: dict[str, str] | None = None) -> PlannedComplaint:
    plan = Policy().plan(complaint)
    return PlannedComplaint(complaint, plan, f"v-{complaint.content_hash()[:12]}", previous)


@pytest.fixture
def adapter(webhook_secret: str) -> WebhookAdapter:
    return WebhookAdapter(WebhookConfig(url=URL))


@responses.activate
def test_posts_one_signed_event_per_complaint(adapter: WebhookAdapter, webhook_secret: str) -> None:
    responses.post(URL, status=204)
    items = [planned(c) for c in realistic_complaints(3)]
    results = adapter.push(items)
    assert [r.outcome for r in results] == [Outcome.SYNCED] * 3
    assert adapter.calls == 3 and len(responses.calls) == 3
    request = responses.calls[0].request
    body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
    payload = Webhook(webhook_secret).verify(body, dict(request.headers))
    assert payload["type"] == "complaint.created"
    assert payload["id"] == request.headers["webhook-id"] == event_id("E2E-0000", items[0].version)
    assert payload["data"]["plan"]["severity"] == "high"
    assert results[0].refs == {"delivery": request.headers["webhook-id"]}
    assert results[0].created is True
    delivered = {"delivery": request.headers["webhook-id"]}
    assert results[0].writes == (RemoteWrite("create", "event", delivered),)  # its audit row


@responses.activate
def test_update_event_and_stable_id_per_version(adapter: WebhookAdapter) -> None:
    responses.post(URL, status=200)
    item = planned(make_complaint(), previous={"delivery": "msg_old"})
    (result,) = adapter.push([item])
    adapter.push([item])
    first, second = (c.request for c in responses.calls)
    assert [(w.operation, w.object) for w in result.writes] == [("update", "event")]
    assert json.loads(first.body)["type"] == "complaint.updated"  # type: ignore[arg-type]
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    changed = planned(make_complaint(summary="変更"), previous={"delivery": "msg_old"})
    adapter.push([changed])
    assert responses.calls[2].request.headers["webhook-id"] != first.headers["webhook-id"]


@responses.activate
def test_personal_data_stays_out_by_default(adapter: WebhookAdapter) -> None:
    responses.post(URL, status=200)
    complaint = realistic_complaints(1)[0]
    adapter.push([planned(complaint)])
    body = responses.calls[0].request.body
    text = body.decode() if isinstance(body, bytes) else str(body)
    sent = json.loads(text)["data"]["complaint"]
    for secret_value in ("山田", "hanako.yamada@example.jp", "+81-90-1234-5678", "redness", "佐藤"):
        assert secret_value not in text
    assert sent["customer"] == {"external_id": "P-0"}
    assert sent["reporter"] == {"department": "front_desk", "staff_id": "S-0"}


@responses.activate
def test_allowlist_can_opt_in_to_fields(webhook_secret: str) -> None:
    responses.post(URL, status=200)
    settings = Settings(
        adapters={"webhook": {"url": URL, "fields": ["id", "summary", "customer.name"]}}
    )
    adapter = WebhookAdapter.from_settings(settings)
    adapter.push([planned(realistic_complaints(1)[0])])
    sent = json.loads(responses.calls[0].request.body)["data"]["complaint"]  # type: ignore[arg-type]
    assert sent == {"id": "E2E-0000", "summary": "Complaint 0", "customer": {"name": "山田 花子"}}


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "retry_after"),
    [
        (408, {}, Outcome.RETRY, None),
        (429, {"Retry-After": "7"}, Outcome.RATE_LIMITED, 7.0),
        (500, {}, Outcome.RETRY, None),
        (503, {"Retry-After": "2"}, Outcome.RETRY, 2.0),
        (400, {}, Outcome.REJECTED, None),
        (409, {}, Outcome.REJECTED, None),
        (422, {}, Outcome.REJECTED, None),
    ],
)
@responses.activate
def test_answers_are_classified(
    adapter: WebhookAdapter,
    status: int,
    headers: dict[str, str],
    outcome: Outcome,
    retry_after: float | None,
) -> None:
    responses.post(URL, status=status, headers=headers, body="refused: 山田 花子")
    [result] = adapter.push([planned(make_complaint())])
    assert result.outcome is outcome
    assert result.error is not None
    assert getattr(result.error, "retry_after", None) == retry_after
    assert len(responses.calls) == 1  # never followed a redirect, never retried by itself
    assert "山田" not in str(result.error)  # the receiver's body is never echoed


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (404, {}),
        (405, {}),
        (410, {}),
        (301, {"Location": "https://elsewhere.example/"}),
        (307, {"Location": "https://elsewhere.example/"}),
    ],
)
@responses.activate
def test_answers_about_the_endpoint_stop_the_run(
    adapter: WebhookAdapter, status: int, headers: dict[str, str]
) -> None:
    """They would refuse every event alike: quarantining records for them loses them all."""
    responses.post(URL, status=status, headers=headers, body="refused: 山田 花子")
    with pytest.raises(ConfigError, match=rf"adapters\.webhook\.url.*{status}") as stopped:
        adapter.push([planned(make_complaint())])
    assert len(responses.calls) == 1 and "山田" not in str(stopped.value)


@pytest.mark.parametrize(
    "exc", [requests.ConnectionError("refused"), requests.Timeout("slow"), requests.ReadTimeout()]
)
@responses.activate
def test_connection_errors_and_timeouts_are_transient(
    adapter: WebhookAdapter, exc: Exception
) -> None:
    responses.post(URL, body=exc)
    [result] = adapter.push([planned(make_complaint())])
    assert result.outcome is Outcome.RETRY


@pytest.mark.parametrize("status", [401, 403])
@responses.activate
def test_auth_failures_stop_the_run(adapter: WebhookAdapter, status: int) -> None:
    responses.post(URL, status=status)
    with pytest.raises(AuthError) as exc:
        adapter.push([planned(make_complaint())])
    assert "whsec_" not in str(exc.value)


def test_one_bad_record_does_not_stop_the_batch(adapter: WebhookAdapter) -> None:
    items = [planned(c) for c in realistic_complaints(3)]
    with responses.RequestsMock() as mock:
        mock.post(URL, status=200)
        mock.post(URL, status=422)
        mock.post(URL, status=200)
        results = adapter.push(items)
    assert [r.outcome for r in results] == [Outcome.SYNCED, Outcome.REJECTED, Outcome.SYNCED]


@pytest.mark.parametrize(
    ("url", "insecure", "ok"),
    [
        ("https://crm.example.org/x", False, True),
        ("http://crm.example.org/x", False, False),
        ("http://crm.example.org/x", True, True),
        ("http://127.0.0.1:8080/x", False, True),
        ("http://[::1]:8080/x", False, True),
        ("http://localhost/x", False, True),
        ("ftp://crm.example.org/x", True, False),
        ("not a url", False, False),
    ],
)
def test_url_policy(webhook_secret: str, url: str, insecure: bool, ok: bool) -> None:
    config = WebhookConfig(url=url, allow_insecure_http=insecure)
    if ok:
        WebhookAdapter(config)
    else:
        with pytest.raises(ConfigError, match=r"adapters\.webhook\.url"):
            WebhookAdapter(config)


def test_missing_secret_names_the_variable_not_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_COMPLAINTS_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ConfigError, match="CRM_COMPLAINTS_WEBHOOK_SECRET"):
        WebhookAdapter(WebhookConfig(url=URL))


def test_config_errors_name_the_key(webhook_secret: str) -> None:
    with pytest.raises(ConfigError, match=r"adapters\.webhook\.timeout_seconds"):
        WebhookAdapter.from_settings(
            Settings(adapters={"webhook": {"url": URL, "timeout_seconds": -1}})
        )
    with pytest.raises(ConfigError, match=r"adapters\.webhook\.url"):
        WebhookAdapter.from_settings(Settings(adapters={"webhook": {}}))
    with pytest.raises(ConfigError, match=r"customer\.nmae"):
        WebhookAdapter.from_settings(
            Settings(adapters={"webhook": {"url": URL, "fields": ["customer.nmae"]}})
        )
