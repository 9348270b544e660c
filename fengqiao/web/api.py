"""The JSON API, ``/api/v1``: for the pages' own use and for other clients (a DingTalk or
WeCom mini-program, a city platform), by session cookie or ``Authorization: Bearer``.
Every answer that is not a success is ``{"error": "one line"}``."""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fengqiao.web.auth import CSRF_HEADER, CsrfRefused, NotSignedIn, Signed, check_csrf, signed_in
from fengqiao.web.config import Web
from fengqiao.web.schemas import (
    Acknowledged,
    DisputeOut,
    Error,
    EscalationItem,
    Me,
    NewDisputeIn,
    NewEventIn,
    QueuePage,
    TaskItem,
)
from models.values import Actor, Level, Risk, Status
from rules.schema import lookup
from workflows.access import Forbidden
from workflows.errors import BadInput, NotFound, first_line
from workflows.recording import NewDispute, NewEvent, Refusals, record_event, report_dispute
from workflows.rulesets import RulesNotInForce
from workflows.settings import parse_time
from workflows.tasks import acknowledge_dispute, acknowledge_task
from workflows.views import (
    LONGEST_PAGE,
    QueueFilters,
    dispute_view,
    escalations_view,
    overdue_count,
    queue_view,
    tasks_view,
)

__all__ = ["api_app", "status_of"]

log = structlog.get_logger(__name__)

LARGEST_ID = 2**63 - 1
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Error, "description": description}
    for status, description in (
        (400, "bad input or a refused transition; nothing changed"),
        (401, "not signed in: a session cookie or Authorization: Bearer TOKEN"),
        (403, "the role may not do this (the reason given), or a missing CSRF token"),
        (404, "no such dispute, task or unit in the caller's scope"),
        (422, "a parameter or the body is not of the documented form"),
    )
}
# Text that is looked up in the database: no NUL (PostgreSQL keeps none), of a sane length.
_CODE = Query(max_length=64, pattern=r"^[^\x00]+$")


def status_of(error: Exception) -> int:
    """The HTTP status of a service's refusal."""
    if isinstance(error, Refusals):
        refused = list(error.refused.values())
        return 404 if any(isinstance(e, NotFound) for e in refused) else status_of(refused[0])
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Forbidden | CsrfRefused):
        return 403
    if isinstance(error, RulesNotInForce):
        return 409  # the rules in force changed: the request may be made again
    return 400


def _web(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


def _changing(request: Request, signed: Annotated[Signed, Depends(signed_in)]) -> Signed:
    """The person of a request that changes something: with the cookie, it needs the
    ``X-CSRF-Token`` header (the pages' ``<body hx-headers>``)."""
    check_csrf(signed, request.headers.get(CSRF_HEADER))
    return signed


Reader = Annotated[Signed, Depends(signed_in)]
Writer = Annotated[Signed, Depends(_changing)]
Id = Annotated[int, Path(ge=1, le=LARGEST_ID)]


def api_app(web: Web) -> FastAPI:
    app = FastAPI(
        title="Fengqiao API",
        version=version("fengqiao"),
        description=(
            "Disputes, tasks and escalations of the person signed in, within their scope. "
            "Authenticate with the session cookie of the web app (changes then need the "
            "X-CSRF-Token header) or `Authorization: Bearer TOKEN` "
            '(`fengqiao user token PERSON`). Errors are `{"error": "one line"}`.'
        ),
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        responses=_ERRORS,
    )
    app.state.web = web

    @app.exception_handler(NotSignedIn)
    def _not_signed_in(request: Request, exc: NotSignedIn) -> JSONResponse:
        return JSONResponse(
            {"error": "not signed in: send the session cookie or Authorization: Bearer TOKEN"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(BadInput)
    def _refused(request: Request, exc: BadInput) -> JSONResponse:
        return JSONResponse({"error": first_line(exc)}, status_code=status_of(exc))

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error.get("loc", ())) or "request"
        return JSONResponse({"error": f"{where}: {error.get('msg', 'invalid')}"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    def actor(signed: Signed) -> Actor:
        return Actor(signed.viewer.person, via="web")

    @app.get("/me", response_model=Me, summary="who is signed in, and what is overdue")
    def me(signed: Reader) -> dict[str, Any]:
        viewer = signed.viewer
        overdue = overdue_count(engine=web.engine, viewer=viewer, now=web.clock())
        return {
            "person": viewer.person,
            "name": viewer.name,
            "role": viewer.role,
            "unit": viewer.unit,
            "overdue": overdue,
        }

    @app.get(
        "/disputes",
        response_model=QueuePage,
        summary="the queue: live disputes in scope, high risk first, then the next deadline",
    )
    def disputes(
        signed: Reader,
        unit: Annotated[str | None, _CODE] = None,
        level: Level | None = None,
        risk: Risk | None = None,
        status: Status | None = None,
        overdue: bool = False,
        category: Annotated[str | None, _CODE] = None,
        cursor: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")] = None,
        limit: Annotated[int, Query(ge=1, le=LONGEST_PAGE)] = 50,
    ) -> dict[str, Any]:
        policy = web.rules()
        if category is not None:  # its code, or any of its names
            category = lookup(policy.rules.categories, category) or category
        return queue_view(
            engine=web.engine,
            policy=policy,
            viewer=signed.viewer,
            now=web.clock(),
            zone=web.zone,
            filters=QueueFilters(unit, level, risk, status, overdue, category),
            cursor=cursor,
            limit=limit,
        )

    @app.get(
        "/disputes/{dispute_id}",
        response_model=DisputeOut,
        summary="a dispute: exactly the JSON of `fengqiao dispute show --json`",
    )
    def dispute(signed: Reader, dispute_id: Id) -> dict[str, Any]:
        return dispute_view(
            engine=web.engine,
            dispute_id=dispute_id,
            now=web.clock(),
            zone=web.zone,
            viewer=signed.viewer,
        )

    @app.post(
        "/disputes",
        response_model=DisputeOut,
        status_code=201,
        summary="report a dispute, as the person signed in",
    )
    def new_dispute(signed: Writer, body: NewDisputeIn) -> dict[str, Any]:
        policy, now = web.rules(), web.clock()
        dispute_id = report_dispute(
            engine=web.engine,
            policy=policy,
            now=now,
            actor=actor(signed),
            dispute=NewDispute(
                unit=body.unit,
                risk=body.risk,
                category=body.category,
                title=body.title,
                description=body.description,
                at=_time(body.at, web, "at"),
                people_involved=body.people_involved,
                parties=body.parties,
                location=body.location,
                source=body.source,
                court=body.court,
                court_deadline=_time(body.court_deadline, web, "court_deadline"),
            ),
        )
        return dispute_view(
            engine=web.engine, dispute_id=dispute_id, now=now, zone=web.zone, viewer=signed.viewer
        )

    @app.post(
        "/disputes/{dispute_id}/events",
        response_model=DisputeOut,
        status_code=201,
        summary="record an event on a dispute, as done by the person signed in",
    )
    def new_event(signed: Writer, dispute_id: Id, body: NewEventIn) -> dict[str, Any]:
        policy, now = web.rules(), web.clock()
        # An acknowledgement that gives none owed is refused, saying whose it is.
        record = acknowledge_dispute if body.kind == "acknowledge" else record_event
        record(
            engine=web.engine,
            policy=policy,
            now=now,
            actor=actor(signed),
            dispute_id=dispute_id,
            event=NewEvent(kind=body.kind, at=_time(body.at, web, "at"), data=body.data),
        )
        return dispute_view(
            engine=web.engine, dispute_id=dispute_id, now=now, zone=web.zone, viewer=signed.viewer
        )

    @app.get(
        "/tasks",
        response_model=list[TaskItem],
        summary="open tasks: one's own and one's unit's, or a unit's of one's subtree",
    )
    def tasks(signed: Reader, unit: Annotated[str | None, _CODE] = None) -> list[dict[str, Any]]:
        return tasks_view(
            engine=web.engine,
            now=web.clock(),
            zone=web.zone,
            person=None if unit else signed.viewer.person,
            unit=unit,
            viewer=signed.viewer,
        )

    @app.post(
        "/tasks/{task_id}/ack",
        response_model=Acknowledged,
        summary="acknowledge (签收) a task of one's own",
    )
    def ack(signed: Writer, task_id: Id) -> dict[str, Any]:
        done = acknowledge_task(
            engine=web.engine,
            policy=web.rules(),
            now=web.clock(),
            actor=actor(signed),
            task_id=task_id,
        )
        return {"id": done.id, "kind": done.kind, "dispute": done.dispute_id, "state": done.state}

    @app.get(
        "/escalations",
        response_model=list[EscalationItem],
        summary="live disputes in scope escalated or overdue, newest first, with their ladders",
    )
    def escalations(
        signed: Reader,
        unit: Annotated[str | None, _CODE] = None,
        level: Level | None = None,
        risk: Risk | None = None,
        overdue: bool = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[dict[str, Any]]:
        return escalations_view(
            engine=web.engine,
            now=web.clock(),
            zone=web.zone,
            unit=unit,
            level=level,
            risk=risk,
            overdue_only=overdue,
            viewer=signed.viewer,
            limit=limit,
        )

    return app


def _time(text: str | None, web: Web, what: str) -> Any:
    return None if text is None else parse_time(text, zone=web.rules().zone, what=what)
