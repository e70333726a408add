"""The generated parts of docs/security.md: who may use which NATS subject, and who may send
which command, rendered from the code that enforces them (`shared.security.identities` and each
service's `PERMITS`). `python -m cli.security_doc` (part of `make docs`) rewrites them between
their markers; a test fails when the committed page differs, so the page never goes stale.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path

from shared.security import identities

PAGE = Path(__file__).resolve().parent.parent / "docs" / "security.md"
SERVICES = ("matcher", "contracts", "notifier")


def permits_table() -> str:
    """Every command a person or the system sends, the roles that may send it, and the
    ownership check its owning service runs in the command's transaction."""
    rows = ["| command | who may send it | and only if |", "|---|---|---|"]
    for service in SERVICES:
        permits = importlib.import_module(f"services.{service}.app").PERMITS
        for subject, permit in sorted(permits.items()):
            doc = inspect.getdoc(permit.owner) if permit.owner else None
            check = " ".join(doc.split("\n\n")[0].split()).removeprefix("Ownership: ") if doc else "-"
            rows.append(f"| `{subject}` | {', '.join(sorted(permit.roles))} | {check} |")
    return "\n".join(rows) + "\n"


BLOCKS = {"identities": identities.table, "permits": permits_table}


def render(text: str) -> str:
    for name, make in BLOCKS.items():
        pattern = re.compile(rf"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{PAGE}: no <!-- generated:{name} --> block")

        def fill(found: re.Match[str], make: Callable[[], str] = make) -> str:
            return found.group(1) + make() + found.group(2)

        text = pattern.sub(fill, text)
    return text


def main() -> None:
    PAGE.write_text(render(PAGE.read_text()))
    print(f"wrote {PAGE}", file=sys.stderr)


if __name__ == "__main__":
    main()
