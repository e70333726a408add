"""Staff's CLI against running services on a real nats-server: sheets import and export,
reports as CSV, batch approval, a contract's lifecycle and the audit trail's verification."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import os
import sys
from pathlib import Path

from sqlalchemy import text

from shared import messages as m
from shared import subjects as s
from shared.clock import local_today
from tests.integration.services_harness import Stack

CLI = [sys.executable, "-m", "cli.main"]
UNITS = (
    "id,name,province,network,lat,lon\n"
    "w1,Xã Thượng Lâm,Tuyên Quang,ok,22.45,105.25\n"
    "w2,Xã Lâm Bình,Tuyên Quang,weak,22.5,105.2\n"
)
EXPERTS = (
    "id,name,home_unit,kind,skills,languages,remote,onsite,max_travel_minutes,capacity_hours\n"
    "e1,Hoàng Văn A,w2,contract,digital_signature=3,vi,yes,yes,120,40\n"
    "e2,Lý Thị B,w1,shared,digital_signature=2; office_it=3,vi; dao,yes,no,0,20\n"
)
START = local_today()
END = START + dt.timedelta(days=365)
CONTRACTS = (
    "id,expert,kind,hourly_rate_vnd,hours_cap,budget_cap_vnd,max_concurrent,start,end,scope_units,status\n"
    f"c1,e1,project,200.000,40,5.000.000,3,{START},{END},,\n"
    f"s2,e2,sharing,0,20,,2,{START},{END},w1; w2,draft\n"
)


async def cli(stack: Stack, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        *args,
        env={**os.environ, "NATS_URL": stack.url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


def sheets(folder: Path, units: str = UNITS, experts: str = EXPERTS, contracts: str = CONTRACTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in (("units", units), ("experts", experts), ("contracts", contracts)):
        (folder / f"{name}.csv").write_text(body, encoding="utf-8")
    return folder


async def test_sheets_import_all_or_nothing_and_export_the_same_format(stack: Stack, tmp_path: Path) -> None:
    bad = sheets(tmp_path / "bad", contracts=CONTRACTS.replace("w1; w2,draft", "w1; w9,draft"))
    code, _, err = await cli(stack, "sheets", "import", str(bad))
    assert code == 1, err
    assert f"{bad / 'contracts.csv'} row 3, column scope_units: unknown unit 'w9'" in err
    assert "nothing was imported" in err
    assert (await stack.ok(s.REFERENCE_GET, m.GetReference()))["units"] == []

    good = sheets(tmp_path / "good")
    code, out, err = await cli(stack, "sheets", "import", str(good))
    assert code == 0, err
    assert "imported 2 units, 2 experts, 2 contracts" in out
    statuses = {c["id"]: c["status"] for c in (await stack.status())["contracts"]["contracts"]}
    assert statuses == {"c1": "active", "s2": "draft"}

    code, out, err = await cli(stack, "sheets", "export", str(tmp_path / "out"))
    assert code == 0, err
    exported = (tmp_path / "out" / "contracts.csv").read_text(encoding="utf-8")
    assert "c1,e1,project,200000,40,0,5000000,0,3,0," in exported and ",w1; w2,draft" in exported
    code, out, err = await cli(stack, "sheets", "import", str(tmp_path / "out"))
    assert code == 0, err  # what was exported imports again unchanged
    await cli(stack, "sheets", "export", str(tmp_path / "again"))
    for name in ("units", "experts", "contracts"):
        assert (tmp_path / "again" / f"{name}.csv").read_text() == (tmp_path / "out" / f"{name}.csv").read_text()


async def test_reports_batch_approval_lifecycle_and_audit_verify(stack: Stack, tmp_path: Path) -> None:
    code, _, err = await cli(stack, "sheets", "import", str(sheets(tmp_path / "in")))
    assert code == 0, err
    await stack.until(
        lambda st: st["matcher"]["counts"]["contracts"] >= 2 and st["matcher"]["counts"]["units"] >= 2,
        what="matcher copies",
    )
    await stack.submit("r1", unit="w1")
    p = await stack.proposal("r1")
    code, out, err = await cli(stack, "approve", p["id"], "a-unknown", "--comment", "ok")
    assert code == 1 and f"{p['id']} approved: 4 h and 800.000 ₫ reserved" in out
    assert "a-unknown refused: unknown assignment 'a-unknown'" in err

    code, out, err = await cli(stack, "report", "contracts", "--csv")
    assert code == 0, err
    rows = {r["contract"]: r for r in csv.DictReader(io.StringIO(out))}
    assert (rows["c1"]["hours_reserved"], rows["c1"]["budget_left_vnd"], rows["s2"]["status"]) == (
        "4.0",
        "4200000",
        "draft",
    )
    code, out, _ = await cli(stack, "report", "units", "--json")
    assert '"covered": 1' in out

    code, out, err = await cli(stack, "contract", "suspend", "c1", "--reason", "kiểm tra")
    assert (code, out.strip()) == (0, "contract c1 is suspended"), err
    code, _, err = await cli(stack, "contract", "activate", "s2")
    assert code == 0, err

    code, out, err = await cli(stack, "contract", "activate", "s2", "--by", "Sở Nội vụ")
    assert code == 2 and "--by 'Sở Nội vụ' is not you" in err  # a name is no longer who acts

    code, out, err = await cli(stack, "audit", "verify")
    assert code == 0 and "audit trail intact" in out and "0 unsigned" in out, err
    trail = (await stack.ok(s.AUDIT_GET, m.GetAudit(subject=f"assignment:{p['id']}")))["entries"]
    sha = trail[-1]["detail"]["plan_input_sha256"]
    code, out, err = await cli(stack, "audit", "input", sha, "--out", str(tmp_path / "input.json"))
    assert code == 0 and "digest checked" in out, err
    planned = json.loads((tmp_path / "input.json").read_text(encoding="utf-8"))
    assert [r["id"] for r in planned["requests"]] == ["r1"]
    with stack.contracts.engine.begin() as c:
        c.execute(text("UPDATE audit_entry SET actor = 'someone else' WHERE action = 'approve'"))
    code, out, err = await cli(stack, "audit", "verify")
    assert code == 1 and "was edited after it was written (approve assignment:" in err
    assert "names someone else (admin) but was signed by operator (admin)" in err
