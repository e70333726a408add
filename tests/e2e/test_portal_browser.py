"""The portal in a real headless Chromium (Debian's, driven by Playwright), against the real
system, in Vietnamese: a commune submits, staff approve, the expert accepts and logs hours, the
commune sees it done. A screenshot of each main page goes to var/screenshots/ (gitignored).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from shared.clock import local_today
from tests.e2e.flow import load_reference
from tests.e2e.portal import PASSWORD, add_users, start_portal
from tests.e2e.system import System

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"  # `make test` prints the folder
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    assert HAVE_CHROMIUM, "Debian's chromium is needed: `make test` installs it (apt-get install chromium)"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        await browser.close()


# What the browser refused under the portal's Content-Security-Policy, on every page it showed.
CSP_REFUSALS: list[str] = []


async def signed_in(browser: Browser, base: str, username: str) -> Page:
    page = await (await browser.new_context(base_url=base, locale="vi-VN")).new_page()
    page.on(
        "console",
        lambda msg: CSP_REFUSALS.append(f"{page.url}: {msg.text}") if "Content Security Policy" in msg.text else None,
    )
    await page.goto("/login")
    await page.get_by_label("Tên đăng nhập").fill(username)
    await page.get_by_label("Mật khẩu").fill(PASSWORD)
    await page.get_by_role("button", name="Đăng nhập").click()
    return page


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def until_shown(page: Page, path: str, text: str, tries: int = 100) -> None:
    for _ in range(tries):
        await page.goto(path)
        if text in await page.content():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{text!r} never appeared on {path}")


async def test_commune_staff_and_expert_in_a_real_browser(system: System, chromium: Browser) -> None:
    await load_reference(system, n_experts=1)
    base = await start_portal(system)
    add_users(system)

    commune = await signed_in(chromium, base, "xa-thuonglam")
    await commune.get_by_role("link", name="Gửi yêu cầu mới").first.click()
    await commune.get_by_label("Nội dung cần hỗ trợ").fill("Cài chữ ký số cho bộ phận một cửa")
    await commune.get_by_label("Lĩnh vực").select_option(label="Chữ ký số")
    await commune.get_by_label("Từ xa", exact=True).check()
    await commune.get_by_label("Số giờ").fill("4")
    await commune.get_by_label("Hạn chót").fill(str(local_today() + dt.timedelta(days=10)))
    await shot(commune, "commune-new-request")
    await commune.get_by_role("button", name="Gửi").click()
    await commune.wait_for_selector("text=Tiến trình")
    request_path = commune.url.removeprefix(base)
    await shot(commune, "commune-request-submitted")

    staff = await signed_in(chromium, base, "sonoivu")
    await until_shown(staff, "/proposals", "Cài chữ ký số cho bộ phận một cửa")
    await shot(staff, "staff-proposals")
    await staff.locator('input[name="ids"]').first.check()
    await staff.get_by_role("button", name="Duyệt các mục đã chọn").click()
    await staff.wait_for_selector("text=Đã duyệt 1 / 1")
    await staff.goto("/contracts")
    assert "₫" in await staff.content()
    await shot(staff, "staff-contracts")
    await staff.get_by_role("link", name="c0").click()
    await staff.wait_for_selector("svg")
    await shot(staff, "staff-contract-use")

    expert = await signed_in(chromium, base, "chuyengia0")
    await shot(expert, "expert-tasks")
    await expert.get_by_role("button", name="Nhận việc").click()
    await expert.get_by_label("Số giờ").fill("2,5")
    await expert.get_by_role("button", name="Ghi giờ làm").click()
    await expert.wait_for_selector("text=Đã ghi 2,5 giờ")
    await shot(expert, "expert-hours-logged")

    await commune.goto(request_path)
    await commune.get_by_label("Đánh giá (1-5)").select_option("5")
    await commune.get_by_role("button", name="Xác nhận hoàn thành").click()
    await until_shown(commune, request_path, "Hoàn thành")
    assert await commune.locator("#status").inner_text() == "Hoàn thành"
    await shot(commune, "commune-request-done")
    await commune.get_by_role("button", name="English").click()
    assert await commune.locator("#status").inner_text() == "Completed"
    await commune.get_by_role("link", name="Notifications").click()
    await shot(commune, "commune-inbox-en")
    for path, name in (("/coverage", "staff-coverage"), ("/audit", "staff-audit"), ("/assign", "staff-assign")):
        await staff.goto(path)
        await shot(staff, name)
    assert not CSP_REFUSALS, "the pages broke their own Content-Security-Policy:\n" + "\n".join(CSP_REFUSALS)
