"""structlog, configured once per process: readable console on a TTY, JSON lines otherwise.

Handlers bind `service`, `subject`, `event_id` and `correlation_id` into the context variables, so
every line a message causes can be followed through every service by its correlation id.
FastStream and nats-py get a logger of their own that keeps their warnings and errors only: at
INFO they report every finished background task, which says nothing to whoever runs the system.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO, cast

import structlog
from structlog.typing import EventDict

_configured = False


class _Stderr:
    """Standard error as it is when a line is written, not when the logger was made: a logger is
    made once, and a test runner swaps `sys.stderr` for each command it runs."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def wants_json(fmt: str | None = None) -> bool:
    fmt = fmt or os.environ.get("EXPERTSHARE_LOG_FORMAT", "auto")
    return fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())


def _drop_empty_extra(_logger: Any, _name: str, event: EventDict) -> EventDict:
    # FastStream passes `extra=None` with every line it logs.
    if event.get("extra") is None:
        event.pop("extra", None)
    return event


def configure(service: str, *, level: str | None = None, json: bool | None = None) -> None:
    global _configured
    level_name = (level or os.environ.get("EXPERTSHARE_LOG_LEVEL", "INFO")).upper()
    if json is None:
        json = wants_json()
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_empty_extra,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level_name)),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _Stderr())),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # FastStream and nats-py log through the standard library: keep their warnings, not chatter.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(message)s")
    _configured = True


def library_logger(name: str = "faststream") -> Any:
    """The logger handed to FastStream: its warnings and errors, in the same format as ours."""
    return structlog.wrap_logger(
        None,
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory_args=(name,),
    )


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
