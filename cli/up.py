"""`expertshare up`: the whole system on one machine, as separate processes, like compose would.

NATS: `NATS_URL` if set, else the embedded `nats-server` with JetStream, its store in var/nats
(on the requested port, or on a free one if that is taken: it says which). Services: matcher,
contracts and notifier, each `python -m services.<name>` with its own SQLite file in var/ unless
its database URL is set. A service that dies is started again. Ctrl-C stops everything; the data
stays for the next start. On an empty system it loads the Tuyen Quang demo.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import nats

from cli import views
from cli.client import ClientError, connect
from shared import subjects as s
from shared.messages import GetStatus, Message
from shared.nats import EmbeddedNats, NatsServerError, free_port, port_is_free, start_nats
from shared.settings import var_dir

SERVICES = ("contracts", "matcher", "notifier")


def say(line: str) -> None:
    print(f"expertshare | {line}", flush=True)


def start_embedded_nats(var: Path, port: int) -> EmbeddedNats:
    if not port_is_free(port):
        chosen = free_port()
        say(f"port {port} is taken on 127.0.0.1; starting NATS on port {chosen} instead")
        port = chosen
    server = start_nats(var / "nats", port, log_file=var / "nats.log")
    (var / "nats.url").write_text(server.url)
    say(f"NATS with JetStream on {server.url} (store {var / 'nats'})")
    return server


class Supervisor:
    def __init__(self, url: str, var: Path) -> None:
        self.url, self.var = url, var
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False

    def env(self) -> dict[str, str]:
        return {**os.environ, "NATS_URL": self.url, "EXPERTSHARE_VAR": str(self.var),
                "EXPERTSHARE_LOG_FORMAT": os.environ.get("EXPERTSHARE_LOG_FORMAT", "console")}

    def spawn(self, name: str) -> None:
        self.procs[name] = subprocess.Popen([sys.executable, "-m", f"services.{name}"], env=self.env())
        say(f"started {name} (pid {self.procs[name].pid})")

    async def watch(self) -> None:
        """Start again any service that exits on its own, with a pause so a crash loop is visible."""
        while not self.stopping:
            await asyncio.sleep(1.0)
            for name, proc in list(self.procs.items()):
                if proc.poll() is not None and not self.stopping:
                    say(f"{name} exited with status {proc.returncode}; starting it again")
                    await asyncio.sleep(1.0)
                    self.spawn(name)

    def stop(self) -> None:
        self.stopping = True
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in 15 s; killing it")
                proc.kill()


async def wait_healthy(url: str, timeout: float = 60.0) -> None:
    async with connect(url) as client:
        for name in SERVICES:
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                try:
                    await client.ok(s.health(name), Message(), timeout=2)
                    break
                except ClientError:
                    if asyncio.get_running_loop().time() > deadline:
                        raise
                    await asyncio.sleep(0.3)
    say("all services answer")


async def load_demo_if_empty(url: str) -> None:
    from cli.load import load
    from scenarios.generate import demo

    async with connect(url) as client:
        counts = (await client.ok(s.CONTRACTS_STATUS_GET, GetStatus()))["counts"]
        if counts["units"]:
            say(f"existing data: {counts['units']} units, {counts['experts']} experts")
            return
        sc = demo()
        say(f"empty system: loading the Tuyen Quang demo ({len(sc.units)} communes, {len(sc.experts)} experts, "
            f"{len(sc.requests)} requests)")
        result = await load(client, sc, lambda _n: None)
        say(f"demo loaded: {result['requests']} requests submitted")


async def tail_events(url: str) -> None:
    nc = await nats.connect(url, max_reconnect_attempts=-1)

    async def show(msg: nats.aio.msg.Msg) -> None:
        try:
            line = views.event_line(msg.subject, json.loads(msg.data))
        except (ValueError, KeyError):
            line = None
        if line:
            say(line)

    for owner in ("matcher", "contracts"):
        for subject in s.events_of(owner):
            await nc.subscribe(subject, cb=show)


async def main(demo: bool, nats_port: int) -> int:
    var = var_dir()
    var.mkdir(parents=True, exist_ok=True)
    server = None
    url = os.environ.get("NATS_URL")
    if url:
        say(f"using NATS at {url}")
    else:
        server = start_embedded_nats(var, nats_port)
        url = server.url
    sup = Supervisor(url, var)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        for name in SERVICES:
            sup.spawn(name)
        await tail_events(url)
        watcher = asyncio.create_task(sup.watch())
        await wait_healthy(url)
        if demo:
            await load_demo_if_empty(url)
        say("running; Ctrl-C stops everything")
        await stop.wait()
        watcher.cancel()
        return 0
    except (ClientError, NatsServerError) as err:
        say(f"error: {err}")
        return 1
    finally:
        say("stopping")
        sup.stop()
        if server is not None:
            server.stop()
        say("stopped; data kept in " + str(var))


def up(*, demo: bool, nats_port: int) -> int:
    try:
        return asyncio.run(main(demo, nats_port))
    except NatsServerError as err:
        say(f"error: {err}")
        return 1
