"""The assignment state machine both services apply (`shared.assignment`): never backwards, and
the matcher's copy follows contracts' news forward only."""

from __future__ import annotations

from shared import assignment as sm

S = sm.Status


def test_no_move_leads_back_and_nothing_leaves_a_terminal_status() -> None:
    assert S.PROPOSED not in sm.MOVES  # nothing returns to proposed
    for target, sources in sm.MOVES.items():
        assert target not in sm.precedes(target), f"{target} could be reached from itself"
        assert not set(sources) & set(sm.TERMINAL), f"{target} leaves a terminal status"


def test_the_matcher_keeps_its_word_for_proposed() -> None:
    assert sm.to_matcher("proposed") == "pending" and sm.from_matcher("pending") == S.PROPOSED
    assert sm.to_matcher("approved") == "approved" and sm.matcher_words(sm.LIVE) == ("pending", "approved", "accepted")


def test_contracts_news_moves_the_matchers_copy_forward_only() -> None:
    # An approval after the acceptance (or the completion) changes nothing.
    assert S.ACCEPTED not in sm.overwrites(S.APPROVED) and S.COMPLETED not in sm.overwrites(S.APPROVED)
    # An acceptance or a completion may come before the approval it follows.
    assert set(sm.overwrites(S.ACCEPTED)) >= {S.PROPOSED, S.APPROVED}
    assert set(sm.overwrites(S.COMPLETED)) >= {S.PROPOSED, S.APPROVED, S.ACCEPTED}
    # Contracts decides: its decision on a proposal the matcher withdrew meanwhile stands.
    assert S.WITHDRAWN in sm.overwrites(S.APPROVED) and S.WITHDRAWN in sm.overwrites(S.REJECTED)
    assert S.WITHDRAWN not in sm.overwrites(S.WITHDRAWN)
