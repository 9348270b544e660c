"""Rules in force: putting a new rule set in force across the live disputes."""

from workflows.rollout.apply import RulesApplied, apply_rules

__all__ = ["RulesApplied", "apply_rules"]
