"""One vocabulary for what the services say in codes: the matcher's unmatched reasons, its
proposal explanations, roles, and every validation message, each in Vietnamese and English.

Pages read codes and numbers, never a service's English sentence: a pydantic error becomes
"<field>: <rule>" in the reader's language (`validation`), a service's refusal is looked up by its
pattern (`SERVICE`), and hours are written one way everywhere (`hours`).
"""

from __future__ import annotations

import re
from typing import Any

from shared.formatting import hours
from shared.messages import BrokenRule
from shared.rules import REASONS as RULE_REASONS
from shared.rules import Reason, reason_text, render, violation

Pair = tuple[str, str]


class Said(str):
    """A message in both languages: the Vietnamese as the string itself (what a page shows when it
    forgets to ask), the English beside it; `Words.say` picks the reader's."""

    en: str

    def __new__(cls, vi: str, en: str) -> Said:
        said = super().__new__(cls, vi)
        said.en = en
        return said


def number(value: Any, lang: str = "vi") -> str:
    """A count or a limit in a message: 10.000 (Vietnamese groups by dots), 2,5."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer():
        text = f"{int(value):,}"
        return text.replace(",", ".") if lang != "en" else text
    text = f"{float(value):.2f}".rstrip("0")
    return text.replace(".", ",") if lang != "en" else text


#: The matcher's unmatched reasons, by code, from the rules' catalogue (`shared.rules.REASONS`).
REASONS: dict[str, Pair] = {str(code): (reason_text(code, "vi"), reason_text(code, "en")) for code in Reason}

#: The sentences the matcher writes for those codes, as the notifier puts them into a message body
#: (the language a request asks for is named in them).
_REASON_TEXT = [
    (re.compile(re.escape(spec.en).replace(re.escape("{language}"), r"[\w-]+")), str(code))
    for code, spec in RULE_REASONS.items()
]


#: The explanation's English summary (services.matcher.solver.explain), as a proposal's message quotes it.
_SUMMARY = re.compile(
    r"\b(onsite|remote), ([\d.]+) h incl\. travel, ([\d.]+ ₫); "
    r"(same commune|within an hour|remote or farther); (\d+) eligible option\(s\)"
)
_HOURS = re.compile(r"(?<![\w.,])(\d+(?:\.\d+)?) giờ(?! \d+ phút)")
_LIMITS = {"hours_cap": "hạn mức giờ", "budget_cap_vnd": "hạn mức kinh phí", "max_concurrent": "số việc cùng lúc"}
#: The matcher's notes when approved work is over its limits (services.matcher.planner).
_PLAN_NOTES: list[tuple[re.Pattern[str], Any]] = [
    (
        re.compile(
            r"expert (\S+): approved work is ([\d.]+) h over the availability of ([\d.]+) h; it is kept, "
            r"nothing new is planned for this expert"
        ),
        lambda g: (
            f"chuyên gia {g[1]}: công việc đã duyệt vượt {hours(float(g[2]))} so với thời gian có thể nhận "
            f"{hours(float(g[3]))}; vẫn giữ, không giao thêm cho chuyên gia này"
        ),
    ),
    (
        re.compile(
            r"contract (\S+): approved work is over its limits \(([^)]*)\); it is kept, nothing new is "
            r"planned under this contract"
        ),
        lambda g: (
            f"hợp đồng {g[1]}: công việc đã duyệt vượt giới hạn "
            f"({', '.join(_LIMITS.get(x.strip(), x.strip()) for x in g[2].split(','))}); "
            f"vẫn giữ, không giao thêm theo hợp đồng này"
        ),
    ),
    (re.compile(r"pending proposals let go: "), "đề xuất chờ duyệt đã rút lại: "),
]
_RANKS = {"same commune": 0, "within an hour": 1, "remote or farther": 2}


def reasons_in(text: str, lang: str) -> str:
    """A notification's body with the matcher's English reasons and explanations put in the
    reader's language (the notifier quotes the matcher's sentences as they were written)."""
    if lang == "en":
        return text
    for pattern, code in _REASON_TEXT:
        text = pattern.sub(REASONS[code][0], text)
    for pattern, vi in _PLAN_NOTES:
        text = pattern.sub(vi, text)
    text = _HOURS.sub(lambda g: hours(float(g[1]), lang), text)  # the notifier's `2.5 giờ`: 2,5 giờ
    return _SUMMARY.sub(
        lambda g: explanation(
            {
                "mode": g[1],
                "local_rank": _RANKS[g[4]],
                "alternatives": int(g[5]),
                "cost_vnd": int(g[3].split()[0].replace(".", "")),
            },
            round(float(g[2]) * 60),
            lang,
        ),
        text,
    )


#: Who acted, when it was not a person of the portal (the audit trail's actor).
ACTORS: dict[str, Pair] = {
    "matcher": ("Hệ thống ghép chuyên gia", "The matcher"),
    "contracts": ("Hệ thống hợp đồng", "The contracts service"),
    "notifier": ("Hệ thống thông báo", "The notifier"),
    "operator": ("Quản trị hệ thống (dòng lệnh)", "Operator (CLI)"),
    "system": ("Hệ thống", "The system"),
}

ROLES: dict[str, Pair] = {
    "commune": ("Cán bộ xã/phường", "Commune officer"),
    "staff": ("Sở Nội vụ", "Home-affairs staff"),
    "expert": ("Chuyên gia", "Expert"),
    "admin": ("Quản trị", "Administrator"),
}

#: How far the expert is, by the solver's local rank (0 the same unit, 1 within an hour of travel).
DISTANCE: dict[int, Pair] = {
    0: ("cùng xã", "same commune"),
    1: ("trong vòng một giờ đi lại", "within an hour's travel"),
    2: ("cách hơn một giờ đi lại", "more than an hour's travel away"),
}

#: The field labels a validation message names (the form's own labels).
FIELDS: dict[str, Pair] = {
    "title": ("Nội dung cần hỗ trợ", "What is needed"),
    "skill": ("Lĩnh vực", "Skill"),
    "level": ("Mức độ", "Level"),
    "mode": ("Hình thức", "Mode"),
    "hours": ("Số giờ", "Hours"),
    "deadline": ("Hạn chót", "Deadline"),
    "priority": ("Mức khẩn", "Urgency"),
    "rating": ("Đánh giá", "Rating"),
    "comment": ("Ghi chú", "Comment"),
    "note": ("Ghi chú", "Note"),
    "reason": ("Lý do", "Reason"),
    "capacity_hours": ("Số giờ có thể nhận", "Hours I can take"),
    "max_travel_minutes": ("Đi lại tối đa (phút)", "Longest travel (minutes)"),
    "request_id": ("Yêu cầu", "Request"),
    "expert_id": ("Chuyên gia", "Expert"),
    "contract_id": ("Hợp đồng", "Contract"),
    "slot": ("Vị trí", "Position"),
    "assignment_id": ("Phân công", "Assignment"),
    "assignment_ids": ("Đề xuất", "Proposals"),
    "to": ("Trạng thái mới", "New status"),
    "decision": ("Quyết định", "Decision"),
    "password": ("Mật khẩu", "Password"),
    "username": ("Tên đăng nhập", "Username"),
    "body": ("Nội dung gửi", "Body"),
}

#: A pydantic error type: its rule in Vietnamese and English ({...} from the error's context).
RULES: dict[str, Pair] = {
    "missing": ("cần nhập", "is required"),
    "string_too_short": ("cần ít nhất {min_length} ký tự", "needs at least {min_length} character(s)"),
    "string_too_long": ("tối đa {max_length} ký tự", "at most {max_length} characters"),
    "too_short": ("cần ít nhất {min_length} mục", "needs at least {min_length} item(s)"),
    "too_long": ("tối đa {max_length} mục", "at most {max_length} items"),
    "float_parsing": ("cần là một số, ví dụ 2,5", "must be a number, such as 2.5"),
    "float_type": ("cần là một số, ví dụ 2,5", "must be a number, such as 2.5"),
    "decimal_parsing": ("cần là một số, ví dụ 2,5", "must be a number, such as 2.5"),
    "int_parsing": ("cần là số nguyên, ví dụ 3", "must be a whole number, such as 3"),
    "int_type": ("cần là số nguyên, ví dụ 3", "must be a whole number, such as 3"),
    "int_from_float": ("cần là số nguyên, ví dụ 3", "must be a whole number, such as 3"),
    "finite_number": ("cần là một số hữu hạn", "must be a finite number"),
    "greater_than": ("phải lớn hơn {gt}", "must be greater than {gt}"),
    "greater_than_equal": ("không được nhỏ hơn {ge}", "must be at least {ge}"),
    "less_than": ("phải nhỏ hơn {lt}", "must be less than {lt}"),
    "less_than_equal": ("không được lớn hơn {le}", "must be at most {le}"),
    "date_parsing": ("cần là một ngày (ngày/tháng/năm)", "must be a date"),
    "date_from_datetime_parsing": ("cần là một ngày (ngày/tháng/năm)", "must be a date"),
    "date_type": ("cần là một ngày (ngày/tháng/năm)", "must be a date"),
    "bool_parsing": ("cần là có hoặc không", "must be yes or no"),
    "literal_error": ("chọn một trong các giá trị cho sẵn", "choose one of the values offered"),
    "enum": ("chọn một trong các giá trị cho sẵn", "choose one of the values offered"),
    "string_pattern_mismatch": ("có ký tự không được phép", "holds characters that are not allowed"),
    "json_invalid": ("không phải JSON hợp lệ", "is not valid JSON"),
    "model_attributes_type": ("sai kiểu dữ liệu", "has the wrong type"),
    "dict_type": ("sai kiểu dữ liệu", "has the wrong type"),
    "list_type": ("cần là một danh sách", "must be a list"),
    "string_type": ("cần là chữ", "must be text"),
    "extra_forbidden": ("không phải trường được nhận", "is not a field we take"),
}
_INVALID: Pair = ("giá trị không hợp lệ", "is not valid")
EMPTY: Pair = ("không được để trống", "must not be empty")


def field_label(field: str, lang: str = "vi") -> str:
    pair = FIELDS.get(field)
    return (pair[1] if lang == "en" else pair[0]) if pair else field


def validation(field: str, error: dict[str, Any]) -> Said:
    """A pydantic error as "<field label>: <rule>", in both languages; never the input."""
    ctx = error.get("ctx") or {}
    kind = str(error.get("type", ""))
    vi, en = EMPTY if kind == "string_too_short" and ctx.get("min_length") == 1 else RULES.get(kind, _INVALID)
    vi = vi.format_map(_Ctx(ctx, "vi"))
    en = en.format_map(_Ctx(ctx, "en"))
    return Said(f"{field_label(field)}: {vi}", f"{field_label(field, 'en')}: {en}")


class _Ctx(dict[str, str]):
    def __init__(self, ctx: dict[str, Any], lang: str) -> None:
        super().__init__({k: number(v, lang) for k, v in ctx.items()})

    def __missing__(self, key: str) -> str:
        return "?"


#: What the portal itself says beside a field, by key.
MESSAGES: dict[str, Pair] = {
    "choose_skill": ("Lĩnh vực: hãy chọn lĩnh vực cần hỗ trợ", "Skill: choose what is needed"),
    "choose_proposal": ("Hãy chọn ít nhất một đề xuất", "Choose at least one proposal"),
    "decline_reason": ("Lý do: hãy cho biết vì sao từ chối", "Reason: say why you decline"),
    "force_reason": ("Lý do: phân công bỏ qua quy tắc cần ghi lý do", "Reason: a forced assignment needs a reason"),
    "status_reason": (
        "Lý do: tạm dừng hoặc chấm dứt hợp đồng cần ghi lý do",
        "Reason: say why the contract is suspended or ended",
    ),
    "approve_or_refuse": ("Hãy chọn Duyệt hoặc Không duyệt", "Choose approve or refuse"),
    "passwords_differ": ("Hai mật khẩu mới không giống nhau", "The two new passwords differ"),
    "choose_request": ("Yêu cầu: hãy chọn một yêu cầu", "Request: choose a request"),
    "choose_expert": ("Chuyên gia: hãy chọn một chuyên gia", "Expert: choose an expert"),
    "choose_contract": ("Hợp đồng: hãy chọn một hợp đồng", "Contract: choose a contract"),
    "no_file": (
        "Chưa chọn tệp: hãy chọn units.csv, experts.csv, contracts.csv hoặc vài tệp",
        "No file chosen: choose units.csv, experts.csv, contracts.csv or several",
    ),
}


def message(key: str) -> Said:
    vi, en = MESSAGES[key]
    return Said(vi, en)


#: A service's refusal, by the pattern of its English sentence: the Vietnamese with the pattern's
#: groups (ids, numbers) put back. A sentence not listed is shown under a Vietnamese heading.
SERVICE: list[tuple[re.Pattern[str], Pair]] = [
    (re.compile(p, re.I), pair)
    for p, pair in (
        (r"^unknown request\b.*", ("Không có yêu cầu này", "No such request")),
        (r"^unknown expert\b.*", ("Không có chuyên gia này", "No such expert")),
        (r"^unknown contract\b.*", ("Không có hợp đồng này", "No such contract")),
        (r"^unknown assignment\b.*", ("Không có phân công này", "No such assignment")),
        (r".*\bnot (?:open|waiting|proposed)\b.*", ("Mục này không còn chờ xử lý", "It is no longer waiting")),
        (r".*\balready\b.*", ("Việc này đã được xử lý trước đó", "That was already done")),
        (
            r".*\bbreaks the rules\b.*",
            (
                "Phân công này vi phạm quy tắc; chọn «Bỏ qua quy tắc» và ghi lý do nếu vẫn muốn giao",
                "The assignment breaks the rules; force it with a reason if it must",
            ),
        ),
        (
            r".*\bcap\b.*|.*\bbudget\b.*|.*\bhours left\b.*",
            ("Hợp đồng không còn đủ giờ hoặc kinh phí", "The contract has not enough hours or budget left"),
        ),
        (r".*\bnot (?:yours|assigned to)\b.*|.*\banother expert\b.*", ("Việc này không phải của bạn", "Not your task")),
        (
            r".*\bnothing (?:is )?waiting\b.*|.*\bno extra\b.*",
            ("Không có giờ vượt nào chờ duyệt", "No extra hours are waiting"),
        ),
        (
            r".*\bcannot move\b.*|.*\bnot allowed\b.*|.*\bfrom [a-z]+ to [a-z]+\b.*",
            ("Không thể chuyển sang trạng thái này", "It cannot move to that status"),
        ),
        (
            r".*\bwrong (?:current )?password\b.*|.*\bcurrent password\b.*",
            ("Mật khẩu hiện tại không đúng", "The current password is wrong"),
        ),
        (
            r".*\bat least \d+ characters\b.*",
            ("Mật khẩu cần ít nhất 8 ký tự", "The password needs at least 8 characters"),
        ),
    )
]


#: Pydantic's sentences as a service or a sheet passes them on ({0}, {1}: the pattern's groups).
PYDANTIC: list[tuple[re.Pattern[str], Pair]] = [
    (re.compile(p), pair)
    for p, pair in (
        (r"^Field required$", ("cần nhập", "is required")),
        (r"^Input should be greater than or equal to (\S+)$", ("không được nhỏ hơn {0}", "must be at least {0}")),
        (r"^Input should be greater than (\S+)$", ("phải lớn hơn {0}", "must be greater than {0}")),
        (r"^Input should be less than or equal to (\S+)$", ("không được lớn hơn {0}", "must be at most {0}")),
        (r"^Input should be less than (\S+)$", ("phải nhỏ hơn {0}", "must be less than {0}")),
        (
            r"^String should have at least (\d+) characters?$",
            ("cần ít nhất {0} ký tự", "needs at least {0} character(s)"),
        ),
        (r"^String should have at most (\d+) characters?$", ("tối đa {0} ký tự", "at most {0} characters")),
        (
            r"^Input should be a valid (?:number|decimal).*$",
            ("cần là một số, ví dụ 2,5", "must be a number, such as 2.5"),
        ),
        (r"^Input should be a valid integer.*$", ("cần là số nguyên, ví dụ 3", "must be a whole number, such as 3")),
        (r"^Input should be a valid date.*$", ("cần là một ngày (ngày/tháng/năm)", "must be a date")),
        (r"^Input should be a valid boolean.*$", ("cần là có hoặc không", "must be yes or no")),
        (r"^Input should be .*$", ("chọn một trong các giá trị cho sẵn", "choose one of the values offered")),
        # shared.sheets and shared.scenario: what is wrong in a cell, the value kept
        (r"^write yes or no, not (.+)$", ("ghi yes hoặc no, không phải {0}", "write yes or no, not {0}")),
        (r"^write one of (.+), not (.+)$", ("ghi một trong: {0}; không phải {1}", "write one of {0}, not {1}")),
        (
            r"^write skill=level, e\.g\. (\S+), not (.+)$",
            ("ghi lĩnh_vực=mức, ví dụ {0}; không phải {1}", "write skill=level, e.g. {0}, not {1}"),
        ),
        (r"^unknown unit (.+)$", ("không có đơn vị {0}", "unknown unit {0}")),
        (r"^unknown expert (.+)$", ("không có chuyên gia {0}", "unknown expert {0}")),
        (r"^(\S+) row 1: missing column\(s\) (.+)$", ("{0} dòng 1: thiếu cột {1}", "{0} row 1: missing column(s) {1}")),
        (
            r"^(\S+): not a CSV file in UTF-8.*$",
            (
                "{0}: không phải tệp CSV UTF-8 (hãy lưu bảng tính dạng CSV UTF-8)",
                "{0}: not a CSV file in UTF-8 (save the sheet as CSV UTF-8)",
            ),
        ),
    )
]
#: Where in a sheet (shared.sheets): `units.csv row 3, column name: <why>`.
_CELL = re.compile(r"^(\S+\.csv) row (\d+), column ([\w.]+): (.*)$", re.S)


def broken_rules(found: list[BrokenRule]) -> Said | None:
    """A refusal for broken rules (a manual assignment's), worded from the rules' catalogue in both
    languages: each rule with its figures, and whether staff may force it (None: no rule this
    catalogue knows, the service's own sentence is shown)."""
    said = [v for v in map(violation, found) if v is not None]
    if not said:
        return None
    forceable = all(v.forceable for v in said)
    vi = "; ".join(render(v, "vi", where=False) for v in said)
    en = "; ".join(render(v, "en", where=False) for v in said)
    return Said(
        f"Phân công này vi phạm quy tắc: {vi}; "
        + ("chọn «Bỏ qua quy tắc» và ghi lý do nếu vẫn muốn giao" if forceable else "quy tắc này không thể bỏ qua"),
        f"The assignment breaks the rules: {en}; "
        + ("force it with a reason if it must" if forceable else "this rule cannot be forced"),
    )


def service(text: str) -> Said:
    """A service's English refusal in the reader's language (by `SERVICE`, `PYDANTIC`; a sheet's
    cell keeps its file, row and column), never shown raw on a Vietnamese page: an unknown one says
    the action was refused, and why in English for the record."""
    cell = _CELL.match(text)
    if cell:
        why = service(cell[4])
        if str(why) == _REFUSED:  # not a sentence we know: the sheet's own words name the problem
            why = Said(cell[4], cell[4])
        return Said(
            f"{cell[1]} dòng {cell[2]}, cột {cell[3]}: {why}", f"{cell[1]} row {cell[2]}, column {cell[3]}: {why.en}"
        )
    for pattern, (vi, en) in PYDANTIC:
        found = pattern.match(text)
        if found:
            return Said(vi.format(*(number(_num(g)) for g in found.groups())), en.format(*found.groups()))
    for pattern, (vi, en) in SERVICE:
        if pattern.match(text):
            return Said(vi, en)
    return Said(_REFUSED, text or "Refused")


_REFUSED = "Hệ thống không thực hiện được yêu cầu này"


def _num(text: str) -> int | float | str:
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() else value


def explanation(x: dict[str, Any], minutes: int | None, lang: str = "vi") -> str:
    """The solver's reason for a proposal, from its terms (never its English summary):
    `Tại chỗ, 4 giờ kể cả đi lại, 800.000 ₫; cùng xã; 3 phương án phù hợp`."""
    from shared.formatting import money  # the one money format

    en = lang == "en"
    mode = {"onsite": ("Tại chỗ", "On site"), "remote": ("Từ xa", "Remote")}.get(x.get("mode", ""), ("", ""))
    parts = [mode[1] if en else mode[0]]
    if minutes is not None:
        parts.append(f"{hours(minutes / 60, lang)} {'incl. travel' if en else 'kể cả đi lại'}")
    if x.get("cost_vnd") is not None:
        parts.append(money(x["cost_vnd"]))
    rank = DISTANCE.get(int(x.get("local_rank", 2)), DISTANCE[2])
    n = int(x.get("alternatives", 0))
    options = f"{n} eligible option(s)" if en else f"{n} phương án phù hợp"
    return f"{', '.join(p for p in parts if p)}; {rank[1] if en else rank[0]}; {options}"
