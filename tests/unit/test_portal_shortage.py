"""The shortage page's pure parts: a budget typed the Vietnamese way, the period's errors, the
communes for the map (with and without coordinates), the map's classes and pictures, and the
CSV files (every section adds up to the total; no cell runs as a formula)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from services.portal import drawings, shortage
from shared import messages as m


def test_a_budget_is_whole_dong_typed_the_vietnamese_way() -> None:
    for typed in ("50.000.000", "50 000 000", "50000000", "50.000.000 đ", "50.000.000₫", " 50000000 VND "):
        assert shortage.budget(typed) == (50_000_000, None), typed
    for typed in ("", "năm triệu", "50,5", "-5", "5.00", "1e9", "50.000.00"):
        value, error = shortage.budget(typed)
        assert value is None and error is not None and error.startswith("Kinh phí: cần là một số tiền"), typed
    assert str(shortage.budget("0")[1]) == "Kinh phí: cần lớn hơn 0 đồng"
    assert str(shortage.budget("2.000.000.000.000")[1]).startswith("Kinh phí: tối đa 1.000.000.000.000 ₫")


def test_a_period_is_refused_in_vietnamese_naming_the_day() -> None:
    assert shortage.period({}) == (None, None, {})
    assert shortage.period({"from": "2026-09-01", "to": "2026-11-30"})[:2] == (
        dt.date(2026, 9, 1),
        dt.date(2026, 11, 30),
    )
    assert str(shortage.period({"from": "2026-13-45"})[2]["from"]) == "Từ ngày: cần là một ngày (năm-tháng-ngày)"
    assert str(shortage.period({"from": "2026-11-30", "to": "2026-09-01"})[2]["to"]) == "Đến ngày: trước ngày bắt đầu"
    assert "tối đa 366 ngày" in str(shortage.period({"from": "2024-01-01", "to": "2026-01-01"})[2]["from"])


def _report() -> m.GapsReport:
    rows = [
        m.GapRow(key="u1", label="Xã Một", requests=3, uncovered_requests=2, uncovered_weight=20, weight=24),
        m.GapRow(key="u2", label="Xã Hai", requests=1, uncovered_requests=1, uncovered_weight=4, weight=4),
    ]
    return m.GapsReport(
        requests=4,
        total=m.GapRow(key="all", requests=4, uncovered_requests=3, uncovered_weight=24, weight=28),
        by_unit=rows,
        by_skill=[
            m.GapRow(
                key="info_security=3",
                label="=HYPERLINK(1)",
                requests=4,
                uncovered_requests=3,
                uncovered_weight=24,
                weight=28,
            )
        ],
        bottlenecks=[m.HourValue(skill="info_security", level=3, unit="u1", value_per_hour=4, hours=4, requests=1)],
        values="lp_duals",
    )


def test_the_map_takes_the_report_s_provinces_and_lists_communes_without_coordinates() -> None:
    units = {
        "u1": {"name": "Xã Một", "province": "P", "location": {"lat": 22.4, "lon": 105.2}},
        "u2": {"name": "Xã Hai", "province": "P"},
        "u3": {"name": "Xã Ba", "province": "P", "location": {"lat": 22.5, "lon": 105.3}},
        "u9": {"name": "Xã Khác", "province": "Q", "location": {"lat": 10.0, "lon": 106.0}},
    }
    on_map, missing = shortage.places(_report(), units)
    assert {p["id"]: p["weight"] for p in on_map} == {"u1": 20, "u3": 0}, "u9: another province"
    assert [(p["name"], p["weight"]) for p in missing] == [("Xã Hai", 4)]
    svg = drawings.commune_map([{**p, "text": "x"} for p in on_map], title="Bản đồ", legend_words=("Chú giải", "0"))
    assert svg.count("<circle") == 2 + len(drawings.classes(20)) and "<title>Xã Một: x</title>" in svg
    assert '<title id="map-t">Bản đồ</title>' in svg and "<script" not in svg


def test_the_map_s_classes_cover_every_weight_once() -> None:
    assert drawings.classes(0) == [(0, 0)]
    assert drawings.classes(20) == [(0, 0), (1, 7), (8, 14), (15, 20)]
    assert drawings.classes(2) == [(0, 0), (1, 1), (2, 2)]
    for top in range(0, 40):
        bounds = drawings.classes(top)
        covered = [w for lo, hi in bounds for w in range(lo, hi + 1)]
        assert covered == list(range(top + 1)), top


def test_a_chart_labels_its_axes_and_writes_each_value() -> None:
    svg = drawings.bars(
        [("An toàn thông tin 3", 18), ("Hạ tầng mạng 1", 2.5)],
        x_title="Trọng số",
        y_title="Kỹ năng",
        title="Theo kỹ năng",
        ident="k",
    )
    assert ">Trọng số</text>" in svg and ">Kỹ năng</text>" in svg and ">18</text>" in svg and ">2,5</text>" in svg
    assert re.findall(r'<text x="[\d.]+" y="\d+" text-anchor="(?:start|middle)">([\d,.]+)</text>', svg) == [
        "0",
        "5",
        "10",
        "15",
        "20",
    ]
    assert drawings.bars([], x_title="", y_title="", title="", ident="k") == ""


def test_the_csv_sections_add_up_and_run_nothing() -> None:
    rows = list(csv.DictReader(io.StringIO(shortage.gaps_csv(_report()))))
    total = next(r for r in rows if r["section"] == "total")
    units = [r for r in rows if r["section"] == "by_unit"]
    assert sum(int(r["uncovered_weight"]) for r in units) == int(total["uncovered_weight"]) == 24
    assert next(r for r in rows if r["section"] == "by_skill")["label"] == "'=HYPERLINK(1)"
    assert next(r for r in rows if r["section"] == "bottleneck")["value_per_hour"] == "4.0"

    plan = m.HiringPlanView(
        budget_vnd=10_000_000,
        cost_vnd=4_000_000,
        covered_weight_before=4,
        covered_weight_after=20,
        gain=16,
        hires=[
            m.HireView(
                candidate="a",
                expert="hire-a",
                contract="hire-a-c",
                where="u1",
                skills={"x": 3},
                cost_vnd=4_000_000,
                covers=m.HireCovers(requests=["r1", "r2"], weight=16),
            )
        ],
        simple_rule=m.RuleView(rule="r", hires=["a"], cost_vnd=4_000_000, covered_weight_after=20),
    )
    lines = list(csv.DictReader(io.StringIO(shortage.plan_csv(plan, {"u1": {"name": "Xã Một"}}))))
    assert [r["section"] for r in lines] == ["hire", "plan", "simple_rule"]
    assert lines[0]["where_name"] == "Xã Một" and lines[0]["request_ids"] == "r1;r2" and lines[0]["skills"] == "x=3"
    assert (lines[1]["cost_vnd"], lines[1]["gain"], lines[2]["gain"]) == ("4000000", "16", "16")
