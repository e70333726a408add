"""The services of `expertshare up` as child processes: started, restarted, stopped, heard.

Each service runs as `python -m services.<name>` in a process group of its own, so Ctrl-C reaches
only `expertshare up`, which then stops the services before NATS (they drain against a live
server). Each child writes JSON log lines to a pipe: all of them go to var/log/<name>.log, and the
console gets the lines a person running the system needs (a service started, warnings, errors).
A process `up` started itself (the embedded nats-server) is watched too (`watch`), and started
again with the same store and port when it dies.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.nats import die_with_parent

SERVICES = ("contracts", "matcher", "notifier", "portal")
# INFO lines worth a console line; everything at warning and above is shown anyway.
STORY_EVENTS = frozenset({"service_started"})
_HIDDEN_KEYS = ("timestamp", "level", "event", "service", "exception")


def console_line(service: str, raw: str) -> str | None:
    """What the console shows of one line a service wrote, or None for the log file only."""
    try:
        entry = json.loads(raw)
    except ValueError:
        entry = None
    if not isinstance(entry, dict):
        return f"{service:<11}| {raw}"  # not our logging (a crash before it was set up): show it
    level = str(entry.get("level", "info"))
    if level in ("debug", "info") and entry.get("event") not in STORY_EVENTS:
        return None
    fields = " ".join(f"{k}={_value(v)}" for k, v in sorted(entry.items()) if k not in _HIDDEN_KEYS)
    line = f"{service:<11}| {level} {entry.get('event')} {fields}".rstrip()
    if entry.get("exception"):
        line += "\n" + "\n".join(f"{'':<11}|   {x}" for x in str(entry["exception"]).splitlines())
    return line


def _value(v: Any) -> str:
    text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    return repr(text) if (" " in text or not text) else text


class Supervisor:
    def __init__(
        self,
        env: dict[str, str],
        log_dir: Path,
        show: Callable[[str], None],
        own_env: Callable[[str], dict[str, str]] = lambda _name: {},
    ) -> None:
        """`env`: every child's environment; `own_env(name)`: what only that child gets (its seed)."""
        self.env, self.log_dir, self.show, self.own_env = env, log_dir, show, own_env
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.failures: dict[str, int] = {}
        self.stopping = False

    async def start(self, name: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            f"services.{name}",
            env={**self.env, **self.own_env(name)},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self.procs[name] = proc
        self.show(f"started {name} (pid {proc.pid}, log {self.log_dir / (name + '.log')})")
        self.tasks.append(asyncio.create_task(self._pump(name, proc), name=f"pump-{name}"))

    async def _pump(self, name: str, proc: asyncio.subprocess.Process) -> None:
        """Route every line, then start the service again if it died on its own."""
        started = time.monotonic()
        assert proc.stdout is not None
        with (self.log_dir / f"{name}.log").open("a", encoding="utf-8") as log:
            async for raw in proc.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                log.write(line + "\n")
                log.flush()
                shown = console_line(name, line)
                if shown is not None:
                    print(shown, flush=True)
        code = await proc.wait()
        if self.stopping:
            return
        # A service that keeps dying right away is restarted ever more slowly, not in a hot loop.
        self.failures[name] = 0 if time.monotonic() - started > 60 else self.failures.get(name, 0) + 1
        pause = min(30.0, 2.0 ** self.failures[name])
        self.show(f"{name} exited with status {code}; starting it again in {pause:.0f} s")
        await asyncio.sleep(pause)
        if not self.stopping:
            await self.start(name)

    def watch(
        self, name: str, exit_code: Callable[[], int | None], restart: Callable[[], str], poll_s: float = 0.2
    ) -> None:
        """Keep a process started outside this supervisor running (the embedded nats-server): when
        `exit_code` says it ended, `restart` (blocking; in a thread) starts it again and says where."""
        self.tasks.append(asyncio.create_task(self._watch(name, exit_code, restart, poll_s), name=f"watch-{name}"))

    async def _watch(
        self, name: str, exit_code: Callable[[], int | None], restart: Callable[[], str], poll_s: float
    ) -> None:
        failures = 0
        while not self.stopping:
            await asyncio.sleep(poll_s)
            code = exit_code()
            if code is None or self.stopping:
                continue
            try:
                where = await asyncio.to_thread(restart)
            except Exception as err:  # noqa: BLE001 - e.g. its port taken meanwhile: say so, try again
                failures += 1
                pause = min(30.0, 2.0**failures)
                self.show(
                    f"{name} exited with status {code} and could not be started again: {err}; "
                    f"trying again in {pause:.0f} s"
                )
                await asyncio.sleep(pause)
                continue
            failures = 0
            self.show(f"{name} exited with status {code}; started it again {where}")

    async def stop(self, grace_s: float = 15.0) -> None:
        self.stopping = True
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                await asyncio.wait_for(proc.wait(), grace_s)
            except TimeoutError:
                self.show(f"{name} did not stop within {grace_s:.0f} s; killing it")
                proc.kill()
                await proc.wait()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def child_env(url: str, var: Path) -> dict[str, str]:
    # JSON is the pipe format between a service and `up`, which renders it for people.
    env = {
        **os.environ,
        "NATS_URL": url,
        "EXPERTSHARE_VAR": str(var),
        "EXPERTSHARE_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("EXPERTSHARE_NATS_SEED", None)  # `up`'s own (if any) is nobody else's: each child gets its own
    return env


def identity_env(secrets: Path) -> Callable[[str], dict[str, str]]:
    """Each service signs in to NATS as itself, with its own seed file and no other."""
    return lambda name: {"EXPERTSHARE_NATS_SEED": str(secrets / "nats" / f"{name}.nk")}
