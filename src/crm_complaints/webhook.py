"""Standard Webhooks signatures: sign what we send, verify what a Python receiver gets.

Headers ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (``v1,`` + base64
HMAC-SHA256 over ``id.timestamp.body``), with a ``whsec_``-prefixed base64 secret. Compatible
with the ``standardwebhooks`` libraries in every language.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from .errors import WebhookVerificationError

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "WebhookVerificationError",
    "check_secret",
    "generate_secret",
    "sign",
    "signature_headers",
    "verify",
]

DEFAULT_TOLERANCE_SECONDS = 5 * 60
_PREFIX = "whsec_"


def _key(secret: str) -> bytes:
    """The HMAC key of a secret. An empty key is refused: anyone can sign with it."""
    raw = secret[len(_PREFIX) :] if secret.startswith(_PREFIX) else secret
    raw += "=" * (-len(raw) % 4)  # secrets are often shared without base64 padding
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError as exc:
        raise WebhookVerificationError("the webhook secret is not base64 after whsec_") from exc
    if not key:
        raise WebhookVerificationError("the webhook secret is empty after whsec_")
    return key


def check_secret(secret: str) -> None:
    """Raise WebhookVerificationError unless ``secret`` is a usable ``whsec_`` secret."""
    if not secret.startswith(_PREFIX):
        raise WebhookVerificationError("the webhook secret must start with whsec_")
    _key(secret)


def generate_secret() -> str:
    """A fresh ``whsec_`` secret with 32 random bytes."""
    return _PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one delivery."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(
    secret: str, message_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(secret, message_id, stamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> Any:
    """Check a delivery and return its parsed JSON body; raise WebhookVerificationError if not.

    ``headers`` may use any case. Several space-separated signatures are accepted (secret
    rotation); comparison is constant-time.
    """
    _key(secret)  # an unusable secret fails before anything is trusted
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        message_id = lower["webhook-id"]
        stamp_text = lower["webhook-timestamp"]
        signatures = lower["webhook-signature"]
    except KeyError as exc:
        raise WebhookVerificationError(f"missing header {exc.args[0]}") from None
    try:
        stamp = int(stamp_text)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance window")
    expected = sign(secret, message_id, stamp, body).encode()
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected):
            try:
                return json.loads(body)
            except ValueError as exc:
                raise WebhookVerificationError("body is not JSON") from exc
    raise WebhookVerificationError("no matching signature")
