"""The production shape on loopback: a three-node NATS JetStream cluster, R3 streams, one database
per service (PostgreSQL when EXPERTSHARE_TEST_PG is set, else SQLite files) and any number of
copies of each service, each its own OS process that can be killed and started again.

What `compose.yaml` promises is what this runs: `NATS_URL` lists the three nodes, every stream
keeps three replicas, and the copies of a service share its database and its durable consumers.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import nats.js.errors
from sqlalchemy import create_engine, text

from shared import subjects as s
from shared.messages import Message, Reply
from shared.nats import (
    NatsServerError,
    cluster_config,
    connect,
    free_port,
    nats_server_binary,
    server_config,
    wait_for_port,
)
from shared.security.secrets import write_private
from shared.streams import setup
from tests.e2e.system import stop_processes
from tests.status_client import StatusClient

SERVICES = ("contracts", "matcher", "notifier")


@dataclass
class Node:
    name: str
    port: int
    cluster_port: int
    conf: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class NatsCluster:
    """Three nats-server processes in one JetStream cluster, each with its own store on disk."""

    root: Path
    nodes: list[Node] = field(default_factory=list)

    @classmethod
    def start(cls, root: Path, size: int = 3) -> NatsCluster:
        cluster = cls(root)
        ports = [(free_port(), free_port()) for _ in range(size)]
        for i, (port, cport) in enumerate(ports, 1):
            d = root / f"n{i}"
            d.mkdir(parents=True, exist_ok=True)
            conf = d / "nats.conf"  # the same authorization as `up`, and routes that must sign in
            cluster_lines = cluster_config(conf, f"n{i}", cport, [cp for _, cp in ports])
            write_private(conf, server_config(conf, d / "js", port, extra=cluster_lines).encode())
            cluster.nodes.append(Node(f"n{i}", port, cport, conf, d / "nats.log"))
        for node in cluster.nodes:
            cluster.launch(node)
        for node in cluster.nodes:
            wait_for_port(node.port, alive=node.alive)
        return cluster

    @property
    def url(self) -> str:
        return ",".join(n.url for n in self.nodes)

    def launch(self, node: Node) -> None:
        node.process = subprocess.Popen(
            [nats_server_binary(), "-c", str(node.conf), "-l", str(node.log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

    def kill(self, i: int) -> None:
        node = self.nodes[i]
        assert node.process is not None
        node.process.send_signal(signal.SIGKILL)
        node.process.wait(10)

    def restart(self, i: int) -> None:
        node = self.nodes[i]
        self.launch(node)
        try:
            wait_for_port(node.port, alive=node.alive)
        except NatsServerError as err:
            raise NatsServerError(f"{err}: {node.log.read_text(errors='replace')[-2000:]}") from None

    async def ready(self, timeout: float = 60.0) -> None:
        """JetStream answers (its meta leader is elected) through the cluster."""
        deadline = time.monotonic() + timeout
        nc = await connect(self.url, "admin")
        try:
            while True:
                try:
                    await nc.jetstream().account_info()
                    return
                except Exception:  # noqa: BLE001 - not ready yet: the cluster is electing
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)
        finally:
            await nc.close()

    def stop(self) -> None:
        stop_processes([n.process for n in self.nodes if n.process is not None], 10)


class Databases:
    """One database per service, shared by its copies."""

    def __init__(self, pg: str, root: Path) -> None:
        self.pg, self.root = pg, root
        self.created: list[str] = []
        self.urls: dict[str, str] = {}
        for name in SERVICES:
            if pg:
                db = f"es_cluster_{name}_{uuid.uuid4().hex[:8]}"
                self._admin(f'CREATE DATABASE "{db}"')
                self.created.append(db)
                self.urls[name] = pg.rsplit("/", 1)[0] + "/" + db
            else:
                self.urls[name] = f"sqlite:///{root / (name + '.db')}"

    def _admin(self, sql: str) -> None:
        admin = create_engine(self.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(sql))
        admin.dispose()

    def rows(self, service: str, sql: str, **params: Any) -> list[dict[str, Any]]:
        engine = create_engine(self.urls[service])
        try:
            with engine.connect() as c:
                return [dict(r._mapping) for r in c.execute(text(sql), params)]
        finally:
            engine.dispose()

    def drop(self) -> None:
        for db in self.created:
            self._admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


class Copies(StatusClient):
    """`copies` processes of every service on the cluster, each `name#i` killable on its own."""

    call_s, until_s, poll_s = 15.0, 120.0, 0.3

    def __init__(
        self, cluster: NatsCluster, dbs: Databases, var: Path, copies: int = 2, env: dict[str, str] | None = None
    ) -> None:
        self.cluster, self.dbs, self.var, self.copies = cluster, dbs, var, copies
        self.extra_env = env or {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.nc: Any = None
        self.calls: collections.Counter[str] = collections.Counter()
        self.down: set[str] = set()  # killed on purpose, not yet started again
        self.restarted: list[str] = []  # exited by themselves and started again, as compose would
        self._supervisor: asyncio.Task[None] | None = None

    async def call(self, subject: str, message: Any, timeout: float | None = None, *, as_: Any = None) -> Reply:
        """Until answered: the same message (the same id) again when a node or a copy was killed
        under it, as any client would; the services answer a repeated id as the first time."""
        self.calls[subject] += 1
        for _ in range(60):
            try:
                return await StatusClient.call(self, subject, message, timeout or 5.0, as_=as_)
            except (nats.errors.TimeoutError, nats.errors.NoRespondersError, nats.errors.ConnectionClosedError):
                self.calls["retried"] += 1
                await asyncio.sleep(0.5)
        raise AssertionError(f"{subject}: never answered")

    def env(self, name: str) -> dict[str, str]:
        return {
            **os.environ,
            "NATS_URL": self.cluster.url,
            "EXPERTSHARE_STREAM_REPLICAS": "3",
            "EXPERTSHARE_VAR": str(self.var),
            "EXPERTSHARE_LOG_FORMAT": "json",
            f"{name.upper()}_DATABASE_URL": self.dbs.urls[name],
            "NOTIFIER_SECRET_KEY": "the cluster test's sealing key",
            "MATCHER_TIME_LIMIT_S": "2",
            "MATCHER_DEBOUNCE_S": "0.1",
            **self.extra_env,
        }

    def names(self) -> list[str]:
        return [f"{svc}#{i}" for i in range(self.copies) for svc in SERVICES]

    def start(self, copy: str) -> None:
        self.down.discard(copy)
        service = copy.split("#")[0]
        log = open(self.var / f"{copy}.log", "ab")  # noqa: SIM115 - closed with the process
        self.procs[copy] = subprocess.Popen(
            [sys.executable, "-m", f"services.{service}"], env=self.env(service), stdout=log, stderr=log
        )

    def kill(self, copy: str) -> None:
        self.down.add(copy)
        proc = self.procs[copy]
        proc.send_signal(signal.SIGKILL)
        proc.wait(15)

    def log(self, copy: str) -> str:
        return (self.var / f"{copy}.log").read_text(errors="replace")

    def log_entries(self) -> list[dict[str, Any]]:
        out = []
        for copy in self.procs:
            out += [json.loads(x) for x in self.log(copy).splitlines() if x.startswith("{")]
        return out

    async def __aenter__(self) -> Copies:
        self.var.mkdir(parents=True, exist_ok=True)
        await setup(self.cluster.url, replicas=3)
        self.nc = await connect(self.cluster.url, "admin", max_reconnect_attempts=-1, reconnect_time_wait=0.5)
        for copy in self.names():
            self.start(copy)
        self._supervisor = asyncio.create_task(self._supervise())
        try:
            for service in SERVICES:
                await self.healthy(service)
        except BaseException:
            await self.__aexit__()  # no copy outlives a start that failed
            raise
        return self

    async def _supervise(self) -> None:
        """What `restart: unless-stopped` does in compose: a copy that exits by itself (it could not
        start while the cluster elected a leader, say) is started again."""
        while True:
            await asyncio.sleep(0.5)
            for copy, proc in list(self.procs.items()):
                if proc.poll() is not None and copy not in self.down:
                    self.restarted.append(copy)
                    self.start(copy)

    async def __aexit__(self, *exc: object) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
        stop_processes(self.procs.values(), 20)
        await self.nc.close()

    async def healthy(self, service: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if (await StatusClient.call(self, s.health(service), Message(), timeout=1)).ok:
                    return
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
                pass
            if self.restarted.count(f"{service}#0") + self.restarted.count(f"{service}#1") > 5:
                raise AssertionError(f"{service} keeps exiting:\n{self.log(self.restarted[-1])[-3000:]}")
            await asyncio.sleep(0.3)
        raise AssertionError(f"{service} not healthy after {timeout} s")

    async def stream(self, stream: str) -> list[dict[str, Any]]:
        """Every message in `stream` (an ephemeral consumer from the start), read again from the
        start while the cluster is still electing after a kill."""
        return await self._settled(lambda: self._read_stream(stream))

    async def consumers(self, stream: str) -> list[Any]:
        return await self._settled(lambda: self.nc.jetstream().consumers_info(stream))

    async def _settled(self, ask: Any, within: float = 60.0) -> Any:
        deadline = time.monotonic() + within
        while True:
            try:
                return list(await ask())
            except (
                nats.js.errors.ServiceUnavailableError,
                nats.errors.NoRespondersError,
                nats.errors.TimeoutError,
                TimeoutError,
            ):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def _read_stream(self, stream: str) -> list[dict[str, Any]]:
        js = self.nc.jetstream()
        stored = (await js.stream_info(stream)).state.messages
        sub = await js.pull_subscribe(">", stream=stream)
        out: list[dict[str, Any]] = []
        try:
            while True:
                try:
                    msgs = await sub.fetch(200, timeout=2)
                except (nats.errors.TimeoutError, TimeoutError):  # nats-py raises either when nothing is left
                    if len(out) < stored:  # a leader was being elected: read it all again
                        raise TimeoutError(f"{stream}: read {len(out)} of {stored} messages") from None
                    return out
                for msg in msgs:
                    out.append({"subject": msg.subject, **json.loads(msg.data)})
                    await msg.ack()
        finally:
            await sub.unsubscribe()
