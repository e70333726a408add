"""Whose time it is: the one clock every service, the CLI and the tests read.

- Timestamps (when something happened, leases, reminders, sessions) are UTC: `utcnow()`.
- Days (a request's deadline, a contract's first and last day, "ends in 10 days", the day a digest
  covers) are the provinces' days: Vietnam, UTC+7, with no daylight saving. `local_today()`.
  Between 17:00 and 24:00 UTC Vietnam is already on the next day, so a date is never taken from
  the machine's own calendar (`datetime.date.today()`), which is UTC on a server.

`EXPERTSHARE_CLOCK_OFFSET_S` moves this clock by that many seconds (it keeps running). Every
process reads it, so services started from a shell or a test that sets it agree on the hour; the
tests use it to run as if it were 23:30 or 16:59 UTC, on either side of Vietnam's midnight
(`at_utc`). Unset in production.
"""

from __future__ import annotations

import datetime as dt
import os

VIETNAM_UTC_OFFSET_HOURS = 7
OFFSET_ENV = "EXPERTSHARE_CLOCK_OFFSET_S"


def _offset() -> dt.timedelta:
    raw = os.environ.get(OFFSET_ENV, "")
    if not raw:
        return dt.timedelta(0)
    try:
        return dt.timedelta(seconds=float(raw))
    except ValueError as err:
        raise ValueError(f"{OFFSET_ENV} must be a number of seconds, got {raw!r}") from err


def utcnow() -> dt.datetime:
    """Now, in UTC (timezone-aware)."""
    return dt.datetime.now(dt.UTC) + _offset()


def zone(offset_hours: int = VIETNAM_UTC_OFFSET_HOURS) -> dt.timezone:
    return dt.timezone(dt.timedelta(hours=offset_hours))


def local_now(offset_hours: int = VIETNAM_UTC_OFFSET_HOURS) -> dt.datetime:
    """Now on the provinces' wall clock."""
    return utcnow().astimezone(zone(offset_hours))


def local_today(offset_hours: int = VIETNAM_UTC_OFFSET_HOURS) -> dt.date:
    """Today in the provinces (Vietnam unless a service is set to another offset)."""
    return local_now(offset_hours).date()


def local_day(instant: dt.datetime, offset_hours: int = VIETNAM_UTC_OFFSET_HOURS) -> dt.date:
    """The provinces' day an instant falls on."""
    return instant.astimezone(zone(offset_hours)).date()


def offset_to(instant: dt.datetime) -> float:
    """The offset (seconds, for `EXPERTSHARE_CLOCK_OFFSET_S`) that makes the clock read `instant` now."""
    return (instant - dt.datetime.now(dt.UTC)).total_seconds()


def at_utc(hour: int, minute: int = 0) -> float:
    """The offset that makes the clock read `hour:minute` UTC now, on the machine's real UTC day."""
    return offset_to(dt.datetime.now(dt.UTC).replace(hour=hour, minute=minute, second=0, microsecond=0))
