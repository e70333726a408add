"""How big anything that arrives may be, in one place, and how what goes out stays under NATS's limit.

Every text field of every message and of the scenario format has a maximum length, every list and
dict a maximum size, and JSON a maximum nesting depth: generous for a real province (a national
load is sent in chunks), finite for an attacker. Text the services compose from input (a refusal
reason, a plan note, a notification's words) is clipped where it is composed, so one request can
never carry its size into every inbox or stored plan input.

A reply is a single NATS message: `fit_reply` cuts its longest lists (saying `truncated`) rather
than let it go over the server's max payload, which the caller would only see as a timeout.
"""

from __future__ import annotations

import json
from typing import Any

# ---------------------------------------------------------------- the wire
MAX_PAYLOAD = 1024 * 1024  # nats-server's default max_payload: no message may be larger
REPLY_BUDGET = 900 * 1024  # a reply's JSON, leaving room for headers and the envelope
MAX_DEPTH = 32  # nesting of JSON objects and arrays (the deepest message is about 8)
# Characters of a plan input per reply: a character of JSON text quoted again takes at most 7
# bytes (a control character, \u0000, with its backslash escaped).
PLAN_INPUT_CHUNK = 120_000

# ---------------------------------------------------------------- text
ID = 64  # ids of units, experts, contracts, requests, assignments, events
NAME = 200  # a person's, a commune's, an expert's name
TITLE = 300  # a request's title, a notification's subject
LANGUAGE = 35  # a language tag (BCP 47's longest practical tag)
SHORT = 120  # a province, a skill name, an audit subject
TEXT = 2000  # a comment, a reason, a note
URL = 2000
BODY = 8000  # a notification's composed text
REASON = 2000  # a reason composed from input (refusals, withdrawals, failed sends)

# ---------------------------------------------------------------- collections
SKILLS = 50  # skills of one expert or request (the catalogue has far fewer)
LANGUAGES = 20  # languages one expert speaks
SLOTS = 20  # slots of one request
SUBMIT_BATCH = 500  # requests of one bulk submission (`SubmitRequests`): well under a message
REFERENCE_CHUNK = 200  # units, experts or contracts per `ReferenceRegistered` event
TRAVEL_CHUNK = 5000  # travel pairs per `ReferenceRegistered` event (about 60 bytes each)
SCOPE_UNITS = 20_000  # units one contract covers (Vietnam has about 10,000 communes)
IDS = 1000  # ids named in one command or query
NOTES = 200  # notes of one plan
GAP_DAYS = 366  # the longest period one shortage report covers (`GetGaps`)
REPLY_ROWS = 20_000  # rows of one list of a query's reply (more never fit one message)
GAP_ROWS = 2000  # rows of one breakdown of a shortage report (the most uncovered first)
HIRING_CANDIDATES = 1000  # the menu of one hiring plan (`GetHiringPlan`)
HIRING_BUDGET_VND = 1_000_000_000_000  # one hiring plan's budget: a thousand billion dong at most
EXPLANATION_KEYS = 50  # keys of a solver's explanation
EXPLANATION_BYTES = 20_000  # an explanation's JSON
SCENARIO_RECORDS = 200_000  # records of one kind in an offline scenario
SCENARIO_TRAVEL = 2_000_000  # travel pairs in an offline scenario

ELLIPSIS = "…"


def clip(text: str, limit: int = REASON) -> str:
    """`text` cut to `limit` characters, an ellipsis saying it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def json_size(value: Any) -> int:
    """Bytes of `value` as the wire carries it (UTF-8 JSON)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode())


def fit(data: dict[str, Any], budget: int = REPLY_BUDGET) -> tuple[dict[str, Any], bool]:
    """`data` with its longest lists cut from the end until its JSON fits `budget` bytes, and
    whether anything was cut. Lists one dict down count too (a plan input's scenario)."""
    size = json_size(data)
    if size <= budget:
        return data, False
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    while size > budget:
        holder, key = _largest_list(data)
        if holder is None:  # nothing left to cut: the caller gets the flag, not an oversized reply
            return {"truncated": True}, True
        items = holder[key]
        excess = size - budget
        keep, room = [], json_size(items) - excess
        for item in items:
            room -= json_size(item) + 1
            if room < 2:
                break
            keep.append(item)
        holder[key] = keep
        size = json_size(data)
    return data, True


def _largest_list(data: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    best: tuple[int, dict[str, Any] | None, str] = (0, None, "")
    for holder in (data, *(v for v in data.values() if isinstance(v, dict))):
        for key, value in holder.items():
            if isinstance(value, list) and value and (n := json_size(value)) > best[0]:
                best = (n, holder, key)
    return best[1], best[2]
