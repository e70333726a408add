"""Typed settings, read from the environment once at start and validated there.

Each service subclasses `ServiceSettings` with its own prefix (`MATCHER_`, `CONTRACTS_`, ...).
`NATS_URL` is shared by all; a database URL is each service's own (`CONTRACTS_DATABASE_URL`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def var_dir() -> Path:
    import os

    return Path(os.environ.get("EXPERTSHARE_VAR", "var")).resolve()


def installation_secret(file_name: str) -> str:
    """A secret of this installation, made once in var/`file_name` (readable by its owner only)
    and the same ever after: for a service whose key is not set in its environment."""
    import os
    import secrets

    path = var_dir() / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # 0600 from its first byte (never readable by others, whatever the umask), made once
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        path.chmod(0o600)
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service: str = "service"
    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        validation_alias=AliasChoices("NATS_URL", "nats_url"),
    )
    database_url: str = ""
    # Consumers: pull one message at a time, retry a failing message a bounded number of times,
    # then dead-letter it with the reason. A pull of more than one (nats-py's batched fetch) holds
    # a message that arrives while it waits until the pull expires, for the rest of the batch:
    # measured, 1 to 3 of 8 messages 0.68 s late on an otherwise idle consumer; the country's
    # notifications 0.4 to 0.7 s late (docs/performance.md). One at a time costs about 0.3 ms a
    # message more (0.5 against 0.2 ms), against a handler's 5 to 15 ms.
    batch_size: int = Field(default=1, ge=1, le=1000)
    command_workers: int = Field(
        default=8,
        ge=1,
        le=64,
        description=(
            "commands and queries handled at once: each waits for its transaction (SQLite has one "
            "writer), so one at a time bounds a service's intake by that wait"
        ),
    )
    max_deliver: int = Field(default=5, ge=1, le=100)
    # How long a fetched message may stay unacknowledged before JetStream redelivers it (also how
    # long messages held by a killed instance wait before another instance gets them).
    ack_wait_s: float = Field(default=10.0, gt=0)
    outbox_interval_s: float = Field(default=0.2, gt=0)
    # At start, how long to wait for JetStream to answer (a cluster electing after a node died).
    startup_wait_s: float = Field(default=60.0, ge=0)
    # `/metrics` and `/healthz` (shared.metrics): loopback and a free port unless set (compose sets both).
    metrics_host: str = Field(default="127.0.0.1", max_length=200, description="where /metrics and /healthz listen")
    consumer_poll_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="how often a service reads its consumers' backlog from JetStream (a metric, and `status --health`)",
    )
    metrics_port: int = Field(
        default=0, ge=0, le=65535, description="their port; 0: a free one (written to var/metrics/<service>.url)"
    )

    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        d = var_dir()
        d.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{d / (self.service + '.db')}"
