"""Home-affairs staff: the shortage page (`/shortage`): uncovered demand by skill and by month as
charts, the communes on a map shaded by unmet demand, the bottlenecks (what one more expert-hour
would cover), the hiring plan for a budget typed in the page, and the same as CSV downloads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal import directory, drawings, shortage
from services.portal.auth import check_csrf
from services.portal.deps import StaffUser
from services.portal.i18n import Words
from services.portal.users import User
from services.portal.vocabulary import Said
from services.portal.web import page_language, render
from shared import messages as m
from shared.clock import local_today

router = APIRouter(include_in_schema=False)


@router.get("/shortage", response_class=HTMLResponse)
async def page(request: Request, user: StaffUser) -> Response:
    return await _page(request, user, dict(request.query_params))


@router.post("/shortage/hiring", response_class=HTMLResponse)
async def hiring(request: Request, user: StaffUser) -> Response:
    """The hiring plan for the budget of the form (a signed query: the matcher checks the role)."""
    form, budget, plan, error = await _hiring_form(request, user)
    return await _page(
        request, user, form, plan=plan, errors={"budget": error} if error else {}, status_code=422 if error else 200
    )


async def _hiring_form(request: Request, user: Any) -> tuple[dict[str, str], int | None, Any, Any]:
    """The budget form posted (CSRF checked): the form, its budget, and the plan or the error."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form)
    budget, error = shortage.budget(form.get("budget", ""))
    plan = None
    if budget is not None:
        plan, error = await shortage.hiring(request.app.state.bus, user, budget)
    return form, budget, plan, error


@router.get("/shortage/gaps.csv")
async def gaps_csv(request: Request, user: StaffUser) -> Response:
    start, end, errors = shortage.period(request.query_params)
    if errors:
        return _csv_refused(request, user, errors)
    r = await shortage.report(request.app.state.bus, start, end)
    return _csv(shortage.gaps_csv(r), f"thieu-hut-{r.from_date}-{r.to_date}.csv")


@router.post("/shortage/hiring.csv")
async def hiring_csv(request: Request, user: StaffUser) -> Response:
    _form, budget, plan, error = await _hiring_form(request, user)
    if error or plan is None:
        return _csv_refused(request, user, {"budget": error or Said("", "")})
    units = (await directory.names(request.app.state.bus))["units"]
    return _csv(shortage.plan_csv(plan, units), f"ke-hoach-tuyen-{budget}.csv")


def _csv(text: str, name: str) -> Response:
    # A byte-order mark: Excel then reads the Vietnamese as UTF-8.
    return Response(
        "\ufeff" + text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _csv_refused(request: Request, user: User, errors: dict[str, Said]) -> Response:
    t = Words(page_language(request, user))
    return Response(
        "\n".join(t.say(e) for e in errors.values()) + "\n", status_code=422, media_type="text/plain; charset=utf-8"
    )


async def _page(
    request: Request,
    user: User,
    form: dict[str, str],
    *,
    plan: m.HiringPlanView | None = None,
    errors: dict[str, Said] | None = None,
    status_code: int = 200,
) -> Response:
    bus = request.app.state.bus
    errors = dict(errors or {})
    start, end, bad = shortage.period(form)
    errors.update(bad)
    r = await shortage.report(bus, start, end)
    units = (await directory.names(bus))["units"]
    on_map, missing = shortage.places(r, units)
    return render(
        request,
        "shortage.html",
        user,
        status_code=422 if errors and status_code == 200 else status_code,
        r=r,
        form=form,
        errors=errors,
        plan=plan,
        units=units,
        missing=missing,
        shown=shortage.SHOWN,
        start=r.from_date,
        end=r.to_date,
        open_too=bool(r.to_date and r.to_date >= local_today()),
        rule_gain=_rule_gain(plan),
        **_drawings(r, on_map, Words(page_language(request, user))),
    )


def _drawings(r: m.GapsReport, on_map: list[dict[str, Any]], t: Words) -> dict[str, str]:
    """The page's pictures: uncovered weight by skill and by month as bars, the communes on a map
    (each place's hover text in the reader's language)."""
    for p in on_map:
        p["text"] = f"{t('uncovered_weight')} {p['weight']}, {p['requests']} {t('requests_word')}"
    skills = [
        (t.skill(row.key.split("=")[0]) + f" {row.key.split('=')[-1]}", row.uncovered_weight)
        for row in r.by_skill
        if row.uncovered_weight
    ][: shortage.CHART_ROWS]
    months = [(_month(row.key), row.uncovered_weight) for row in r.by_month]
    return {
        "skill_chart": drawings.bars(
            skills, x_title=t("uncovered_weight"), y_title=t("skill_level"), title=t("chart_by_skill"), ident="by-skill"
        ),
        "month_chart": drawings.bars(
            months, x_title=t("uncovered_weight"), y_title=t("month"), title=t("chart_by_month"), ident="by-month"
        ),
        "map_svg": drawings.commune_map(on_map, title=t("map_title"), legend_words=(t("map_legend"), t("map_none"))),
    }


def _rule_gain(plan: m.HiringPlanView | None) -> int | None:
    """What the optimised hiring plan covers beyond the simple rule's (None without both)."""
    if plan is None or plan.simple_rule is None:
        return None
    return plan.covered_weight_after - plan.simple_rule.covered_weight_after


def _month(key: str) -> str:
    year, _, month = key.partition("-")
    return f"{month}/{year}" if month else key
