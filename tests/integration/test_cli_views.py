"""The CLI as staff read it at 80 columns against running services: one line per request (a long
reason cut, whole with --verbose), a unit's status with only the contracts that can serve it,
contracts in natural order (c2 before c10), and one exit status per kind of outcome (0 done,
1 refused by the system, 2 a usage error) whatever the command."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from shared.nats import free_port
from tests.integration.services_harness import Stack, contract, expert


async def cli(stack: Stack, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        *args,
        env={**os.environ, "NATS_URL": stack.url, "COLUMNS": "80", "TERM": "dumb", **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_status_fits_80_columns_a_unit_sees_its_contracts_in_natural_order(stack: Stack) -> None:
    # c2 covers u2 only; the others have no scope (they serve every unit).
    await stack.register(
        [expert(i) for i in range(12)], [contract(i, scope_units=["u2"]) if i == 2 else contract(i) for i in range(12)]
    )
    await stack.submit("r1", skills={"digital_signature": 5})  # nobody has level 5: unmatched, with a reason
    await stack.until(
        lambda st: any(r["id"] == "r1" and r["status"] == "unmatched" for r in st["matcher"]["requests"]),
        what="r1 unmatched",
    )
    reason = next(r["reason"] for r in (await stack.status())["matcher"]["requests"] if r["id"] == "r1")
    assert len(reason) > 40, reason

    code, out, _ = await cli(stack, "status")
    assert code == 0, out
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), "\n".join(line for line in lines if len(line) > 80)
    r1 = [line for line in lines if re.match(r"\s*r1\s", line)]
    assert len(r1) == 1 and "…" in r1[0] and reason not in out, out
    contracts = re.findall(r"^\s*(c\d+)\s", out, flags=re.M)
    assert contracts == [f"c{i}" for i in range(12)], contracts

    code, out, _ = await cli(stack, "status", "--verbose")
    assert code == 0 and f"r1: {reason}" in out.splitlines(), out

    code, out, _ = await cli(stack, "status", "--unit", "u1")
    contracts = re.findall(r"^\s*(c\d+)\s", out, flags=re.M)
    assert "c2" not in contracts and contracts == [f"c{i}" for i in range(12) if i != 2], out
    code, out, _ = await cli(stack, "status", "--unit", "u2")
    assert "c2" in re.findall(r"^\s*(c\d+)\s", out, flags=re.M)


async def test_one_exit_status_per_kind_of_outcome(stack: Stack, tmp_path: Path) -> None:
    await stack.register([expert(0), expert(1)], [contract(0), contract(1)])
    await stack.submit("r1")
    await stack.proposal("r1")
    deadline = "2099-01-01"
    submit = [
        "request",
        "submit",
        "--id",
        "r9",
        "--title",
        "x",
        "--skill",
        "digital_signature=2",
        "--deadline",
        deadline,
    ]
    no_one = {
        "EXPERTSHARE_SECRETS_DIR": str(tmp_path / "none"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "EXPERTSHARE_CREDENTIAL": "",
    }
    (tmp_path / "none").mkdir()
    expected = [
        (0, ["status"], None),
        # refused by the system: 1
        (1, [*submit, "--unit", "w9999", "--hours", "2"], None),
        (1, ["approve", "a-nothere"], None),
        (1, ["assign", "r1", "--expert", "e1", "--contract", "c0"], None),
        (
            1,
            ["portal", "user-add", "xa9", "--role", "commune", "--unit", "w9999", "--password", "long enough"],
            {"PORTAL_DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}"},
        ),
        (1, ["status"], {"NATS_URL": f"nats://127.0.0.1:{free_port()}"}),
        # usage errors, found before anything is sent: 2
        (2, [*submit, "--unit", "u1", "--hours", "-3"], None),
        (2, ["status", "--limit", "0"], None),
        (
            2,
            ["portal", "user-add", "xa9", "--role", "commune", "--password", "long enough"],
            {"PORTAL_DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}"},
        ),
        (2, ["whoami"], no_one),
        (2, ["approve", "a-nothere"], no_one),
    ]
    for code, args, env in expected:
        got, out, err = await cli(stack, *args, env=env)
        assert got == code, f"expertshare {' '.join(args)}: status {got}, not {code}\n{out}{err}"
        if code:
            assert err.strip(), f"expertshare {' '.join(args)} says why on stderr"
