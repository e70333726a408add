"""How numbers, money, hours and dates are written for people, once for every service, the CLI
and the portal: money in whole dong grouped by dots (`1.500.000 ₫`), hours as people read them,
days and times on Vietnam's clock (`shared.clock`).

Where two places wrote one thing two ways, both ways are kept, each under its own name:
- hours: `hm` (`7 h 40`: the validator's sentences and the CLI), `decimal_hours` (`7.5 h`: the
  ledger's refusals, the solver's explanations), `hours` (`7 giờ 40 phút`, `2,5 giờ`: pages);
  `duration` is a length of time in seconds (a limit, a reminder delay);
- money: `money`, and `money_left`/`hm_left` for what is left, never shown below zero;
- times: `local_time` (`16:40 01/12/2026`: pages) and `stamp` (`2026-12-01 16:40 (UTC+7)`: the
  CLI, sortable).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared import clock

DONG = "₫"


def grouped(n: int) -> str:
    """10000 -> '10.000': Vietnamese groups thousands by dots."""
    return f"{int(n):,}".replace(",", ".")


def money(vnd: Any, missing: str = "—") -> str:
    """1500000 -> '1.500.000 ₫'; `missing` for none (no figure, or no cap)."""
    if vnd is None:
        return missing
    return f"{grouped(vnd)} {DONG}"


def money_left(vnd: int) -> str:
    """What is left of a budget: '0 ₫' when it is overspent."""
    return money(max(0, vnd))


def hm(minutes: int) -> str:
    """Whole minutes as people read them: 460 -> '7 h 40', 480 -> '8 h', 30 -> '0 h 30'."""
    h, m = divmod(int(minutes), 60)
    return f"{h} h {m:02d}" if m else f"{h} h"


def hm_left(minutes: int) -> str:
    """What is left of a cap or a person's time: '0 h' when it is overspent."""
    return hm(max(0, minutes))


def decimal_hours(minutes: int | float) -> str:
    """450 -> '7.5 h', 480 -> '8 h'."""
    return f"{minutes / 60:g} h"


def hours(value: Any, lang: str = "vi") -> str:
    """Hours as people write them: `2,5 giờ`, `7 giờ 40 phút`, `8 giờ`, `40 phút` (English:
    `2.5 h`, `7 h 40 min`); '—' for none."""
    if value is None:
        return "—"
    total = round(float(value) * 60)
    whole, rest = divmod(abs(total), 60)
    sign = "-" if total < 0 else ""
    unit_h, unit_m, comma = ("h", "min", ".") if lang == "en" else ("giờ", "phút", ",")
    if rest == 0:
        return f"{sign}{whole} {unit_h}"
    if rest == 30:
        return f"{sign}{whole}{comma}5 {unit_h}"
    return f"{sign}{whole} {unit_h} {rest} {unit_m}" if whole else f"{sign}{rest} {unit_m}"


def duration(seconds: float, lang: str = "vi") -> str:
    """12 giờ / 12 h, 5 phút / 5 min, 3 giây / 3 s: limits are read by people, not machines."""
    units = (("giờ", "h", 3600), ("phút", "min", 60), ("giây", "s", 1))
    vi, en, size = next(u for u in units if seconds >= u[2] or u[2] == 1)
    return f"{round(seconds / size, 1):g} {vi if lang == 'vi' else en}"


def day(value: dt.date) -> str:
    """A day as Vietnam writes it: 24/11/2026."""
    return value.strftime("%d/%m/%Y")


def local_time(at: dt.datetime) -> str:
    """An instant on Vietnam's clock as pages show it: '16:40 01/12/2026'."""
    return at.astimezone(clock.zone()).strftime("%H:%M %d/%m/%Y")


def stamp(iso: str) -> str:
    """An instant as Vietnam's wall clock with its zone shown, sortable (the CLI):
    '2026-12-01T09:40:00+00:00' -> '2026-12-01 16:40 (UTC+7)'; a text that is no instant is cut
    to its first 16 characters."""
    try:
        at = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso[:16]
    at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return f"{at.astimezone(clock.zone()):%Y-%m-%d %H:%M} (UTC+{clock.VIETNAM_UTC_OFFSET_HOURS})"
