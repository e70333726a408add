from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.nats import free_port, start_nats
from tests.e2e.system import System


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[System]:
    """Every service as its own process, on a NATS server of this test's own (fresh streams)."""
    server = start_nats(tmp_path / "nats", free_port())
    try:
        async with System(server.url, tmp_path / "var") as sys_:
            yield sys_
    finally:
        server.stop()
