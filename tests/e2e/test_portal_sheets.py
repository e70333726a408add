"""Staff import units, experts and contracts by uploading the CSV sheets on the portal, against the real
system: a bad sheet lists every bad row and column beside the form and sends nothing; a refusal
by the contracts service names the cell; a good sheet is registered and counted."""

from __future__ import annotations

import datetime as dt

import pytest

from shared import messages as m
from shared import subjects as s
from shared.clock import local_today
from tests.e2e.flow import load_reference
from tests.e2e.portal import Browser, add_users, csrf_of, start_portal
from tests.e2e.system import System

pytestmark = pytest.mark.slow
END = local_today() + dt.timedelta(days=365)
EXPERTS = (
    "id,name,home_unit,kind,skills,languages,remote,onsite,max_travel_minutes,capacity_hours\n"
    "e7,Hoàng Văn Bảy,w2269,contract,digital_signature=3,vi,yes,yes,120,40\n"
)
CONTRACTS = (
    "id,expert,kind,hourly_rate_vnd,hours_cap,budget_cap_vnd,max_concurrent,start,end,scope_units,status\n"
    f"c7,e7,project,200.000,40,5.000.000,3,{local_today()},{END},w2269; w2266,\n"
)


async def _upload(staff: Browser, experts: str, contracts: str):  # type: ignore[no-untyped-def]
    page = await staff.http.get("/sheets")
    assert page.status_code == 200
    files = {
        "experts": ("experts.csv", experts.encode(), "text/csv"),
        "contracts": ("contracts.csv", contracts.encode(), "text/csv"),
    }
    return await staff.http.post("/sheets", data={"csrf": csrf_of(page.text)}, files=files)


async def _expert_ids(system: System) -> set[str]:
    return {e["id"] for e in (await system.ok(s.REFERENCE_GET, m.GetReference()))["experts"]}


async def test_staff_upload_sheets_all_or_nothing(system: System) -> None:
    await load_reference(system, n_experts=2)
    base = await start_portal(system)
    add_users(system)
    staff, commune = Browser(base), Browser(base)
    try:
        assert (await staff.sign_in("sonoivu")).status_code == 200
        assert (await commune.sign_in("xa-thuonglam")).status_code == 200
        assert (await commune.http.get("/sheets")).status_code == 403

        no_token = await staff.http.post("/sheets", files={"experts": ("experts.csv", EXPERTS.encode())})
        assert no_token.status_code == 403

        bad = await _upload(
            staff,
            EXPERTS.replace(",yes,yes,120", ",maybe,yes,120"),
            CONTRACTS.replace(",40,5.000.000", ",bốn mươi,5.000.000"),
        )
        assert bad.status_code == 422
        assert "experts.csv dòng 2, cột remote: ghi yes hoặc no, không phải &#39;maybe&#39;" in bad.text
        assert "contracts.csv dòng 2, cột hours_cap" in bad.text
        assert "Chưa nhập gì" in bad.text and "e7" not in await _expert_ids(system)

        refused = await _upload(staff, EXPERTS, CONTRACTS.replace("w2269; w2266", "w2269; w9"))
        assert refused.status_code == 422
        assert "contracts.csv dòng 2, cột scope_units: không có đơn vị &#39;w9&#39;" in refused.text, refused.text
        assert "e7" not in await _expert_ids(system), "a refused registration registers no expert either"

        good = await _upload(staff, EXPERTS, CONTRACTS)
        assert good.status_code == 200, good.text
        assert "Đã nhập: 0 đơn vị, 1 chuyên gia, 1 hợp đồng" in good.text
        assert "e7" in await _expert_ids(system)
        statuses = {c["id"]: c["status"] for c in (await system.status())["contracts"]["contracts"]}
        assert statuses.get("c7") == "active"

        # A new commune, an expert living there and a contract covering it, in one upload.
        page = await staff.http.get("/sheets")
        units = "id,name,province,network,lat,lon\nw9901,Xã Mới,Tuyên Quang,weak,22.1,105.2\n"
        files = {
            "units": ("units.csv", units.encode(), "text/csv"),
            "experts": ("experts.csv", EXPERTS.replace("e7,", "e8,").replace("w2269", "w9901").encode()),
            "contracts": (
                "contracts.csv",
                CONTRACTS.replace("c7,e7", "c8,e8").replace("w2269; w2266", "w9901").encode(),
            ),
        }
        bad_unit = {**files, "units": ("units.csv", units.replace("weak", "patchy").encode(), "text/csv")}
        refused = await staff.http.post("/sheets", data={"csrf": csrf_of(page.text)}, files=bad_unit)
        assert refused.status_code == 422 and "units.csv dòng 2, cột network" in refused.text
        assert "e8" not in await _expert_ids(system), "nothing of a refused upload is kept"
        together = await staff.http.post("/sheets", data={"csrf": csrf_of(page.text)}, files=files)
        assert together.status_code == 200 and "Đã nhập: 1 đơn vị, 1 chuyên gia, 1 hợp đồng" in together.text
        units_now = {u["id"] for u in (await system.ok(s.REFERENCE_GET, m.GetReference()))["units"]}
        assert "w9901" in units_now and "e8" in await _expert_ids(system)
    finally:
        await staff.close()
        await commune.close()
