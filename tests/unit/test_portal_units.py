"""The portal's pieces that need no running system: formats, words, users, compose, the form."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from sqlmodel import Session

from services.portal import chart, i18n
from services.portal.actions import request_from_form
from services.portal.users import UserError, authenticate, create_schema, create_user, issue_token, user_for_token
from shared import messages as m
from shared.db import make_engine
from shared.scenario import SKILLS

ROOT = Path(__file__).resolve().parents[2]


def test_money_dates_and_hours_in_vietnamese_format() -> None:
    assert i18n.money(1_500_000) == "1.500.000 ₫"
    assert i18n.money(0) == "0 ₫"
    assert i18n.date("2026-12-10") == "10/12/2026"
    assert i18n.date(dt.datetime(2026, 11, 24, 1, 30, tzinfo=dt.UTC)) == "08:30 24/11/2026"
    assert i18n.number(2.5) == "2,5" and i18n.number(4.0) == "4"


def test_every_skill_and_word_exists_in_both_languages() -> None:
    for lang in i18n.LANGUAGES:
        t = i18n.Words(lang)
        assert all(t(key) for key in i18n.WORDS)
        assert all(t.skill(key) for key in SKILLS)
    assert i18n.Words("vi").skill("digital_signature") == "Chữ ký số"
    assert i18n.Words("en")("send") == "Send"


def test_a_bad_field_is_named() -> None:
    form = {
        "title": "",
        "skill": "digital_signature",
        "level": "2",
        "mode": "remote",
        "hours": "x",
        "priority": "9",
        "deadline": "2026-13-01",
    }
    req, errors = request_from_form("w2269", form)
    assert req is None
    assert {"title", "hours", "priority", "deadline"} <= set(errors)
    req, errors = request_from_form(
        "w2269", {**form, "title": "Cài", "hours": "4", "priority": "3", "deadline": "2026-12-01"}
    )
    assert errors == {} and req is not None and req.skills == {"digital_signature": 2}


def test_users_hashed_with_argon2_and_bound_to_their_role(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'portal.db'}")
    create_schema(engine)
    with Session(engine) as session:
        user = create_user(session, username="xa1", password="mật khẩu dài", role="commune", unit_id="w1")
        assert user.password_hash.startswith("$argon2id$")
        assert authenticate(session, "xa1", "mật khẩu dài") is not None
        assert authenticate(session, "xa1", "wrong password") is None
        assert authenticate(session, "nobody", "mật khẩu dài") is None
        for fields, field in (
            (dict(role="commune"), "unit"),
            (dict(role="expert"), "expert"),
            (dict(role="mayor"), "role"),
            (dict(role="staff", password="short"), "password"),
        ):
            with pytest.raises(UserError) as err:
                create_user(session, **{"username": "u2", "password": "long enough", **fields})
            assert err.value.field == field
        token = issue_token(session, "xa1")
        assert user_for_token(session, token).username == "xa1"
        assert user_for_token(session, token + "x") is None


def test_compose_runs_the_portal_from_the_one_image() -> None:
    portal = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["portal"]
    assert portal["command"] == ["python", "-m", "services.portal"]
    assert portal["build"] == "."
    assert portal["environment"]["PORTAL_DATABASE_URL"].startswith("postgresql+psycopg://")
    from shared.security import identities, postgres

    # The portal's own database and role come from the one generated init script.
    sql = postgres.init_sql(identities.SERVICES, {n: postgres.scram_verifier("pw") for n in identities.SERVICES})
    assert 'CREATE DATABASE "portal" WITH OWNER "portal"' in sql


def test_contract_use_over_time_from_the_trail() -> None:
    entries = [
        {
            "at": "2026-11-01T01:00:00+00:00",
            "action": "approve",
            "detail": {"contract_line": {"contract": "c1", "left_minutes_after": 2100}},
        },
        {
            "at": "2026-11-02T01:00:00+00:00",
            "action": "approve",
            "detail": {"contract_line": {"contract": "c2", "left_minutes_after": 10}},
        },
        {"at": "2026-11-03T01:00:00+00:00", "action": "accept", "detail": {}},
        {
            "at": "2026-11-04T01:00:00+00:00",
            "action": "decline",
            "detail": {"contract_line": {"contract": "c1", "left_minutes_after": 2400}},
        },
    ]
    trail = [
        m.AuditEntry(seq=i, actor="staff", subject="assignment:a1", prev_hash="", hash="", **e)
        for i, e in enumerate(entries, 1)
    ]
    points = chart.use_over_time(trail, "c1", cap_minutes=2400)
    assert [(p["action"], p["used_minutes"]) for p in points] == [("approve", 300), ("decline", 0)]
    drawn = chart.svg(points, 2400)
    assert drawn.startswith("<svg") and "polyline" in drawn and len(drawn) < 2000
    assert chart.svg([], 2400) == ""


async def test_a_commune_whose_unit_is_unknown_is_told_so_by_the_refusals_code_not_its_words() -> None:
    """The submission form has no unit field: a refusal about the unit is said at the top of the
    form. Whether it says "your unit is not in the system" is read from the refusal's code."""
    from services.portal.actions import submit_request
    from services.portal.users import User
    from shared.messages import FieldError, Refusal, Reply

    class Answering:
        def __init__(self, reply: Reply) -> None:  # type: ignore[type-arg]
            self.reply = reply

        async def command(self, *_: object) -> Reply:  # type: ignore[type-arg]
            return self.reply

    officer = User(username="xa", display_name="Cán bộ xã", role="commune", unit_id="w404", password_hash="-")
    form = {"title": "Cài", "skill": "digital_signature", "level": "2", "mode": "remote", "hours": "4"}
    form |= {"priority": "3", "deadline": "2026-12-31"}

    def refused(code: str | None, words: str) -> Reply:  # type: ignore[type-arg]
        return Reply.failure(words, FieldError(field="request.unit", message=words, code=code))

    _, unknown = await submit_request(Answering(refused(Refusal.UNKNOWN_UNIT, "any words")), officer, form)  # type: ignore[arg-type]
    assert set(unknown) == {"_"} and "w404" in unknown["_"] and "không có trong hệ thống" in unknown["_"]
    _, other = await submit_request(Answering(refused(Refusal.NOT_YOURS, "unknown unit, say")), officer, form)  # type: ignore[arg-type]
    assert other == {"_": "unknown unit, say"}, "another refusal of the unit is shown as the service said it"
