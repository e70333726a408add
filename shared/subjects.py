"""Every NATS subject of the system, owner first.

Three kinds; which subjects are events is declared in `shared.catalogue`, never read from a name:
- events (past tense: `matcher.assignment.proposed`) are published from an owner's outbox into the
  owner's JetStream stream and consumed by durable pull consumers;
- commands (imperative: `contracts.assignment.approve`) are core-NATS request-reply to one handler
  (a queue group), answered with a `Reply`; their effects are committed before the answer;
- queries (`...get`) are request-reply reads.
A stream captures exactly its owner's event subjects, never a command, so a request is never
answered by a JetStream publish acknowledgement.
"""

from __future__ import annotations

# --- matcher -------------------------------------------------------------------------------
REQUEST_SUBMIT = "matcher.request.submit"
REQUESTS_SUBMIT = "matcher.requests.submit"
REQUEST_CANCEL = "matcher.request.cancel"
MATCHER_STATUS_GET = "matcher.status.get"
REQUEST_SUBMITTED = "matcher.request.submitted"
REQUESTS_SUBMITTED = "matcher.requests.submitted"
REQUEST_CANCELLED = "matcher.request.cancelled"
REQUEST_UNMATCHED = "matcher.request.unmatched"
ASSIGNMENT_PROPOSED = "matcher.assignment.proposed"
ASSIGNMENT_WITHDRAWN = "matcher.assignment.withdrawn"
PLAN_OVERCOMMITTED = "matcher.plan.overcommitted"
ASSIGNMENT_ASSIGN = "matcher.assignment.assign"
PLAN_INPUT_GET = "matcher.plan_input.get"
CANDIDATES_GET = "matcher.candidates.get"
GAPS_GET = "matcher.gaps.get"
HIRING_PLAN_GET = "matcher.hiring_plan.get"

# --- contracts -----------------------------------------------------------------------------
REFERENCE_REGISTER = "contracts.reference.register"
ASSIGNMENT_APPROVE = "contracts.assignment.approve"
ASSIGNMENT_REJECT = "contracts.assignment.reject"
ASSIGNMENT_ACCEPT = "contracts.assignment.accept"
ASSIGNMENT_DECLINE = "contracts.assignment.decline"
HOURS_LOG = "contracts.hours.log"
REQUEST_COMPLETE = "contracts.request.complete"
CONTRACTS_STATUS_GET = "contracts.status.get"
AUDIT_GET = "contracts.audit.get"
AUDIT_VERIFY_GET = "contracts.audit_verify.get"
CONTRACT_STATUS_CHANGE = "contracts.contract.change_status"
CONTRACTS_EXPIRE = "contracts.contract.expire"
ASSIGNMENTS_DECIDE = "contracts.assignments.decide"
EXTRA_HOURS_DECIDE = "contracts.hours.decide_extra"
REPORT_GET = "contracts.report.get"
REFERENCE_GET = "contracts.reference.get"
CONTRACTS_GAPS_GET = "contracts.gaps.get"
CONTRACT_STATUS_CHANGED = "contracts.contract.status_changed"
HOURS_FLAGGED = "contracts.hours.flagged"
HOURS_REFUSED = "contracts.hours.refused"
REFERENCE_REGISTERED = "contracts.reference.registered"
UNIT_REGISTERED = "contracts.unit.registered"
TRAVEL_REGISTERED = "contracts.travel.registered"
EXPERT_REGISTERED = "contracts.expert.registered"
CONTRACT_REGISTERED = "contracts.contract.registered"
BALANCE_CHANGED = "contracts.balance.changed"
ASSIGNMENT_APPROVED = "contracts.assignment.approved"
ASSIGNMENT_REJECTED = "contracts.assignment.rejected"
ASSIGNMENT_ACCEPTED = "contracts.assignment.accepted"
ASSIGNMENT_DECLINED = "contracts.assignment.declined"
ASSIGNMENT_CANCELLED = "contracts.assignment.cancelled"
HOURS_LOGGED = "contracts.hours.logged"
REQUEST_COMPLETED = "contracts.request.completed"

# --- notifier ------------------------------------------------------------------------------
INBOX_GET = "notifier.inbox.get"
INBOX_MARK_READ = "notifier.inbox.mark_read"
NOTIFICATION_DELIVERED = "notifier.notification.delivered"
NOTIFICATION_FAILED = "notifier.notification.failed"
PREFERENCES_SET = "notifier.preferences.set"
PREFERENCES_GET = "notifier.preferences.get"
DELIVERIES_GET = "notifier.deliveries.get"
DELIVERIES_RETRY = "notifier.deliveries.retry"

# --- portal --------------------------------------------------------------------------------
CREDENTIAL_ISSUE = "portal.credential.issue"

# --- dead letters --------------------------------------------------------------------------
DEADLETTER_PREFIX = "deadletter"
DEADLETTER_STREAM_SUBJECTS = ["deadletter.>"]


def health(service: str) -> str:
    return f"{service}.health.get"


def deadletter(service: str) -> str:
    return f"{DEADLETTER_PREFIX}.{service}"


def all_subjects() -> list[str]:
    return sorted(v for k, v in globals().items() if k.isupper() and isinstance(v, str) and "." in v)
