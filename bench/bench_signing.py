"""What signing costs a command: the person's signature on the client, and the owning service's
check of the credential and the signature (`shared.security.credentials`), per command, on this
machine's CPU. Figures go into docs/performance.md.

    .venv/bin/python bench/bench_signing.py [--n 2000]
"""

from __future__ import annotations

import argparse
import platform
import time

from shared import messages as m
from shared import subjects as s
from shared.clock import utcnow
from shared.parties import staff_party
from shared.security import credentials, keys


def per_call_ms(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) * 1000 / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    n = ap.parse_args().n
    issuer, person = keys.new_seed(keys.ACCOUNT), keys.new_seed(keys.USER)
    issuers = [credentials.IssuerKey(keys.public_key(issuer))]
    cred = credentials.issue(
        issuer,
        person="lan",
        role="staff",
        party=staff_party("lan"),
        key=keys.public_key(person),
        channel="cli",
        hours=12,
    )
    batch = m.DecideAssignments(assignment_ids=[f"a-{i:06x}" for i in range(500)], decision="approve", by="lan")
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, n={n}")
    one = m.ApproveAssignment(assignment_id="a-1", by="lan")
    for label, cmd, subject in (
        ("approve one", one, s.ASSIGNMENT_APPROVE),
        ("decide 500 ids", batch, s.ASSIGNMENTS_DECIDE),
    ):
        signed = credentials.sign(subject, cmd, person, credential=cred)
        sign_ms = per_call_ms(lambda c=cmd, j=subject: credentials.sign(j, c, person, credential=cred), n)
        verify_ms = per_call_ms(lambda c=signed, j=subject: credentials.verify(j, c, issuers, {}, utcnow()), n)
        size = len(signed.model_dump_json()) - len(cmd.model_dump_json())
        print(f"| {label} | {sign_ms:.3f} ms | {verify_ms:.3f} ms | +{size} bytes |")


if __name__ == "__main__":
    main()
