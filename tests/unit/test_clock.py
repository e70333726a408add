"""The one clock: UTC instants, Vietnam's days, and the offset the tests run at other hours with."""

from __future__ import annotations

import datetime as dt

import pytest

from shared import clock


def test_vietnam_is_already_tomorrow_from_17_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock.OFFSET_ENV, str(clock.at_utc(16, 59)))
    utc_day = clock.utcnow().date()
    assert clock.local_today() == utc_day  # 23:59 in Vietnam
    monkeypatch.setenv(clock.OFFSET_ENV, str(clock.at_utc(17, 0)))
    assert clock.local_today() == utc_day + dt.timedelta(days=1)  # 00:00 in Vietnam
    assert clock.local_now().hour == 0


def test_the_offset_moves_the_clock_and_it_keeps_running(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock.OFFSET_ENV, str(clock.at_utc(23, 30)))
    first = clock.utcnow()
    assert (first.hour, first.minute) == (23, 30)
    assert clock.utcnow() >= first
    assert clock.local_day(first) == first.date() + dt.timedelta(days=1)  # 06:30 tomorrow in Vietnam


def test_an_offset_that_is_not_a_number_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock.OFFSET_ENV, "tomorrow")
    with pytest.raises(ValueError, match="EXPERTSHARE_CLOCK_OFFSET_S must be a number of seconds, got 'tomorrow'"):
        clock.utcnow()


def test_the_utc_hour_fixture_sets_the_hour(utc_hour: dt.datetime) -> None:
    assert (utc_hour.hour, utc_hour.minute) in ((16, 30), (23, 30))
    assert clock.local_today() == utc_hour.date() + dt.timedelta(days=utc_hour.hour >= 17)
