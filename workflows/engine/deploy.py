"""Prefect deployments of the sweep flows on the rule file's schedule: the distributed
alternative to ``fengqiao serve``.

A Prefect server's scheduler then says when the flows run, and ``prefect worker`` processes
on any number of machines run them against one PostgreSQL database. Each deployment's
entrypoint is a module path (``workflows.engine.flows.escalation_flow``): a worker imports
it from the fengqiao installed in its own environment, so nothing is built, pushed or pulled.
Parameters never hold a database URL (a worker reads its FENGQIAO_DB) nor a time (a run's
``now`` is the database's clock).

No two runs of one deployment overlap: each has a concurrency limit of one, and a run that
would start while the previous one is still running is cancelled (the running one, or the
next, does its work); so a backlog of late runs after an outage costs one run, not hundreds.
Runs of different deployments run in parallel on as many workers as there are: the
escalation sweep can be split into several deployments, whose runs claim disjoint batches
of due disputes (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog
from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import DeploymentApplyError, RunnerDeployment
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.schedules import Cron, Interval, Schedule
from prefect.settings import get_current_settings
from prefect.types.entrypoint import EntrypointType

from rules.policy import Policy
from rules.schema import SWEEPS, FlowSchedule
from workflows.engine import flows
from workflows.engine.flows import (
    CADENCE_FLOWS,
    cadence_flow,
    escalation_flow,
    flow_of,
    report_flow,
)
from workflows.errors import BadInput, first_line

__all__ = [
    "ANCHOR",
    "Applied",
    "PlannedDeployment",
    "apply_deployments",
    "check_name",
    "check_server",
    "plan_deployments",
    "prefect_api_url",
    "prefect_schedule",
]

log = structlog.get_logger(__name__)

# Interval schedules count from the same moment as rules.schedule (every 5m: :00, :05, …).
ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)
TAG = "fengqiao"
# Days a cron expression cannot say: the official calendar decides them.
CALENDAR_DAYS = ("working", "first_working_day")
MAX_PARALLEL = 32
NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")


def prefect_schedule(schedule: FlowSchedule, *, timezone: str) -> Schedule:
    """The Prefect schedule of a rule file's flow schedule.

    ``every`` is an interval anchored like ``rules.schedule`` (on the clock, in UTC);
    ``at`` is a cron in the rules' time zone. Working days and the first working day of a
    month follow the official calendar (holidays, make-up working days), which cron cannot
    express: those fire every day at that time, and a cadence flow checks itself whether
    its scheduled time has come since its last run, so it runs on the right days only.
    """
    if schedule.every is not None:
        return Interval(schedule.every.exact(), anchor_date=ANCHOR, timezone="UTC")
    assert schedule.at is not None  # the schema allows exactly one of every and at
    hour, minute = (int(part) for part in schedule.at.split(":"))
    day_of_month, day_of_week = "*", "*"
    if isinstance(schedule.days, list) and schedule.days:
        listed = ",".join(str(day) for day in schedule.days)
        if isinstance(schedule.days[0], str):
            day_of_week = listed
        else:
            day_of_month = listed
    return Cron(f"{minute} {hour} {day_of_month} * {day_of_week}", timezone=timezone)


@dataclass(frozen=True)
class PlannedDeployment:
    """One deployment to create or update: a flow, its name, schedule and parameters."""

    step: str  # the rule file's schedule key: escalation, reminders, delivery or an obligation
    flow: Flow[..., Any]
    name: str
    schedule: FlowSchedule
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        """``flow/deployment``, as ``prefect deployment run`` takes it."""
        return f"{self.flow.name}/{self.name}"

    @property
    def entrypoint(self) -> str:
        """The module path a worker imports the flow from: each cadence step's own named
        flow (``workflows.engine.flows.daily_check_flow``), so that its runs carry its name."""
        if CADENCE_FLOWS.get(self.step) is self.flow:
            return f"{flows.__name__}.{self.step}_flow"
        if self.flow is report_flow:
            return f"{flows.__name__}.report_flow"
        return f"{flows.__name__}.{self.flow.fn.__name__}"

    @property
    def calendar_dependent(self) -> bool:
        """True if Prefect fires it daily and only the calendar knows its days."""
        return self.schedule.at is not None and self.schedule.days in CALENDAR_DAYS

    def describe(self, *, timezone: str) -> str:
        """The schedule as the rule file says it, and as Prefect runs it."""
        schedule = self.schedule
        if schedule.every is not None:
            return f"every {schedule.every} (interval, on the clock)"
        cron = prefect_schedule(schedule, timezone=timezone).cron
        text = f"at {schedule.at} {_days(schedule)} (cron '{cron}' {timezone})"
        if self.calendar_dependent:
            text += (
                "; fires daily, runs on its days only"
                if self.step not in SWEEPS
                else "; fires DAILY: only cadence flows follow the working-day calendar"
            )
        return text


def plan_deployments(
    policy: Policy, *, name: str = "fengqiao", parallel: int = 1
) -> list[PlannedDeployment]:
    """The deployments of every flow the rule file schedules, in the file's order.

    The escalation sweep is split into ``parallel`` deployments on the same schedule, whose
    runs claim disjoint batches of due disputes, so that several workers share one sweep.
    A flow without a schedule gets no deployment.
    """
    if not 1 <= parallel <= MAX_PARALLEL:
        raise BadInput(f"--parallel must be between 1 and {MAX_PARALLEL}, not {parallel}")
    check_name(name, what="--name")
    planned = []
    for step, schedule in policy.rules.schedule.items():
        if step == "escalation":
            planned += [
                PlannedDeployment(step, escalation_flow, part, schedule)
                for part in _parts(name, parallel)
            ]
        elif step in SWEEPS:
            planned.append(PlannedDeployment(step, flow_of(step), name, schedule))
        elif step in policy.rules.reports:  # one flow, a deployment per report
            label = f"{name}-{step.replace('_', '-')}"
            planned.append(PlannedDeployment(step, report_flow, label, schedule, {"name": step}))
        elif step in CADENCE_FLOWS:
            planned.append(PlannedDeployment(step, flow_of(step), name, schedule, {"name": step}))
        else:  # an obligation of a custom rule file: the generic cadence flow, named apart
            label = f"{name}-{step.replace('_', '-')}"
            planned.append(PlannedDeployment(step, cadence_flow, label, schedule, {"name": step}))
    return planned


def _days(schedule: FlowSchedule) -> str:
    """The days of an ``at`` schedule, in words."""
    days = schedule.days
    if isinstance(days, str):
        return {
            "every": "every day",
            "working": "on working days",
            "first_working_day": "on the first working day of the month",
        }[days]
    listed = ",".join(map(str, days))
    return f"on {listed}" if isinstance(days[0], str) else f"on days {listed} of the month"


def check_name(value: str, *, what: str) -> None:
    """Refuse a deployment or work pool name Prefect would not take, or that hides a slash."""
    if not NAME.fullmatch(value):
        raise BadInput(f"{what} {value!r}: use letters, digits, '-' and '_' (at most 40)")


def _parts(name: str, parallel: int) -> list[str]:
    """The names of the escalation sweep's deployments: ``name``, or ``name-1`` … ``name-N``."""
    return [name] if parallel == 1 else [f"{name}-{part}" for part in range(1, parallel + 1)]


@dataclass
class Applied:
    """What ``apply_deployments`` did on the Prefect server."""

    pool_created: bool = False
    applied: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def prefect_api_url() -> str:
    """The Prefect server's API URL from Prefect's own settings (PREFECT_API_URL, or the
    active profile); without one, Prefect would start a throwaway server: refused."""
    url = get_current_settings().api.url
    if not url:
        raise BadInput(
            "PREFECT_API_URL is not set: point it at your Prefect server, "
            "e.g. export PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    return url


def check_server() -> str:
    """The Prefect server's API URL, once it answers its health check."""
    url = prefect_api_url()
    try:
        with get_client(sync_client=True) as client:
            problem = client.api_healthcheck()
    except httpx.HTTPError as exc:
        problem = exc
    if problem is not None:
        raise BadInput(f"cannot reach the Prefect server at {url}: {first_line(problem)}")
    return url


def apply_deployments(
    planned: Sequence[PlannedDeployment], *, policy: Policy, pool: str, name: str
) -> Applied:
    """Create or update the deployments in the work pool ``pool`` (a process pool is created
    if missing), and delete those an earlier ``fengqiao deploy --name NAME`` made that are no
    longer planned (a flow dropped from the schedule, fewer parallel sweeps).

    A server that fails half-way leaves what was applied: running it again converges.
    """
    url = check_server()
    try:
        with get_client(sync_client=True) as client:
            result = Applied(pool_created=_ensure_pool(client, pool))
        group = f"{TAG}:{name}"
        ids = {_apply(plan, policy=policy, pool=pool, group=group) for plan in planned}
        result.applied = [plan.full_name for plan in planned]
        with get_client(sync_client=True) as client:
            result.removed = _remove_others(client, group=group, keep=ids)
    except (httpx.HTTPError, PrefectHTTPStatusError, DeploymentApplyError) as exc:
        raise BadInput(f"the Prefect server at {url} failed: {first_line(exc)}") from None
    log.info(
        "deployments_applied",
        pool=pool,
        name=name,
        rules_version=policy.label,
        applied=len(result.applied),
        removed=len(result.removed),
        pool_created=result.pool_created,
    )
    return result


def _remove_others(client: Any, *, group: str, keep: set[Any]) -> list[str]:
    """Delete the deployments of ``group`` not in ``keep``; their full names."""
    removed = []
    for deployment in client.read_deployments(
        deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[group]))
    ):
        if deployment.id not in keep:
            flow = client.read_flow(deployment.flow_id)
            client.delete_deployment(deployment.id)
            removed.append(f"{flow.name}/{deployment.name}")
    return removed


def _ensure_pool(client: Any, pool: str) -> bool:
    """Create the process work pool ``pool`` unless it exists; True if it was created."""
    from prefect.workers.process import ProcessWorker

    try:
        client.read_work_pool(pool)
        return False
    except ObjectNotFound:
        client.create_work_pool(
            WorkPoolCreate(
                name=pool,
                type=ProcessWorker.type,
                base_job_template=ProcessWorker.get_default_base_job_template(),
            )
        )
        return True


def _apply(plan: PlannedDeployment, *, policy: Policy, pool: str, group: str) -> Any:
    """Create or update one deployment; its id."""
    deployment = plan.flow.to_deployment(
        name=plan.name,
        schedule=prefect_schedule(plan.schedule, timezone=policy.rules.timezone),
        parameters=plan.parameters,
        description=(
            f"{plan.step}: {plan.describe(timezone=policy.rules.timezone)}; "
            f"made by fengqiao deploy from rules {policy.label}"
        ),
        tags=[TAG, group],
        version=policy.label,
        version_type=_simple_version(),
        concurrency_limit=ConcurrencyLimitConfig(
            limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
        ),
        work_pool_name=pool,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    assert isinstance(deployment, RunnerDeployment)  # called outside an event loop: not a coroutine
    deployment.entrypoint = plan.entrypoint
    return deployment.apply(work_pool_name=pool)


def _simple_version() -> Any:
    """Version the deployments by the rules, without Prefect looking for git metadata."""
    from prefect._internal.versioning import VersionType

    return VersionType.SIMPLE
