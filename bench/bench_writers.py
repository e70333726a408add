"""How long a SQLite writer waits for the write lock beside busy writers of the same process.

A service's event consumers each write one transaction per message, in threads of one process;
one of them is timed here. Four background writers each hold the lock for 4 ms and pause 10 ms,
over and over (about as busy as the notifier's consumers under a re-plan's burst); a probe
writes one row every 20 ms and is timed from asking for the transaction to its commit. Before
`shared.write_gate`, a writer that found the lock taken was left to SQLite's busy handler
(sleep 1, 2, 5 ... 100 ms and try again), and later writers passed it.

    .venv/bin/python -m bench.bench_writers [--probes 200] [--writers 4]

Prints the probe's p50 / p90 / p99 / max in milliseconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repository's root is where `bench` is
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from shared.db import make_engine, transaction  # noqa: E402

HOLD_S, PAUSE_S, PROBE_EVERY_S = 0.004, 0.010, 0.020


def measure(probes: int, writers: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'writers.db'}")
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (who INTEGER NOT NULL)")
        stop = threading.Event()

        def busy() -> None:
            while not stop.is_set():
                with transaction(engine) as session:
                    session.exec(text("INSERT INTO t (who) VALUES (1)"))
                    time.sleep(HOLD_S)
                time.sleep(PAUSE_S)

        waited: list[float] = []
        background = [threading.Thread(target=busy) for _ in range(writers)]
        for t in background:
            t.start()
        try:
            for _ in range(probes):
                began = time.perf_counter()
                with transaction(engine) as session:
                    session.exec(text("INSERT INTO t (who) VALUES (2)"))
                waited.append(time.perf_counter() - began)
                time.sleep(PROBE_EVERY_S)
        finally:
            stop.set()
            for t in background:
                t.join()
            engine.dispose()
    return sorted(waited)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--writers", type=int, default=4)
    args = ap.parse_args()
    waited = measure(args.probes, args.writers)

    def at(q: float) -> float:
        return 1000 * waited[min(len(waited) - 1, int(q * len(waited)))]

    print(
        f"probe writer beside {args.writers} busy writers, {len(waited)} probes: "
        f"p50 {at(0.5):.1f} ms, p90 {at(0.9):.1f} ms, p99 {at(0.99):.1f} ms, max {1000 * waited[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
