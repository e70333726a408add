"""Fixtures of the integration tests: the contracts and matcher services on a fresh nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.nats import free_port, start_nats
from tests.integration.services_harness import Stack


@pytest.fixture
async def stack(tmp_path: Path, db_url: str) -> AsyncIterator[Stack]:
    """Contracts (on `db_url`) and matcher in this process, on a nats-server of this test's own."""
    server = start_nats(tmp_path / "nats", free_port())
    try:
        async with Stack(server.url, db_url, tmp_path) as running:
            yield running
    finally:
        server.stop()
