"""`expertshare gaps`: the shortage, measured, and what one more hour is worth.

From the live system (`matcher.gaps.get` and `contracts.gaps.get`, merged) or, given a scenario
file, from the engine run here on it (no running system needed). Plain Vietnamese by default,
English with `--lang en`; `--json` for programs, `--csv` for spreadsheets (one table, a
`section` column telling the breakdowns apart). See docs/shortage.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from cli.client import Client, dumps
from shared import endpoints as E
from shared import messages as m
from shared.clock import local_today

WORDS: dict[str, dict[str, str]] = {
    "period": {"vi": "Thiếu hụt từ {a} đến {b}", "en": "Shortage from {a} to {b}"},
    "open_too": {"vi": " (và mọi yêu cầu còn mở)", "en": " (and every request still open)"},
    "scenario": {
        "vi": "Thiếu hụt của kịch bản {name} (kế hoạch của bộ giải)",
        "en": "Shortage of scenario {name} (the engine's plan)",
    },
    "totals": {
        "vi": "Yêu cầu: {n} (đã hủy {c}). Chưa đáp ứng: {un} yêu cầu, {uh} giờ, trọng số {uw} trên {w}.",
        "en": "Requests: {n} ({c} cancelled). Uncovered: {un} requests, {uh} hours, weight {uw} of {w}.",
    },
    "by_skill": {"vi": "Theo kỹ năng và mức", "en": "By skill and level"},
    "by_unit": {"vi": "Theo xã (chưa đáp ứng nhiều nhất trước)", "en": "By commune (most uncovered first)"},
    "by_province": {"vi": "Theo tỉnh", "en": "By province"},
    "by_month": {"vi": "Theo tháng", "en": "By month"},
    "row": {
        "vi": "  {label}: {n} yêu cầu, {h} giờ; chưa đáp ứng {un} yêu cầu, {uh} giờ, trọng số {uw}",
        "en": "  {label}: {n} requests, {h} hours; uncovered {un} requests, {uh} hours, weight {uw}",
    },
    "covered_by": {"vi": "Đã đáp ứng bằng", "en": "Covered by"},
    "mode": {"vi": "hình thức", "en": "mode"},
    "expert_kind": {"vi": "loại chuyên gia", "en": "expert kind"},
    "contract_kind": {"vi": "loại hợp đồng", "en": "contract kind"},
    "remote": {"vi": "từ xa", "en": "remote"},
    "onsite": {"vi": "tại chỗ", "en": "on site"},
    "community": {"vi": "thành viên tổ công nghệ số cộng đồng", "en": "community members"},
    "shared": {"vi": "chuyên gia dùng chung", "en": "shared experts"},
    "contract": {"vi": "chuyên gia theo hợp đồng", "en": "contracted experts"},
    "sharing": {"vi": "hợp đồng chia sẻ", "en": "sharing contracts"},
    "project": {"vi": "hợp đồng dự án", "en": "project contracts"},
    "cover": {"vi": "  {what}: {n} phân công, {h} giờ", "en": "  {what}: {n} assignments, {h} hours"},
    "learnt": {
        "vi": "Học qua làm việc: thành viên tổ cộng đồng làm học viên bên chuyên gia",
        "en": "Learnt by doing: community members as trainees beside the experts",
    },
    "learnt_row": {
        "vi": "  {skill}, {unit}: {p} người, {n} phân công, {h} giờ",
        "en": "  {skill}, {unit}: {p} people, {n} assignments, {h} hours",
    },
    "no_learnt": {"vi": "  chưa có", "en": "  none yet"},
    "approval": {
        "vi": "Từ yêu cầu đến phê duyệt: {n} yêu cầu, trung vị {med} giờ, 90% trong {p90} giờ, lâu nhất {mx} giờ",
        "en": "From request to approval: {n} requests, median {med} h, 90% within {p90} h, longest {mx} h",
    },
    "no_approval": {
        "vi": "Từ yêu cầu đến phê duyệt: chưa có phê duyệt nào trong kỳ",
        "en": "From request to approval: no approval in the period",
    },
    "experts": {
        "vi": "Chuyên gia (giờ thêm có giá trị nhất, rồi bận nhất)",
        "en": "Experts (most valuable extra hour, then busiest)",
    },
    "contracts": {"vi": "Hợp đồng (dùng nhiều nhất)", "en": "Contracts (most used)"},
    "use": {
        "vi": "  {id} {name}: {n} phân công, đã dùng {u} / {cap} giờ ({pct}){value}",
        "en": "  {id} {name}: {n} assignments, used {u} / {cap} h ({pct}){value}",
    },
    "use_value": {"vi": "; 1 giờ thêm = +{v}", "en": "; 1 more hour = +{v}"},
    "bottlenecks": {
        "vi": "Nút thắt: 1 giờ chuyên gia thêm đem lại bao nhiêu trọng số được đáp ứng",
        "en": "Bottlenecks: the covered weight one more expert-hour would bring",
    },
    "bottleneck": {
        "vi": "  {skill}, {unit} ({province}): 1 giờ thêm = +{v} (tới {h} giờ, {n} yêu cầu{remote})",
        "en": "  {skill}, {unit} ({province}): 1 more hour = +{v} (up to {h} h, {n} requests{remote})",
    },
    "remote_ok": {"vi": "; làm từ xa được", "en": "; can be done remotely"},
    "no_bottleneck": {
        "vi": "  không có: một giờ thêm không đáp ứng thêm được gì",
        "en": "  none: one more hour would cover nothing more",
    },
    "no_values": {"vi": "  (không tính: {why})", "en": "  (not computed: {why})"},
    "more": {
        "vi": "  … và {n} dòng nữa (--json hoặc --csv để xem hết)",
        "en": "  … and {n} more rows (--json or --csv for all)",
    },
}
SHOWN = 10  # rows per section on the terminal


def number(v: float | None, lang: str) -> str:
    """0.8 -> '0,8' in Vietnamese, '0.8' in English; at most two decimals."""
    if v is None:
        return "-"
    text = f"{v:,.2f}".rstrip("0").rstrip(".")
    if lang == "vi":
        text = text.replace(",", " ").replace(".", ",").replace(" ", ".")
    return text


def say(key: str, lang: str, **values: Any) -> str:
    return WORDS[key][lang].format(**values)


def merged(report: m.GapsReport, ledger: m.GapsReport) -> m.GapsReport:
    """The matcher's report with the ledger's part: approval times, and each contract's use in the
    period with the matcher's value of one more hour of it."""
    value = {c.id: c.hour_value for c in report.contracts}
    rows = [c.model_copy(update={"hour_value": value.get(c.id)}) for c in ledger.contracts]
    rows.sort(key=lambda x: (-(x.hour_value or 0), -(x.used_pct or 0), x.id))
    return report.model_copy(update={"approval": ledger.approval, "contracts": rows})


def print_report(r: m.GapsReport, lang: str, title: str, out: Callable[[str], None] = typer.echo) -> None:
    n = lambda v: number(v, lang)  # noqa: E731
    out(title)
    t = r.total
    out(
        say(
            "totals",
            lang,
            n=r.requests,
            c=r.cancelled,
            un=t.uncovered_requests,
            uh=n(t.uncovered_hours),
            uw=t.uncovered_weight,
            w=t.weight,
        )
    )
    for section in ("by_skill", "by_unit", "by_province", "by_month"):
        rows: list[m.GapRow] = getattr(r, section)
        out("")
        out(say(section, lang))
        for row in rows[:SHOWN]:
            label = row.label or row.key
            if section == "by_skill" and lang == "en":
                label = _skill_en(row.key, label)
            out(
                say(
                    "row",
                    lang,
                    label=label,
                    n=row.requests,
                    h=n(row.hours),
                    un=row.uncovered_requests,
                    uh=n(row.uncovered_hours),
                    uw=row.uncovered_weight,
                )
            )
        if len(rows) > SHOWN:
            out(say("more", lang, n=len(rows) - SHOWN))
    out("")
    out(say("covered_by", lang))
    for c in r.covered_by:
        what = f"{WORDS[c.by][lang]}: {WORDS.get(c.key, {}).get(lang, c.key)}"
        out(say("cover", lang, what=what, n=c.assignments, h=n(c.hours)))
    out("")
    out(say("learnt", lang))
    if not r.learnt:
        out(say("no_learnt", lang))
    for x in r.learnt[:SHOWN]:
        skill = x.skill_label if lang == "vi" else _skill_en(f"{x.skill}={x.level}", x.skill_label)
        out(
            say(
                "learnt_row", lang, skill=skill, unit=x.unit_name or x.unit, p=x.trainees, n=x.assignments, h=n(x.hours)
            )
        )
    if len(r.learnt) > SHOWN:
        out(say("more", lang, n=len(r.learnt) - SHOWN))
    if r.source == "live":
        out("")
        a = r.approval
        out(
            say("approval", lang, n=a.approved, med=n(a.median_hours), p90=n(a.p90_hours), mx=n(a.max_hours))
            if a and a.approved
            else say("no_approval", lang)
        )
    for section, rows_ in (("experts", r.experts), ("contracts", r.contracts)):
        out("")
        out(say(section, lang))
        for u in rows_[:SHOWN]:
            value = say("use_value", lang, v=n(u.hour_value)) if u.hour_value else ""
            pct = f"{n(u.used_pct)}%" if u.used_pct is not None else "-"
            out(
                say(
                    "use",
                    lang,
                    id=u.id,
                    name=u.name,
                    n=u.assignments,
                    u=n(u.used_hours),
                    cap=n(u.cap_hours),
                    pct=pct,
                    value=value,
                )
            )
        if len(rows_) > SHOWN:
            out(say("more", lang, n=len(rows_) - SHOWN))
    out("")
    out(say("bottlenecks", lang))
    if r.values != "lp_duals":
        out(say("no_values", lang, why=r.values))
    elif not r.bottlenecks:
        out(say("no_bottleneck", lang))
    for b in r.bottlenecks[:SHOWN]:
        skill = b.skill_label if lang == "vi" else _skill_en(f"{b.skill}={b.level}", b.skill_label)
        out(
            say(
                "bottleneck",
                lang,
                skill=skill,
                unit=b.unit_name or b.unit,
                province=b.province,
                v=n(b.value_per_hour),
                h=n(b.hours),
                n=b.requests,
                remote=say("remote_ok", lang) if b.remote_ok else "",
            )
        )
    if len(r.bottlenecks) > SHOWN:
        out(say("more", lang, n=len(r.bottlenecks) - SHOWN))


def _skill_en(key: str, label: str) -> str:
    from services.matcher.solver.shortage import skill_label

    skill, _, level = key.partition("=")
    return skill_label(skill, int(level or 0), "en") if skill else label


CSV_COLUMNS = (
    "section",
    "key",
    "label",
    "requests",
    "hours",
    "weight",
    "covered_requests",
    "covered_hours",
    "covered_weight",
    "uncovered_requests",
    "uncovered_hours",
    "uncovered_weight",
    "by",
    "assignments",
    "name",
    "kind",
    "used_hours",
    "cap_hours",
    "used_pct",
    "budget_used_vnd",
    "budget_cap_vnd",
    "hour_value",
    "skill",
    "level",
    "unit",
    "province",
    "value_per_hour",
    "remote_ok",
    "trainees",
)


def write_csv(r: m.GapsReport, stream: Any) -> None:
    """One table: a row per breakdown line, cover, expert, contract and bottleneck (`section`)."""
    from shared.csvcells import neutral

    w = csv.DictWriter(stream, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()

    def put(section: str, row: Any, **extra: Any) -> None:
        data = {**row.model_dump(mode="json"), **extra, "section": section}
        w.writerow({k: neutral(v) for k, v in data.items() if v is not None})

    put("total", r.total)
    for section in ("by_skill", "by_unit", "by_province", "by_month"):
        for row in getattr(r, section):
            put(section, row)
    for c in r.covered_by:
        put("covered_by", c)
    for x in r.learnt:
        put("learnt", x, key=f"{x.skill}={x.level}@{x.unit}", label=x.skill_label, name=x.unit_name)
    for section in ("experts", "contracts"):
        for u in getattr(r, section):
            put(section, u, key=u.id)
    for b in r.bottlenecks:
        put(
            "bottleneck",
            b,
            key=f"{b.skill}={b.level}@{b.unit}",
            label=b.skill_label,
            name=b.unit_name,
            hours=b.hours,
            requests=b.requests,
        )


def _date(value: str | None, what: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        typer.echo(f"error: {what}: not a date (YYYY-MM-DD): {value!r}", err=True)
        raise typer.Exit(2) from None


def register(app: typer.Typer, *, call: Callable[..., Any]) -> None:
    @app.command()
    def gaps(
        scenario: Path | None = typer.Argument(None, help="A scenario file: solve it here and report on its plan."),
        from_: str | None = typer.Option(None, "--from", help="First day, YYYY-MM-DD (default: 90 days before --to)."),
        to: str | None = typer.Option(None, "--to", help="Last day, YYYY-MM-DD (default: today)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON (the GapsReport)."),
        as_csv: bool = typer.Option(False, "--csv", help="Print CSV, one row per line of every section."),
        lang: str = typer.Option("vi", "--lang", help="vi (default) or en."),
        values: bool = typer.Option(True, "--values/--no-values", help="The value of one more hour (an LP solve)."),
        time_limit: float = typer.Option(10.0, help="With a scenario: seconds the solver may use."),
    ) -> None:
        """Staff: the shortage of a period (demand and uncovered demand by skill, commune, province and
        month, how it was covered, time to approval, each expert's and contract's use) and the
        bottlenecks: what one more expert-hour would cover, by skill, level and commune."""
        if lang not in ("vi", "en"):
            typer.echo(f"error: --lang: vi or en, got {lang!r}", err=True)
            raise typer.Exit(2)
        if as_json and as_csv:
            typer.echo("error: --json or --csv, not both", err=True)
            raise typer.Exit(2)
        start, end = _date(from_, "--from"), _date(to, "--to")
        try:
            q = m.GetGaps(from_date=start, to_date=end, with_values=values)
        except ValidationError as err:
            typer.echo(f"error: {err.errors()[0]['msg'].removeprefix('Value error, ')}", err=True)
            raise typer.Exit(2) from None
        if scenario is not None:
            if start or end:
                typer.echo("error: --from and --to are for the live system; a scenario is its own period", err=True)
                raise typer.Exit(2)
            report, title = _from_scenario(scenario, values, time_limit), say("scenario", lang, name=scenario.name)
        else:

            async def work(client: Client) -> m.GapsReport:
                return merged(
                    await client.ask(E.GAPS, q, timeout=120), await client.ask(E.CONTRACTS_GAPS, q, timeout=60)
                )

            report = call(work)
            title = say("period", lang, a=report.from_date, b=report.to_date)
            if report.to_date and report.to_date >= local_today():
                title += say("open_too", lang)
        if as_json:
            typer.echo(dumps(report.model_dump(mode="json")))
        elif as_csv:
            write_csv(report, sys.stdout)
        else:
            print_report(report, lang, title)


def _from_scenario(path: Path, values: bool, time_limit: float) -> m.GapsReport:
    from cli.solve_commands import _scenario
    from services.matcher.solver import solve
    from services.matcher.solver.shortage import from_plan
    from services.matcher.solver.value import hour_values

    sc = _scenario(path)
    plan = solve(sc, time_limit_s=time_limit)
    return from_plan(sc, plan, hour_values(sc) if values else None)
