"""Words of the pages in Vietnamese (the default) and English, and Vietnamese number formats.

Money is whole dong grouped by dots (1.500.000 ₫), dates are day/month/year (24/11/2026).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.portal import vocabulary
from shared.formatting import day, local_time
from shared.formatting import money as money  # the pages' filter (`web.py`)
from shared.scenario import SKILLS

LANGUAGES = ("vi", "en")

WORDS: dict[str, tuple[str, str]] = {
    "app": ("Chia sẻ chuyên gia CNTT", "IT expert sharing"),
    # issue 16 (the shortage page): charts, map, bottlenecks, the hiring plan
    "shortage": ("Thiếu hụt chuyên gia", "Expert shortage"),
    "period_from": ("Từ ngày", "From"),
    "period_to": ("Đến ngày", "To"),
    "show": ("Xem", "Show"),
    "period_of": ("Các yêu cầu gửi từ {a} đến {b}", "Requests submitted from {a} to {b}"),
    "open_too": ("và mọi yêu cầu còn mở", "and every request still open"),
    "totals": (
        "Yêu cầu: {n}. Chưa đáp ứng: {un} yêu cầu, {uh}, trọng số {uw} trên {w}.",
        "Requests: {n}. Uncovered: {un} requests, {uh}, weight {uw} of {w}.",
    ),
    "weight_note": (
        "Trọng số theo mức khẩn: 1, 2, 4, 8, 16 cho mức 1 đến 5.",
        "Weight by urgency: 1, 2, 4, 8, 16 for levels 1 to 5.",
    ),
    "uncovered_weight": ("Trọng số chưa đáp ứng", "Uncovered weight"),
    "requests_word": ("yêu cầu", "requests"),
    "skill_level": ("Kỹ năng và mức", "Skill and level"),
    "month": ("Tháng", "Month"),
    "chart_by_skill": ("Nhu cầu chưa đáp ứng theo kỹ năng (trọng số)", "Uncovered demand by skill (weight)"),
    "chart_by_month": ("Nhu cầu chưa đáp ứng theo tháng gửi (trọng số)", "Uncovered demand by month (weight)"),
    "map_title": (
        "Bản đồ các xã: vòng tròn càng to và càng đậm, nhu cầu chưa đáp ứng càng nhiều",
        "The communes: the bigger and darker the circle, the more uncovered demand",
    ),
    "map_legend": ("Trọng số chưa đáp ứng của xã", "A commune's uncovered weight"),
    "map_none": ("không thiếu", "none"),
    "by_commune": ("Theo xã (thiếu nhiều nhất trước)", "By commune (most uncovered first)"),
    "no_location": ("Xã chưa có tọa độ (không có trên bản đồ)", "Communes without coordinates (not on the map)"),
    "bottlenecks": (
        "Nút thắt: 1 giờ chuyên gia thêm đem lại bao nhiêu",
        "Bottlenecks: what one more expert-hour brings",
    ),
    "bottleneck_note": (
        "Trọng số được đáp ứng thêm cho mỗi giờ chuyên gia có kỹ năng này ở xã này, theo bộ giải.",
        "Covered weight gained per extra hour of an expert with this skill in this commune.",
    ),
    "bottleneck_row": ("1 giờ thêm = +{v} (tới {h}, {n} yêu cầu)", "1 more hour = +{v} (up to {h}, {n} requests)"),
    "remote_ok": ("làm từ xa được", "can be done remotely"),
    "no_bottleneck": ("Không có: một giờ thêm không đáp ứng thêm được gì.", "None: one more hour would cover nothing."),
    "no_values": ("Chưa tính được giá trị một giờ thêm.", "The value of one more hour was not computed."),
    "value_hour": ("Giá trị 1 giờ thêm", "Value of 1 more hour"),
    "commune_word": ("Xã", "Commune"),
    "hiring": ("Kế hoạch tuyển hợp đồng", "Hiring plan"),
    "hiring_note": (
        "Nhập kinh phí: hệ thống chọn các hợp đồng chuyên gia đáp ứng được nhiều nhất, "
        "kiểm tra bằng cách giải lại, và so với quy tắc đơn giản.",
        "Enter a budget: the contracts that cover the most are chosen, checked by solving again, "
        "and compared with a simple rule.",
    ),
    "budget": ("Kinh phí (đồng)", "Budget (dong)"),
    "make_plan": ("Lập kế hoạch", "Make the plan"),
    "plan_summary": (
        "Trọng số được đáp ứng: {a} → {b} (+{g}), chi phí {c} trên {k}, cho {n} yêu cầu đang mở.",
        "Covered weight: {a} → {b} (+{g}), cost {c} of {k}, for {n} open requests.",
    ),
    "plan_checked": (
        "Đã kiểm tra: giải lại với các hợp đồng mới cho cùng kết quả.",
        "Checked: solving again with the new contracts gives the same.",
    ),
    "plan_unchecked": (
        "Lưu ý: giải lại cho {a}, mô hình chung tìm được {b}.",
        "Note: solving again gives {a}; the joint model found {b}.",
    ),
    "no_hire": (
        "Không có hợp đồng nào đáp ứng thêm được trong kinh phí này.",
        "No contract within this budget would cover more.",
    ),
    "where": ("Nơi làm việc", "Based at"),
    "remote_only": ("Chỉ làm từ xa", "Remote only"),
    "covers": ("Đáp ứng", "Covers"),
    "weight_before_after": ("Trọng số", "Weight"),
    "simple_rule": (
        "Quy tắc đơn giản (tuyển cho kỹ năng thiếu nhiều nhất, ở nơi thiếu nhiều nhất): "
        "{n} hợp đồng, {c}, trọng số {b} (+{g}); kế hoạch hơn {d}.",
        "The simple rule (hire for the most uncovered skill, where most of it is): "
        "{n} contracts, {c}, weight {b} (+{g}); the plan covers {d} more.",
    ),
    "csv_gaps": ("Tải bảng thiếu hụt (CSV)", "Download the shortage (CSV)"),
    "csv_plan": ("Tải kế hoạch tuyển (CSV)", "Download the hiring plan (CSV)"),
    "more_rows": ("… và {n} dòng nữa trong tệp CSV", "… and {n} more rows in the CSV file"),
    "approval_time": (
        "Từ yêu cầu đến phê duyệt: {n} yêu cầu, trung vị {med}, 90% trong {p90}.",
        "From request to approval: {n} requests, median {med}, 90% within {p90}.",
    ),
    # issue 15 (the pages): names, confirmations, pickers, errors
    "requests_of": ("Yêu cầu của", "Requests of"),
    "who_comes": ("Ai đến hỗ trợ", "Who is coming"),
    "contact": ("Liên hệ", "Contact"),
    "home_unit": ("Nơi công tác", "Based at"),
    "contact_after_approval": (
        "Thông tin liên hệ hiện ra khi Sở Nội vụ đã duyệt.",
        "The contact shows once home affairs approved.",
    ),
    "no_contact": (
        "Chuyên gia chưa để lại địa chỉ liên hệ; hỏi Sở Nội vụ.",
        "The expert left no contact; ask home affairs.",
    ),
    "by_deadline": ("trước", "by"),
    "error": ("Lỗi", "Error"),
    "not_found": ("Không tìm thấy trang này", "This page does not exist"),
    "server_error": ("Hệ thống gặp lỗi; vui lòng thử lại sau", "Something went wrong; try again later"),
    "done_accept": (
        "Bạn đã nhận việc. Hãy ghi giờ làm khi làm xong.",
        "You accepted the task. Log the hours when done.",
    ),
    "done_decline": (
        "Bạn đã từ chối việc; hệ thống sẽ tìm chuyên gia khác.",
        "You declined; another expert will be looked for.",
    ),
    "done_hours": ("Đã ghi giờ làm.", "The hours are logged."),
    "done_complete": ("Đã xác nhận hoàn thành. Cảm ơn!", "Completion confirmed. Thank you!"),
    "done_submit": ("Đã gửi yêu cầu; hệ thống đang tìm chuyên gia.", "Request sent; an expert is being looked for."),
    "approved_n": ("Đã duyệt", "Approved"),
    "rejected_n": ("Đã từ chối", "Rejected"),
    "proposals_n": ("đề xuất", "proposal(s)"),
    "not_done": ("Chưa xử lý được", "Not done"),
    "open_request": ("Xem yêu cầu", "Open the request"),
    "open_task": ("Xem nhiệm vụ", "Open the task"),
    "open_proposal": ("Xem đề xuất", "Open the proposal"),
    "still_not_fit": ("(vẫn không đủ chỗ)", "(still does not fit)"),
    "choose": ("— Chọn —", "— Choose —"),
    "subject": ("Đối tượng", "Subject"),
    "display_name_label": ("Tên hiển thị", "Display name"),
    "find_expert": ("Tìm chuyên gia (tên hoặc mã)", "Find an expert (name or id)"),
    "picker_cut": (
        "Danh sách dài: chỉ hiện 200 mục đầu; hãy tìm theo tên để thu hẹp.",
        "A long list: the first 200 are shown; find by name to narrow it.",
    ),
    "reference": ("Danh sách đơn vị, chuyên gia, hợp đồng", "Units, experts and contracts"),
    "per_hour": ("/giờ", "/hour"),
    "chart_caption": (
        "Giờ đã dùng hoặc giữ chỗ theo thời gian; đường gạch là hạn mức",
        "Hours used or reserved over time; the dashed line is the cap",
    ),
    "sign_in": ("Đăng nhập", "Sign in"),
    "sign_out": ("Đăng xuất", "Sign out"),
    "username": ("Tên đăng nhập", "Username"),
    "password": ("Mật khẩu", "Password"),
    "bad_login": ("Sai tên đăng nhập hoặc mật khẩu", "Wrong username or password"),
    "language": ("English", "Tiếng Việt"),
    "my_requests": ("Yêu cầu của xã", "Our requests"),
    "new_request": ("Gửi yêu cầu mới", "New request"),
    "title": ("Nội dung cần hỗ trợ", "What is needed"),
    "skill": ("Lĩnh vực", "Skill"),
    "level": ("Mức độ (1-5)", "Level (1-5)"),
    "mode": ("Hình thức", "Mode"),
    "onsite": ("Tại chỗ", "On site"),
    "remote": ("Từ xa", "Remote"),
    "either": ("Từ xa hoặc tại chỗ", "Either"),
    "hours": ("Số giờ", "Hours"),
    "deadline": ("Hạn chót", "Deadline"),
    "priority": ("Mức khẩn", "Urgency"),
    "send": ("Gửi", "Send"),
    "status": ("Trạng thái", "Status"),
    "request": ("Yêu cầu", "Request"),
    "timeline": ("Tiến trình", "Timeline"),
    "expert": ("Chuyên gia", "Expert"),
    "contract": ("Hợp đồng", "Contract"),
    "cost": ("Chi phí", "Cost"),
    "confirm_done": ("Xác nhận hoàn thành", "Confirm completion"),
    "rating": ("Đánh giá (1-5)", "Rating (1-5)"),
    "comment": ("Ghi chú", "Comment"),
    "reason": ("Lý do", "Reason"),
    "proposals": ("Đề xuất chờ duyệt", "Proposals waiting"),
    "approve": ("Duyệt", "Approve"),
    "reject": ("Từ chối", "Reject"),
    "approve_selected": ("Duyệt các mục đã chọn", "Approve selected"),
    "reject_selected": ("Từ chối các mục đã chọn", "Reject selected"),
    "why": ("Lý do đề xuất", "Why this expert"),
    "contracts": ("Hợp đồng", "Contracts"),
    "hours_left": ("Giờ còn lại", "Hours left"),
    "budget_left": ("Kinh phí còn lại", "Budget left"),
    "hours_used": ("Giờ đã dùng/giữ", "Hours used/reserved"),
    "cap": ("Hạn mức", "Cap"),
    "my_tasks": ("Nhiệm vụ của tôi", "My tasks"),
    "accept": ("Nhận việc", "Accept"),
    "decline": ("Từ chối việc", "Decline"),
    "log_hours": ("Ghi giờ làm", "Log hours"),
    "logged": ("Đã ghi", "Logged"),
    "logged_within": ("Đã ghi trong mức giữ chỗ", "Logged within the reservation"),
    "none": ("Chưa có gì.", "Nothing yet."),
    "done": ("Đã xong", "Done"),
    "unit": ("Đơn vị", "Unit"),
    "users": ("Người dùng", "Users"),
    "extra_waiting": ("Giờ làm vượt mức giữ chỗ, chờ duyệt", "Hours beyond the reservation, waiting"),
    "extra_hours": ("Giờ vượt", "Extra hours"),
    "refuse": ("Không duyệt", "Refuse"),
    "assignment": ("Phân công", "Assignment"),
    "reserved": ("Giữ chỗ", "Reserved"),
    "lifecycle": ("Trạng thái hợp đồng", "Contract status"),
    "suspend": ("Tạm dừng", "Suspend"),
    "resume": ("Kích hoạt", "Activate"),
    "terminate": ("Chấm dứt hợp đồng", "End the contract"),
    "lifecycle_note": (
        "Tạm dừng hoặc chấm dứt sẽ huỷ các phân công chưa bắt đầu; cần ghi lý do.",
        "Suspending or ending cancels the assignments not yet started; a reason is needed.",
    ),
    "too_many_tries": ("Đăng nhập sai quá nhiều lần. Thử lại sau", "Too many failed sign-ins. Try again after"),
    "account": ("Tài khoản", "Account"),
    "change_password": ("Đổi mật khẩu", "Change password"),
    "current_password": ("Mật khẩu hiện tại", "Current password"),
    "new_password": ("Mật khẩu mới", "New password"),
    "repeat_password": ("Nhập lại mật khẩu mới", "New password again"),
    "api_tokens": ("Mã truy cập API", "API tokens"),
    "label": ("Ghi chú", "Label"),
    "revoke": ("Thu hồi", "Revoke"),
    "disable": ("Khoá tài khoản", "Disable"),
    "enable": ("Mở khoá", "Enable"),
    "busy": ("Hệ thống đang bận, vui lòng thử lại sau ít giây", "Too busy; try again in a few seconds"),
    "role": ("Vai trò", "Role"),
    "saved": ("Đã lưu.", "Saved."),
    "audit": ("Nhật ký", "Audit log"),
    "unavailable": ("Dịch vụ tạm thời không trả lời", "A service is not answering"),
    "no_access": ("Bạn không có quyền xem trang này", "You may not open this page"),
    "expired_form": ("Biểu mẫu đã hết hạn, vui lòng gửi lại", "The form expired, please send it again"),
    "home": ("Trang chính", "Home"),
    "when": ("Thời điểm", "When"),
    "who": ("Người thực hiện", "Who"),
    "action": ("Hành động", "Action"),
    "balance": ("Số dư", "Balance"),
    "alternatives": ("Số phương án phù hợp", "Eligible options"),
    "other_experts": ("Các chuyên gia khác có thể nhận", "Other experts who could take it"),
    "fits_now": ("Nhận được ngay", "Fits now"),
    "displaces": ("Phải nhường yêu cầu", "Would displace"),
    "score": ("Điểm (thấp là tốt)", "Score (lower is better)"),
    "all_proposals": ("Tất cả đề xuất", "All proposals"),
    "no_alternatives": ("Không có phương án khác", "No alternatives"),
    "import_sheets": ("Nhập danh sách CSV", "Import CSV sheets"),
    "imported": ("Đã nhập", "Imported"),
    "filter": ("Lọc", "Filter"),
    "page": ("Trang", "Page"),
    "previous": ("Trang trước", "Previous"),
    "next": ("Trang sau", "Next"),
    "units_n": ("đơn vị", "units"),
    "experts_n": ("chuyên gia", "experts"),
    "contracts_n": ("hợp đồng", "contracts"),
    "nothing_imported": ("Chưa nhập gì, các lỗi cần sửa", "Nothing was imported; errors to fix"),
    "sheets_help": (
        "Cột theo docs/sheets.md; nhập tất cả hoặc không nhập gì.",
        "Columns as in docs/sheets.md; all of it is imported, or nothing.",
    ),
    "coverage": ("Mức đáp ứng theo xã", "Unit coverage"),
    "covered": ("Đã có chuyên gia", "Covered"),
    "hours_received": ("Giờ hỗ trợ đã nhận", "Hours received"),
    "requests": ("Số yêu cầu", "Requests"),
    "assign": ("Phân công thủ công", "Assign by hand"),
    "force": ("Bỏ qua quy tắc (cần lý do)", "Force (needs a reason)"),
    "slot": ("Vị trí", "Position"),
    "assigned_ok": ("Đã phân công và duyệt.", "Assigned and approved."),
    "inbox": ("Thông báo", "Notifications"),
    "unread": ("chưa đọc", "unread"),
    "mark_read": ("Đánh dấu đã đọc", "Mark all read"),
    "history": ("Diễn biến", "History"),
    "availability": ("Thời gian có thể hỗ trợ", "My availability"),
    "capacity_hours": ("Số giờ có thể nhận trong kỳ", "Hours I can take in the period"),
    "max_travel_minutes": ("Đi lại tối đa (phút)", "Longest travel (minutes)"),
    "can_remote": ("Hỗ trợ từ xa", "I work remotely"),
    "can_onsite": ("Đến tận nơi", "I go on site"),
    "use_over_time": ("Giờ đã dùng/giữ theo thời gian", "Hours used or reserved over time"),
    # ---- accounts (issue 15): the admin's users page, and a commune bound to an unknown unit
    "role_commune": ("Cán bộ xã", "Commune officer"),
    "role_staff": ("Cán bộ Sở Nội vụ", "Home-affairs staff"),
    "role_expert": ("Chuyên gia", "Expert"),
    "role_admin": ("Quản trị viên", "Administrator"),
    "display_name": ("Tên hiển thị", "Display name"),
    "add_user": ("Thêm người dùng", "Add a user"),
    "user_active": ("Đang hoạt động", "Active"),
    "user_disabled": ("Đã khoá", "Disabled"),
    "reset_password": ("Đặt lại mật khẩu", "Reset the password"),
    "unit_for_commune": ("Mã đơn vị (cán bộ xã)", "Unit id (commune officer)"),
    "expert_for_expert": ("Mã chuyên gia (chuyên gia)", "Expert id (expert)"),
    "users_total": ("người dùng", "users"),
    "user_done_disable": (
        "Đã khoá {who}; các phiên đăng nhập của người này đã kết thúc.",
        "{who} is disabled; their sessions have ended.",
    ),
    "user_done_enable": ("Đã mở khoá {who}.", "{who} is enabled again."),
    "user_done_reset": (
        "Đã đặt lại mật khẩu của {who}; các phiên đăng nhập cũ đã kết thúc.",
        "{who}'s password is reset; their sessions have ended.",
    ),
    "user_not_yourself": (
        "Không thể tự khoá hoặc đặt lại mật khẩu của chính mình tại đây (dùng trang Tài khoản).",
        "You cannot disable or reset yourself here (use the Account page).",
    ),
    "user_bad_role": (
        "Vai trò phải là cán bộ xã, cán bộ Sở Nội vụ, chuyên gia hoặc quản trị viên.",
        "The role must be commune, staff, expert or admin.",
    ),
    "user_bad_name": (
        "Tên đăng nhập chỉ gồm chữ, số, dấu '.', '-' và '_', tối đa 64 ký tự.",
        "Letters, digits, '.', '-' and '_' only, at most 64.",
    ),
    "user_short_password": ("Mật khẩu cần ít nhất 8 ký tự.", "At least 8 characters."),
    "user_needs_unit": (
        "Cán bộ xã phải gắn với một đơn vị: nhập mã đơn vị.",
        "A commune officer is bound to a unit: give its id.",
    ),
    "user_needs_expert": (
        "Tài khoản chuyên gia phải gắn với một mã chuyên gia.",
        "An expert user is bound to an expert id.",
    ),
    "user_exists": ("Tên đăng nhập {username} đã có.", "{username} already exists."),
    "user_no_such": ("Không có người dùng {username}.", "No user {username}."),
    "user_unknown_unit": (
        "Không có đơn vị mã {unit} trong hệ thống: kiểm tra lại mã đơn vị.",
        "No unit {unit} is registered: check the unit id.",
    ),
    "user_unknown_expert": (
        "Không có chuyên gia mã {expert} trong hệ thống: kiểm tra lại mã chuyên gia.",
        "No expert {expert} is registered: check the expert id.",
    ),
    "user_cannot_check": (
        "Chưa kiểm tra được mã này vì dịch vụ hợp đồng không trả lời; chưa tạo tài khoản. Thử lại sau.",
        "The contracts service is not answering, so the id cannot be checked; no user was created. Try again later.",
    ),
    "unit_unknown_submit": (
        "Tài khoản của bạn gắn với đơn vị {unit}, nhưng đơn vị này không có trong hệ thống "
        "nên chưa gửi được yêu cầu. Vui lòng liên hệ quản trị viên.",
        "Your account is bound to unit {unit}, which is not registered, so the request "
        "was not sent. Please contact the administrator.",
    ),
}

STATUS: dict[str, tuple[str, str]] = {
    "open": ("Đang tìm chuyên gia", "Looking for an expert"),
    "unmatched": ("Chưa tìm được", "No expert yet"),
    "proposed": ("Đã đề xuất, chờ duyệt", "Proposed, waiting for approval"),
    "pending": ("Chờ duyệt", "Waiting for approval"),
    "approved": ("Đã duyệt", "Approved"),
    "accepted": ("Chuyên gia đã nhận", "Expert accepted"),
    "completed": ("Hoàn thành", "Completed"),
    "rejected": ("Bị từ chối", "Rejected"),
    "declined": ("Chuyên gia từ chối", "Declined by the expert"),
    "cancelled": ("Đã hủy", "Cancelled"),
    "withdrawn": ("Đã rút", "Withdrawn"),
    "assigned": ("Đã phân công", "Assigned"),
    "active": ("Hiệu lực", "Active"),
    "submitted": ("Đã gửi", "Submitted"),
    "draft": ("Dự thảo", "Draft"),
    "suspended": ("Tạm dừng", "Suspended"),
    "exhausted": ("Hết hạn mức", "Exhausted"),
    "expired": ("Hết hạn", "Expired"),
    "terminated": ("Chấm dứt", "Terminated"),
}

ACTIONS: dict[str, tuple[str, str]] = {
    "propose": ("Hệ thống đề xuất chuyên gia", "Expert proposed"),
    "approve": ("Sở Nội vụ duyệt", "Approved"),
    "assign": ("Phân công thủ công", "Assigned by hand"),
    "reject": ("Không duyệt", "Rejected"),
    "refuse": ("Vượt hạn mức hợp đồng", "Over the contract's caps"),
    "accept": ("Chuyên gia nhận việc", "Accepted"),
    "decline": ("Chuyên gia từ chối", "Declined"),
    "log_hours": ("Ghi giờ làm", "Hours logged"),
    "approve_hours": ("Duyệt giờ vượt", "Extra hours approved"),
    "refuse_hours": ("Không duyệt giờ vượt", "Extra hours refused"),
    "complete": ("Xã xác nhận hoàn thành", "Completion confirmed"),
    "cancel": ("Đã hủy", "Cancelled"),
    "flag_hours": ("Ghi giờ vượt mức giữ chỗ", "Hours beyond the reservation logged"),
    "register": ("Cập nhật danh sách", "Lists registered"),
    "contract_status": ("Đổi trạng thái hợp đồng", "Contract status changed"),
}

PRIORITIES = {
    1: ("Có thể chờ", "Can wait"),
    2: ("Thấp", "Low"),
    3: ("Bình thường", "Normal"),
    4: ("Khẩn", "Urgent"),
    5: ("Rất khẩn", "Most urgent"),
}


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def number(x: Any) -> str:
    """Hours and the like: a decimal comma, no trailing zeros (2,5)."""
    if x is None:
        return "—"
    text = f"{float(x):.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def date(value: Any) -> str:
    if not value:
        return "—"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return local_time(value)  # Vietnam time
    return day(value)


class Words:
    """What a template calls `t`: t('send'), t.status('open'), t.skill('digital_signature')."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "vi"

    def __call__(self, key: str) -> str:
        return _pick(WORDS[key], self.lang)

    def status(self, key: str) -> str:
        return _pick(STATUS[key], self.lang) if key in STATUS else key

    def skill(self, key: str) -> str:
        return _pick(SKILLS[key], self.lang) if key in SKILLS else key

    def priority(self, p: Any) -> str:
        return _pick(PRIORITIES[int(p)], self.lang) if p in PRIORITIES else str(p)

    def action(self, key: str) -> str:
        return _pick(ACTIONS[key], self.lang) if key in ACTIONS else key

    def mode(self, key: str) -> str:
        return self(key) if key in ("onsite", "remote", "either") else key

    def hours(self, value: Any) -> str:
        """Hours, one way on every page: 2,5 giờ, 7 giờ 40 phút (`vocabulary.hours`)."""
        return vocabulary.hours(value, self.lang)

    def minutes(self, value: Any) -> str:
        return "—" if value is None else vocabulary.hours(int(value) / 60, self.lang)

    def reason(self, code: str, text: str = "") -> str:
        """An unmatched reason by its code; the service's sentence only for a code not known."""
        if code in vocabulary.REASONS:
            return _pick(vocabulary.REASONS[code], self.lang)
        return str(self.say(vocabulary.service(text))) if text else ""

    def body(self, text: str) -> str:
        """A notification's text with the matcher's reasons in the reader's language."""
        return vocabulary.reasons_in(text, self.lang)

    def actor(self, key: str) -> str:
        return _pick(vocabulary.ACTORS[key], self.lang) if key in vocabulary.ACTORS else key

    def role(self, key: str) -> str:
        return _pick(vocabulary.ROLES[key], self.lang) if key in vocabulary.ROLES else key

    def say(self, msg: Any) -> str:
        """A message for the page: a `Said` in the reader's language, a service's sentence translated."""
        if isinstance(msg, vocabulary.Said):
            return msg.en if self.lang == "en" else str(msg)
        return self.say(vocabulary.service(str(msg))) if msg else ""

    def explain(self, x: dict[str, Any], minutes: int | None = None) -> str:
        return vocabulary.explanation(x, minutes, self.lang)
