"""Issue 16's pictures on the real system: the staff's shortage page (`/shortage`) with figures that
add up to what the queries answer, the charts and the map as inline SVG, the bottlenecks, the
hiring plan for a budget typed in the page (a bad one refused in Vietnamese), the CSV downloads
that parse and match, and no other role let in."""

from __future__ import annotations

import csv
import io
import re

import pytest

from shared import messages as m
from shared import subjects as s
from tests.e2e import flow
from tests.e2e.portal import Browser, add_users, start_portal
from tests.e2e.system import System
from tests.e2e.test_portal_pages import english_in, visible

pytestmark = pytest.mark.slow


def _rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff"), "a byte-order mark, for Excel"
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


async def _open_work(system: System) -> None:
    await flow.load_reference(system, n_experts=1)
    await flow.submit(system, "r1")  # digital signatures at Thượng Lâm: e0 can
    await flow.submit(system, "r2", skills={"info_security": 3}, priority=5, title="An toàn thông tin")  # nobody
    await flow.submit(system, "r3", unit="w2266", skills={"data_analysis": 2}, priority=3, hours=2)  # nobody

    def settled(st: dict) -> bool:  # type: ignore[type-arg]
        status = {r["id"]: r["status"] for r in st["matcher"]["requests"]}
        return status.get("r1") == "proposed" and status.get("r2") == status.get("r3") == "unmatched"

    await system.until(settled, what="r1 proposed, r2 and r3 unmatched")


async def test_staff_see_the_shortage_and_plan_the_next_hires(system: System) -> None:
    await _open_work(system)
    base = await start_portal(system)
    add_users(system)
    staff, commune, expert = Browser(base), Browser(base), Browser(base)
    try:
        for b, name in ((staff, "sonoivu"), (commune, "xa-thuonglam"), (expert, "chuyengia0")):
            await b.sign_in(name)
        page = await staff.http.get("/shortage")
        assert page.status_code == 200, visible(page.text)[-800:]
        report = m.GapsReport.model_validate(await system.ok(s.GAPS_GET, m.GetGaps(), timeout=60))
        t = report.total
        assert (t.uncovered_requests, t.uncovered_weight, t.weight) == (2, 16 + 4, 8 + 16 + 4)
        text = visible(page.text)
        assert "Chưa đáp ứng: 2 yêu cầu, 6 giờ, trọng số 20 trên 28." in text, text[:1500]
        by_skill = re.findall(
            r'data-label="Trọng số chưa đáp ứng">(\d+)<', page.text.split('id="by-skill"')[1].split("</table>")[0]
        )
        assert sum(map(int, by_skill)) == t.uncovered_weight and len(by_skill) == len(report.by_skill)
        assert 'aria-labelledby="by-skill-t"' in page.text and 'aria-labelledby="by-month-t"' in page.text
        assert 'aria-labelledby="map-t"' in page.text and page.text.count("<circle") == 2 + 4, "2 communes + legend"
        assert "<script" not in page.text and len(page.content) < 100_000
        assert "An toàn thông tin, mức 3" in text and "1 giờ thêm = +4 (tới 4 giờ, 1 yêu cầu)" in text
        assert not english_in(page.text), english_in(page.text)
        assert 'href="/shortage"' in page.text, "in the staff's navigation"

        sheet = await staff.http.get("/shortage/gaps.csv")
        assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
        rows = _rows(sheet.text)
        total = next(r for r in rows if r["section"] == "total")
        assert int(total["uncovered_weight"]) == t.uncovered_weight and int(total["requests"]) == t.requests
        for section in ("by_skill", "by_unit", "by_province", "by_month"):
            part = [r for r in rows if r["section"] == section]
            assert sum(int(r["uncovered_weight"]) for r in part) == t.uncovered_weight, section
            assert sum(int(r["requests"]) for r in part) == t.requests, section
        assert len([r for r in rows if r["section"] == "bottleneck"]) == len(report.bottlenecks) > 0

        for b in (commune, expert):
            assert (await b.http.get("/shortage")).status_code == 403
            assert (await b.http.get("/shortage/gaps.csv")).status_code == 403
            refused = await b.http.post("/shortage/hiring", data={"budget": "1000000"})
            assert refused.status_code in (403, 422)

        bad = await staff.submit("/shortage", "/shortage/hiring", {"budget": "năm triệu"})
        assert bad.status_code == 422 and 'id="err-budget">Kinh phí: cần là một số tiền bằng đồng' in bad.text
        assert not english_in(bad.text)
        zero = await staff.submit("/shortage", "/shortage/hiring", {"budget": "0"})
        assert zero.status_code == 422 and "Kinh phí: cần lớn hơn 0 đồng" in zero.text
        wrong_day = await staff.http.get("/shortage", params={"from": "2026-13-45"})
        assert wrong_day.status_code == 422 and "Từ ngày: cần là một ngày" in wrong_day.text

        planned = await staff.submit("/shortage", "/shortage/hiring", {"budget": "50.000.000 đ"})
        assert planned.status_code == 200, visible(planned.text)[-800:]
        plan = m.HiringPlanView.model_validate(
            await system.ok(s.HIRING_PLAN_GET, m.GetHiringPlan(budget_vnd=50_000_000), timeout=120)
        )
        assert plan.covered_weight_before == 8 and plan.covered_weight_after == 28 and plan.hires
        summary = visible(planned.text.split('id="plan-summary"')[1].split("</p>")[0])
        assert "8 → 28 (+20)" in summary and "50.000.000 ₫" in summary
        assert planned.text.count('data-label="Chi phí"') == len(plan.hires)
        assert 'id="simple-rule"' in planned.text and not english_in(planned.text)

        download = await staff.submit("/shortage", "/shortage/hiring.csv", {"budget": "50000000"})
        assert download.status_code == 200
        sheet_rows = _rows(download.text)
        hires = [r for r in sheet_rows if r["section"] == "hire"]
        totals = next(r for r in sheet_rows if r["section"] == "plan")
        assert sum(int(r["cost_vnd"]) for r in hires) == int(totals["cost_vnd"]) <= 50_000_000
        assert (int(totals["covered_weight_before"]), int(totals["covered_weight_after"])) == (8, 28)
        assert {r["contract"] for r in hires} == {h.contract for h in plan.hires}
    finally:
        for b in (staff, commune, expert):
            await b.close()
