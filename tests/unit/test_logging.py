"""Log lines go to standard error, never into what a command prints: `expertshare gaps --csv` once
read a `gc_pause` line (the collector's watch, process-wide) as the first row of its CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner

from cli import gaps_commands
from cli.main import app

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example-small.json"


def test_a_log_line_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    structlog.get_logger("heap").info("gc_pause", generation=2, seconds=0.2)
    out, err = capsys.readouterr()
    assert out == ""
    assert "gc_pause" in err


def test_a_log_line_while_a_command_prints_csv_stays_out_of_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A logger made before the command (as every module's is) writes to the stderr of the moment,
    the one the runner gave the command, not into its stdout."""
    log = structlog.get_logger("heap")
    log.info("made before the command")
    write_csv = gaps_commands.write_csv

    def logging_write_csv(*args: Any, **kwargs: Any) -> None:
        log.info("gc_pause", generation=2, seconds=0.2)  # as the collector's watch does, any time
        write_csv(*args, **kwargs)

    monkeypatch.setattr(gaps_commands, "write_csv", logging_write_csv)
    out = CliRunner().invoke(app, ["gaps", str(EXAMPLE), "--csv", "--time-limit", "3"])
    assert out.exit_code == 0, out.output
    assert "gc_pause" not in out.stdout
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert rows and "section" in rows[0]
