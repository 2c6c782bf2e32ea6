"""``GET /account-info/v3/details``: the account's settings, of which clients need the time zone.

HubSpot's daily API quota resets at midnight in the account's time zone, not UTC
(https://developers.hubspot.com/docs/api/usage-details; the ``timeZone`` field:
https://developers.hubspot.com/docs/api-reference/latest/account/account-information/get-account-details).
``TIME_ZONE`` is read on every request, so a test can patch it on a running emulator (as
``server.SEARCH_RESULT_LIMIT``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["PORTAL_ID", "TIME_ZONE", "account_details"]

PORTAL_ID = 62515
TIME_ZONE = "US/Eastern"  # HubSpot's own example account's setting


def account_details(now: datetime | None = None) -> dict[str, Any]:
    """The answer HubSpot gives, with the offset of ``TIME_ZONE`` at ``now``."""
    zone = ZoneInfo(TIME_ZONE)
    offset = (now or datetime.now(UTC)).astimezone(zone).utcoffset()
    millis = int(offset.total_seconds() * 1000) if offset is not None else 0
    sign = "-" if millis < 0 else "+"
    hours, minutes = divmod(abs(millis) // 60_000, 60)
    return {
        "portalId": PORTAL_ID,
        "accountType": "STANDARD",
        "timeZone": TIME_ZONE,
        "companyCurrency": "JPY",
        "additionalCurrencies": [],
        "utcOffset": f"{sign}{hours:02d}:{minutes:02d}",
        "utcOffsetMilliseconds": millis,
        "uiDomain": "app.hubspot.com",
        "dataHostingLocation": "na1",
    }
