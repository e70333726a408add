"""What is left to give: expert minutes, contract minutes, money and concurrent slots, and the
priority weights. Shared by the greedy heuristic, the model and the explanations."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.matcher.solver.options import Option
from shared.rules import Rule
from shared.scenario import Scenario, minutes

DEFAULT_WEIGHTS = {1: 1, 2: 2, 3: 4, 4: 8, 5: 16}


@dataclass
class Limits:
    expert_minutes: dict[str, int] = field(default_factory=dict)
    contract_minutes: dict[str, int] = field(default_factory=dict)
    contract_budget: dict[str, int | None] = field(default_factory=dict)
    contract_slots: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, sc: Scenario) -> Limits:
        lim = cls()
        for e in sc.experts:
            lim.expert_minutes[e.id] = minutes(e.capacity_hours) - minutes(e.committed_hours)
        for c in sc.contracts:
            lim.contract_minutes[c.id] = minutes(c.hours_cap) - minutes(c.hours_used)
            lim.contract_budget[c.id] = None if c.budget_cap_vnd is None else c.budget_cap_vnd - c.budget_used_vnd
            lim.contract_slots[c.id] = c.max_concurrent - c.active_assignments
        return lim

    def blocker(self, o: Option) -> Rule | None:
        """The first limit this option would break, or None when it fits."""
        if o.minutes > self.expert_minutes[o.expert]:
            return Rule.EXPERT_CAPACITY
        if o.minutes > self.contract_minutes[o.contract]:
            return Rule.CONTRACT_HOURS
        budget = self.contract_budget[o.contract]
        if budget is not None and o.cost > budget:
            return Rule.CONTRACT_BUDGET
        if self.contract_slots[o.contract] < 1:
            return Rule.CONTRACT_CONCURRENCY
        return None

    def take(self, o: Option, sign: int = 1) -> None:
        self.expert_minutes[o.expert] -= sign * o.minutes
        self.contract_minutes[o.contract] -= sign * o.minutes
        if self.contract_budget[o.contract] is not None:
            self.contract_budget[o.contract] -= sign * o.cost  # type: ignore[operator]
        self.contract_slots[o.contract] -= sign

    def negative(self) -> str | None:
        for kind, table in (
            ("expert", self.expert_minutes),
            ("contract hours", self.contract_minutes),
            ("contract budget", self.contract_budget),
            ("contract concurrency", self.contract_slots),
        ):
            for key, left in table.items():
                if left is not None and left < 0:
                    return f"{kind} {key} is over its limit by {-left}"
        return None


def weight(priority: int, weights: dict[int, int] | None = None) -> int:
    return (weights or DEFAULT_WEIGHTS)[priority]
