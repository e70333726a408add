"""The delivery worker: a background task that sends queued notifications on external channels.

It runs apart from the event consumers, so a slow SMTP server or webhook never holds a message
unacknowledged or a transaction open. Up to `concurrency` sends are in flight at once, each its own
task bounded by its channel's timeout: one slow server takes one slot, the others keep going.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Mapping

import structlog
from sqlalchemy import Engine

from services.notifier import queue
from services.notifier.channels import Channel, ChannelError
from services.notifier.sealed import Sealer
from shared.bus import in_thread

log = structlog.get_logger("notifier.worker")


class DeliveryWorker:
    def __init__(
        self,
        engine: Engine,
        channels: Mapping[str, Channel],
        *,
        backoff: queue.Backoff,
        sealer: Sealer,
        concurrency: int = 16,
        poll_s: float = 1.0,
        lease_s: float = 120.0,
        on_recorded: Callable[[], None] = lambda: None,
        seed: int | None = None,
        settle_s: float = 0.05,
    ) -> None:
        self.engine, self.channels, self.backoff, self.sealer = engine, channels, backoff, sealer
        self.concurrency, self.poll_s, self.lease_s = concurrency, poll_s, lease_s
        self.settle_s = settle_s  # from a wake to the look: what is queued meanwhile goes with it
        self.on_recorded = on_recorded  # wakes the outbox relay: delivered/failed events are waiting
        self.rng = random.Random(seed)
        self.wake = asyncio.Event()
        self.inflight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="delivery-worker")

    async def stop(self) -> None:
        for task in [self._task, *self.inflight]:
            if task:
                task.cancel()
        await asyncio.gather(*(t for t in [self._task, *self.inflight] if t), return_exceptions=True)

    def notify(self) -> None:
        self.wake.set()

    async def _run(self) -> None:
        while True:
            free = self.concurrency - len(self.inflight)
            claimed: list[queue.Claimed] = []
            if free > 0:
                try:
                    claimed = await in_thread(queue.claim, self.engine, free, self.lease_s, self.sealer)
                except Exception:  # noqa: BLE001 - database briefly away: the rows wait, look again
                    log.exception("claim_failed")
            for c in claimed:
                task = asyncio.create_task(self._send(c), name=f"send-{c.id}")
                self.inflight.add(task)
                task.add_done_callback(self._done)
            if claimed and len(claimed) == free:
                continue  # more may be due: take them as soon as a slot frees
            self.wake.clear()
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancellation that
            # stopping the worker sends, and the worker never ends (as the outbox relay once did).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await self.wake.wait()
            # Woken after every event handled: in a burst, one look for all of them, not one each.
            await asyncio.sleep(self.settle_s)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.inflight.discard(task)
        self.wake.set()

    async def _send(self, c: queue.Claimed) -> None:
        channel = self.channels.get(c.channel)
        try:
            if channel is None:
                raise ChannelError(f"no {c.channel} channel in this notifier", permanent=True)
            await channel.send(c.out)
        except ChannelError as err:
            await self._failed(c, err.reason, err.permanent)
        except Exception as err:  # noqa: BLE001 - an adapter's bug is a failed try, not a dead worker
            await self._failed(c, f"{type(err).__name__}: {err}", False)
        else:
            try:
                await in_thread(queue.record_sent, self.engine, c.id)
                log.info("delivered", delivery=c.out.key, channel=c.channel)
            except Exception:  # noqa: BLE001 - the lease runs out and it is sent again under its key
                log.exception("record_sent_failed", delivery=c.out.key)
        self.on_recorded()

    async def _failed(self, c: queue.Claimed, reason: str, permanent: bool) -> None:
        try:
            status = await in_thread(
                lambda: queue.record_failure(
                    self.engine,
                    c.id,
                    reason,
                    permanent=permanent,
                    backoff=self.backoff,
                    rng=self.rng,
                )
            )
            log.warning(
                "delivery_failed",
                delivery=c.out.key,
                channel=c.channel,
                reason=reason,
                status=status,
            )
        except Exception:  # noqa: BLE001 - the lease runs out and the send is tried again
            log.exception("record_failure_failed", delivery=c.out.key)
