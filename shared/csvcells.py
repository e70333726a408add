"""CSV cells a spreadsheet would run, made inert (CSV or formula injection).

A cell starting with `=`, `+`, `-` or `@` is a formula to Excel and LibreOffice (`=HYPERLINK(...)`,
`@SUM(...)`, `=cmd|' /C calc'!A0`), and a leading tab, carriage return or line feed can hide one; a name or a
note typed by anyone would run on the machine of the staff who opens the export. `neutral`
prefixes such a cell with `'`, which spreadsheets take as "this is text". A plain number (`-12.5`,
`+84`) runs nothing and is left as it is, so numbers stay numbers.

`restore` undoes exactly that prefix, for the sheets import (shared.sheets): an exported sheet
imports back to the same values.
"""

from __future__ import annotations

import re
from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutral(value: Any) -> Any:
    """`value` as a cell no spreadsheet runs (only strings can be formulas)."""
    if isinstance(value, str) and value.startswith(TRIGGERS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def restore(text: str) -> str:
    """The cell as it was before `neutral`."""
    return text[1:] if text.startswith("'") and text[1:].startswith(TRIGGERS) else text
