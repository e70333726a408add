"""A whole system for end-to-end tests: each service its own OS process on the test's NATS.

Each test gets a fresh var directory (SQLite files) and its own NATS server, so JetStream streams
and durable consumers start empty; services can be killed with SIGKILL and started again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nats

from shared import subjects as s
from shared.messages import Message
from shared.nats import connect
from shared.streams import setup
from tests.status_client import StatusClient

SERVICES = ("contracts", "matcher", "notifier")


def stop_processes(procs: Iterable[subprocess.Popen[bytes]], timeout: float) -> None:
    """SIGTERM to all (each drains), then the stragglers killed."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class System(StatusClient):
    def __init__(self, nats_url: str, var: Path, env: dict[str, str] | None = None) -> None:
        self.nats_url, self.var = nats_url, var
        self.extra_env = env or {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.nc: Any = None

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "NATS_URL": self.nats_url,
            "EXPERTSHARE_VAR": str(self.var),
            "EXPERTSHARE_LOG_FORMAT": "json",
            "MATCHER_TIME_LIMIT_S": "2",
            "MATCHER_DEBOUNCE_S": "0.1",
            **self.extra_env,
        }

    def start(self, name: str) -> None:
        log = open(self.var / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"], env=self.env(), stdout=log, stderr=log
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        proc.send_signal(sig)
        proc.wait(15)

    def alive(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def log(self, name: str) -> str:
        return (self.var / f"{name}.log").read_text(errors="replace")

    async def __aenter__(self) -> System:
        self.var.mkdir(parents=True, exist_ok=True)
        await setup(self.nats_url)
        self.nc = await connect(self.nats_url, "admin")
        for name in SERVICES:
            self.start(name)
        for name in SERVICES:
            await self.healthy(name)
        return self

    async def __aexit__(self, *exc: object) -> None:
        stop_processes(self.procs.values(), 15)
        await self.nc.drain()

    async def healthy(self, name: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                reply = await self.call(s.health(name), Message(), timeout=1)
                if reply.ok:
                    return
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
                pass
            if not self.alive(name):
                raise AssertionError(f"{name} exited:\n{self.log(name)[-3000:]}")
            await asyncio.sleep(0.2)
        raise AssertionError(f"{name} not healthy after {timeout} s:\n{self.log(name)[-3000:]}")

    async def dead_letters(self) -> list[dict[str, Any]]:
        js = self.nc.jetstream()
        sub = await js.pull_subscribe("deadletter.>", stream="DEADLETTER")
        out: list[dict[str, Any]] = []
        try:
            while True:
                msgs = await sub.fetch(100, timeout=1)
                for msg in msgs:
                    out.append(json.loads(msg.data))
                    await msg.ack()
        except nats.errors.TimeoutError:
            pass
        finally:
            await sub.unsubscribe()
        return out
