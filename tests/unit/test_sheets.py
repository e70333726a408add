"""Reading the staff's CSV sheets: every bad cell named by file, row and column."""

from __future__ import annotations

from pathlib import Path

from shared import sheets


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def test_cells_in_the_staff_formats_are_read(tmp_path: Path) -> None:
    experts = write(
        tmp_path,
        "experts.csv",
        "id,name,home_unit,kind,skills,languages,remote,onsite,max_travel_minutes,capacity_hours\n"
        'e1,Hoàng Văn A,w1,shared,digital_signature=3; office_it=2,vi; dao,có,không,90,"12,5"\n',
    )
    contracts = write(
        tmp_path,
        "contracts.csv",
        "\ufeffid,expert,kind,hourly_rate_vnd,hours_cap,budget_cap_vnd,max_concurrent,start,end,scope_units,status\n"
        "c1,e1,sharing,50.000,40,1.500.000,2,2026-01-01,2026-12-31,w1; w2,draft\n"
        "c2,e1,sharing,0,40,,2,2026-01-01,2026-12-31,,\n",
    )
    read = sheets.read({"experts": experts, "contracts": contracts})
    assert read.errors == []
    e = read.experts[0]
    assert (e.skills, e.languages, e.remote, e.onsite, e.capacity_hours) == (
        {"digital_signature": 3, "office_it": 2},
        ["vi", "dao"],
        True,
        False,
        12.5,
    )
    c1, c2 = read.contracts
    assert (c1.hourly_rate_vnd, c1.budget_cap_vnd, c1.scope_units) == (50_000, 1_500_000, ["w1", "w2"])
    assert (c2.budget_cap_vnd, c2.scope_units) == (None, None)
    assert read.contract_status == {"c1": "draft"}


def test_every_bad_cell_is_named(tmp_path: Path) -> None:
    units = write(
        tmp_path,
        "units.csv",
        "id,name,province,network,lat,lon\nw1,Xã A,Tuyên Quang,ok,22.4,105.2\nw 2,Xã B,Tuyên Quang,fast,95,105\n",
    )
    contracts = write(
        tmp_path,
        "contracts.csv",
        "id,expert,kind,hourly_rate_vnd,hours_cap,max_concurrent,start,end,status\n"
        "c1,e1,project,1.5tr,40,2,2026-01-01,2025-12-31,\n"
        "c2,e1,project,100000,40,2,2026-01-01,2026-12-31,paused\n",
    )
    read = sheets.read({"units": units, "contracts": contracts})
    assert read.units and len(read.units) == 1 and not read.contracts
    text = "\n".join(read.errors)
    assert f"{units} row 3, column id: String should match pattern" in text
    assert f"{units} row 3, column network: Input should be 'weak', 'ok' or 'good'" in text
    assert f"{units} row 3, column lat/lon" in text
    assert f"{contracts} row 2, column hourly_rate_vnd: not an amount in dong: '1.5tr'" in text
    assert f"{contracts} row 3, column status: write one of draft, active" in text


def test_a_missing_column_and_the_services_refusal_point_at_cells(tmp_path: Path) -> None:
    experts = write(tmp_path, "experts.csv", "id,name\ne1,A\n")
    read = sheets.read({"experts": experts})
    assert read.errors == [
        f"{experts} row 1: missing column(s) capacity_hours, home_unit, kind, "
        "max_travel_minutes, onsite, remote, skills"
    ]
    assert sheets.field_to_cell(read, "experts[3].home_unit") == f"{experts} row 5, column home_unit"
    assert sheets.field_to_cell(read, "by") is None


def test_written_sheets_read_back_the_same(tmp_path: Path) -> None:
    unit = {
        "id": "w1",
        "name": "Xã A",
        "province": "Tuyên Quang",
        "network": "ok",
        "location": {"lat": 22.45, "lon": 105.25},
    }
    expert = {
        "id": "e1",
        "name": "A",
        "home_unit": "w1",
        "kind": "contract",
        "skills": {"e_records": 4},
        "languages": ["vi"],
        "remote": True,
        "onsite": True,
        "max_travel_minutes": 60,
        "capacity_hours": 30.5,
        "committed_hours": 0,
    }
    contract = {
        "id": "c1",
        "expert": "e1",
        "kind": "project",
        "hourly_rate_vnd": 250_000,
        "hours_cap": 40,
        "hours_used": 2,
        "budget_cap_vnd": None,
        "budget_used_vnd": 0,
        "max_concurrent": 3,
        "active_assignments": 0,
        "start": "2026-01-01",
        "end": "2026-12-31",
        "scope_units": ["w1"],
        "status": "suspended",
    }
    sheets.write(tmp_path, {"units": [unit], "experts": [expert], "contracts": [contract]})
    read = sheets.read({k: tmp_path / f"{k}.csv" for k in ("units", "experts", "contracts")})
    assert read.errors == []
    assert read.units[0].model_dump(mode="json", by_alias=True) == unit
    assert read.experts[0].model_dump(mode="json") == expert
    assert read.contracts[0].model_dump(mode="json") == {k: v for k, v in contract.items() if k != "status"}
    assert read.contract_status == {"c1": "suspended"}
