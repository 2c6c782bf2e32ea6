"""Sending through apprise: one URL per channel, read from the environment variable it names.

Apprise supports Slack, Microsoft Teams, e-mail (``mailto://``), LINE, generic JSON webhooks
(``json://``) and some hundred more (https://github.com/caronc/apprise/wiki); we write no sender
of our own. A URL carries its service's token or password, so it is never logged or printed:
messages name the variable instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Protocol

import apprise

from ..errors import ConfigError
from .message import AlertText

__all__ = ["AppriseNotifier", "Notifier"]

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """Sends one alert to one channel; returns ``None`` on delivery, else why not."""

    def send(self, channel: str, text: AlertText) -> str | None: ...


class AppriseNotifier:
    """Channels are environment variable names; each holds one apprise URL."""

    def __init__(self, channels: Iterable[str], environ: Mapping[str, str]) -> None:
        self._senders: dict[str, apprise.Apprise] = {}
        for name in sorted(set(channels)):
            url = environ.get(name, "").strip()
            if not url:
                raise ConfigError(
                    f"environment variable {name} (an alerts channel) is not set; it must hold "
                    "an apprise URL such as slack://… or mailto://…",
                    key="alerts.channels",
                )
            sender = apprise.Apprise()
            if not sender.add(url):
                raise ConfigError(
                    f"environment variable {name} does not hold a URL apprise supports",
                    key="alerts.channels",
                )
            self._senders[name] = sender

    def send(self, channel: str, text: AlertText) -> str | None:
        sender = self._senders.get(channel)
        if sender is None:
            return f"no channel {channel}"
        try:
            delivered = bool(sender.notify(title=text.title, body=text.body))
        except Exception as exc:  # a plugin's own bug must not end the run: the alert waits
            log.warning("alerts channel %s raised %s", channel, type(exc).__name__)
            return f"{type(exc).__name__} while sending"
        return None if delivered else "the channel refused it or was unreachable (see apprise)"
