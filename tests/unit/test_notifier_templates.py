"""Every template renders every field, in Vietnamese and English, with Vietnamese formats."""

from __future__ import annotations

import datetime as dt
import re
import string

import pytest

from services.notifier.templates import LANGUAGES, TEMPLATES, dong, duration, html_body, render


def fields_of(kind: str) -> set[str]:
    names = set()
    for subject, body in TEMPLATES[kind].values():
        names |= {f for _, f, _, _ in string.Formatter().parse(subject + body) if f}
    return names


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_field_is_rendered(kind: str, language: str) -> None:
    values = {f: f"<{f}>" for f in fields_of(kind)}
    subject, body = render(kind, language, **values)
    text = subject + body
    for f in fields_of(kind):
        if f != "mode":
            assert f"<{f}>" in text, f"{kind}/{language} does not show {f}"
    assert "{" not in text and "}" not in text


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
def test_both_languages_use_the_same_fields(kind: str) -> None:
    per_language = [{f for _, f, _, _ in string.Formatter().parse(s + b) if f} for s, b in TEMPLATES[kind].values()]
    assert per_language[0] == per_language[1]


def test_a_missing_field_is_an_error_not_a_blank() -> None:
    with pytest.raises(KeyError, match="deadline"):
        render(
            "task_new",
            "vi",
            assignment_id="a1",
            unit_name="Xã Thượng Lâm",
            title="t",
            mode="onsite",
            hours=2.0,
            expert_id="e1",
        )


def test_vietnamese_formats() -> None:
    _, body = render(
        "task_new",
        "vi",
        assignment_id="a1",
        unit_name="Xã Thượng Lâm",
        title="Chữ ký số",
        mode="onsite",
        hours=2.5,
        deadline=dt.date(2026, 12, 5),
        expert_id="e1",
    )
    assert "05/12/2026" in body and "trực tiếp" in body and "2.5 giờ" in body
    assert dong(1_500_000) == "1.500.000 ₫"
    _, body = render(
        "task_new",
        "en",
        assignment_id="a1",
        unit_name="X",
        title="t",
        mode="remote",
        hours=2.0,
        deadline=dt.date(2026, 12, 5),
        expert_id="e1",
    )
    assert "remotely" in body and re.search(r"\b2 h\b", body)


def test_durations_and_new_task_fields_read_naturally() -> None:
    assert duration(86400, "vi") == "24 giờ" and duration(90, "en") == "1.5 min" and duration(2, "vi") == "2 giây"
    subject, body = render(
        "task_reminder",
        "en",
        assignment_id="a1",
        unit_name="Xã Thượng Lâm",
        title="t",
        mode="onsite",
        hours=2.0,
        deadline=dt.date(2026, 12, 5),
        expert_id="e1",
        waited=dt.timedelta(hours=24),
        decline_after=dt.timedelta(hours=72),
    )
    assert "no answer for 24 h" in body and "within 72 h of approval" in body and "on site" in body
    _, body = render(
        "contract_expiring",
        "vi",
        contract_id="c1",
        expert_name="Lan",
        end=dt.date(2026, 1, 9),
        days=3,
    )
    assert "09/01/2026" in body


def test_html_part_is_escaped_and_keeps_every_line() -> None:
    page = html_body("A <b> & «c»", "line one <script>\nline two")
    assert "<h3>A &lt;b&gt; &amp; «c»</h3>" in page
    assert "<p>line one &lt;script&gt;</p><p>line two</p>" in page and "<script>" not in page
