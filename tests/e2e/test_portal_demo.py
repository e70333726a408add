"""The portal on the Tuyên Quang demo (20 communes, 30 experts and contracts, 60 requests): every
main page of every role stays under 100 KB and answers quickly with real data behind it."""

from __future__ import annotations

import time

import pytest

from cli.client import Client
from cli.load import load
from scenarios.generate import demo
from tests.e2e.portal import Browser, add_users, start_portal
from tests.e2e.system import System

pytestmark = pytest.mark.slow
PAGES = {
    "sonoivu": ["/proposals", "/contracts", "/contracts/{contract}", "/coverage", "/audit", "/assign", "/inbox"],
    "xa-thuonglam": ["/requests", "/requests/new", "/inbox"],
    "chuyengia0": ["/tasks", "/availability", "/inbox"],
}


async def test_every_main_page_under_100_kb_on_the_demo(system: System) -> None:
    sc = demo()
    await load(Client(system.nc, 30), sc, lambda *_: None)
    await system.until(lambda st: len(st["contracts"]["assignments"]) >= 20, what="the demo's proposals")
    base = await start_portal(system)
    add_users(system)
    sizes: dict[str, int] = {}
    for user, paths in PAGES.items():
        b = Browser(base)
        await b.sign_in(user)
        for path in paths:
            started = time.monotonic()
            page = await b.http.get(path.format(contract=sc.contracts[0].id))
            took = time.monotonic() - started
            assert page.status_code == 200, f"{user} {path}: {page.status_code}"
            sizes[path] = len(page.content)
            assert len(page.content) < 100_000, f"{path} is {len(page.content)} bytes"
            assert took < 5, f"{path} took {took:.1f} s"
        await b.close()
    assert sizes["/proposals"] > 5_000, "the board shows the demo's proposals"
    b = Browser(base)
    await b.sign_in("sonoivu")
    board = (await b.http.get("/proposals")).text
    await b.close()
    cards = board.count('class="card proposal"')
    assert 0 < cards <= 20, f"a page of the board holds at most 20 proposals, not {cards}"
    assert 'rel="next"' in board or cards < 20, "the rest on the next pages"
    print("page sizes (bytes):", sizes)
