"""What a message must be before any model looks at it, and what of it may be kept.

`check_payload` refuses, with a reason naming the problem, the JSON that would otherwise crash a
handler or poison what it stores: bytes that are not UTF-8, nesting deeper than `MAX_DEPTH` (the
standard parser ends in a RecursionError), NaN and Infinity (JSON has no such numbers; Python's
parser takes them) and lone UTF-16 surrogates (`"\\ud800"`: no database or UTF-8 encoder takes
them). It is a cheap pass over what `json` already parsed.

`redact` takes the secrets out of a payload before it is kept anywhere (a dead letter lives for
months and any operator reads it): webhook secrets, passwords, proofs, credentials, signatures.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from shared.limits import MAX_DEPTH

#: Keys whose values are never kept: matched whole, case-insensitively, at any depth.
SECRET_KEYS = re.compile(
    r"(?i)^(webhook_secret|secret|secret_key|password|new_password|old_password|smtp_password|token|"
    r"proof|credential|credentials|signature|sig|seed|nkey|private_key)$"
)
REDACTED = "[redacted]"
# The same keys in text that is not JSON (a malformed payload): the value up to its closing quote.
_SECRET_IN_TEXT = re.compile(
    r'(?i)("(?:webhook_secret|secret|secret_key|password|new_password|old_password|smtp_password|token|'
    r'proof|credential|credentials|signature|sig|seed|nkey|private_key)"\s*:\s*)("(?:[^"\\]|\\.)*"?|\{[^}]*\}?|[^,}\s]+)'
)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class Malformed(ValueError):
    """A payload that is not a message at all; `field` names where, when one can tell."""

    def __init__(self, message: str, field: str = "message") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class _Constant(str):
    """NaN, Infinity or -Infinity where a number was: kept as a marker, reported with its place."""


def check_payload(data: bytes) -> None:
    """Raise `Malformed` when `data` is JSON no message may be; anything else (not JSON at all,
    the wrong shape) is left to the models, which name the field."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Malformed(f"not UTF-8 (byte {err.start})") from None
    try:
        value = json.loads(text, parse_constant=_Constant)
    except RecursionError:
        raise Malformed(f"nested deeper than {MAX_DEPTH}") from None
    except ValueError:
        return  # not JSON: the model says what it expected
    _walk(value, surrogates=bool(_SURROGATE_ESCAPE.search(text)))


def _walk(value: Any, *, surrogates: bool) -> None:
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 0, ())]
    while stack:
        v, depth, path = stack.pop()
        if isinstance(v, dict | list):
            if depth >= MAX_DEPTH:
                raise Malformed(f"nested deeper than {MAX_DEPTH}", _dotted(path))
            items = v.items() if isinstance(v, dict) else enumerate(v)
            for k, child in items:
                if surrogates and isinstance(k, str):
                    _utf8(k, (*path, "<key>"))
                stack.append((child, depth + 1, (*path, k)))
        elif isinstance(v, _Constant):
            raise Malformed(f"{v} is not a JSON number", _dotted(path))
        elif isinstance(v, float) and not math.isfinite(v):  # 1e999 parses as infinity
            raise Malformed("a number too large to be finite", _dotted(path))
        elif surrogates and isinstance(v, str):
            _utf8(v, path)


def _utf8(s: str, path: tuple[Any, ...]) -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise Malformed("a lone UTF-16 surrogate is not text", _dotted(path)) from None


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path) or "message"


def redact(value: Any) -> Any:
    """`value` with the value of every secret key replaced, at any depth."""
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and SECRET_KEYS.match(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def redacted_text(data: bytes, limit: int) -> str:
    """A payload as text to keep, its secrets removed, at most `limit` characters. JSON is
    redacted by key; anything else by a scan for the same keys (a malformed payload has secrets too)."""
    text = data.decode("utf-8", errors="replace")
    try:
        kept = json.dumps(redact(json.loads(text)), ensure_ascii=False)
    except (ValueError, RecursionError):
        kept = _SECRET_IN_TEXT.sub(lambda mo: mo.group(1) + json.dumps(REDACTED), text)
    # A lone surrogate (from a "\ud800" escape) cannot be written as UTF-8: it becomes "?".
    return kept[:limit].encode("utf-8", errors="replace").decode("utf-8")
