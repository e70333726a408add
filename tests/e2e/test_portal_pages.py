"""Issue 15 on the real system: the portal as each of its users reads it, in Vietnamese.

Names where people read (the unit's own name in the commune's heading, the expert's name, and
how to reach them once approved), numbers typed the Vietnamese way, the inbox with buttons and
never a shell command, a confirmation after each action, a status that agrees with the
timeline; then every page of every role (and their forms' refusals) rendered in Vietnamese with
no English word of `ENGLISH` and no pydantic sentence; an unknown URL gets a Vietnamese page.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import re
import time

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
#: English that must not reach a Vietnamese page: the services' words (actions, statuses, reasons,
#: explanations), pydantic's sentences, the old error page and the old units of hours.
ENGLISH = re.compile(
    r"\b(approve|reject|log_hours|complete|propose|proposed|accepted|completed|declined|unmatched|"
    r"Approved|Completed|Submitted|Status|Request|Contract|Hours|Reason|Error|Not Found|slot|"
    r"commune|staff|admin|incl\. travel|same commune|eligible option|still does not fit|remote or farther|"
    r"experts with the skills|no expert|String should|Input should|Field required|unable to parse|"
    r"valid number|greater than|less than|unknown|Display name|Notifications|Sign out|expertshare|matcher|operator|"
    r"reference)\b"
    r"|từ xa hoặc xa hơn|\d h\b"
)
PAGES = {
    "xa-thuonglam": ["/requests", "/requests/new", "/requests/{rid}", "/requests/{lost}", "/inbox", "/account"],
    "sonoivu": [
        "/proposals",
        "/proposals?request_id={waiting}",
        "/assign",
        "/assign?request_id={lost}",
        "/sheets",
        "/contracts",
        "/contracts/c0",
        "/coverage",
        "/shortage",
        "/audit",
        "/inbox",
        "/account",
    ],
    "chuyengia0": ["/tasks", "/availability", "/inbox", "/account"],
    "quantri": ["/users", "/account"],
}


def visible(page: str) -> str:
    """The text a person reads: tags dropped (an option's words stay), entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def english_in(page: str) -> list[str]:
    return sorted({m.group(0) for m in ENGLISH.finditer(visible(page))})


async def until(check, what: str, timeout: float = 40.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def _submit(commune: Browser, title: str, skill: str, hours: str) -> httpx.Response:
    return await commune.submit(
        "/requests/new",
        "/requests",
        {
            "title": title,
            "skill": skill,
            "level": "2",
            "mode": "remote",
            "hours": hours,
            "priority": "4",
            "deadline": DEADLINE,
        },
    )


async def test_every_role_reads_names_vietnamese_and_buttons(system: System) -> None:
    await load_reference(system, n_experts=1)
    base = await start_portal(system)
    add_users(system)
    await until(lambda: _email(system), "the notifier to take e0's address")
    commune, staff, expert = Browser(base), Browser(base), Browser(base)
    try:
        for b, name in ((commune, "xa-thuonglam"), (staff, "sonoivu"), (expert, "chuyengia0")):
            assert (await b.sign_in(name)).status_code == 200
        listing = (await commune.http.get("/requests")).text
        assert "<h1>Yêu cầu của Xã Thượng Lâm</h1>" in listing, "the unit's own name and kind, not its id"

        sent = await _submit(commune, "Cài chữ ký số cho bộ phận một cửa", "digital_signature", "2,5")
        assert sent.status_code == 200, "a decimal comma is a number: " + visible(sent.text)[-400:]
        assert "Đã gửi yêu cầu" in sent.text, "a confirmation after sending"
        rid = str(sent.url.path).rsplit("/", 1)[1]
        lost = str((await _submit(commune, "Phân tích số liệu dân cư", "data_analysis", "3.5")).url.path).rsplit(
            "/", 1
        )[1]
        assert (await commune.http.get(f"/requests/{lost}")).status_code == 200

        async def proposal() -> str | None:
            page = (await staff.http.get("/proposals")).text
            found = re.search(r'name="approve_one" value="([^"]+)"', page)
            return page if found and "Cài chữ ký số cho bộ phận một cửa" in page else None

        board = await until(proposal, "the proposal on the board")
        aid = re.search(r'name="approve_one" value="([^"]+)"', board).group(1)  # type: ignore[union-attr]
        assert "Xã Thượng Lâm" in board and "Expert 0" in board, "unit and expert by name on the board"
        assert re.search(r"Từ xa, [\d,]+ giờ[^;]*kể cả đi lại, [\d.]+ ₫; [^;]+; \d+ phương án phù hợp", visible(board))
        on_request = (await commune.http.get(f"/requests/{rid}")).text
        assert "Expert 0" in on_request and "e0@example.vn" not in on_request, "who; no contact before approval"

        decided = await staff.submit("/proposals", "/proposals/decide", {"approve_one": aid})
        assert "Đã duyệt 1 / 1 đề xuất" in decided.text, visible(decided.text)[-600:]
        approved = (await commune.http.get(f"/requests/{rid}")).text
        assert "Ai đến hỗ trợ" in approved and "Expert 0" in approved and "Từ xa" in approved
        assert 'href="mailto:e0@example.vn"' in approved, "how to reach the expert once approved"

        async def told() -> str | None:
            page = (await expert.http.get("/inbox")).text
            return page if f'action="/tasks/{aid}/accept"' in page else None

        inbox = await until(told, "the expert's inbox to offer accepting")
        assert "expertshare" not in inbox, "never a shell command"
        accepted = await expert.submit("/inbox", f"/tasks/{aid}/accept", {})
        assert "Bạn đã nhận việc" in accepted.text, "a confirmation after accepting"
        assert "Xã Thượng Lâm" in accepted.text, "the task names its unit"
        logged = await expert.submit("/tasks", f"/tasks/{aid}/hours", {"hours": "1.5"})
        assert "Đã ghi giờ làm" in logged.text and "Đã ghi 1,5 giờ" in logged.text
        done = await commune.submit(f"/requests/{rid}", f"/requests/{rid}/complete", {"rating": "5"})
        assert "Đã xác nhận hoàn thành" in done.text
        assert re.search(r'id="status">Hoàn thành<', done.text), "the status agrees with the timeline at once"
        await until(lambda: _unmatched(commune, lost), "the data-analysis request to be unmatched")
        await _submit(commune, "Cài phần mềm một cửa lần hai", "digital_signature", "2")
        await until(lambda: _waiting(staff), "a second proposal waiting")
        waiting = re.search(r'request_id=([^"&]+)', (await staff.http.get("/proposals")).text).group(1)  # type: ignore[union-attr]

        shown = {}
        for user, paths in PAGES.items():
            b = Browser(base)
            await b.sign_in(user)
            for path in paths:
                page = await b.http.get(path.format(rid=rid, lost=lost, waiting=waiting))
                assert page.status_code == 200, f"{user} {path}: {page.status_code}"
                assert page.headers.get("content-encoding") == "gzip", f"{path} is compressed"
                shown[f"{user} {path}"] = page.text
            await b.submit("/account", "/language", {"lang": "en", "next": "/account"})
            for path in paths:  # the same pages in English render too
                english = await b.http.get(path.format(rid=rid, lost=lost, waiting=waiting))
                assert english.status_code == 200 and '<html lang="en">' in english.text, f"{user} {path} in English"
            await b.close()
        shown.update(await _refusals(commune, staff, expert, aid))
        unknown = await commune.http.get("/khong-co-trang-nay")
        assert unknown.status_code == 404 and "Không tìm thấy trang này" in unknown.text
        shown["404"] = unknown.text
        api = await commune.http.get("/api/v1/khong-co")
        assert api.status_code == 404 and api.headers["content-type"].startswith("application/json")
        english = {where: found for where, page in shown.items() if (found := english_in(page))}
        assert not english, f"English on Vietnamese pages: {english}"
        assert "không chuyên gia nào có kỹ năng" in visible(shown["xa-thuonglam /requests/{lost}"])
        second = re.search(r'name="approve_one" value="([^"]+)"', (await staff.http.get("/proposals")).text)
        assert second is not None
        await staff.submit("/proposals", "/proposals/decide", {"approve_one": second.group(1)})
        declined = await expert.submit("/tasks", f"/tasks/{second.group(1)}/decline", {"reason": "đang đi công tác"})
        assert "Bạn đã từ chối việc" in declined.text, "a confirmation after declining"
    finally:
        for b in (commune, staff, expert):
            await b.close()


async def _refusals(commune: Browser, staff: Browser, expert: Browser, aid: str) -> dict[str, str]:
    """Each form refused once: the messages are named fields in Vietnamese."""
    out = {}
    bad = await commune.submit(
        "/requests/new",
        "/requests",
        {"title": "", "skill": "", "hours": "abc", "priority": "9", "deadline": "x", "mode": "remote"},
    )
    assert bad.status_code == 422 and 'id="err-hours">Số giờ: cần là một số' in bad.text
    out["bad request form"] = bad.text
    too_many = await commune.submit(
        "/requests/new",
        "/requests",
        {"title": "x", "skill": "office_it", "hours": "20000", "priority": "3", "deadline": DEADLINE, "mode": "remote"},
    )
    assert 'id="err-hours">Số giờ: không được lớn hơn' in too_many.text
    out["too many hours"] = too_many.text
    hours = await expert.submit("/tasks", f"/tasks/{aid}/hours", {"hours": "nhiều"})
    out["bad hours"] = hours.text
    availability = await expert.submit(
        "/availability", "/availability", {"capacity_hours": "-5", "max_travel_minutes": "6,5"}
    )
    assert availability.status_code == 422
    out["bad availability"] = availability.text
    picker = (await staff.http.get("/assign")).text
    assert re.search(r'<option value="e0"[^>]*>Expert 0 · Xã Lâm Bình \(e0\)</option>', picker), "experts by name"
    assert re.search(r'<option value="c0"[^>]*>c0 · Expert 0 · ', picker), "contracts with their expert's name"
    assert '<select name="request_id">' in picker and '<input name="request_id"' not in picker
    narrowed = (await staff.http.get("/assign", params={"q": "không có ai"})).text
    assert '<option value="e0"' not in narrowed and '<option value="c0"' not in narrowed, "a name narrows the pickers"
    assign = await staff.submit("/assign", "/assign", {})
    assert assign.status_code == 422 and 'id="err-request_id">Yêu cầu: hãy chọn' in assign.text
    out["empty assignment"] = assign.text
    budget = await staff.submit("/shortage", "/shortage/hiring", {"budget": "-5"})
    assert budget.status_code == 422 and 'id="err-budget">Kinh phí: cần là một số tiền' in budget.text
    out["bad budget"] = budget.text
    contract = await staff.submit("/contracts/c0", "/contracts/c0/status", {"to": "suspended"})
    assert contract.status_code == 422
    out["contract without reason"] = contract.text
    return out


async def _email(system: System) -> bool:
    reply = await system.call(s.PREFERENCES_SET, m.SetPreferences(party="expert:e0", email="e0@example.vn"))
    return reply.ok


async def _unmatched(commune: Browser, rid: str) -> bool:
    return "Chưa tìm được" in (await commune.http.get(f"/requests/{rid}")).text


async def _waiting(staff: Browser) -> bool:
    return 'name="approve_one"' in (await staff.http.get("/proposals")).text
