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


def test_one_word_for_proposed_and_the_old_matcher_word_still_reads() -> None:
    assert S("pending") is S.PROPOSED, "the matcher's rows and messages from before its migration 0005"
    assert S("proposed") is S.PROPOSED and S("approved") is S.APPROVED


def test_each_named_set_of_statuses_means_one_set() -> None:
    assert sm.LIVE == (S.PROPOSED, S.APPROVED, S.ACCEPTED)  # holds a slot
    assert sm.HELD == (S.APPROVED, S.ACCEPTED)  # holds ledger hours
    assert (*sm.LIVE, S.COMPLETED) == sm.COVERING and (*sm.HELD, S.COMPLETED) == sm.GRANTED
    assert not set(sm.LIVE) & set(sm.TERMINAL)


def test_contracts_news_moves_the_matchers_copy_forward_only() -> None:
    # An approval after the acceptance (or the completion) changes nothing.
    assert S.ACCEPTED not in sm.overwrites(S.APPROVED) and S.COMPLETED not in sm.overwrites(S.APPROVED)
    # An acceptance or a completion may come before the approval it follows.
    assert set(sm.overwrites(S.ACCEPTED)) >= {S.PROPOSED, S.APPROVED}
    assert set(sm.overwrites(S.COMPLETED)) >= {S.PROPOSED, S.APPROVED, S.ACCEPTED}
    # Contracts decides: its decision on a proposal the matcher withdrew meanwhile stands.
    assert S.WITHDRAWN in sm.overwrites(S.APPROVED) and S.WITHDRAWN in sm.overwrites(S.REJECTED)
    assert S.WITHDRAWN not in sm.overwrites(S.WITHDRAWN)
