"""The admin's Users page on a 360-px phone, in a real headless Chromium against the real system:
no sideways scrolling (issue 15: it was 393 px wide, a table of five columns), each user a card
with the unit or expert by name, the actions beside it; a screenshot goes to tests/e2e/screenshots/."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.e2e.flow import load_reference
from tests.e2e.portal import add_users, start_portal
from tests.e2e.system import System
from tests.e2e.test_portal_browser import chromium, shot, signed_in  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow


async def test_the_users_page_fits_a_360_px_phone(system: System, chromium: Browser) -> None:  # noqa: F811
    await load_reference(system, n_experts=2)
    base = await start_portal(system)
    add_users(system)
    page = await signed_in(chromium, base, "quantri")
    await page.set_viewport_size({"width": 360, "height": 740})
    await page.goto("/users")
    assert "Xã Thượng Lâm" in await page.content(), "the commune's unit by name"
    await page.get_by_text("Đặt lại mật khẩu").first.click()  # the reset form opened
    wide = await page.evaluate("document.documentElement.scrollWidth")
    await shot(page, "admin-users-360")
    assert wide <= 360, f"/users is {wide} px wide at 360"
