from __future__ import annotations

import json
import time

import pytest
from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as TheirError

from crm_complaints.webhook import (
    WebhookVerificationError,
    generate_secret,
    signature_headers,
    verify,
)

BODY = json.dumps({"type": "complaint.created", "data": {"complaint_id": "C-1"}}).encode()


def test_independent_library_accepts_our_signature() -> None:
    secret = generate_secret()
    headers = signature_headers(secret, "msg_abc", BODY)
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)


def test_our_verify_accepts_the_independent_librarys_signature() -> None:
    from datetime import UTC, datetime

    secret = generate_secret()
    now = datetime.now(UTC)
    signature = Webhook(secret).sign("msg_x", now, BODY.decode())
    headers = {
        "Webhook-Id": "msg_x",
        "Webhook-Timestamp": str(int(now.timestamp())),
        "Webhook-Signature": signature,
    }
    assert verify(secret, headers, BODY)["type"] == "complaint.created"


def test_tampered_body_is_rejected_by_both() -> None:
    secret = generate_secret()
    headers = signature_headers(secret, "msg_abc", BODY)
    tampered = BODY.replace(b"C-1", b"C-2")
    with pytest.raises(TheirError):
        Webhook(secret).verify(tampered, headers)
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, tampered)


def test_wrong_secret_is_rejected_by_both() -> None:
    headers = signature_headers(generate_secret(), "msg_abc", BODY)
    other = generate_secret()
    with pytest.raises(TheirError):
        Webhook(other).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        verify(other, headers, BODY)


def test_timestamp_older_than_five_minutes_is_rejected_by_both() -> None:
    secret = generate_secret()
    old = int(time.time()) - 5 * 60 - 5
    headers = signature_headers(secret, "msg_abc", BODY, timestamp=old)
    with pytest.raises(TheirError, match="too old"):
        Webhook(secret).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify(secret, headers, BODY)
    # Just inside the window is fine.
    fresh = signature_headers(secret, "msg_abc", BODY, timestamp=int(time.time()) - 280)
    assert Webhook(secret).verify(BODY, fresh)


def test_missing_headers_and_rotated_secrets() -> None:
    secret = generate_secret()
    headers = signature_headers(secret, "msg_abc", BODY)
    with pytest.raises(WebhookVerificationError, match="missing header"):
        verify(secret, {k: v for k, v in headers.items() if k != "webhook-id"}, BODY)
    old_signature = signature_headers(generate_secret(), "msg_abc", BODY)["webhook-signature"]
    headers["webhook-signature"] = f"{old_signature} {headers['webhook-signature']}"
    assert verify(secret, headers, BODY)


@pytest.mark.parametrize("secret", ["whsec_", "whsec_=", "whsec_!!"])
def test_an_empty_secret_is_refused_by_verify(secret: str) -> None:
    """With an empty key anyone can sign: verify must refuse before trusting a signature."""
    import base64
    import hashlib
    import hmac

    stamp = int(time.time())
    digest = hmac.new(b"", f"msg_x.{stamp}.".encode() + BODY, hashlib.sha256).digest()
    headers = {
        "webhook-id": "msg_x",
        "webhook-timestamp": str(stamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }
    with pytest.raises(WebhookVerificationError, match=r"secret is (empty|not base64)"):
        verify(secret, headers, BODY)


def test_the_sender_refuses_an_empty_secret() -> None:
    from crm_complaints.adapters.webhook import WebhookAdapter, WebhookConfig
    from crm_complaints.errors import ConfigError

    config = WebhookConfig(url="https://hooks.example.test/in", secret_env="EMPTY_SECRET")
    with pytest.raises(ConfigError, match=r"adapters\.webhook\.secret_env.*empty"):
        WebhookAdapter(config, environ={"EMPTY_SECRET": "whsec_"})
