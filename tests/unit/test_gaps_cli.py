"""`expertshare gaps SCENARIO.json` as staff type it: the report in Vietnamese (English with
--lang en), as JSON and CSV that add up, and bad input refused before anything is sent (exit 2)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from shared import messages as m

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example-small.json"
runner = CliRunner()


def test_json_report_of_a_scenario_counts_every_request() -> None:
    out = runner.invoke(app, ["gaps", str(EXAMPLE), "--json", "--time-limit", "3"])
    assert out.exit_code == 0, out.output
    report = m.GapsReport.model_validate_json(out.stdout)
    n = len(json.loads(EXAMPLE.read_text(encoding="utf-8"))["requests"])
    assert report.source == "scenario" and report.total.requests == n
    assert report.total.covered_requests + report.total.uncovered_requests == n
    assert report.bottlenecks and report.values == "lp_duals"


def test_the_bottleneck_table_in_plain_vietnamese_and_in_english() -> None:
    vi = runner.invoke(app, ["gaps", str(EXAMPLE), "--time-limit", "3"])
    assert vi.exit_code == 0, vi.output
    assert "Nút thắt: 1 giờ chuyên gia thêm" in vi.stdout
    # e.g. "An toàn thông tin, mức 1, Xã Thượng Lâm (Tuyên Quang): 1 giờ thêm = +4 (tới 4 giờ, 1 yêu cầu)"
    line = next(x for x in vi.stdout.splitlines() if "1 giờ thêm = +" in x)
    assert ", mức " in line and "Xã " in line
    assert "Chưa đáp ứng:" in vi.stdout and "Theo kỹ năng và mức" in vi.stdout
    en = runner.invoke(app, ["gaps", str(EXAMPLE), "--lang", "en", "--time-limit", "3"])
    assert en.exit_code == 0, en.output
    assert "1 more hour = +" in en.stdout and ", level " in en.stdout and "giờ" not in en.stdout


def test_csv_sections_add_up_to_the_total() -> None:
    out = runner.invoke(app, ["gaps", str(EXAMPLE), "--csv", "--time-limit", "3"])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    total = next(r for r in rows if r["section"] == "total")
    for section in ("by_skill", "by_unit", "by_province", "by_month"):
        part = [r for r in rows if r["section"] == section]
        assert sum(int(r["requests"]) for r in part) == int(total["requests"])
        assert sum(int(r["uncovered_weight"]) for r in part) == int(total["uncovered_weight"])
    assert any(r["section"] == "bottleneck" and float(r["value_per_hour"]) > 0 for r in rows)


def test_bad_input_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    cases = [
        (["gaps", "--from", "2026-12-01", "--to", "2026-11-01"], "to_date 2026-11-01 is before from_date"),
        (["gaps", "--from", "2025-01-01", "--to", "2026-11-01"], "at most 366 days"),
        (["gaps", "--from", "1 Dec"], "--from: not a date (YYYY-MM-DD)"),
        (["gaps", str(EXAMPLE), "--lang", "fr"], "--lang: vi or en"),
        (["gaps", str(EXAMPLE), "--json", "--csv"], "--json or --csv, not both"),
        (["gaps", str(EXAMPLE), "--from", "2026-11-01"], "a scenario is its own period"),
        (["gaps", str(tmp_path / "none.json")], "no such file"),
    ]
    for args, said in cases:
        out = runner.invoke(app, args)
        assert out.exit_code == 2, (args, out.output)
        assert said in out.stderr, (args, out.stderr)
