"""The portal against the real system: every service its own process, the portal too.

A commune officer submits (a wrong field is named beside it), staff approve on the board, the
expert accepts and logs hours, the commune confirms completion; then every route is tried with
every role: a commune sees only its unit's requests, an expert only its tasks, only staff decide.
"""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest

from shared import messages as m
from shared import subjects as s
from shared.clock import local_today
from tests.e2e.flow import load_reference
from tests.e2e.portal import Browser, add_users, start_portal
from tests.e2e.system import System

pytestmark = pytest.mark.slow
DEADLINE = str(local_today() + dt.timedelta(days=10))


async def _wait_for(check, what: str, tries: int = 150):  # type: ignore[no-untyped-def]
    import asyncio

    for _ in range(tries):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def _commune_submits(commune: Browser) -> str:
    bad = await commune.submit(
        "/requests/new",
        "/requests",
        {
            "title": "Cài chữ ký số",
            "skill": "digital_signature",
            "level": "2",
            "mode": "remote",
            "hours": "-3",
            "priority": "4",
            "deadline": DEADLINE,
        },
    )
    assert bad.status_code == 422
    assert re.search(r'id="err-hours">Số giờ: phải lớn hơn 0<', bad.text), "the error is beside the hours field"
    assert 'value="Cài chữ ký số"' in bad.text, "what was typed is kept"
    ok = await commune.submit(
        "/requests/new",
        "/requests",
        {
            "title": "Cài chữ ký số cho bộ phận một cửa",
            "skill": "digital_signature",
            "level": "2",
            "mode": "remote",
            "hours": "4",
            "priority": "4",
            "deadline": DEADLINE,
        },
    )
    assert ok.status_code == 200 and "Tiến trình" in ok.text
    return ok.url.path.rsplit("/", 1)[1]


async def test_portal_flow_and_every_route_against_every_role(system: System) -> None:
    await load_reference(system, n_experts=2)
    base = await start_portal(system)
    tokens = add_users(system)
    commune, staff, expert = Browser(base), Browser(base), Browser(base)
    try:
        assert (await commune.sign_in("xa-thuonglam", "wrong-password")).status_code == 401
        for b, name in ((commune, "xa-thuonglam"), (staff, "sonoivu")):
            assert (await b.sign_in(name)).status_code == 200
        rid = await _commune_submits(commune)

        async def board() -> str | None:
            page = (await staff.http.get("/proposals")).text
            found = re.search(r'name="ids" value="([^"]+)"', page)
            return found.group(1) if found and rid in page else None

        aid = await _wait_for(board, "a proposal on the board")
        alternatives = (await staff.http.get("/proposals", params={"request_id": rid})).text
        rows = re.findall(r'<tr class="candidate"><td[^>]*>[^<]*<small class="id">\((e\d)\)', alternatives)
        assert "Các chuyên gia khác có thể nhận" in alternatives and set(rows) <= {"e0", "e1"} and rows, alternatives
        assert f'value="{aid}"' in alternatives, "the board narrowed to the request still shows its proposal"
        decided = await staff.submit("/proposals", "/proposals/decide", {"ids": aid, "decision": "approve"})
        assert "Đã duyệt 1 / 1 đề xuất" in decided.text
        owner = next(a for a in (await system.status())["contracts"]["assignments"] if a["id"] == aid)
        who = {"e0": "chuyengia0", "e1": "chuyengia1"}[owner["expert_id"]]
        other = "chuyengia1" if who == "chuyengia0" else "chuyengia0"
        assert (await expert.sign_in(who)).status_code == 200
        assert (await expert.submit("/tasks", f"/tasks/{aid}/accept", {})).status_code == 200
        wrong = await expert.submit("/tasks", f"/tasks/{aid}/hours", {"hours": "0"})
        assert wrong.status_code == 422 and "Số giờ: phải lớn hơn 0" in wrong.text
        assert (await expert.submit("/tasks", f"/tasks/{aid}/hours", {"hours": "2,5"})).status_code == 200
        assert "Đã ghi 2,5 giờ" in (await expert.http.get("/tasks")).text
        bad = await expert.submit(
            "/availability", "/availability", {"capacity_hours": "-5", "max_travel_minutes": "60", "remote": "on"}
        )
        assert bad.status_code == 422 and 'id="err-capacity_hours"' in bad.text
        saved = await expert.submit(
            "/availability", "/availability", {"capacity_hours": "30,5", "max_travel_minutes": "60", "remote": "on"}
        )
        assert saved.status_code == 200 and "Đã lưu." in saved.text and 'value="30,5"' in saved.text
        experts = (await system.ok(s.REFERENCE_GET, m.GetReference()))["experts"]
        assert next(e for e in experts if e["id"] == owner["expert_id"])["capacity_hours"] == 30.5
        done = await commune.submit(f"/requests/{rid}", f"/requests/{rid}/complete", {"rating": "5"})
        assert done.status_code == 200 and "Hoàn thành" in done.text
        told = [
            x
            for x in (
                "Hệ thống đề xuất chuyên gia",
                "Sở Nội vụ duyệt",
                "Chuyên gia nhận việc",
                "Ghi giờ làm",
                "Xã xác nhận hoàn thành",
            )
            if x in done.text
        ]
        assert len(told) == 5, f"the history tells each step: {told}"
        assert done.text.index("Sở Nội vụ duyệt") < done.text.index("Ghi giờ làm"), "in order"
        contracts = (await staff.http.get("/contracts")).text
        assert re.search(r"\d{1,3}(\.\d{3})+ ₫", contracts), "money in Vietnamese format"
        use = (await staff.http.get(f"/contracts/{owner['contract_id']}")).text
        assert "<svg" in use and 'class="action">Sở Nội vụ duyệt</td>' in use, use[-1500:]
        assert 'class="action">Ghi giờ làm</td>' in use, use[-1500:]
        assert (await staff.http.get("/contracts/c-none")).status_code == 404
        await _every_route_against_every_role(base, tokens, rid, aid, who, other)
    finally:
        for b in (commune, staff, expert):
            await b.close()


async def _every_route_against_every_role(
    base: str, tokens: dict[str, str], rid: str, aid: str, owner: str, other: str
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:

        async def api(method: str, path: str, user: str | None, **kw: object) -> httpx.Response:
            headers = {"Authorization": f"Bearer {tokens[user]}"} if user else {}
            return await http.request(method, f"/api/v1{path}", headers=headers, **kw)  # type: ignore[arg-type]

        everyone = ["xa-thuonglam", "xa-lambinh", "sonoivu", "chuyengia0", "chuyengia1", "quantri"]
        allowed = {
            ("GET", "/requests"): {"xa-thuonglam", "xa-lambinh", "sonoivu"},
            ("GET", f"/requests/{rid}"): {"xa-thuonglam", "sonoivu"},
            ("GET", "/proposals"): {"sonoivu"},
            ("GET", "/contracts"): {"sonoivu"},
            ("GET", "/tasks"): {"chuyengia0", "chuyengia1"},
            ("GET", "/me"): set(everyone),
            ("GET", "/coverage"): {"sonoivu"},
            ("GET", "/inbox"): set(everyone) - {"quantri"},
        }
        for (method, path), who in allowed.items():
            assert (await api(method, path, None)).status_code == 401, path
            for user in everyone:
                code = (await api(method, path, user)).status_code
                assert (code == 200) == (user in who), f"{user} {method} {path}: {code}"
        mine = await api("GET", "/requests", "xa-lambinh")
        assert rid not in mine.text, "another unit's request is not shown"
        assert rid in (await api("GET", "/requests", "xa-thuonglam")).text
        assert aid in (await api("GET", "/tasks", owner)).text and aid not in (await api("GET", "/tasks", other)).text
        body = {"assignment_ids": [aid], "decision": "approve"}
        for user in everyone:
            if user != "sonoivu":
                assert (await api("POST", "/proposals/decide", user, json=body)).status_code == 403, user
        assert (await api("POST", f"/tasks/{aid}/hours", other, json={"hours": 1})).status_code == 422
        manual = {"request_id": rid, "expert_id": "e1", "contract_id": "c1", "force": True}
        for user in everyone:
            if user != "sonoivu":
                assert (await api("POST", "/assignments", user, json=manual)).status_code == 403, user
        for user in everyone:
            if user != "sonoivu":
                changed = await api("POST", "/contracts/c0/status", user, json={"to": "suspended", "reason": "x"})
                assert changed.status_code == 403, user
                extra = await api("POST", f"/assignments/{aid}/extra-hours", user, json={"decision": "approve"})
                assert extra.status_code == 403, user
        unexplained = await api("POST", "/contracts/c0/status", "sonoivu", json={"to": "terminated"})
        assert unexplained.status_code == 422 and unexplained.json()["detail"][0]["field"] == "reason"
        nothing = await api("POST", f"/assignments/{aid}/extra-hours", "sonoivu", json={"decision": "approve"})
        assert nothing.status_code == 422, "no extra hours wait on it"
        refused = await api("POST", "/assignments", "sonoivu", json=manual)
        assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "reason"
        pages = {
            "/requests": {"commune"},
            "/requests/new": {"commune"},
            "/proposals": {"staff"},
            "/contracts": {"staff"},
            "/audit": {"staff"},
            "/coverage": {"staff"},
            "/assign": {"staff"},
            "/tasks": {"expert"},
            "/availability": {"expert"},
            "/users": {"admin"},
            "/inbox": {"commune", "staff", "expert"},
            "/account": {"commune", "staff", "expert", "admin"},
        }
        roles = {"xa-lambinh": "commune", "sonoivu": "staff", "chuyengia0": "expert", "quantri": "admin"}
        for user, role in roles.items():
            b = Browser(base)
            await b.sign_in(user)
            for path, needed in pages.items():
                r = await b.http.get(path)
                assert (r.status_code == 200) == (role in needed), f"{user} {path}: {r.status_code}"
                assert len(r.content) < 100_000
            assert (await b.http.get(f"/requests/{rid}")).status_code in (403, 404)
            await b.close()
        assert (await http.get("/proposals", follow_redirects=False)).status_code == 303
        b = Browser(base)
        await b.sign_in("sonoivu")
        assert (await b.http.post("/proposals/decide", data={"ids": aid})).status_code == 403, "no CSRF, no action"
        await b.close()


async def test_staff_assign_by_hand_see_coverage_and_everyone_reads_their_inbox(system: System) -> None:
    await load_reference(system, n_experts=2)
    base = await start_portal(system)
    add_users(system)
    commune, staff = Browser(base), Browser(base)
    try:
        await commune.sign_in("xa-thuonglam")
        await staff.sign_in("sonoivu")
        sent = await commune.submit(
            "/requests/new",
            "/requests",
            {
                "title": "Phân tích số liệu dân cư",
                "skill": "data_analysis",
                "level": "3",
                "mode": "remote",
                "hours": "3",
                "priority": "3",
                "deadline": DEADLINE,
            },
        )
        rid = sent.url.path.rsplit("/", 1)[1]

        async def unmatched() -> bool:
            return "Chưa tìm được" in (await commune.http.get(f"/requests/{rid}")).text

        await _wait_for(unmatched, "the request to be unmatched (no expert has the skill)")
        unknown = await staff.submit(
            "/assign", "/assign", {"request_id": "r-none", "expert_id": "e1", "contract_id": "c1"}
        )
        assert unknown.status_code == 422 and re.search(r'id="err-request_id">Không có yêu cầu này', unknown.text)
        no_reason = await staff.submit(
            "/assign", "/assign", {"request_id": rid, "expert_id": "e1", "contract_id": "c1", "force": "on"}
        )
        assert no_reason.status_code == 422 and 'id="err-reason"' in no_reason.text
        unforced = await staff.submit("/assign", "/assign", {"request_id": rid, "expert_id": "e1", "contract_id": "c1"})
        assert unforced.status_code == 422, "a broken skill rule needs force"
        # Worded from the rules' catalogue in Vietnamese, with the rule's figures (not the English).
        assert "Phân công này vi phạm quy tắc: thiếu kỹ năng" in unforced.text, unforced.text[-3000:]
        assert "chọn «Bỏ qua quy tắc» và ghi lý do nếu vẫn muốn giao" in unforced.text
        forced = await staff.submit(
            "/assign",
            "/assign",
            {"request_id": rid, "expert_id": "e1", "contract_id": "c1", "force": "on", "reason": "biết số liệu của xã"},
        )
        assert forced.status_code == 200 and "Đã phân công và duyệt." in forced.text

        async def approved() -> bool:
            return "✔ Đã duyệt" in (await commune.http.get(f"/requests/{rid}")).text

        await _wait_for(approved, "the forced assignment to be approved")
        coverage = (await staff.http.get("/coverage")).text
        assert re.search(r"Xã Thượng Lâm \(w2269\)</td><td[^>]*>1</td>\s*<td[^>]*>1 ", coverage), coverage[-2000:]

        async def told() -> str | None:
            page = (await commune.http.get("/inbox")).text
            return page if "chưa đọc" in page and "★" in page else None

        await _wait_for(told, "the commune's notifications")
        await commune.submit("/inbox", "/inbox/read", {})
        assert "★" not in (await commune.http.get("/inbox")).text
        assert (await staff.http.get("/inbox")).status_code == 200
    finally:
        await commune.close()
        await staff.close()


async def test_staff_decide_extra_hours_and_move_a_contract_through_its_lifecycle(system: System) -> None:
    await load_reference(system, n_experts=2)
    base = await start_portal(system)
    add_users(system)
    commune, staff, expert = Browser(base), Browser(base), Browser(base)
    try:
        await commune.sign_in("xa-thuonglam")
        await staff.sign_in("sonoivu")
        await _commune_submits(commune)

        async def board() -> str | None:
            found = re.search(r'name="ids" value="([^"]+)"', (await staff.http.get("/proposals")).text)
            return found.group(1) if found else None

        aid = await _wait_for(board, "a proposal on the board")
        await staff.submit("/proposals", "/proposals/decide", {"ids": aid, "decision": "approve"})
        owner = next(a for a in (await system.status())["contracts"]["assignments"] if a["id"] == aid)
        cid = owner["contract_id"]
        await expert.sign_in({"e0": "chuyengia0", "e1": "chuyengia1"}[owner["expert_id"]])
        assert (await expert.submit("/tasks", f"/tasks/{aid}/accept", {})).status_code == 200
        # 4 hours were reserved; 6 are logged: 2 wait for staff.
        assert (await expert.submit("/tasks", f"/tasks/{aid}/hours", {"hours": "6"})).status_code == 200

        async def contract() -> dict | None:  # type: ignore[type-arg]
            return next(c for c in (await system.status())["contracts"]["contracts"] if c["id"] == cid)

        before = await contract()
        listing = (await staff.http.get("/contracts")).text
        assert re.search(rf'href="/contracts/{cid}">1 giờ làm vượt', listing), listing[-1500:]
        page = (await staff.http.get(f"/contracts/{cid}")).text
        assert re.search(rf'<tr class="extra" id="extra-{aid}">.*?>2 giờ</td>', page, re.S), page[-3000:]
        bogus = await staff.submit(
            f"/contracts/{cid}", f"/contracts/{cid}/extra", {"assignment_id": aid, "decision": "maybe"}
        )
        assert bogus.status_code == 422 and "Hãy chọn Duyệt hoặc Không duyệt" in bogus.text
        ok = await staff.submit(
            f"/contracts/{cid}",
            f"/contracts/{cid}/extra",
            {"assignment_id": aid, "decision": "approve", "comment": "đã kiểm tra"},
        )
        assert ok.status_code == 200 and "Đã lưu." in ok.text and 'class="extra"' not in ok.text
        after = await contract()
        assert after["hours_used"] + after["hours_reserved"] == pytest.approx(
            before["hours_used"] + before["hours_reserved"] + 2
        ), (before, after)
        again = await staff.submit(
            f"/contracts/{cid}", f"/contracts/{cid}/extra", {"assignment_id": aid, "decision": "approve"}
        )
        assert again.status_code == 422, "nothing is waiting any more: refused, with the reason shown"

        why = await staff.submit(f"/contracts/{cid}", f"/contracts/{cid}/status", {"to": "suspended"})
        assert why.status_code == 422 and 'id="err-reason"' in why.text
        held = await staff.submit(
            f"/contracts/{cid}", f"/contracts/{cid}/status", {"to": "suspended", "reason": "chờ gia hạn kinh phí"}
        )
        assert held.status_code == 200 and "· Tạm dừng</h1>" in held.text
        assert (await contract())["status"] == "suspended"
        back = await staff.submit(f"/contracts/{cid}", f"/contracts/{cid}/status", {"to": "active"})
        assert back.status_code == 200 and "· Hiệu lực</h1>" in back.text
        wrong = await staff.submit(f"/contracts/{cid}", f"/contracts/{cid}/status", {"to": "exhausted", "reason": "x"})
        assert wrong.status_code == 422, "exhausted and expired are the system's to set"
        # With a valid CSRF token of its own, a commune officer is still not staff.
        denied = await commune.submit("/requests", f"/contracts/{cid}/status", {"to": "terminated", "reason": "x"})
        assert denied.status_code == 403
        assert (await contract())["status"] == "active"
    finally:
        for b in (commune, staff, expert):
            await b.close()


async def test_the_contracts_list_pages_and_filters(system: System) -> None:
    await load_reference(system, n_experts=120)
    base = await start_portal(system)
    add_users(system)
    staff = Browser(base)
    try:
        await staff.sign_in("sonoivu")

        async def rows(**params: str) -> tuple[int, str]:
            page = await staff.http.get("/contracts", params=params)
            assert page.status_code == 200 and len(page.content) < 100_000
            return page.text.count('<tr><td data-label="Hợp đồng"><a href="/contracts/'), page.text

        first, text = await rows()
        assert first == 100 and "120 hợp đồng · Trang 1 / 2" in text and 'rel="next"' in text
        second, text = await rows(page="2")
        assert second == 20 and 'rel="prev"' in text and 'rel="next"' not in text
        assert (await rows(page="99"))[0] == 20, "past the end: the last page"
        assert (await rows(page="abc"))[0] == 100, "not a number: the first page"
        found, text = await rows(q="C11")
        assert found == 11 and "11 hợp đồng" in text, "c11 and c110 to c119, any case"
        none, text = await rows(status="suspended")
        assert none == 0 and "Chưa có gì." in text
    finally:
        await staff.close()
