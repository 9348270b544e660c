"""When and how the sweeps run: the one list of steps and its runners (``steps``), the
steps as Prefect flows (``flows``) and their deployments (``deploy``), and the lock that
lets one embedded scheduler run per database (``lock``). ``flows`` and ``deploy`` import
Prefect: import them from their modules, when needed."""

from workflows.engine.lock import LockHeld, acquire, heartbeat, release
from workflows.engine.steps import (
    Direct,
    Runner,
    due_flows,
    escalation_step,
    run_due,
    run_step,
    sweep,
)

__all__ = [
    "Direct",
    "LockHeld",
    "Runner",
    "acquire",
    "due_flows",
    "escalation_step",
    "heartbeat",
    "release",
    "run_due",
    "run_step",
    "sweep",
]
