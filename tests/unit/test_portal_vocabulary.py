"""Issue 15's vocabulary without a running system: one way to write hours, every reason and
validation message in both languages, numbers typed the Vietnamese way, the chart's axes."""

from __future__ import annotations

import re

import pytest

from services.matcher.solver.explain import MESSAGES
from services.portal import chart, i18n, vocabulary
from services.portal.actions import request_from_form

FORM = {
    "title": "Cài chữ ký số",
    "skill": "digital_signature",
    "level": "2",
    "mode": "remote",
    "hours": "4",
    "priority": "3",
    "deadline": "2027-01-10",
}


@pytest.mark.parametrize(
    ("hours", "vi", "en"),
    [
        (2.5, "2,5 giờ", "2.5 h"),
        (7 + 40 / 60, "7 giờ 40 phút", "7 h 40 min"),
        (8.36667, "8 giờ 22 phút", "8 h 22 min"),
        (4, "4 giờ", "4 h"),
        (0.25, "15 phút", "15 min"),
        (0.5, "0,5 giờ", "0.5 h"),
        (None, "—", "—"),
    ],
)
def test_hours_are_written_one_way(hours: float | None, vi: str, en: str) -> None:
    assert i18n.Words("vi").hours(hours) == vi
    assert i18n.Words("en").hours(hours) == en
    assert i18n.Words("vi").minutes(None if hours is None else round(hours * 60)) == vi


@pytest.mark.parametrize("typed", ["2,5", "2.5", " 2,5 "])
def test_the_request_form_takes_a_decimal_comma_or_point(typed: str) -> None:
    req, errors = request_from_form("w2269", {**FORM, "hours": typed})
    assert errors == {} and req is not None and req.hours == 2.5


def test_a_bad_field_is_named_in_vietnamese_never_in_pydantics_words() -> None:
    _, errors = request_from_form(
        "w2269", {**FORM, "title": "", "hours": "x", "priority": "9", "deadline": "2026-13-01", "skill": ""}
    )
    t = i18n.Words("vi")
    shown = {field: t.say(msg) for field, msg in errors.items()}
    assert shown["hours"] == "Số giờ: cần là một số, ví dụ 2,5"
    assert shown["priority"] == "Mức khẩn: không được lớn hơn 5"
    assert shown["title"] == "Nội dung cần hỗ trợ: không được để trống"
    assert shown["skill"].startswith("Lĩnh vực:")
    for text in shown.values():
        assert not re.search(r"Input should|String should|unable to parse|valid number", text), text
    assert i18n.Words("en").say(errors["hours"]) == "Hours: must be a number, such as 2.5"
    _, errors = request_from_form("w2269", {**FORM, "hours": "20000"})
    assert t.say(errors["hours"]).endswith("10.000"), "a limit in a message is a Vietnamese number"


def test_every_unmatched_reason_of_the_matcher_has_both_languages() -> None:
    assert set(MESSAGES) <= set(vocabulary.REASONS), set(MESSAGES) - set(vocabulary.REASONS)
    t = i18n.Words("vi")
    for code, text in MESSAGES.items():
        shown = t.reason(code, text.format(language="tày"))
        assert shown and shown != text, code
        assert (
            vocabulary.reasons_in(f"chưa được đáp ứng: {text.format(language='tày')}", "vi")
            == f"chưa được đáp ứng: {shown}"
        ), "an inbox body gets the reason in Vietnamese"


def test_a_service_refusal_never_reaches_a_vietnamese_page_in_english() -> None:
    t = i18n.Words("vi")
    assert t.say("unknown request r-none") == "Không có yêu cầu này"
    assert t.say("something nobody listed") == "Hệ thống không thực hiện được yêu cầu này"
    assert i18n.Words("en").say("something nobody listed") == "something nobody listed"


def test_the_proposal_explanation_and_roles_in_vietnamese() -> None:
    x = {
        "summary": "onsite, 4 h incl. travel, 800.000 ₫; same commune; 3 eligible option(s)",
        "mode": "onsite",
        "cost_vnd": 800_000,
        "travel_minutes": 0,
        "local_rank": 0,
        "alternatives": 3,
    }
    assert i18n.Words("vi").explain(x, 240) == "Tại chỗ, 4 giờ kể cả đi lại, 800.000 ₫; cùng xã; 3 phương án phù hợp"
    far = i18n.Words("vi").explain({**x, "local_rank": 2}, 240)
    assert "từ xa hoặc xa hơn" not in far and "cách hơn một giờ đi lại" in far
    assert not any("từ xa hoặc xa hơn" in vi for vi, _en in i18n.WORDS.values())
    assert {i18n.Words("vi").role(r) for r in ("commune", "staff", "expert", "admin")} == {
        "Cán bộ xã/phường",
        "Sở Nội vụ",
        "Chuyên gia",
        "Quản trị",
    }
    for action in ("propose", "approve", "log_hours", "complete", "flag_hours", "register", "contract_status"):
        assert i18n.Words("vi").action(action) != action


def test_the_chart_has_axes_dates_a_scale_and_the_cap_without_colour() -> None:
    points = [
        {"at": "2026-11-01T01:00:00+00:00", "used_minutes": 300, "action": "approve"},
        {"at": "2026-11-20T01:00:00+00:00", "used_minutes": 900, "action": "log_hours"},
    ]
    drawn = chart.svg(points, 2400)
    assert drawn.startswith("<svg") and "<script" not in drawn and len(drawn) < 6000
    texts = re.findall(r"<text[^>]*>([^<]+)</text>", drawn)
    assert {"0 giờ", "10 giờ", "20 giờ", "30 giờ", "40 giờ"} <= set(texts), texts  # the scale
    assert {"01/11", "20/11"} <= set(texts) and "Ngày" in texts, "dates along a labelled axis"
    assert "Hạn mức 40 giờ" in texts and "stroke-dasharray" in drawn, "the cap, dashed and named"
    assert drawn.count("<rect") == 2 and "<title" in drawn, "a marker and a title per decision"
    assert "Date" in chart.svg(points, 2400, "en")


def test_an_inbox_message_quoting_the_solver_reads_in_vietnamese() -> None:
    body = "Lý do: onsite, 4 h incl. travel, 800.000 ₫; remote or farther; 3 eligible option(s)"
    assert (
        i18n.Words("vi").body(body)
        == "Lý do: Tại chỗ, 4 giờ kể cả đi lại, 800.000 ₫; cách hơn một giờ đi lại; 3 phương án phù hợp"
    )
    assert i18n.Words("en").body(body) == body


def test_the_apis_validation_errors_name_the_field_in_vietnamese_too() -> None:
    from services.portal.security import _problem

    problem = _problem(
        {
            "type": "less_than_equal",
            "loc": ("body", "hours"),
            "msg": "Input should be less than or equal to 10000",
            "ctx": {"le": 10000},
        }
    )
    assert problem == {
        "field": "hours",
        "message": "Input should be less than or equal to 10000",
        "message_vi": "Số giờ: không được lớn hơn 10.000",
    }


def test_hours_in_an_inbox_message_are_written_the_vietnamese_way() -> None:
    body = "Expert 0 đã ghi 7.5 giờ, trong khi chỉ đặt trước 2.5 giờ: 5 giờ vượt mức; 7.66667 giờ"
    assert (
        i18n.Words("vi").body(body)
        == "Expert 0 đã ghi 7,5 giờ, trong khi chỉ đặt trước 2,5 giờ: 5 giờ vượt mức; 7 giờ 40 phút"
    )


def test_pydantic_sentences_passed_on_by_a_service_or_a_sheet_read_in_vietnamese() -> None:
    t = i18n.Words("vi")
    assert t.say("Input should be less than or equal to 10000") == "không được lớn hơn 10.000"
    assert (
        t.say("units.csv row 3, column name: String should have at least 1 character")
        == "units.csv dòng 3, cột name: cần ít nhất 1 ký tự"
    )
    assert i18n.Words("en").say("Field required") == "is required"


def test_the_matchers_notes_on_overcommitted_work_read_in_vietnamese() -> None:
    body = (
        "expert e3: approved work is 2.5 h over the availability of 40 h; it is kept, nothing new is planned "
        "for this expert\ncontract c3: approved work is over its limits (budget_cap_vnd, hours_cap); it is "
        "kept, nothing new is planned under this contract"
    )
    shown = i18n.Words("vi").body(body)
    assert shown == (
        "chuyên gia e3: công việc đã duyệt vượt 2,5 giờ so với thời gian có thể nhận 40 giờ; vẫn giữ, "
        "không giao thêm cho chuyên gia này\nhợp đồng c3: công việc đã duyệt vượt giới hạn (hạn mức "
        "kinh phí, hạn mức giờ); vẫn giữ, không giao thêm theo hợp đồng này"
    )


def test_a_refusal_for_broken_rules_is_worded_from_the_catalogue_not_from_its_sentence() -> None:
    """A manual assignment refused for its rules carries them as data (`FieldError.broken`): the
    page words each from `shared.rules`, in the reader's language, whatever the service wrote."""
    from services.portal.bus import errors_by_field
    from shared.messages import BrokenRule, FieldError, Reply

    skill = BrokenRule(
        rule="skill", request="r1", slot=0, expert="e1", detail={"skill": "digital_signature", "level": 2}
    )
    reply = Reply.failure("any words at all", FieldError(field="expert_id", message="any words", broken=[skill]))
    said = errors_by_field(reply)["expert_id"]
    assert str(said) == (
        "Phân công này vi phạm quy tắc: thiếu kỹ năng digital_signature mức 2; "
        "chọn «Bỏ qua quy tắc» và ghi lý do nếu vẫn muốn giao"
    )
    assert said.en == "The assignment breaks the rules: lacks digital_signature 2; force it with a reason if it must"
    scope = BrokenRule(rule="contract_scope", request="r1", slot=0, expert="e2", contract="c2", detail={"unit": "u1"})
    hard = errors_by_field(Reply.failure("x", FieldError(field="contract_id", message="x", broken=[skill, scope])))
    assert str(hard["contract_id"]).endswith("hợp đồng c2 không áp dụng cho u1; quy tắc này không thể bỏ qua")
    newer = BrokenRule(rule="a_rule_from_a_newer_service")
    unknown = errors_by_field(Reply.failure("x", FieldError(field="f", message="its own words", broken=[newer])))
    assert unknown == {"f": "its own words"}, "a code this catalogue does not know: the service's sentence"
