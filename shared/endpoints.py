"""Every request-reply subject, declared once: what it takes and what it answers.

An `Endpoint` ties a subject to its request model and its reply model. The owning service
registers its handler from it (`Service.command` / `Service.query`), the AsyncAPI documents
describe the reply from it, and a caller (the CLI, the portal: `shared.rpc`) gets the reply
model back, reading fields, never keys:

    view = await client.ask(endpoints.MATCHER_HEALTH, Message())   # -> Health
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from shared import messages as m
from shared import subjects as s
from shared.messages import Message

Q = TypeVar("Q", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class Endpoint(Generic[Q, R]):
    """A subject answered by one service: `request` in, `Reply[reply]` out."""

    subject: str
    request: type[Q]
    reply: type[R]

    @property
    def owner(self) -> str:
        return self.subject.split(".")[0]


class Health(BaseModel):
    """`<service>.health.get`: the service is up once every subscriber is."""

    model_config = ConfigDict(frozen=True)
    service: str


def health(service: str) -> Endpoint[Message, Health]:
    return Endpoint(s.health(service), Message, Health)


# ---------------------------------------------------------------- matcher
REQUEST_SUBMIT = Endpoint(s.REQUEST_SUBMIT, m.SubmitRequest, m.RequestState)
REQUESTS_SUBMIT = Endpoint(s.REQUESTS_SUBMIT, m.SubmitRequests, m.SubmitResults)
REQUEST_CANCEL = Endpoint(s.REQUEST_CANCEL, m.CancelRequest, m.RequestState)
ASSIGNMENT_ASSIGN = Endpoint(s.ASSIGNMENT_ASSIGN, m.AssignManually, m.ManualAssignment)
MATCHER_STATUS = Endpoint(s.MATCHER_STATUS_GET, m.GetRequests, m.MatcherStatus)
PLAN_INPUT = Endpoint(s.PLAN_INPUT_GET, m.GetPlanInput, m.PlanInputView)
CANDIDATES = Endpoint(s.CANDIDATES_GET, m.GetCandidates, m.CandidatesView)
GAPS = Endpoint(s.GAPS_GET, m.GetGaps, m.GapsReport)
HIRING_PLAN = Endpoint(s.HIRING_PLAN_GET, m.GetHiringPlan, m.HiringPlanView)

# ---------------------------------------------------------------- contracts
REFERENCE_REGISTER = Endpoint(s.REFERENCE_REGISTER, m.RegisterReference, m.Registered)
CONTRACT_STATUS_CHANGE = Endpoint(s.CONTRACT_STATUS_CHANGE, m.ChangeContractStatus, m.ContractMoved)
CONTRACTS_EXPIRE = Endpoint(s.CONTRACTS_EXPIRE, m.ExpireContracts, m.ContractsExpired)
ASSIGNMENT_APPROVE = Endpoint(s.ASSIGNMENT_APPROVE, m.ApproveAssignment, m.AssignmentReserved)
ASSIGNMENT_REJECT = Endpoint(s.ASSIGNMENT_REJECT, m.RejectAssignment, m.AssignmentMoved)
ASSIGNMENTS_DECIDE = Endpoint(s.ASSIGNMENTS_DECIDE, m.DecideAssignments, m.BatchDecided)
ASSIGNMENT_ACCEPT = Endpoint(s.ASSIGNMENT_ACCEPT, m.AcceptAssignment, m.AssignmentMoved)
ASSIGNMENT_DECLINE = Endpoint(s.ASSIGNMENT_DECLINE, m.DeclineAssignment, m.AssignmentReleased)
HOURS_LOG = Endpoint(s.HOURS_LOG, m.LogHours, m.HoursTaken)
EXTRA_HOURS_DECIDE = Endpoint(s.EXTRA_HOURS_DECIDE, m.DecideExtraHours, m.ExtraHoursDecided)
REQUEST_COMPLETE = Endpoint(s.REQUEST_COMPLETE, m.CompleteRequest, m.RequestDone)
CONTRACTS_STATUS = Endpoint(s.CONTRACTS_STATUS_GET, m.GetContractsStatus, m.ContractsStatus)
AUDIT = Endpoint(s.AUDIT_GET, m.GetAudit, m.AuditTrail)
AUDIT_VERIFY = Endpoint(s.AUDIT_VERIFY_GET, m.VerifyAudit, m.AuditVerified)
REPORT = Endpoint(s.REPORT_GET, m.GetReport, m.Report)
CONTRACTS_GAPS = Endpoint(s.CONTRACTS_GAPS_GET, m.GetGaps, m.GapsReport)
REFERENCE = Endpoint(s.REFERENCE_GET, m.GetReference, m.ReferenceData)

# ---------------------------------------------------------------- notifier
INBOX = Endpoint(s.INBOX_GET, m.GetInbox, m.InboxView)
INBOX_MARK_READ = Endpoint(s.INBOX_MARK_READ, m.MarkRead, m.MarkedRead)
PREFERENCES_SET = Endpoint(s.PREFERENCES_SET, m.SetPreferences, m.PreferencesView)
PREFERENCES = Endpoint(s.PREFERENCES_GET, m.GetPreferences, m.PreferencesView)
DELIVERIES = Endpoint(s.DELIVERIES_GET, m.GetDeliveries, m.DeliveriesView)
DELIVERIES_RETRY = Endpoint(s.DELIVERIES_RETRY, m.RetryDeliveries, m.RetriedDeliveries)

# ---------------------------------------------------------------- portal
CREDENTIAL_ISSUE = Endpoint(s.CREDENTIAL_ISSUE, m.IssueCredential, m.IssuedCredential)


def all_endpoints() -> list[Endpoint[Any, Any]]:
    """Every endpoint declared here (the services' health queries are made per service)."""
    return [v for v in globals().values() if isinstance(v, Endpoint)]
