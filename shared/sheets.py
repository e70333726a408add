"""The CSV sheets staff keep of units, experts and contracts: reading them into registration
records with an error per bad cell (file, row, column), and writing them back in the same format.

Shared by the CLI (`expertshare sheets`) and the portal's upload page, so both read a sheet
the same way. The columns are documented in docs/sheets.md. Row numbers are the spreadsheet's: the header is
row 1. Lists (skills, languages, scope units) are separated by `;`; yes/no columns take
yes/no, true/false, 1/0 or có/không; money may use `.`, `,` or spaces between thousands
(1.500.000); hours may use a decimal comma (1,5). A written cell that a spreadsheet would run as a
formula is prefixed with `'` (shared.csvcells), and that prefix is taken off again on reading.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeGuard

from pydantic import BaseModel, ValidationError

from shared import messages as m
from shared.csvcells import neutral, restore
from shared.scenario import Contract, Expert, Unit

COLUMNS = {
    "units": ["id", "name", "province", "network", "lat", "lon"],
    "experts": [
        "id",
        "name",
        "home_unit",
        "kind",
        "skills",
        "languages",
        "remote",
        "onsite",
        "max_travel_minutes",
        "capacity_hours",
        "committed_hours",
    ],
    "contracts": [
        "id",
        "expert",
        "kind",
        "hourly_rate_vnd",
        "hours_cap",
        "hours_used",
        "budget_cap_vnd",
        "budget_used_vnd",
        "max_concurrent",
        "active_assignments",
        "start",
        "end",
        "scope_units",
        "status",
    ],
}
REQUIRED = {
    "units": {"id", "name", "province", "network"},
    "experts": {
        "id",
        "name",
        "home_unit",
        "kind",
        "skills",
        "remote",
        "onsite",
        "max_travel_minutes",
        "capacity_hours",
    },
    "contracts": {"id", "expert", "kind", "hourly_rate_vnd", "hours_cap", "max_concurrent", "start", "end"},
}
MODELS: dict[str, type[BaseModel]] = {"units": Unit, "experts": Expert, "contracts": Contract}
YES, NO = {"yes", "true", "1", "có", "co", "x"}, {"no", "false", "0", "không", "khong", ""}


class CellError(ValueError):
    pass


def _money(v: str) -> int | None:
    cleaned = v.replace(".", "").replace(",", "").replace(" ", "").replace("\u00a0", "")
    if not cleaned:
        return None
    if not cleaned.isdigit():
        raise CellError(f"not an amount in dong: {v!r}")
    return int(cleaned)


def _hours(v: str) -> float | None:
    return float(v.replace(",", ".")) if v.strip() else None


def _bool(v: str) -> bool:
    low = v.strip().lower()
    if low in YES or low in NO:
        return low in YES
    raise CellError(f"write yes or no, not {v!r}")


def _list(v: str) -> list[str]:
    return [x.strip() for x in v.split(";") if x.strip()]


def _skills(v: str) -> dict[str, str]:
    out = {}
    for item in _list(v):
        name, sep, level = item.partition("=")
        if not sep:
            raise CellError(f"write skill=level, e.g. digital_signature=3, not {item!r}")
        out[name.strip()] = level.strip()
    return out


CELLS: dict[str, Callable[[str], Any]] = {
    "lat": _hours,
    "lon": _hours,
    "skills": _skills,
    "languages": _list,
    "remote": _bool,
    "onsite": _bool,
    "capacity_hours": _hours,
    "committed_hours": _hours,
    "hours_cap": _hours,
    "hours_used": _hours,
    "hourly_rate_vnd": _money,
    "budget_cap_vnd": _money,
    "budget_used_vnd": _money,
    "scope_units": lambda v: _list(v) or None,
}
STATUSES = ("draft", "active", "suspended", "exhausted", "expired", "terminated")


@dataclass
class Sheets:
    units: list[Unit] = field(default_factory=list)
    experts: list[Expert] = field(default_factory=list)
    contracts: list[Contract] = field(default_factory=list)
    contract_status: dict[str, m.ContractStatus] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def where(self, kind: str, index: int, column: str) -> str:
        return f"{self.files.get(kind, kind + '.csv')} row {index + 2}, column {column}"


def read(paths: dict[str, Path]) -> Sheets:
    """Every sheet given, every error found (none means everything can be sent)."""
    out = Sheets(files={k: str(p) for k, p in paths.items()})
    for kind, path in paths.items():
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as err:
            out.errors.append(f"{path}: cannot read it ({err.strerror})")
            continue
        _read_sheet(out, kind, csv.DictReader(io.StringIO(text)))
    return out


def read_uploaded(files: dict[str, tuple[str, bytes]]) -> Sheets:
    """Like `read`, for sheets uploaded as {kind: (file name, content)}: one more error if a file
    is not UTF-8 text (a spreadsheet saved as .xlsx, say)."""
    out = Sheets(files={k: name for k, (name, _) in files.items()})
    for kind, (name, content) in files.items():
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            out.errors.append(f"{name}: not a CSV file in UTF-8 (save the sheet as CSV UTF-8)")
            continue
        _read_sheet(out, kind, csv.DictReader(io.StringIO(text)))
    return out


def message(read: Sheets, by: str) -> m.RegisterReference:
    cmd = m.RegisterReference(
        by=by, units=read.units, experts=read.experts, contracts=read.contracts, contract_status=read.contract_status
    )
    # The same sheets give the same message id: importing them twice changes nothing twice.
    digest = hashlib.sha256(
        cmd.model_dump_json(exclude={"event_id", "occurred_at", "correlation_id"}).encode()
    ).hexdigest()[:32]
    return cmd.model_copy(update={"event_id": f"sheets-{digest}"})


def _read_sheet(out: Sheets, kind: str, reader: csv.DictReader[str]) -> None:
    header = [h.strip() for h in reader.fieldnames or []]
    missing = sorted(REQUIRED[kind] - set(header))
    if missing:
        out.errors.append(f"{out.files[kind]} row 1: missing column(s) {', '.join(missing)}")
        return
    for i, raw in enumerate(reader):
        row = {(k or "").strip(): restore((v or "").strip()).strip() for k, v in raw.items() if k}
        record, bad = _record(kind, row, partial(out.where, kind, i))
        out.errors.extend(bad)
        if record is None:
            continue
        status = row.get("status", "") if kind == "contracts" else ""
        if status and status not in STATUSES:
            out.errors.append(f"{out.where(kind, i, 'status')}: write one of {', '.join(STATUSES)}, not {status!r}")
            continue
        getattr(out, kind).append(record)
        if _is_status(status):
            out.contract_status[row["id"]] = status


def _is_status(text: str) -> TypeGuard[m.ContractStatus]:
    return text in STATUSES


def _record(kind: str, row: dict[str, str], where: Callable[[str], str]) -> tuple[Any, list[str]]:
    data: dict[str, Any] = {}
    errors = []
    for col, value in row.items():
        if col not in COLUMNS[kind] or col == "status":
            continue
        try:
            parsed = CELLS[col](value) if col in CELLS else (value or None)
        except (CellError, ValueError) as err:
            errors.append(f"{where(col)}: {err}")
            continue
        if parsed is not None:
            data[col] = parsed
    if kind == "units" and ("lat" in data or "lon" in data):
        data["location"] = {"lat": data.pop("lat", None), "lon": data.pop("lon", None)}
    if kind == "contracts" and "scope_units" in row and not row["scope_units"]:
        data["scope_units"] = None
    if errors:
        return None, errors
    try:
        return MODELS[kind].model_validate(data), []
    except ValidationError as err:
        return None, [f"{where(_column(e['loc']))}: {e['msg']}" for e in err.errors()]


def _column(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "(row)"
    head = str(loc[0])
    return "lat/lon" if head == "location" else head


def write(directory: Path, data: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """units.csv, experts.csv and contracts.csv in `directory`, in the format `read` takes."""
    directory.mkdir(parents=True, exist_ok=True)
    counts = {}
    for kind, records in data.items():
        with (directory / f"{kind}.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS[kind])
            w.writerows([neutral(_cell(r, col)) for col in COLUMNS[kind]] for r in records)
        counts[kind] = len(records)
    return counts


def _cell(r: dict[str, Any], col: str) -> str:
    if col in ("lat", "lon"):
        loc = r.get("location") or {}
        return "" if loc.get(col) is None else f"{loc[col]:g}"
    v = r.get(col)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, dict):
        return "; ".join(f"{k}={x}" for k, x in v.items())
    if isinstance(v, list):
        return "; ".join(map(str, v))
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def field_to_cell(sheets: Sheets, field_name: str) -> str | None:
    """`contracts[3].scope_units` (the service's refusal) as `contracts.csv row 5, column scope_units`."""
    head, _, col = field_name.partition(".")
    kind, _, index = head.partition("[")
    if kind not in COLUMNS or not index.rstrip("]").isdigit():
        return None
    return sheets.where(kind, int(index.rstrip("]")), col.split(".")[0] or "(row)")
