"""The README's examples run as written against the demo (issue 15: its first example used a unit
the demo does not have, so a newcomer's first command failed).

Every `expertshare ...` command in a README code block marked `sh demo` runs, in order, through
bash (its `$(date ...)` and `"$SECRET"` as a reader's shell would take them), against the Tuyên
Quang demo on a system of this test's own, as the machine's operator; a non-zero exit fails the
test. `a-1f2e3d` stands for an assignment id (the README says so): each command using it gets a
proposal of the demo's not used before. The commands that cannot run here are in SKIP, each with
why; a SKIP entry that no longer matches a command fails the test too, so the list stays true.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from cli.client import Client
from cli.load import load
from scenarios.generate import demo
from tests.e2e.system import System

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[2] / "README.md"
PLACEHOLDER = "a-1f2e3d"
SKIP = {
    "expertshare login ": "asks for the user's password at a terminal; the test acts as the machine's operator",
    "expertshare complete r-0042": "needs the help given first (an expert accepted r-0042 and did the work)",
    "expertshare hours approve": "needs hours an expert logged beyond a reservation",
    "expertshare load scenario.json": "needs a scenario file of the reader's (`expertshare generate` writes one)",
    "expertshare accept ": "only the task's expert answers it: needs `expertshare login` as e3, with a task of e3's",
    "expertshare decline ": "only the task's expert answers it: needs `expertshare login` as e3, with a task of e3's",
    "expertshare log-hours ": "only the task's expert logs hours: needs `expertshare login` as e3 and an accepted task",
    "expertshare notifications retry 12 15": "needs sends that failed, with those ids",
    "expertshare notifications prefs unit:w2512 --channel webhook": (
        "the webhook's host must resolve to a public address; a test machine may have no DNS"
    ),
}


def commands(text: str) -> list[str]:
    """The `expertshare` commands of the `sh demo` blocks, continuation lines joined."""
    out: list[str] = []
    for block in re.findall(r"^```sh demo\n(.*?)^```", text, flags=re.M | re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("expertshare "):
                out.append(line)
    return out


def test_the_readme_marks_its_runnable_blocks() -> None:
    found = commands(README.read_text(encoding="utf-8"))
    assert len(found) >= 30 and any("--unit w2512" in c for c in found)
    assert "w2269" not in README.read_text(encoding="utf-8"), "a unit the demo does not have"
    unused = [key for key in SKIP if not any(c.startswith(key) for c in found)]
    assert not unused, f"SKIP entries matching no README command: {unused}"


async def test_every_readme_example_runs_against_the_demo(system: System, tmp_path: Path) -> None:
    sc = demo()
    await load(Client(system.nc, 30), sc, lambda *_: None)
    await system.until(lambda st: len(st["contracts"]["assignments"]) >= 20, what="the demo's proposals")
    env = {
        **system.env(),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "EXPERTSHARE_PORTAL_PASSWORD": "mật khẩu dài 123",
        "SECRET": "a webhook secret",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "COLUMNS": "100",
    }
    used: set[str] = set()
    ran, skipped = [], []
    for command in commands(README.read_text(encoding="utf-8")):
        why = next((why for key, why in SKIP.items() if command.startswith(key)), None)
        if why is not None:
            skipped.append(f"{command.split('#')[0].strip()}: {why}")
            continue
        if PLACEHOLDER in command:
            command = command.replace(PLACEHOLDER, await _fresh_proposal(system, used))
        proc = await asyncio.create_subprocess_exec(
            "bash", "-c", command, cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, f"{command}\nexit {proc.returncode}\n{out.decode()[-2000:]}{err.decode()[-2000:]}"
        ran.append(command)
    assert len(ran) >= 25, ran
    print(f"ran {len(ran)} README commands; skipped {len(skipped)}:\n  " + "\n  ".join(skipped))


async def _fresh_proposal(system: System, used: set[str]) -> str:
    """A proposal waiting for staff that no earlier command took."""
    aid: str = await system.until(
        lambda st: next(
            (a["id"] for a in st["contracts"]["assignments"] if a["status"] == "proposed" and a["id"] not in used), None
        ),
        what="a proposal waiting for staff",
    )
    used.add(aid)
    return aid
