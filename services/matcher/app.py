"""Composition root of the matcher service: requests in, proposals out, at once and in the background.

Every change that can alter the plan (a request, reference data, a balance, a decision) wakes
the copy that leads (one among any number of copies, `Replanner`): it decides every waiting
request at once (`placement`), then re-solves the whole plan in the background (`planner`, with
the pure engine `services.matcher.solver` in a process of its own, `solving`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import structlog
from sqlmodel import Session

from services.matcher import handlers as h
from services.matcher import metrics
from services.matcher.alternatives import candidates
from services.matcher.db import create_schema
from services.matcher.gaps import gaps
from services.matcher.hiring_plan import hiring_plan
from services.matcher.overrides import assign_manually
from services.matcher.placement import REFERENCE, Reference, place_open, reference_key
from services.matcher.planner import Solver, replan
from services.matcher.settings import MatcherSettings
from services.matcher.solver import solve
from services.matcher.solving import SolverProcess
from shared import catalogue, heap
from shared import endpoints as E
from shared import messages as m
from shared import subjects as s
from shared.bus import in_thread
from shared.clock import local_today
from shared.db import reader, retrying, transaction
from shared.leader import Leadership, changes_seen, note_change
from shared.security.credentials import Actor
from shared.service import Permit, Service
from shared.tracing import current_context, under

log = structlog.get_logger("matcher")

EVENTS = catalogue.events("matcher")


PLAN = "plan"  # the leader key, and the name of the plan's fence and change counter
#: The pause after a round of placement, as a multiple of the round's length (see `_place_loop`).
PLACE_PAUSE = 1.5
PLACE_PAUSE_MAX_S = 0.3
COPIES = (
    s.REFERENCE_REGISTERED,
    s.UNIT_REGISTERED,
    s.TRAVEL_REGISTERED,
    s.EXPERT_REGISTERED,
    s.CONTRACT_REGISTERED,
    s.CONTRACT_STATUS_CHANGED,
)  # what `placement.Reference` is built from


class Replanner:
    """The leader's two jobs, among all copies of the matcher (`shared.leader`): decide every
    waiting request at once (`placement`), and improve the whole plan in the background
    (`planner`, the engine in a process of its own). Both write only while this copy still leads
    the term it read under (the plan's fence, first thing in each transaction).

    Every copy handles commands and events (queue groups and durable consumers share them out)
    and raises the change counter in the same transaction (`changing`). The leader acts at once
    on the changes it handled itself (`mark`, after their commit), and on the other copies' when
    its poll of that counter (every `change_poll_s`) finds it moved. Why a counter in the database
    rather than a non-queue subscription to the change events: an event reaches every copy at the
    same moment, so the leader would often act before the copy handling it has committed it, and
    then miss the change until the next one; the counter moves in the change's own transaction,
    so a read that follows the read of the counter includes the change. Its cost: one single-row
    update per message, the last statement of its transaction, and a one-row read per poll.

    - **Placement** (`_place_loop`): woken by every change, decides the waiting requests in short
      transactions (`placement.BATCH`, `placement.ROUND_S`), the most urgent first, new requests
      before those open again. A request is decided in the time of one or two such transactions,
      whether or not a re-plan is solving.
    - **Re-plan** (`_plan_loop`): after `debounce_s` to batch what else arrives, one re-solve at a
      time, sized to the problem (`solver.time_for`) unless `time_limit_s` is set; changes that
      arrive meanwhile are batched into the next. Its writes are checked against the room left
      now, so what was placed while it solved is never given away twice.
    """

    def __init__(self, svc: Service, settings: MatcherSettings, leadership: Leadership | None = None) -> None:
        self.svc, self.settings = svc, settings
        self.dirty = asyncio.Event()  # a re-plan is due
        self.waiting = asyncio.Event()  # requests may be waiting for a decision
        self.cause: m.Message = m.Message()
        self.cause_trace: Any = None  # the trace of that change: the proposals it leads to continue it
        self.replan_seconds = metrics.replan_histogram(svc.registry)
        self.leadership = leadership or Leadership(settings.nats_url, PLAN, identity=settings.service)
        self.leadership.on_change = self._on_leadership
        self.solver: Solver = SolverProcess() if settings.solve_in_process else solve
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._seen: int | None = None  # the change counter as read before the last plan's snapshot
        self._ref: Reference | None = None
        # The requests a plan's write in progress is deciding: the placement leaves them to it.
        self.reserved: set[str] = set()

    def mark(self, cause: m.Message) -> None:
        """Something changed (committed): place and plan again. Safe from any thread: an
        asyncio.Event is set only in its own loop's thread, or its waiter may never wake."""
        self.cause = cause
        self.cause_trace = current_context()
        loop = self._loop
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if loop is None or here is loop:
            self._set()
        else:
            loop.call_soon_threadsafe(self._set)

    def _set(self) -> None:
        self.waiting.set()
        self.dirty.set()

    def _on_leadership(self, leading: bool) -> None:
        if leading:
            self.mark(m.Message())  # plan whatever is open (the last leader may have died mid-plan)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._main(), name="replanner")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if isinstance(self.solver, SolverProcess):
            self.solver.close()
        await self.leadership.stop(release=True)  # another copy takes over at once

    async def _main(self) -> None:
        while True:
            try:
                await self.leadership.start()
                break
            except Exception as err:  # noqa: BLE001 - NATS not there yet: try again
                log.warning("leadership_unavailable", error=f"{type(err).__name__}: {err}")
                await asyncio.sleep(1.0)
        await asyncio.gather(self._place_loop(), self._plan_loop(), self._watch_changes())

    def _today(self) -> dt.date:
        return local_today(self.settings.timezone_offset_hours)

    def reference(self, session: Session) -> Reference:
        """The copies as the placement reads them, built again only when one changed (and kept
        out of the garbage collector's walks: `shared.heap`)."""
        today = self._today()
        key = reference_key(session, today)
        ref = self._ref
        if ref is None or ref.key != key:
            self._ref = ref = None  # the one it replaces is garbage before the new one is kept
            weight = self.settings.scarcity_weight
            ref = self._ref = heap.keep(lambda: Reference.read(session, today, key, weight))
        return ref  # this thread's: the placement and a plan's write may both be here

    def _place(self, term: int) -> tuple[bool, float]:
        """One placement transaction: (more requests may be waiting, seconds it held the lock)."""
        fence = self.leadership.fence(PLAN, term)
        asked = time.monotonic()
        with Session(reader(self.svc.engine)) as session:  # outside the write transaction: no lock held
            self.reference(session)  # built here when a copy changed, so the lock is not held for it
        held, began = [0.0], [asked]

        def once() -> tuple[int, int] | None:
            with transaction(self.svc.engine) as session:
                if not fence(session):  # the first statement: the lock is ours from here
                    return None
                began[0] = time.monotonic()
                # Read again under the lock: a copy that changed since (a contract expired, an expert
                # registered) is planned with, never the copies as they were a moment before.
                ref = self.reference(session)
                try:
                    return place_open(session, ref, today=ref.key[1], cause=self.cause, skip=frozenset(self.reserved))
                finally:
                    held[0] = time.monotonic() - began[0]

        decided = retrying(once)
        if decided is not None and sum(decided) > 0:  # where a round's time went: the copies, the lock, the commit
            done = time.monotonic()
            log.info(
                "placement_round",
                before_lock_s=round(began[0] - asked, 3),
                placing_s=round(held[0], 3),
                commit_s=round(done - began[0] - held[0], 3),
            )
        # Another round while this one decided something: what it left (its batch or its time
        # ran out) or what arrived meanwhile. A round that finds nothing ends the burst.
        return decided is not None and sum(decided) > 0, held[0]

    async def _place_loop(self) -> None:
        """Rounds of placement. After each, a pause of PLACE_PAUSE times its length: requests
        arriving meanwhile are decided together in the next round, and the write lock (SQLite has
        one) is free for the commands and events in between: at 20 requests a second on a country,
        back-to-back rounds of one or two requests each starved the submissions themselves."""
        while True:
            await self.waiting.wait()
            self.waiting.clear()
            term = self.leadership.term
            if not self.leadership.holds(term):
                continue  # the leader places: it sees this change through the counter
            structlog.contextvars.bind_contextvars(correlation_id=self.cause.correlation_id)
            try:
                with under(self.cause_trace):  # the events it writes carry the cause's trace
                    more, held = await in_thread(self._place, term)
                    while more:
                        self.svc.relay.notify()
                        more, held = await in_thread(self._place, term)
                self.svc.relay.notify()
                # In proportion to the time the round held the lock, not to what it waited for it.
                await asyncio.sleep(min(PLACE_PAUSE_MAX_S, PLACE_PAUSE * held))
            except Exception:  # noqa: BLE001 - a failed placement is logged and tried again
                log.exception("placement_failed")
                await asyncio.sleep(1.0)
                self.waiting.set()

    async def _plan_loop(self) -> None:
        while True:
            await self.dirty.wait()
            await asyncio.sleep(self.settings.debounce_s)
            self.dirty.clear()
            term = self.leadership.term
            if not self.leadership.holds(term):
                continue  # the leader plans: it sees this change through the counter
            st = self.settings
            # The plan's lines and proposals carry the correlation id of the change that caused it.
            structlog.contextvars.bind_contextvars(correlation_id=self.cause.correlation_id)
            try:
                self._seen = await in_thread(self._changes)  # read before the snapshot: it includes them
                began = time.monotonic()
                with under(self.cause_trace):
                    await in_thread(
                        partial(
                            replan,
                            self.svc.engine,
                            today=self._today(),
                            time_limit_s=st.time_limit_s,
                            workers=st.workers,
                            seed=st.seed,
                            cause=self.cause,
                            fence=self.leadership.fence(PLAN, term),
                            solver=self.solver,
                            references=self.reference,
                            reserved=self.reserved,
                        )
                    )
                self.replan_seconds.observe(time.monotonic() - began)
                self.svc.relay.notify()
                self.waiting.set()  # what the plan could not write (the room moved) is placed now
            except Exception:  # noqa: BLE001 - a failed re-solve is logged and retried on the next change
                log.exception("replan_failed")
                await asyncio.sleep(1.0)

    async def _watch_changes(self) -> None:
        """In the leader: act when the counter moved past what the last plan included, unless a
        plan is due anyway (then the change it knows of gives the plan its correlation id)."""
        while True:
            await asyncio.sleep(self.settings.change_poll_s)
            if not self.leadership.leading:
                self._seen = None
                continue
            try:
                now = await in_thread(self._changes)
            except Exception as err:  # noqa: BLE001 - the database briefly away: look again
                log.warning("change_poll_failed", error=f"{type(err).__name__}: {err}")
                continue
            if self._seen is not None and now != self._seen and not self.dirty.is_set():
                self.mark(m.Message())
            self._seen = now

    def _changes(self) -> int:
        with Session(reader(self.svc.engine)) as session:  # a read: never queued behind a writer
            return changes_seen(session, PLAN)


def changing(use_case: Callable[..., Any], *counters: str) -> Callable[..., Any]:
    """The use case (an event's, or a command's with its actor), then the change counters raised
    in its transaction (see `Replanner`): the plan's always, the copies' for a copy."""

    def run(session: Session, msg: Any, *actor: Actor) -> Any:
        result = use_case(session, msg, *actor)
        for name in (PLAN, *counters):
            note_change(session, name)
        return result

    return run


STAFF = ("staff", "admin")
# Who may send each command (the roles), and whose it must be (the ownership check).
PERMITS: dict[str, Permit] = {
    s.REQUEST_SUBMIT: Permit.of("commune", *STAFF, owner=h.the_unit),
    s.REQUESTS_SUBMIT: Permit.of("commune", *STAFF, owner=h.the_units),
    s.REQUEST_CANCEL: Permit.of("commune", *STAFF, owner=h.the_unit),
    s.ASSIGNMENT_ASSIGN: Permit.of(*STAFF),
    s.HIRING_PLAN_GET: Permit.of(*STAFF),  # a signed query: seconds of solving, for staff only
}


def build(settings: MatcherSettings | None = None) -> Service:
    st = settings or MatcherSettings()
    svc = Service(st, events=EVENTS, create_schema=create_schema)
    svc.gauges(metrics.gauges)
    planner = Replanner(svc, st)
    svc.background(planner.start, planner.stop)

    async def after_change(_subject: str, msg: m.Message) -> None:
        planner.mark(msg)  # committed: the placement and the next plan see it

    svc.after_event = svc.after_command = after_change

    def submit(session: Session, cmd: m.SubmitRequest, actor: Actor) -> m.Reply:
        return h.submit_request(session, cmd, actor, today=local_today(st.timezone_offset_hours))

    svc.command(
        E.REQUEST_SUBMIT,
        changing(submit),
        permit=PERMITS[s.REQUEST_SUBMIT],
        description="A commune submits a support request.",
    )

    def submit_many(session: Session, cmd: m.SubmitRequests, actor: Actor) -> m.Reply:
        return h.submit_requests(session, cmd, actor, today=local_today(st.timezone_offset_hours))

    svc.command(
        E.REQUESTS_SUBMIT,
        changing(submit_many),
        permit=PERMITS[s.REQUESTS_SUBMIT],
        description="Many requests at once (a load, a spreadsheet): each is answered on its own.",
    )
    svc.command(
        E.REQUEST_CANCEL,
        changing(h.cancel_request),
        permit=PERMITS[s.REQUEST_CANCEL],
        description="A commune cancels a request: what it reserved is released.",
    )

    def assign(session: Session, cmd: m.AssignManually, actor: Actor) -> m.Reply:
        return assign_manually(session, cmd, actor, today=local_today(st.timezone_offset_hours))

    svc.command(
        E.ASSIGNMENT_ASSIGN,
        changing(assign),
        permit=PERMITS[s.ASSIGNMENT_ASSIGN],
        description="Staff assign an expert by hand, checked by the solver's rules.",
    )
    svc.query(E.MATCHER_STATUS, h.status, description="Requests and proposals with their status.")
    svc.query(
        E.PLAN_INPUT,
        h.plan_input,
        description="The scenario a plan was made from, by the digest the audit trail keeps.",
    )

    def alternatives(session: Session, q: m.GetCandidates) -> m.Reply:
        return candidates(session, q, today=local_today(st.timezone_offset_hours))

    svc.query(
        E.CANDIDATES,
        alternatives,
        description="The best few experts for one open request, with what each would displace.",
    )

    def shortage(session: Session, q: m.GetGaps) -> m.Reply:
        return gaps(session, q, today=local_today(st.timezone_offset_hours), offset_hours=st.timezone_offset_hours)

    svc.query(
        E.GAPS,
        shortage,
        description="The shortage of a period: demand and uncovered demand by skill, unit, province and "
        "month, how it was covered, each expert's and contract's use, what one more hour would bring.",
    )

    def hiring(session: Session, q: m.GetHiringPlan) -> m.Reply:
        return hiring_plan(
            session,
            q,
            today=local_today(st.timezone_offset_hours),
            time_limit_s=st.hiring_time_limit_s,
            workers=st.workers,
            seed=st.seed,
        )

    svc.query(
        E.HIRING_PLAN,
        hiring,
        permit=PERMITS[s.HIRING_PLAN_GET],
        description="Which contracts to sign for a budget, on what is open now: the hires covering the most "
        "priority weight, checked by solving again, compared with the simple rule. Signed; staff only.",
    )
    for subject, model, use_case, name, description in (
        (
            s.REFERENCE_REGISTERED,
            m.ReferenceRegistered,
            h.copy_reference,
            "reference",
            "Copy of a chunk of registered units, travel, experts, contracts and balances.",
        ),
        (s.UNIT_REGISTERED, m.UnitRegistered, h.copy_unit, "units", "Copy of a registered unit."),
        (s.TRAVEL_REGISTERED, m.TravelRegistered, h.copy_travel, "travel", "Copy of travel times."),
        (s.EXPERT_REGISTERED, m.ExpertRegistered, h.copy_expert, "experts", "Copy of an expert."),
        (s.CONTRACT_REGISTERED, m.ContractRegistered, h.copy_contract, "contracts", "Copy of a contract."),
        (
            s.CONTRACT_STATUS_CHANGED,
            m.ContractStatusChanged,
            h.copy_contract_status,
            "contract-status",
            "A contract's lifecycle: only active ones are planned with.",
        ),
        (s.BALANCE_CHANGED, m.BalanceChanged, h.copy_balance, "balances", "A contract's new balance."),
        (s.ASSIGNMENT_APPROVED, m.AssignmentApproved, h.on_approved, "approvals", "Approved: pinned."),
        (s.ASSIGNMENT_ACCEPTED, m.AssignmentAccepted, h.on_accepted, "acceptances", "Accepted by the expert."),
        (
            s.ASSIGNMENT_REJECTED,
            m.AssignmentRejected,
            h.on_rejected,
            "rejections",
            "Rejected: re-match without that expert.",
        ),
        (
            s.ASSIGNMENT_DECLINED,
            m.AssignmentDeclined,
            h.on_declined,
            "declines",
            "Declined: re-match without that expert.",
        ),
        (s.ASSIGNMENT_CANCELLED, m.AssignmentCancelled, h.on_cancelled, "cancellations", "Cancelled assignment."),
        (s.REQUEST_COMPLETED, m.RequestCompleted, h.on_completed, "completions", "The commune confirmed completion."),
    ):
        svc.event(
            subject,
            model,
            changing(use_case, *((REFERENCE,) if subject in COPIES else ())),
            name=name,
            description=description,
        )
    return svc
