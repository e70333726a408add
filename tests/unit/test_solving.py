"""The re-plan's engine run in a child process: the same plan as in this process, and a child
that died is replaced on the next call."""

from __future__ import annotations

import threading

import pytest

from scenarios.generate import generate
from services.matcher.solver import solve
from services.matcher.solving import SolverLost, SolverProcess


def test_the_child_gives_the_plan_this_process_would_and_a_lost_child_is_replaced() -> None:
    sc = generate(40, 15, seed=3)
    here = solve(sc, time_limit_s=2, workers=1, seed=0)
    child = SolverProcess()
    try:
        there = child(sc, time_limit_s=2, workers=1, seed=0)
        assert there.objective == here.objective and there.assignments == here.assignments
        assert child._proc is not None
        first = child._proc.pid
        child._proc.kill()  # died between two plans: the next call starts a new child
        child._proc.wait()
        again = child(sc, time_limit_s=2, workers=1, seed=0)
        assert again.objective == here.objective and child._proc is not None and child._proc.pid != first
        # Killed during a run (the call waits for a 30-second solve): that plan is lost, and said so.
        big = generate(2000, 400, seed=1)
        proc = child._proc
        killer = threading.Timer(0.5, proc.kill)
        killer.start()
        with pytest.raises(SolverLost):
            child(big, time_limit_s=30, workers=1, seed=0)
        assert child._proc is None and proc.poll() is not None
    finally:
        child.close()
    assert child._proc is None
