"""Planning the next contracts and trainings: which hires (`hiring.py`) or which community members
trained to which level (`training.py`) would cover the most priority weight for a budget, decided
with the matching in one model (`joint.py`) and checked by the engine on the merged scenario.

Pure, like the engine it builds on: scenarios in, plans out; no database, broker or logging setup.
"""
