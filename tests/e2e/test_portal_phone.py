"""Issue 15 in a real headless Chromium: every page of every role on a 360-px phone and on a
desktop. No page scrolls sideways on the phone (document scrollWidth <= 360), axe-core finds no
serious or critical fault on any page, every page is compressed and under 100 KB, and each is
photographed into var/screenshots/ (`make test` prints the folder) for a reviewer to look at.

axe-core comes from npm into var/cache/axe (`make axe`, a prerequisite of `make test`; the test
installs it itself when it is missing and npm is there).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page
from sqlmodel import Session

from cli.client import Client
from cli.load import load
from scenarios.generate import demo
from services.portal import users
from shared import messages as m
from shared import subjects as s
from shared.clock import local_today
from shared.db import make_engine
from tests.e2e import flow, portal
from tests.e2e.system import System
from tests.e2e.test_portal_browser import CSP_REFUSALS, chromium, signed_in  # noqa: F401 - the fixture
from tests.e2e.test_portal_pages import english_in, until

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"
AXE_DIR = ROOT / "var" / "cache" / "axe"
AXE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"phone": (360, 740), "desktop": (1280, 900)}
DEADLINE = str(local_today() + dt.timedelta(days=10))
PAGES = {
    "xa-thuonglam": [
        "/requests",
        "/requests/new",
        "/requests/{rid}",
        "/requests/{lost}",
        "/inbox",
        "/account",
        "/khong-co",
    ],
    "sonoivu": [
        "/proposals",
        "/proposals?request_id={waiting}",
        "/assign",
        "/sheets",
        "/contracts",
        "/contracts/{contract}",
        "/coverage",
        "/shortage",
        "/audit",
        "/inbox",
        "/account",
    ],
    "chuyengia-demo": ["/tasks", "/availability", "/inbox", "/account"],
    "quantri": ["/users", "/account"],
}


def axe_source() -> str:
    if not AXE.exists() and shutil.which("npm"):
        AXE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(AXE_DIR), "axe-core@4"],
            check=True,
            timeout=300,
        )
    assert AXE.exists(), f"axe-core is needed at {AXE}: `make axe` (npm install axe-core)"
    return AXE.read_text()


async def _data(system: System, base: str) -> dict[str, str]:
    """Beside the demo's work: a request done end to end, one unmatched, one proposal waiting."""
    commune, staff, expert = portal.Browser(base), portal.Browser(base), portal.Browser(base)
    try:
        for b, name in ((commune, "xa-thuonglam"), (staff, "sonoivu")):
            await b.sign_in(name)

        async def submit(title: str, skill: str) -> str:
            sent = await commune.submit(
                "/requests/new",
                "/requests",
                {
                    "title": title,
                    "skill": skill,
                    "level": "2",
                    "mode": "remote",
                    "hours": "2,5",
                    "priority": "4",
                    "deadline": DEADLINE,
                },
            )
            return sent.url.path.rsplit("/", 1)[1]

        async def waiting() -> str | None:
            found = re.search(r'name="approve_one" value="([^"]+)"', (await staff.http.get("/proposals")).text)
            return found.group(1) if found else None

        rid = await submit(
            "Cài chữ ký số cho bộ phận một cửa của xã, kèm hướng dẫn cán bộ sử dụng", "digital_signature"
        )
        aid = await until(lambda: _proposal_of(staff, rid), "the request's proposal", timeout=90)
        await staff.submit("/proposals", "/proposals/decide", {"approve_one": aid})
        owner = next(a for a in (await system.status())["contracts"]["assignments"] if a["id"] == aid)
        await expert.sign_in(_expert_user(system, owner["expert_id"]))
        await expert.submit("/tasks", f"/tasks/{aid}/accept", {})
        await expert.submit("/tasks", f"/tasks/{aid}/hours", {"hours": "7,5"})
        await commune.submit(f"/requests/{rid}", f"/requests/{rid}/complete", {"rating": "5"})
        lost = await submit("Phân tích số liệu dân cư", "data_analysis")
        second = await submit("Cài phần mềm một cửa lần hai", "digital_signature")
        await until(waiting, "a second proposal")
        return {"rid": rid, "lost": lost, "waiting": second, "contract": owner["contract_id"]}
    finally:
        for b in (commune, staff, expert):
            await b.close()


async def _proposal_of(staff: portal.Browser, rid: str) -> str | None:
    page = (await staff.http.get("/proposals", params={"request_id": rid})).text
    found = re.search(r'name="approve_one" value="([^"]+)"', page)
    return found.group(1) if found else None


def _expert_user(system: System, expert_id: str) -> str:
    """A portal user for the demo's expert who got the work (the fixed users know e0 and e1 only)."""
    engine = make_engine(f"sqlite:///{system.var / 'portal.db'}")
    with Session(engine) as session:
        if session.get(users.User, "chuyengia-demo") is None:
            users.create_user(
                session,
                username="chuyengia-demo",
                password=portal.PASSWORD,
                role="expert",
                expert_id=expert_id,
                display_name="Chuyên gia của yêu cầu",
            )
    engine.dispose()
    return "chuyengia-demo"


async def _hiring_result(
    page: Page,
    axe: str,
    wide: dict,
    faults: dict,
    foreign: dict,  # type: ignore[type-arg]
    measured: dict,
) -> None:  # type: ignore[type-arg]
    """The shortage page with a hiring plan for 50 million dong, on the phone."""
    await page.set_viewport_size({"width": SIZES["phone"][0], "height": SIZES["phone"][1]})
    await page.goto("/shortage")
    await page.get_by_label("Kinh phí (đồng)").fill("50.000.000")
    async with page.expect_navigation(timeout=120_000):
        await page.get_by_role("button", name="Lập kế hoạch").click()
    content = await page.content()
    assert 'id="plan-summary"' in content, "the plan is shown"
    width = await page.evaluate("document.documentElement.scrollWidth")
    measured["sonoivu /shortage/hiring (phone)"] = (
        width,
        await page.evaluate("document.documentElement.scrollHeight"),
        len(content.encode()),
    )
    if width > SIZES["phone"][0]:
        wide["sonoivu /shortage/hiring"] = width
    if english := english_in(content):
        foreign["sonoivu /shortage/hiring"] = english
    await page.screenshot(path=str(SHOTS / "sonoivu-shortage-hiring-phone.png"), full_page=True)
    await page.evaluate(axe)
    found = await page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']}))
        .violations.filter(v => ['serious', 'critical'].includes(v.impact))
        .map(v => v.id + ': ' + v.nodes.slice(0, 2).map(n => n.target.join(' ')).join(', '))""")
    if found:
        faults["sonoivu /shortage/hiring (phone)"] = found


async def test_every_page_on_a_phone_and_a_desktop(system: System, chromium: Browser) -> None:  # noqa: F811
    axe = axe_source()
    await load(Client(system.nc, 30), demo(), lambda *_: None)  # Tuyên Quang: 20 communes, 60 requests
    await system.until(lambda st: len(st["contracts"]["assignments"]) >= 20, what="the demo's proposals")
    # The portal's test communes (w2269, w2266) and an expert of theirs, beside the demo's.
    await system.ok(
        s.REFERENCE_REGISTER,
        m.RegisterReference(units=flow.UNITS, experts=[flow.expert(900)], contracts=[flow.contract(900)]),
    )
    await system.until(lambda st: st["matcher"]["counts"]["contracts"] >= 31, what="the matcher's copies")
    base = await portal.start_portal(system)
    portal.add_users(system)
    ids = await _data(system, base)
    SHOTS.mkdir(parents=True, exist_ok=True)
    wide, faults, heavy, measured, foreign = {}, {}, {}, {}, {}
    for user, paths in PAGES.items():
        page = await signed_in(chromium, base, user)
        for path in paths:
            for size, (w, h) in SIZES.items():
                await page.set_viewport_size({"width": w, "height": h})
                answer = await page.goto(path.format(**ids))
                assert answer is not None and answer.status == (404 if path == "/khong-co" else 200), (
                    f"{user} {path}: {answer and answer.status}"
                )
                body = await answer.body()
                packed = answer.headers.get("content-encoding") == "gzip" or len(body) < 1000  # tiny: as is
                if len(body) >= 100_000 or not packed:
                    heavy[f"{user} {path}"] = (len(body), answer.headers.get("content-encoding"))
                if size == "phone" and (english := english_in(await page.content())):
                    foreign[f"{user} {path}"] = english
                width = await page.evaluate("document.documentElement.scrollWidth")
                height = await page.evaluate("document.documentElement.scrollHeight")
                measured[f"{user} {path} ({size})"] = (width, height, len(body))
                if size == "phone" and width > w:
                    wide[f"{user} {path}"] = width
                name = re.sub(r"[^a-z0-9]+", "-", f"{user}-{path}".lower()).strip("-")
                await page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True)
                await page.evaluate(axe)
                found = await page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']}))
                    .violations.filter(v => ['serious', 'critical'].includes(v.impact))
                    .map(v => v.id + ': ' + v.nodes.slice(0, 2).map(n => n.target.join(' ')).join(', '))""")
                if found:
                    faults[f"{user} {path} ({size})"] = found
        if user == "sonoivu":  # the hiring plan's answer is a page of its own (a form's result)
            await _hiring_result(page, axe, wide, faults, foreign, measured)
        await page.context.close()
    print(f"screenshots: {SHOTS}")
    for where, (width, height, size) in measured.items():
        print(f"{where}: {width} x {height} px, {size} bytes")
    assert not wide, f"pages wider than a 360-px phone: {wide}"
    assert not faults, f"axe-core's serious or critical findings: {faults}"
    assert not heavy, f"pages over 100 KB or not compressed: {heavy}"
    assert not foreign, f"English on the demo's Vietnamese pages: {foreign}"
    assert not CSP_REFUSALS, "the pages broke their own Content-Security-Policy:\n" + "\n".join(CSP_REFUSALS)
