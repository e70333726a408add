"""One module writes money, hours and dates for people (`shared.formatting`); where two places
wrote one thing two ways, both are kept under their own names."""

from __future__ import annotations

import datetime as dt

from shared import formatting as f


def test_money_in_dong_grouped_by_dots() -> None:
    assert f.money(1_500_000) == "1.500.000 ₫" and f.money(0) == "0 ₫" and f.money("2500") == "2.500 ₫"
    assert f.money(None) == "—" and f.money(None, missing="-") == "-"
    assert f.money_left(-5) == "0 ₫" and f.money_left(600_000) == "600.000 ₫"
    assert f.grouped(10_000) == "10.000"


def test_hours_each_way_they_are_written() -> None:
    assert (f.hm(460), f.hm(480), f.hm(30), f.hm_left(-30)) == ("7 h 40", "8 h", "0 h 30", "0 h")
    assert (f.decimal_hours(450), f.decimal_hours(480)) == ("7.5 h", "8 h")
    assert (f.hours(2.5), f.hours(7 + 40 / 60), f.hours(8), f.hours(40 / 60)) == (
        "2,5 giờ",
        "7 giờ 40 phút",
        "8 giờ",
        "40 phút",
    )
    assert (f.hours(2.5, "en"), f.hours(None), f.hours(-0.5)) == ("2.5 h", "—", "-0,5 giờ")
    assert (f.duration(86400), f.duration(90, "en"), f.duration(2)) == ("24 giờ", "1.5 min", "2 giây")


def test_days_and_times_on_vietnams_clock() -> None:
    assert f.day(dt.date(2026, 11, 24)) == "24/11/2026"
    late = dt.datetime(2026, 11, 30, 17, 30, tzinfo=dt.UTC)  # already 1 December in Vietnam
    assert f.local_time(late) == "00:30 01/12/2026"
    assert f.stamp(late.isoformat()) == "2026-12-01 00:30 (UTC+7)"
    assert f.stamp("2026-12-01T09:40:00") == "2026-12-01 16:40 (UTC+7)"  # naive: UTC
    assert f.stamp("not a time at all") == "not a time at al"
