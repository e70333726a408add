"""What each party reads, in Vietnamese (the default) and English.

A template is a subject and a plain-text body with named fields; `render` formats dates as
dd/mm/yyyy, money as `1.500.000 ₫` and the work mode in the reader's language. A field missing
from the data is an error, never a silent blank: the tests render every template in both languages.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from shared.formatting import day, duration, money

LANGUAGES = ("vi", "en")

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "request_received": {
        "vi": (
            "Đã nhận yêu cầu {request_id}",
            "{unit_name} đã gửi yêu cầu «{title}» ({hours} giờ, hạn {deadline}).\n"
            "Hệ thống đang tìm chuyên gia phù hợp.",
        ),
        "en": (
            "Request {request_id} received",
            "{unit_name} asked for «{title}» ({hours} h, by {deadline}).\nWe are looking for an expert.",
        ),
    },
    "proposal_waiting": {
        "vi": (
            "Đề xuất {assignment_id} chờ phê duyệt",
            "Yêu cầu {request_id} «{title}» của {unit_name}: đề xuất {expert_name}, {mode}, "
            "{hours} giờ, chi phí {cost}.\n"
            "Lý do: {why}\n"
            "Phê duyệt: expertshare approve {assignment_id} --by <tên>",
        ),
        "en": (
            "Proposal {assignment_id} awaits approval",
            "Request {request_id} «{title}» of {unit_name}: {expert_name}, {mode}, {hours} h, "
            "cost {cost}.\n"
            "Why: {why}\n"
            "Approve: expertshare approve {assignment_id} --by <name>",
        ),
    },
    "request_matched": {
        "vi": (
            "Đã tìm được chuyên gia cho yêu cầu {request_id}",
            "{expert_name} được đề xuất hỗ trợ «{title}», {mode}, {hours} giờ, trước {deadline}. "
            "Đang chờ Sở Nội vụ phê duyệt.",
        ),
        "en": (
            "An expert was found for request {request_id}",
            "{expert_name} is proposed for «{title}», {mode}, {hours} h, by {deadline}. Waiting "
            "for home-affairs approval.",
        ),
    },
    "trainee_proposed": {
        "vi": (
            "Học viên đi kèm cho yêu cầu {request_id}",
            "{trainee_name} được đề xuất học cùng {expert_name} khi hỗ trợ «{title}» ({hours} giờ, "
            "trước {deadline}), để kỹ năng ở lại {unit_name}. Đang chờ Sở Nội vụ phê duyệt.",
        ),
        "en": (
            "A trainee beside the expert for request {request_id}",
            "{trainee_name} is proposed to learn beside {expert_name} on «{title}» ({hours} h, by "
            "{deadline}), so that the skill stays in {unit_name}. Waiting for home-affairs approval.",
        ),
    },
    "plan_overcommitted": {
        "vi": (
            "Công việc đã duyệt vượt giới hạn: cần xem lại",
            "Khi lập kế hoạch, hệ thống thấy công việc đã duyệt vượt quá thời gian rảnh của chuyên gia "
            "hoặc giới hạn hợp đồng (công việc đó được giữ nguyên, không giao thêm), hoặc đề xuất "
            "không còn phù hợp (đã rút lại):\n{notes}",
        ),
        "en": (
            "Approved work over its limits: please review",
            "Planning found approved work over an expert's availability or a contract's limits (it is "
            "kept, nothing new is given there), or proposals that no longer fit (withdrawn):\n{notes}",
        ),
    },
    "request_unmatched": {
        "vi": (
            "Chưa có chuyên gia cho yêu cầu {request_id}",
            "Yêu cầu «{title}» của {unit_name} chưa được đáp ứng: {reason}",
        ),
        "en": (
            "No expert yet for request {request_id}",
            "Request «{title}» of {unit_name} is not covered yet: {reason}",
        ),
    },
    "task_new": {
        "vi": (
            "Nhiệm vụ mới {assignment_id} tại {unit_name}",
            "Bạn được giao hỗ trợ «{title}» tại {unit_name}, {mode}, {hours} giờ, hạn "
            "{deadline}.\n"
            "Nhận: expertshare accept {assignment_id} --expert {expert_id}\n"
            "Từ chối: expertshare decline {assignment_id} --expert {expert_id} --reason <lý do>",
        ),
        "en": (
            "New task {assignment_id} at {unit_name}",
            "You are assigned «{title}» at {unit_name}, {mode}, {hours} h, by {deadline}.\n"
            "Accept: expertshare accept {assignment_id} --expert {expert_id}\n"
            "Decline: expertshare decline {assignment_id} --expert {expert_id} --reason <why>",
        ),
    },
    "request_approved": {
        "vi": (
            "Yêu cầu {request_id} đã được phê duyệt",
            "{expert_name} sẽ hỗ trợ «{title}», {mode}, {hours} giờ, trước {deadline}.",
        ),
        "en": (
            "Request {request_id} approved",
            "{expert_name} will help with «{title}», {mode}, {hours} h, by {deadline}.",
        ),
    },
    "task_accepted": {
        "vi": (
            "{expert_name} đã nhận nhiệm vụ {assignment_id}",
            "{expert_name} đã nhận hỗ trợ «{title}» tại {unit_name}.",
        ),
        "en": (
            "{expert_name} accepted task {assignment_id}",
            "{expert_name} accepted «{title}» at {unit_name}.",
        ),
    },
    "task_declined": {
        "vi": (
            "{expert_name} đã từ chối nhiệm vụ {assignment_id}",
            "{expert_name} từ chối «{title}» tại {unit_name} ({reason}). Hệ thống sẽ tìm chuyên gia khác.",
        ),
        "en": (
            "{expert_name} declined task {assignment_id}",
            "{expert_name} declined «{title}» at {unit_name} ({reason}). Another expert will be sought.",
        ),
    },
    "task_cancelled": {
        "vi": (
            "Nhiệm vụ {assignment_id} đã bị hủy",
            "Nhiệm vụ «{title}» tại {unit_name} đã bị hủy: {reason}",
        ),
        "en": (
            "Task {assignment_id} cancelled",
            "Task «{title}» at {unit_name} was cancelled: {reason}",
        ),
    },
    "hours_logged": {
        "vi": (
            "{expert_name} đã ghi {hours} giờ cho yêu cầu {request_id}",
            "Tổng cộng {total_hours} giờ đã làm cho «{title}».",
        ),
        "en": (
            "{expert_name} logged {hours} h on request {request_id}",
            "{total_hours} h worked on «{title}» so far.",
        ),
    },
    "hours_flagged": {
        "vi": (
            "{expert_name} ghi giờ vượt mức đặt trước: {assignment_id}",
            "{expert_name} ({expert_id}) đã ghi {logged_hours} giờ cho yêu cầu {request_id} «{title}» "
            "tại {unit_name}, trong khi chỉ đặt trước {reserved_hours} giờ: {extra_hours} giờ vượt "
            "mức chờ quyết định và chưa được tính vào hợp đồng {contract_id}.\n"
            "Chấp thuận: expertshare hours approve {assignment_id} --by <tên>\n"
            "Từ chối: expertshare hours refuse {assignment_id} --by <tên> --comment <lý do>",
        ),
        "en": (
            "{expert_name} logged hours beyond the reservation: {assignment_id}",
            "{expert_name} ({expert_id}) logged {logged_hours} h on request {request_id} «{title}» "
            "at {unit_name}, against {reserved_hours} h reserved: {extra_hours} h beyond it await "
            "your decision and are not charged to contract {contract_id} yet.\n"
            "Approve: expertshare hours approve {assignment_id} --by <name>\n"
            "Refuse: expertshare hours refuse {assignment_id} --by <name> --comment <why>",
        ),
    },
    "request_completed": {
        "vi": (
            "Yêu cầu {request_id} đã hoàn thành",
            "{unit_name} xác nhận đã hoàn thành «{title}». Cảm ơn!",
        ),
        "en": (
            "Request {request_id} completed",
            "{unit_name} confirmed «{title}» is done. Thank you!",
        ),
    },
    "task_reminder": {
        "vi": (
            "Nhắc: nhiệm vụ {assignment_id} chờ bạn trả lời",
            "Nhiệm vụ «{title}» tại {unit_name} ({mode}, {hours} giờ, hạn {deadline}) chưa được "
            "trả lời sau {waited}.\n"
            "Nhận: expertshare accept {assignment_id} --expert {expert_id}\n"
            "Từ chối: expertshare decline {assignment_id} --expert {expert_id} --reason <lý do>\n"
            "Nếu không trả lời trong {decline_after} kể từ khi được giao, nhiệm vụ sẽ được từ "
            "chối thay bạn.",
        ),
        "en": (
            "Reminder: task {assignment_id} awaits your answer",
            "Task «{title}» at {unit_name} ({mode}, {hours} h, by {deadline}) has had no answer "
            "for {waited}.\n"
            "Accept: expertshare accept {assignment_id} --expert {expert_id}\n"
            "Decline: expertshare decline {assignment_id} --expert {expert_id} --reason <why>\n"
            "Without an answer within {decline_after} of approval, it will be declined on your "
            "behalf.",
        ),
    },
    "task_escalated": {
        "vi": (
            "{expert_name} chưa trả lời nhiệm vụ {assignment_id}",
            "{expert_name} chưa nhận hay từ chối «{title}» tại {unit_name} sau {waited}. Hãy "
            "liên hệ chuyên gia; nếu không có trả lời trong {decline_after} kể từ khi được giao, "
            "nhiệm vụ sẽ tự động bị từ chối và yêu cầu {request_id} được ghép lại.",
        ),
        "en": (
            "{expert_name} has not answered task {assignment_id}",
            "{expert_name} has neither accepted nor declined «{title}» at {unit_name} after "
            "{waited}. Please contact the expert; without an answer within {decline_after} of "
            "approval, it is declined automatically and request {request_id} is matched again.",
        ),
    },
    "task_expired": {
        "vi": (
            "Nhiệm vụ {assignment_id} đã được từ chối thay bạn",
            "Bạn chưa trả lời nhiệm vụ «{title}» tại {unit_name} sau {waited}, nên hệ thống đã "
            "từ chối thay bạn và tìm chuyên gia khác.",
        ),
        "en": (
            "Task {assignment_id} was declined on your behalf",
            "You did not answer «{title}» at {unit_name} within {waited}, so it was declined on "
            "your behalf and another expert will be sought.",
        ),
    },
    "contract_expiring": {
        "vi": (
            "Hợp đồng {contract_id} hết hạn sau {days} ngày",
            "Hợp đồng {contract_id} ({expert_name}) kết thúc ngày {end}. Hãy gia hạn hoặc chuẩn bị thay thế.",
        ),
        "en": (
            "Contract {contract_id} ends in {days} days",
            "Contract {contract_id} ({expert_name}) ends on {end}. Renew it or plan a replacement.",
        ),
    },
    "digest": {
        "vi": (
            "Tóm tắt: {count} thông báo đến {date}",
            "{count} thông báo mới:\n\n{items}",
        ),
        "en": (
            "Digest: {count} notifications to {date}",
            "{count} new notifications:\n\n{items}",
        ),
    },
    "balance_low": {
        "vi": (
            "Hợp đồng {contract_id} sắp hết hạn mức",
            "Hợp đồng {contract_id} ({expert_name}) còn {hours_left} giờ trên {hours_cap} giờ và "
            "{budget_left} ngân sách.",
        ),
        "en": (
            "Contract {contract_id} is running low",
            "Contract {contract_id} ({expert_name}) has {hours_left} h of {hours_cap} h and "
            "{budget_left} of budget left.",
        ),
    },
}

MODES = {
    "vi": {"onsite": "trực tiếp", "remote": "từ xa"},
    "en": {"onsite": "on site", "remote": "remotely"},
}


def dong(vnd: int | None, language: str = "vi") -> str:
    """Money in a message; no figure is no cap."""
    return money(vnd, missing="không giới hạn" if language == "vi" else "unlimited")


def html_body(subject: str, body: str) -> str:
    """The short HTML part of an email: the same words, escaped, one paragraph per line."""
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in body.splitlines() if line.strip())
    title = html.escape(subject)
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h3>{title}</h3>{paragraphs}</body></html>"
    )


def _value(key: str, value: Any, language: str) -> Any:
    if isinstance(value, dt.timedelta):
        return duration(value.total_seconds(), language)
    if isinstance(value, dt.date):
        return day(value)
    if key == "mode":
        return MODES[language].get(value, value)
    if isinstance(value, float):
        return f"{value:g}"
    return value


def render(kind: str, language: str, **fields: Any) -> tuple[str, str]:
    """Subject and body of one notification; raises KeyError naming a missing field."""
    lang = language if language in LANGUAGES else "vi"
    subject, body = TEMPLATES[kind][lang]
    values = {k: _value(k, v, lang) for k, v in fields.items()}
    return subject.format(**values), body.format(**values)
