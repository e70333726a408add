"""schemathesis against the portal's OpenAPI document, for each role's API token, on the real
system: whatever it sends, the portal answers without a server error (no 5xx)."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

from tests.e2e.flow import load_reference, submit
from tests.e2e.portal import add_users, start_portal
from tests.e2e.system import System

pytestmark = pytest.mark.slow
ST = Path(sys.executable).parent / "st"


async def test_schemathesis_finds_no_server_error(system: System) -> None:
    await load_reference(system, n_experts=1)
    await submit(system, "r-1")
    base = await start_portal(system)
    tokens = add_users(system)
    for user in ("xa-thuonglam", "sonoivu", "chuyengia0"):
        proc = await asyncio.create_subprocess_exec(
            str(ST),
            "run",
            f"{base}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "15",
            "--header",
            f"Authorization: Bearer {tokens[user]}",
            "--workers",
            "1",
            "--no-color",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=system.var,
        )  # its report folder goes with the test's files, not into the checkout
        out = (await asyncio.wait_for(proc.communicate(), 280))[0].decode(errors="replace")
        assert proc.returncode == 0, f"{user}:\n{out[-5000:]}"
        assert re.search(r"Test cases:\s+\d{3,} generated", out), "hundreds of cases were sent"
