"""Rules in force: what a new rule set would change, and putting it in force across the live
disputes."""

from workflows.rollout.apply import RulesApplied, apply_rules
from workflows.rollout.diff import KINDS, ChangedDispute, RulesDiff, diff_rules

__all__ = ["KINDS", "ChangedDispute", "RulesApplied", "RulesDiff", "apply_rules", "diff_rules"]
