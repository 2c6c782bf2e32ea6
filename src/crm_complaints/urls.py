"""Which URLs an adapter may talk to: https, or plain http only to loopback or by opt-in."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from .errors import ConfigError

__all__ = ["check_url", "is_loopback"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_insecure_http: bool, key: str) -> str:
    """The URL, or a ConfigError naming ``key``: credentials never travel in clear text to a
    remote host unless the config says so explicitly."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError("must be an https:// URL", key=key)
    if parts.scheme == "http" and not (allow_insecure_http or is_loopback(parts.hostname)):
        raise ConfigError(
            "plain http is only allowed to loopback or with allow_insecure_http = true", key=key
        )
    return url
