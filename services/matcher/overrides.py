"""Staff assign an expert by hand: the override passes the same rule checks as the solver's plans.

The check runs the engine's independent validator on the scenario the solver would plan from
now (approved work pinned, balances from the ledger), with the manual assignment added. Broken
contract terms (ownership, the units and dates it covers, hours, budget, concurrent tasks) and
the expert's capacity refuse it outright: the ledger would refuse them too. Other broken rules
(skills, language, mode, travel, a pair declined or rejected before) refuse it unless staff
force it, and a forced override needs a reason. The assignment then goes to the contracts
service as a proposal marked manual carrying the staff member's signed command, which contracts
checks itself and then approves at once if the ledger has room; the audit trail there records
who (that staff member, with the signature), why and which rules were overridden. From then on the re-planning
leaves that request to staff (`placement.manual_requests`).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlmodel import Session, col, select

from services.matcher import planner, proposals
from services.matcher.db import ContractCopy, PlanRun, Proposal, RequestRow
from services.matcher.solver.options import Travel, cost_of, forced_mode
from services.matcher.solver.plan import Assignment, Plan
from services.matcher.solver.validate import validate
from shared import messages as m
from shared.bus import Rejected
from shared.rules import LIMITS, Rule, Scope, Violation, broken, render
from shared.scenario import Contract, Expert, Pin, Request, Scenario, minutes
from shared.security.credentials import Actor
from shared.statuses import HELD, LIVE, MATCHING, ContractStatus


def assign_manually(session: Session, cmd: m.AssignManually, actor: Actor, *, today: dt.date) -> m.Reply:
    row = session.get(RequestRow, cmd.request_id, with_for_update=True)
    if row is None:
        raise Rejected(f"unknown request {cmd.request_id!r}", "request_id")
    if row.status not in MATCHING:
        raise Rejected(f"request {row.id} is {row.status}; only an open request can be assigned", "request_id")
    req = Request.model_validate(row.record)
    if cmd.slot >= len(req.effective_slots()):
        raise Rejected(f"request {req.id} has {len(req.effective_slots())} slot(s); no slot {cmd.slot}", "slot")
    if cmd.force and not cmd.reason.strip():
        raise Rejected("a forced assignment needs a reason", "reason")
    _check_contract(session, cmd)
    replaced = _live_for_slot(session, req.id, cmd.slot)
    if replaced is not None and replaced.status in HELD:
        raise Rejected(f"slot {cmd.slot} of {req.id} already has {replaced.expert_id} ({replaced.status})", "slot")
    snap = planner.snapshot(session, today, keep=req.id)
    held = [p for key, p in snap.pins.items() if p.status in HELD and key != (req.id, cmd.slot)]
    assignment, violations = check(snap.scenario, req, cmd, held)
    _refuse_unless_forced(req, cmd, violations)
    why = f"replaced by {actor.label}'s manual assignment"
    if replaced is not None and not planner._withdraw(session, replaced, cmd, why):
        # Decided while this was checked (the withdrawal is conditional): the decision stands.
        session.refresh(replaced)
        raise Rejected(f"slot {cmd.slot} of {req.id} already has {replaced.expert_id} ({replaced.status})", "slot")
    return _propose(session, snap.scenario, req, assignment, cmd, actor, violations)


def _refuse_unless_forced(req: Request, cmd: m.AssignManually, violations: list[Violation]) -> None:
    """A rule staff may not force (`shared.rules.RULES[...].forceable`) refuses the assignment;
    the others refuse it unless it is forced."""
    hard = any(not v.forceable for v in violations)
    if hard or (violations and not cmd.force):
        hint = "" if hard else " (force it with a reason to override)"
        raise Rejected(
            f"{cmd.expert_id} for request {req.id}{_slot(req, cmd.slot)} breaks the rules: "
            f"{'; '.join(_said(violations))}{hint}",
            "contract_id" if hard else "expert_id",
            code=m.Refusal.BROKEN_RULES,
            broken=[broken(v) for v in violations],
        )


def _said(violations: list[Violation]) -> list[str]:
    """The violations as staff read them: about this assignment, so without naming it again."""
    return [render(v, where=False) for v in violations]


def _slot(req: Request, slot: int) -> str:
    n = len(req.effective_slots())
    return f" (expert {slot + 1} of {n})" if n > 1 else ""


def _check_contract(session: Session, cmd: m.AssignManually) -> None:
    contract = session.get(ContractCopy, cmd.contract_id)
    if contract is None:
        raise Rejected(f"unknown contract {cmd.contract_id!r}", "contract_id")
    if contract.record.get("expert") != cmd.expert_id:
        raise Rejected(
            f"contract {contract.id} is {contract.record.get('expert')}'s, not {cmd.expert_id}'s", "contract_id"
        )
    status = contract.record.get("status", ContractStatus.ACTIVE)
    if status != ContractStatus.ACTIVE:
        raise Rejected(f"contract {contract.id} is {status}; it takes no new work", "contract_id")


def _live_for_slot(session: Session, request_id: str, slot: int) -> Proposal | None:
    stmt = select(Proposal).where(
        Proposal.request_id == request_id, Proposal.slot == slot, col(Proposal.status).in_(LIVE)
    )
    return session.exec(stmt).first()


def check(
    sc: Scenario, req: Request, cmd: m.AssignManually, held: list[Proposal]
) -> tuple[Assignment, list[Violation]]:
    """The manual assignment with its figures, and every rule it breaks, judged together with the
    approved work (`held`) that already uses the same capacity."""
    experts = {e.id: e for e in sc.experts}
    contracts = {c.id: c for c in sc.contracts}
    e, c = experts.get(cmd.expert_id), contracts.get(cmd.contract_id)
    if e is None or c is None:
        raise Rejected(f"unknown expert {cmd.expert_id!r} or contract {cmd.contract_id!r}", "expert_id")
    a = _assignment(sc, req, cmd.slot, e, c)
    kept = [_held(p) for p in held]
    pins = [Pin(request=p.request_id, slot=p.slot, expert=p.expert_id, contract=p.contract_id) for p in held]
    checked = sc.model_copy(update={"pinned": pins})
    found = validate(checked, Plan(status="feasible", assignments=[*kept, a]))
    rules = [v for v in found if _about(v, a) and v.rule not in LIMITS]
    broken = {v.rule for v in found if _about(v, a) and v.rule in LIMITS}
    mine = [k for k in kept if k.contract == c.id], [k for k in kept if k.expert == e.id]
    return a, rules + _limits(c, e, a, *mine, broken)


def _assignment(sc: Scenario, req: Request, slot: int, e: Expert, c: Contract) -> Assignment:
    """The manual assignment with its figures, in the mode staff would force it in."""
    travel = Travel(sc)
    t = travel.minutes(e.home_unit, req.unit)
    mode, one_way = forced_mode(req, e, travel.units[req.unit].network, t)
    work = minutes(req.effective_slots()[slot].hours) + 2 * one_way
    return Assignment(
        request=req.id,
        slot=slot,
        expert=e.id,
        contract=c.id,
        mode=mode,
        travel_minutes=one_way,
        minutes=work,
        cost_vnd=cost_of(work, c.hourly_rate_vnd),
    )


def _held(p: Proposal) -> Assignment:
    return Assignment(
        request=p.request_id,
        slot=p.slot,
        expert=p.expert_id,
        contract=p.contract_id,
        mode="remote" if p.mode == "remote" else "onsite",
        travel_minutes=p.travel_minutes,
        minutes=p.minutes,
        cost_vnd=p.cost_vnd,
    )


def _about(v: Violation, a: Assignment) -> bool:
    """Whether a violation is the manual assignment's own: about it, its contract or its expert
    (never one about the approved work it is judged with)."""
    scope = v.spec.scope
    if scope is Scope.ASSIGNMENT:
        return (v.request, v.slot, v.expert, v.trainee) == (a.request, a.slot, a.expert, None)
    if scope is Scope.CONTRACT:
        return v.contract == a.contract
    return scope is Scope.EXPERT and v.expert == a.expert


def _limits(
    c: Contract, e: Expert, a: Assignment, on_contract: list[Assignment], of_expert: list[Assignment], broken: set[Rule]
) -> list[Violation]:
    """The broken limits with the figures staff need: what is left now (approved work counted),
    what this assignment needs; never the validator's plan-wide sums."""
    out = []
    if Rule.CONTRACT_HOURS in broken:
        left = minutes(c.hours_cap) - minutes(c.hours_used) - sum(k.minutes for k in on_contract)
        out.append(Violation.on_contract(Rule.CONTRACT_HOURS, c.id, e.id, left_min=left, needs_min=a.minutes))
    if Rule.CONTRACT_BUDGET in broken and c.budget_cap_vnd is not None:
        left = c.budget_cap_vnd - c.budget_used_vnd - sum(k.cost_vnd for k in on_contract)
        out.append(Violation.on_contract(Rule.CONTRACT_BUDGET, c.id, e.id, left_vnd=left, needs_vnd=a.cost_vnd))
    if Rule.CONTRACT_CONCURRENCY in broken:
        running = c.active_assignments + len(on_contract)
        out.append(Violation.on_contract(Rule.CONTRACT_CONCURRENCY, c.id, e.id, max=c.max_concurrent, running=running))
    if Rule.EXPERT_CAPACITY in broken:
        left = minutes(e.capacity_hours) - minutes(e.committed_hours) - sum(k.minutes for k in of_expert)
        out.append(Violation(Rule.EXPERT_CAPACITY, expert=e.id, detail={"left_min": left, "needs_min": a.minutes}))
    return out


def _propose(
    session: Session,
    sc: Scenario,
    req: Request,
    a: Assignment,
    cmd: m.AssignManually,
    actor: Actor,
    violations: list[Violation],
) -> m.Reply:
    """The manual assignment as a proposal of its own plan run, announced to contracts."""
    text, sha = planner.digest(sc)
    p = _record(session, req, a, text, sha)
    said = _said(violations)
    # The staff's signed command rides along: contracts approves at once only on its proof.
    signed = m.SignedCommand(**actor.evidence) if actor.evidence else None
    manual = m.ManualOverride(
        by=actor.label,
        forced=cmd.force,
        reason=cmd.reason,
        violations=said,
        rules=[str(v.rule) for v in violations],
        command=signed,
    )
    _announce(session, sc, req, p, cmd, sha, manual)
    return m.Reply.of(
        m.ManualAssignment(
            assignment_id=p.id,
            request_id=req.id,
            slot=a.slot,
            expert_id=a.expert,
            contract_id=a.contract,
            mode=a.mode,
            minutes=a.minutes,
            cost_vnd=a.cost_vnd,
            forced=cmd.force,
            violations=said,
        )
    )


def _record(session: Session, req: Request, a: Assignment, scenario: str, sha: str) -> Proposal:
    """The plan run that marks the proposal as staff's (`placement.manual_requests`), and the proposal."""
    run = PlanRun(input_sha256=sha, scenario=scenario, status="manual", proposed=1)
    session.add(run)
    session.flush()  # its id marks the proposal as staff's
    p = Proposal(
        plan_id=run.id,
        id=f"a-{uuid.uuid4().hex[:10]}",
        request_id=req.id,
        slot=a.slot,
        expert_id=a.expert,
        contract_id=a.contract,
        mode=a.mode,
        travel_minutes=a.travel_minutes,
        minutes=a.minutes,
        cost_vnd=a.cost_vnd,
    )
    session.add(p)
    return p


def _announce(
    session: Session,
    sc: Scenario,
    req: Request,
    p: Proposal,
    cmd: m.AssignManually,
    sha: str,
    manual: m.ManualOverride,
) -> None:
    """`AssignmentProposed`, marked manual, with the rules it was forced past in its explanation."""
    name = next((e.name for e in sc.experts if e.id == p.expert_id), p.expert_id)
    proposals.announce(
        session,
        p,
        req,
        cmd,
        expert_name=name,
        plan_sha=sha,
        manual=manual,
        explanation={
            "manual": True,
            "by": manual.by,
            "forced": cmd.force,
            "reason": cmd.reason,
            "violations": manual.violations,
            "rules": manual.rules,
        },
    )
