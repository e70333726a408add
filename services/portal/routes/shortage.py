"""Home-affairs staff: the shortage page (`/shortage`): uncovered demand by skill and by month as
charts, the communes on a map shaded by unmet demand, the bottlenecks (what one more expert-hour
would cover), the hiring plan for a budget typed in the page, and the same as CSV downloads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal import directory, drawings, shortage
from services.portal.auth import check_csrf, page_user
from services.portal.i18n import Words
from services.portal.users import User
from services.portal.vocabulary import Said
from services.portal.web import page_language, render
from shared.clock import local_today

router = APIRouter(include_in_schema=False)


@router.get("/shortage", response_class=HTMLResponse)
async def page(request: Request) -> Response:
    user = page_user(request, "staff")
    return await _page(request, user, dict(request.query_params))


@router.post("/shortage/hiring", response_class=HTMLResponse)
async def hiring(request: Request) -> Response:
    """The hiring plan for the budget of the form (a signed query: the matcher checks the role)."""
    user = page_user(request, "staff")
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
async def gaps_csv(request: Request) -> Response:
    page_user(request, "staff")
    start, end, errors = shortage.period(request.query_params)
    if errors:
        return _csv_refused(request, errors)
    r = await shortage.report(request.app.state.bus, start, end)
    return _csv(shortage.gaps_csv(r), f"thieu-hut-{r.from_date}-{r.to_date}.csv")


@router.post("/shortage/hiring.csv")
async def hiring_csv(request: Request) -> Response:
    user = page_user(request, "staff")
    _form, budget, plan, error = await _hiring_form(request, user)
    if error or plan is None:
        return _csv_refused(request, {"budget": error or Said("", "")})
    units = (await directory.names(request.app.state.bus))["units"]
    return _csv(shortage.plan_csv(plan, units), f"ke-hoach-tuyen-{budget}.csv")


def _csv(text: str, name: str) -> Response:
    # A byte-order mark: Excel then reads the Vietnamese as UTF-8.
    return Response(
        "\ufeff" + text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _csv_refused(request: Request, errors: dict[str, Said]) -> Response:
    t = Words(page_language(request, page_user(request, "staff")))
    return Response(
        "\n".join(t.say(e) for e in errors.values()) + "\n", status_code=422, media_type="text/plain; charset=utf-8"
    )


async def _page(
    request: Request,
    user: User,
    form: dict[str, str],
    *,
    plan: Any = None,
    errors: dict[str, Said] | None = None,
    status_code: int = 200,
) -> Response:
    bus = request.app.state.bus
    errors = dict(errors or {})
    start, end, bad = shortage.period(form)
    errors.update(bad)
    r = await shortage.report(bus, start, end)
    units = (await directory.names(bus))["units"]
    t = Words(page_language(request, user))
    on_map, missing = shortage.places(r, units)
    for p in on_map:
        p["text"] = f"{t('uncovered_weight')} {p['weight']}, {p['requests']} {t('requests_word')}"
    skills = [
        (t.skill(row.key.split("=")[0]) + f" {row.key.split('=')[-1]}", row.uncovered_weight)
        for row in r.by_skill
        if row.uncovered_weight
    ][: shortage.CHART_ROWS]
    months = [(_month(row.key), row.uncovered_weight) for row in r.by_month]
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
        skill_chart=drawings.bars(
            skills, x_title=t("uncovered_weight"), y_title=t("skill_level"), title=t("chart_by_skill"), ident="by-skill"
        ),
        month_chart=drawings.bars(
            months, x_title=t("uncovered_weight"), y_title=t("month"), title=t("chart_by_month"), ident="by-month"
        ),
        map_svg=drawings.commune_map(on_map, title=t("map_title"), legend_words=(t("map_legend"), t("map_none"))),
        rule_gain=(plan.covered_weight_after - plan.simple_rule.covered_weight_after)
        if plan is not None and plan.simple_rule is not None
        else None,
    )


def _month(key: str) -> str:
    year, _, month = key.partition("-")
    return f"{month}/{year}" if month else key
