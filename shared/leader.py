"""Work only one copy may do at a time: a leader elected through the NATS key-value store, and a
fencing token the database checks, so that a deposed leader's late write is refused.

- **Election.** Each copy tries `create` (create-if-absent) of one key in the `leaders` bucket; the
  one that succeeds leads. It keeps the key by `update` with the revision it wrote last
  (compare-and-set) every quarter of the bucket's TTL. A leader that dies stops renewing and its
  key expires with the TTL, so another copy leads within the TTL and one retry interval; a copy
  that stops cleanly deletes its key, and another takes over at its next try (half a second).
- **Generation.** The revision of the winning `create` is the leader's term: KV revisions only
  grow, so every new term is larger than every earlier one. Together with the bucket's creation
  time (its epoch: a bucket made again restarts revisions at 1), it is the fencing token.
- **Fencing.** `Leadership.fence(term)` is called inside the writer's transaction, before it writes:
  1. locally, that this copy still holds `term` and its lease has not run out. The lease is
     counted from *before* the last renewal was sent, minus a margin, so it ends before the
     server can let the key expire: no network call is made while the transaction holds locks;
  2. in the database, `advance_fence`: a one-row-per-name table holding the highest generation
     that wrote, raised by a conditional update (`WHERE generation <= ours`). A copy that still
     believes it leads (a paused process, a lost network) is refused once a newer leader wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import nats
import nats.errors
import structlog
from nats.js.errors import KeyWrongLastSequenceError
from sqlalchemy import BigInteger, Column, update
from sqlmodel import Field, Session, SQLModel, col, select

from shared.db import insert_absent, table_of
from shared.nats import connect, connection_callbacks
from shared.streams import LEADER_TTL_S, LEADERS, leaders_bucket

log = structlog.get_logger("leader")

# The lease a leader counts on is this share of the TTL: room for the renewal's round trip and for
# the server's expiry running a little early.
LEASE_SHARE = 0.7


class Fence(SQLModel, table=True):
    """Per kind of work, the newest generation (epoch, term) that wrote: older ones are refused."""

    __tablename__ = "leader_fence"
    name: str = Field(primary_key=True, max_length=64)
    epoch: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    generation: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class ChangeMark(SQLModel, table=True):
    """A counter every copy raises in the transaction of a change the leader must act on."""

    __tablename__ = "change_mark"
    name: str = Field(primary_key=True, max_length=64)
    changes: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


TABLES = [table_of(Fence), table_of(ChangeMark)]


def advance_fence(session: Session, name: str, epoch: int, generation: int) -> bool:
    """In the writer's transaction: raise the fence to (epoch, generation), or False when a newer
    generation has written already. The row stays locked until this transaction ends, so two
    writers of different generations are ordered by the database."""
    insert_absent(session, table_of(Fence), dict(name=name, epoch=0, generation=0))
    newer_epoch = col(Fence.epoch) < epoch
    same_epoch = (col(Fence.epoch) == epoch) & (col(Fence.generation) <= generation)
    stmt = (
        update(Fence)
        .where(col(Fence.name) == name, newer_epoch | same_epoch)
        .values(epoch=epoch, generation=generation)
    )
    return bool(session.exec(stmt).rowcount)


def note_change(session: Session, name: str) -> None:
    """Tell the leader, through the database, that something it acts on changed (in this transaction:
    it sees the change committed, never before). Raised last, so its row lock is held the shortest."""
    insert_absent(session, table_of(ChangeMark), dict(name=name, changes=0))
    session.execute(update(ChangeMark).where(col(ChangeMark.name) == name).values(changes=ChangeMark.changes + 1))


def changes_seen(session: Session, name: str) -> int:
    return session.exec(select(ChangeMark.changes).where(col(ChangeMark.name) == name)).first() or 0


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _epoch(created: Any) -> int:
    """The bucket's creation time in microseconds (nats-py hands it over as the server's string)."""
    if isinstance(created, dt.datetime):
        return int(created.timestamp() * 1_000_000)
    text = str(created or "").rstrip("Z")
    if not text:
        return 0
    base, _, frac = text.partition(".")
    frac = "".join(ch for ch in frac if ch.isdigit())
    whole = dt.datetime.fromisoformat(base).replace(tzinfo=dt.UTC)
    return int(whole.timestamp()) * 1_000_000 + int((frac + "000000")[:6])


class Leadership:
    """One key of the leaders bucket, campaigned for by this copy until `stop`."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        identity: str,
        bucket: str = LEADERS,
        ttl_s: float = LEADER_TTL_S,
        holder: str | None = None,
        on_change: Callable[[bool], Any] = lambda _leading: None,
    ) -> None:
        self.url, self.key, self.bucket = url, key, bucket
        self.identity = identity  # who campaigns on NATS: the service (only the admin may make a bucket)
        self.ttl_s = ttl_s  # used only if this copy creates the bucket; else the bucket's own
        self.holder = holder or holder_id()
        self.on_change = on_change
        self.term: int | None = None  # the revision our create got: the generation while we lead
        self.epoch = 0
        self._rev: int | None = None  # the revision we wrote last: the next renewal's compare-and-set
        self._lease_until = 0.0
        self._nc: Any = None
        self._kv: Any = None
        self._task: asyncio.Task[None] | None = None

    @property
    def leading(self) -> bool:
        return self.term is not None and time.monotonic() < self._lease_until

    def holds(self, term: int | None) -> bool:
        """Still the leader of `term`, by a lease that ends before the server could let the key go."""
        return term is not None and self.term == term and time.monotonic() < self._lease_until

    def fence(self, name: str, term: int | None) -> Callable[[Session], bool]:
        """The check a writer makes in its transaction for work planned under `term`."""
        epoch = self.epoch

        def check(session: Session) -> bool:
            if not self.holds(term):
                log.warning("fenced_not_leader", key=self.key, term=term, current=self.term)
                return False
            if not advance_fence(session, name, epoch, term or 0):
                log.warning("fenced_newer_generation", key=self.key, term=term)
                return False
            return True

        return check

    async def start(self) -> None:
        self._nc = await connect(
            self.url,
            self.identity,
            name=f"leader-{self.key}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=5,
            **connection_callbacks(f"leader-{self.key}"),
        )
        js = self._nc.jetstream()
        self._kv = await leaders_bucket(js, self.bucket, self.ttl_s)
        info = (await self._kv.status()).stream_info
        self.ttl_s = float(info.config.max_age or self.ttl_s)
        self.epoch = _epoch(info.created)
        self._task = asyncio.create_task(self._run(), name=f"leader-{self.key}")

    async def stop(self, *, release: bool = True) -> None:
        """Stop campaigning; `release` deletes the key (if still ours) so another copy leads at once.
        Without it, the others wait for the TTL, as after a crash."""
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if release and self._rev is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._kv.delete(self.key, last=self._rev), 2.0)
                log.info("leadership_released", key=self.key, term=self.term)
        self._lost("stopped")
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()

    async def _run(self) -> None:
        while True:
            await self._step()
            await asyncio.sleep(self.ttl_s / 4 if self.term is not None else min(0.5, self.ttl_s / 4))

    async def _step(self) -> None:
        sent = time.monotonic()
        try:
            if self._rev is None:
                rev = await self._kv.create(self.key, self.holder.encode())
                self.term = rev
                log.info("leader_elected", key=self.key, term=rev, holder=self.holder)
                self._signal(True)
            else:
                rev = await self._kv.update(self.key, self.holder.encode(), last=self._rev)
            self._rev = rev
            self._lease_until = sent + self.ttl_s * LEASE_SHARE
        except KeyWrongLastSequenceError:
            self._lost("another copy holds the key")  # or ours expired: campaign afresh
        except (nats.errors.Error, TimeoutError, OSError) as err:
            # The server is out of reach: keep the term while the lease lasts (the others cannot
            # have the key before then), and no longer.
            if self.term is not None and time.monotonic() >= self._lease_until:
                self._lost(f"server unreachable: {type(err).__name__}")

    def _lost(self, why: str) -> None:
        if self.term is not None:
            (log.info if why == "stopped" else log.warning)("leadership_lost", key=self.key, term=self.term, reason=why)
            self.term = None
            self._signal(False)
        self._rev = None
        self._lease_until = 0.0

    def _signal(self, leading: bool) -> None:
        try:
            self.on_change(leading)
        except Exception:  # noqa: BLE001 - a listener's failure is not the election's
            log.exception("leadership_listener_failed")
