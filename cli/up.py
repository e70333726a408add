"""`expertshare up`: the whole system on one machine, as separate processes, like compose would.

NATS: `NATS_URL` if set, else the embedded `nats-server` with JetStream, its store in var/nats
(on the requested port, else the one it used last time, else a free one: it says which).
If that server dies, it is started again with the same store and port, in one console line,
and the services reconnect. Services: matcher, contracts, notifier and the portal
(`cli.supervisor`; the portal's address is printed), each with its own SQLite file in var/
unless its database URL is set. Ctrl-C stops the services, then NATS; the data stays for the
next start. On an empty system it loads
the Tuyen Quang demo. The console tells the story:
what started, what the system decides as it happens (proposals, approvals, notifications),
warnings and errors; every service's full log is in var/log/.

Nothing is open to anyone: files are made owner-only (umask 077, var/ 0700), the secrets are made
where missing (`shared.security.secrets_init`: one NATS identity per service, the CLI and the
admin), the embedded server runs with the generated authorization (var/nats/server.conf), the
admin's setup makes the streams and consumers before any service starts, and each service gets
its own seed only. The console's event tail and the setup sign in as the admin; the CLI in
another terminal finds its own seed in var/secrets.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import nats

from cli import identity, views
from cli.client import ClientError, connect
from cli.supervisor import SERVICES, Supervisor, child_env, identity_env
from shared import catalogue
from shared import endpoints as E
from shared.messages import GetContractsStatus, GetRequests, Message
from shared.metrics import metrics_url_file
from shared.nats import EmbeddedNats, NatsServerError, free_port, port_is_free, start_nats
from shared.nats import connect as nats_connect
from shared.security import secrets_init
from shared.security.identities import ADMIN
from shared.security.secrets import private_dir, secrets_dir
from shared.settings import var_dir
from shared.streams import owners, setup


class AlreadyRunning(RuntimeError):
    pass


def say(line: str) -> None:
    print(f"expertshare | {line}", flush=True)


def choose_port(var: Path, wanted: int) -> int:
    if port_is_free(wanted):
        return wanted
    last = _last_port(var)
    chosen = last if last and last != wanted and port_is_free(last) else free_port()
    say(f"port {wanted} is taken on 127.0.0.1; starting NATS on port {chosen} instead")
    return chosen


def _last_port(var: Path) -> int | None:
    try:
        return int((var / "nats.url").read_text().strip().rsplit(":", 1)[1])
    except (OSError, ValueError, IndexError):
        return None


def claim(var: Path) -> None:
    """One `up` per data directory: two would share the NATS store and the SQLite files."""
    pid_file = var / "up.pid"
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        pid_file.write_text(str(os.getpid()))
        return
    raise AlreadyRunning(f"expertshare up is already running on {var} (pid {pid}); stop it first")


async def wait_healthy(url: str, within_s: float = 60.0) -> None:
    async with connect(url) as client:
        for name in SERVICES:
            deadline = asyncio.get_running_loop().time() + within_s
            while True:
                try:
                    await client.ask(E.health(name), Message(), timeout=2)
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
        counts = (await client.ask(E.CONTRACTS_STATUS, GetContractsStatus(limit=1, with_contracts=False))).counts
        if counts.units:
            requests = (await client.ask(E.MATCHER_STATUS, GetRequests(limit=1))).counts.requests
            say(
                f"existing data: {counts.units} units, {counts.experts} experts, "
                f"{counts.contracts} contracts, {requests} requests; no demo loaded"
            )
            return
        sc = demo()
        say(
            f"empty system: loading the Tuyen Quang demo ({len(sc.units)} communes, {len(sc.experts)} experts, "
            f"{len(sc.requests)} requests)"
        )
        result = await load(client, sc, lambda *_: None)
        say(f"demo loaded: {result['requests']} requests submitted")
        for line in result["refused"]:
            say(f"demo request refused: {line}")


async def tail_events(url: str) -> nats.aio.client.Client:
    """Show what the system decides as it happens: one line per event worth telling."""

    async def quiet(*_args: object) -> None:  # the server's restart is told in one line, by the watch
        return None

    nc = await nats_connect(url, ADMIN, max_reconnect_attempts=-1, error_cb=quiet, disconnected_cb=quiet)

    async def show(msg: nats.aio.msg.Msg) -> None:
        try:
            line = views.event_line(msg.subject, json.loads(msg.data))
        except (ValueError, KeyError, TypeError):
            line = None
        if line:
            say(line)

    for owner in owners():
        for subject in catalogue.events_of(owner):
            await nc.subscribe(subject, cb=show)
    return nc


async def run(demo: bool, nats_port: int) -> int:
    os.umask(0o077)  # the databases, logs and secrets made from here on are the owner's alone
    var = private_dir(var_dir())
    claim(var)
    secrets = secrets_init.ensure(secrets_dir())
    identity.issue_operator()  # the machine's operator (admin): the CLI here signs as it (cli.identity)
    server: EmbeddedNats | None = None
    url = os.environ.get("NATS_URL")
    if url:
        say(f"using NATS at {url} (NATS_URL), signing in with the seeds in {secrets / 'nats'}")
    else:
        server = start_nats(
            var / "nats", choose_port(var, nats_port), log_file=var / "log" / "nats.log", own_session=True
        )
        url = server.url
        (var / "nats.pid").write_text(str(server.process.pid))
        say(f"NATS with JetStream on {url} (store {var / 'nats'})")
    (var / "nats.url").write_text(url)  # where the CLI finds the system from another terminal
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    for stale in (var / "metrics").glob("*.url"):  # each service writes its address again as it starts
        stale.unlink()
    sup = Supervisor(child_env(url, var), var / "log", say, identity_env(secrets))
    if server is not None:
        running = server

        def restart_nats() -> str:
            """The same store and port: the streams, consumers and the services' URL stay as they were."""
            nonlocal running
            running = start_nats(running.store_dir, running.port, log_file=var / "log" / "nats.log", own_session=True)
            (var / "nats.pid").write_text(str(running.process.pid))
            return f"on {running.url} (store {running.store_dir}, pid {running.process.pid})"

        sup.watch("nats-server", lambda: running.process.poll(), restart_nats)
    tail = None
    ready: asyncio.Future[bool | None] = asyncio.ensure_future(asyncio.sleep(0))
    try:
        await setup(url)
        say("streams, consumers and the leaders bucket are set up (as the admin)")
        for name in SERVICES:
            await sup.start(name)
        tail = await tail_events(url)
        ready = asyncio.ensure_future(_get_ready(url, demo))
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait([ready, stopped], return_when=asyncio.FIRST_COMPLETED)
        if ready.done() and not ready.result():
            return 1
        await stopped
        return 0
    finally:
        ready.cancel()
        say("stopping: services first, then NATS")
        await sup.stop()
        if tail is not None:
            await tail.close()
        if server is not None:
            running.stop()
            (var / "nats.pid").unlink(missing_ok=True)
        (var / "up.pid").unlink(missing_ok=True)
        say(f"stopped; data kept in {var}")


async def _get_ready(url: str, demo: bool) -> bool:
    try:
        await wait_healthy(url)
    except ClientError as err:
        say(f"error: the services did not come up: {err} (see {var_dir() / 'log'})")
        return False
    portal = var_dir() / "portal.url"
    if portal.exists():  # the portal writes its address once it has chosen a port
        say(f"portal on {portal.read_text().strip()} (users: expertshare portal user-add)")
    for line in metrics_lines():
        say(line)
    if demo:
        try:
            await load_demo_if_empty(url)
        except ClientError as err:  # the system runs on; the demo is a convenience
            say(f"the demo could not be loaded: {err}")
    say("running; Ctrl-C stops everything")
    return True


def metrics_lines() -> list[str]:
    """Where each service serves /metrics and /healthz (each writes its address when it starts)."""
    lines = []
    for name in SERVICES:
        where = metrics_url_file(name)
        if where.exists():
            url = where.read_text().strip()
            lines.append(f"{name} metrics on {url}/metrics, readiness on {url}/healthz")
    return lines


def up(*, demo: bool, nats_port: int) -> int:
    try:
        return asyncio.run(run(demo, nats_port))
    except (NatsServerError, AlreadyRunning) as err:
        say(f"error: {err}")
        return 1
