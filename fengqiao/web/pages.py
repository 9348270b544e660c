"""The pages: sign-in, a mediator's tasks, a dispute, reporting one, a supervisor's queue and
escalations, the ledger (台账) in and out. Each reads through the read models and changes
through one service, as the person signed in; a form that changes something carries the
session's CSRF secret."""

from __future__ import annotations

import hmac
import io
import json
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import structlog
import yaml
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import text
from starlette.background import BackgroundTask
from starlette.datastructures import FormData, QueryParams, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from fengqiao.web.api import status_of
from fengqiao.web.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    NotSignedIn,
    Signed,
    check_csrf,
    login_secret,
    set_session_cookie,
    signed_in,
)
from fengqiao.web.config import OrgLists, Web
from fengqiao.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, Words
from fengqiao.web.ledger import (
    CONFIRM_BODY,
    LARGEST,
    UPLOAD_BODY,
    XLSX,
    Preview,
    TooLarge,
    bring_in,
    check,
    decoded,
    download_disposition,
    ledger_name,
    read_form,
)
from fengqiao.web.present import local_path, next_decision_text, row_state, spent, until, when
from models.events import EventData
from models.lifecycle import allowed_now
from models.values import Actor, EventKind, Level, Risk, Role, Status, UnitLevel
from rules.filing import filing_period
from rules.loader import RulesError, parse_ruleset
from rules.policy import Policy
from rules.reporting import COLUMNS, FIGURES, percent
from rules.schema import Language, lookup
from workflows.access import Action, Viewer, permit
from workflows.accounts import (
    SignInRefused,
    SignInThrottled,
    disable_account,
    revoke_tokens,
    set_password,
    sign_in,
    sign_out,
)
from workflows.db import reading
from workflows.errors import BadInput, NotFound, first_line
from workflows.ledger import STATUS_FILTERS, Problems, export_ledger
from workflows.recording import NewDispute, NewEvent, Refusals, record_event, record_on_many
from workflows.recording import report_dispute as report
from workflows.reports import (
    CHARTS,
    FORMATS,
    chart_png,
    disputes_now,
    filing_board,
    find_period,
    list_reports,
    read_report,
    report_path,
    report_rule,
    traced_disputes,
    write_report_file,
)
from workflows.rollout import KINDS, ChangedDispute, apply_rules, diff_rules
from workflows.settings import parse_time
from workflows.tasks import acknowledge_disputes, acknowledge_task, fulfil_unit_tasks
from workflows.views import (
    LONGEST_PAGE,
    QueueFilters,
    accounts_view,
    answering_view,
    dispute_view,
    escalations_view,
    explain_view,
    find_by_party,
    overdue_count,
    queue_view,
    rules_history_view,
    shape_changed,
    shape_counts,
    shape_keys,
    shape_versions,
    tasks_view,
    unit_names,
    unit_tasks_view,
)

__all__ = ["pages_app"]


def _target(target: str, names: dict[str, str]) -> str:
    """Whom a task is for, as a person reads it: a person's id, or the unit's name."""
    kind, _, code = target.partition(":")
    return names.get(code, code) if kind == "unit" else code


log = structlog.get_logger(__name__)

TEMPLATES = Path(__file__).with_name("templates")
LANG_COOKIE = "fq_lang"
QUEUE_PAGE = 50
ESCALATIONS_SHOWN = 100
RULES_UPLOAD = "rules.yaml"  # what the rules page calls the text it is given
RULES_DISPUTES_SHOWN = 200  # disputes a preview lists; `rules diff` lists them all
# The most live disputes a preview compares while the page waits (a county's, in seconds);
# beyond, it shows the rule keys and sends to `fengqiao rules diff` (a province: minutes).
RULES_PREVIEW_LARGEST = 20_000
ACCOUNT_PASSWORD_BYTES = 12  # a password set on the accounts page: 16 URL-safe characters
PAGE_HISTORY = 50  # events and closed tasks a dispute's page shows before ?all=1
PARTY_ROWS = 3
BULK_ACTIONS = ("assign", "handback", "acknowledge")
# Event kinds recorded from a dispute's page; acknowledge (签收) is done on its task.
_ON_PAGE = tuple(k for k in EventKind if k not in (EventKind.report, EventKind.acknowledge))


def _web(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


def _language(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    kept = request.cookies.get(LANG_COOKIE)
    return kept if kept in LANGUAGES else DEFAULT_LANGUAGE


async def _form(request: Request) -> FormData:
    return await request.form()


Form = Annotated[FormData, Depends(_form)]
Person = Annotated[Signed, Depends(signed_in)]


def _changing(signed: Person, request: Request, form: Form) -> Signed:
    """The person of a form that changes something: it must carry the session's secret."""
    given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    check_csrf(signed, given if isinstance(given, str) else None)
    return signed


Changing = Annotated[Signed, Depends(_changing)]


def _form_within(largest: int) -> Callable[[Request], AsyncIterator[FormData]]:
    """A dependency reading a form of at most ``largest`` bytes (a ledger uploaded, or
    carried back in base64 to confirm its import), closed after the request."""

    async def form_within(request: Request) -> AsyncIterator[FormData]:
        form = await read_form(request, largest=largest)
        try:
            yield form
        finally:
            await form.close()

    return form_within


Upload = Annotated[FormData, Depends(_form_within(UPLOAD_BODY))]
Confirmation = Annotated[FormData, Depends(_form_within(CONFIRM_BODY))]


def _uploading(signed: Person, request: Request, form: Upload) -> Signed:
    return _changing(signed, request, form)


def _confirming(signed: Person, request: Request, form: Confirmation) -> Signed:
    return _changing(signed, request, form)


Uploading = Annotated[Signed, Depends(_uploading)]
Confirming = Annotated[Signed, Depends(_confirming)]


def _actor(signed: Signed) -> Actor:
    return Actor(signed.viewer.person, via="web")


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _fields(form: FormData, name: str) -> list[str]:
    return [v.strip() for v in form.getlist(name) if isinstance(v, str)]


def pages_app(web: Web) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.web = web
    templates = Jinja2Templates(directory=TEMPLATES)
    org = web.org or OrgLists(web.engine)

    def render(
        request: Request,
        name: str,
        signed: Signed | None,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        language = _language(request)
        policy = web.rules()
        t = Words(language, policy)
        labels: Language = "en" if language == "en" else "zh"
        now = web.clock()
        viewer = signed.viewer if signed else None
        names: dict[str, str] = context.pop("names", {})
        response = templates.TemplateResponse(
            request,
            name,
            {
                "t": t,
                "viewer": viewer,
                "csrf": signed.csrf if signed else None,
                "now": now,
                "language": language,
                "languages": LANGUAGES,
                "when": lambda text: when(text, now),
                "countdown": lambda text: t.countdown(until(text, now)),
                "path": request.url.path,
                "here": _here(request),
                "fulfils": {
                    name: rule.fulfilled_by.value for name, rule in policy.rules.obligations.items()
                },
                "unit_fulfils": {
                    name: rule.fulfilled_by.value
                    for name, rule in policy.rules.unit_obligations.items()
                },
                # the rule file's kinds of dispute and sources, by code, in the language
                "categories": {
                    code: c.label_in(labels) for code, c in policy.rules.categories.items()
                },
                "sources": {code: c.label_in(labels) for code, c in policy.rules.sources.items()},
                "category": lambda code: (
                    policy.rules.categories[code].label_in(labels)
                    if code in policy.rules.categories
                    else code
                ),
                "unit": lambda code: names.get(code, code),
                "target": lambda target: _target(target, names),
                **context,
            },
            status_code=status_code,
        )
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE, language, max_age=365 * 86400, samesite="lax", secure=web.https
            )
        return response

    def failure(request: Request, status_code: int, message: str) -> Response:
        try:
            signed: Signed | None = signed_in(request)
        except NotSignedIn:
            signed = None
        if request.headers.get("HX-Request"):  # shown in place by htmx
            return HTMLResponse(
                templates.get_template("_error.html").render(message=message),
                status_code=status_code,
            )
        return render(
            request,
            "error.html",
            signed,
            status_code=status_code,
            message=message,
            code=status_code,
        )

    @app.exception_handler(NotSignedIn)
    def _sign_in_first(request: Request, exc: NotSignedIn) -> Response:
        target = "/login?" + urlencode({"next": _here(request)})
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(BadInput)
    def _refused(request: Request, exc: BadInput) -> Response:
        return failure(request, status_of(exc), first_line(exc))

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> Response:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error.get("loc", ())) or "request"
        return failure(request, 422, f"{where}: {error.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> Response:
        t = Words(_language(request), web.rules())
        message = t("error.not_found") if exc.status_code == 404 else str(exc.detail)
        return failure(request, exc.status_code, message)

    # -- signing in and out ------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def home(signed: Person) -> RedirectResponse:
        first = "/tasks" if signed.viewer.role is Role.mediator else "/queue"
        return RedirectResponse(first, status_code=303)

    @app.get("/login")
    def login_page(request: Request) -> Response:
        # Shown even to someone signed in: on an office's shared computer, the next person
        # signs in over them (the session before ends).
        return _login(request, status_code=200)

    def _login(
        request: Request, *, status_code: int, message: str | None = None, username: str = ""
    ) -> Response:
        secret = login_secret(request)
        response = render(
            request,
            "login.html",
            None,
            status_code=status_code,
            login_csrf=secret,
            message=message,
            username=username,
            next=local_path(request.query_params.get("next") or None, "/"),
            signed_out=request.query_params.get("out") == "1",
        )
        response.set_cookie(
            LOGIN_COOKIE, secret, max_age=3600, httponly=True, samesite="strict", secure=web.https
        )
        return response

    @app.post("/login")
    def login(request: Request, form: Form) -> Response:
        t = Words(_language(request), web.rules())
        username, password = _field(form, "username"), form.get("password")
        given, kept = form.get(CSRF_FIELD), request.cookies.get(LOGIN_COOKIE)
        if not (isinstance(given, str) and kept and hmac.compare_digest(given, kept)):
            return _login(request, status_code=403, message=t("login.expired"), username=username)
        try:
            signed = sign_in(
                engine=web.engine,
                now=web.clock(),
                username=username,
                password=password if isinstance(password, str) else "",
                address=request.client.host if request.client else "unknown",
                replacing=request.cookies.get(SESSION_COOKIE),
            )
        except SignInThrottled as exc:
            minutes = max(1, round(exc.wait.total_seconds() / 60))
            return _login(
                request,
                status_code=429,
                message=t("login.throttled", minutes=minutes),
                username=username,
            )
        except SignInRefused:
            return _login(request, status_code=401, message=t("login.refused"), username=username)
        target = local_path(_field(form, "next") or None, "/")
        response = RedirectResponse(target, status_code=303)
        set_session_cookie(response, signed.token, secure=web.https)
        response.delete_cookie(LOGIN_COOKIE)
        return response

    @app.post("/logout")
    def logout(request: Request, signed: Changing) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            sign_out(engine=web.engine, token=token)
        log.info("signed_out", person=signed.viewer.person)
        response = RedirectResponse("/login?out=1", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- a mediator's day ----------------------------------------------------------------

    @app.get("/tasks")
    def tasks_page(request: Request, signed: Person) -> Response:
        rows = tasks_view(
            engine=web.engine,
            now=web.clock(),
            zone=web.zone,
            person=signed.viewer.person,
            viewer=signed.viewer,
        )
        own = unit_tasks_view(
            engine=web.engine, now=web.clock(), zone=web.zone, person=signed.viewer.person
        )
        codes = [r["target"].split(":", 1)[1] for r in rows] + [u["unit"] for u in own]
        names = unit_names(engine=web.engine, codes=codes)
        return render(
            request,
            "tasks.html",
            signed,
            tasks=rows,
            unit_tasks=own,
            mine=_mine(signed, web),
            names=names,
        )

    @app.post("/units/{code}/record")
    def record_unit_task(code: str, signed: Changing, form: Form) -> Response:
        """A unit's own task done: the county's monthly inspection recorded, with a note."""
        kind = _field(form, "kind")
        if kind not in {r.fulfilled_by.value for r in web.rules().rules.unit_obligations.values()}:
            raise BadInput(f"kind: {kind!r} fulfils no task of a unit")
        fulfil_unit_tasks(
            engine=web.engine,
            policy=web.rules(),
            now=web.clock(),
            actor=_actor(signed),
            unit=code,
            kind=kind,
            note=_field(form, "note") or None,
        )
        return RedirectResponse("/tasks", status_code=303)

    @app.post("/tasks/{task_id}/ack")
    def ack(request: Request, task_id: int, signed: Changing, form: Form) -> Response:
        done = acknowledge_task(
            engine=web.engine,
            policy=web.rules(),
            now=web.clock(),
            actor=_actor(signed),
            task_id=task_id,
        )
        back = local_path(_field(form, "back") or None, f"/disputes/{done.dispute_id}")
        if request.headers.get("HX-Request"):
            return render(request, "_acknowledged.html", signed, state=done.state)
        return RedirectResponse(back, status_code=303)

    @app.get("/overdue")
    def overdue(request: Request, signed: Person) -> Response:
        count = overdue_count(engine=web.engine, viewer=signed.viewer, now=web.clock())
        return render(request, "_overdue.html", signed, count=count)

    # -- disputes --------------------------------------------------------------------------

    def dispute_page(
        request: Request,
        signed: Signed,
        dispute_id: int,
        *,
        open_kind: str | None = None,
        values: dict[str, str] | None = None,
        error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        viewer, now, policy = signed.viewer, web.clock(), web.rules()
        # A long history shows its latest rows first; ?all=1 shows all of them.
        whole = request.query_params.get("all") == "1"
        dispute = dispute_view(
            engine=web.engine,
            dispute_id=dispute_id,
            now=now,
            zone=web.zone,
            viewer=viewer,
            latest=None if whole else PAGE_HISTORY,
        )
        explained = explain_view(
            engine=web.engine,
            dispute_id=dispute_id,
            policy=policy,
            now=now,
            zone=web.zone,
            viewer=viewer,
        )
        kinds = _actions(signed, dispute, policy)
        t = Words(_language(request), policy)
        staff = (
            org.staff(viewer) if EventKind.assign in kinds or open_kind == EventKind.assign else []
        )
        # A decision already due (the next sweep records it), else the one to come.
        nxt = (explained["due_unrecorded"] or [explained["next"]])[0]
        nxt_decision = (
            {
                "kind": nxt["kind"],
                "to_level": nxt["to_level"],
                "unit": nxt["unit"],
                "at": nxt["effective_at"],
            }
            if nxt
            else None
        )
        names = unit_names(
            engine=web.engine,
            codes=[
                dispute["unit"],
                dispute["reported_unit"],
                *(e["unit"] for e in dispute["escalations"]),
                *(task["target"].split(":", 1)[1] for task in dispute["tasks"]),
                *(p["unit"] for p in staff),
                *([nxt_decision["unit"]] if nxt_decision else []),
            ],
        )
        return render(
            request,
            "dispute.html",
            signed,
            status_code=status_code,
            d=dispute,
            explained=explained,
            next_text=next_decision_text(t, nxt_decision, now, names),
            kinds=kinds,
            open_kind=open_kind,
            fields=EventData.fields(EventKind(open_kind)) if open_kind else (),
            values=values or {},
            error=error,
            staff=staff,
            mine=_mine(signed, web),
            recorded=request.query_params.get("recorded"),
            names=names,
            totals=dispute.get("totals"),
        )

    @app.get("/disputes/new")
    def new_page(request: Request, signed: Person) -> Response:
        permit(signed.viewer, Action.report)
        return _new_form(request, signed, values={}, error=None, status_code=200)

    def _new_form(
        request: Request,
        signed: Signed,
        *,
        values: dict[str, Any],
        error: str | None,
        status_code: int,
    ) -> Response:
        units = org.units(signed.viewer, (UnitLevel.village, UnitLevel.grid))
        return render(
            request,
            "new.html",
            signed,
            status_code=status_code,
            units=units,
            risks=list(Risk),
            values=values,
            error=error,
            party_rows=PARTY_ROWS,
        )

    @app.post("/disputes/new")
    def new_dispute(request: Request, signed: Changing, form: Form) -> Response:
        values: dict[str, Any] = {
            name: _field(form, name)
            for name in (
                "unit",
                "risk",
                "category",
                "title",
                "description",
                "source",
                "at",
                "people_involved",
                "location",
            )
        }
        names, phones = _fields(form, "party_name"), _fields(form, "party_phone")
        values["parties"] = list(zip(names, phones, strict=False))
        policy = web.rules()
        try:
            people = values["people_involved"] or "1"
            if not people.isdigit():
                raise BadInput(f"people involved must be a whole number, not {people!r}")
            parties = [
                {k: v for k, v in (("name", name), ("phone", phone)) if v}
                for name, phone in values["parties"]
                if name or phone
            ]
            dispute_id = report(
                engine=web.engine,
                policy=policy,
                now=web.clock(),
                actor=_actor(signed),
                dispute=NewDispute(
                    unit=values["unit"],
                    risk=values["risk"],
                    category=values["category"],
                    title=values["title"],
                    description=values["description"] or None,
                    source=values["source"] or None,
                    at=_local_time(values["at"], web, "at"),
                    people_involved=int(people),
                    parties=parties,
                    location=values["location"] or None,
                ),
            )
        except BadInput as exc:
            if status_of(exc) == 403:
                raise
            return _new_form(
                request,
                signed,
                values=values,
                error=first_line(exc),
                status_code=status_of(exc) if status_of(exc) != 404 else 400,
            )
        return RedirectResponse(f"/disputes/{dispute_id}", status_code=303)

    @app.get("/disputes/{dispute_id}")
    def dispute(request: Request, dispute_id: int, signed: Person) -> Response:
        return dispute_page(request, signed, dispute_id)

    @app.get("/disputes/{dispute_id}/record/{kind}")
    def record_form(request: Request, dispute_id: int, kind: str, signed: Person) -> Response:
        chosen = _kind(kind)
        if request.headers.get("HX-Request"):
            viewer = signed.viewer
            dispute_view(  # the dispute must be in scope, as for the whole page
                engine=web.engine,
                dispute_id=dispute_id,
                now=web.clock(),
                zone=web.zone,
                viewer=viewer,
            )
            staff = org.staff(viewer) if kind == "assign" else []
            return render(
                request,
                "_event_form.html",
                signed,
                d={"id": dispute_id},
                open_kind=chosen,
                fields=EventData.fields(chosen),
                values={},
                error=None,
                staff=staff,
            )
        return dispute_page(request, signed, dispute_id, open_kind=chosen)

    @app.post("/disputes/{dispute_id}/events")
    def record(request: Request, dispute_id: int, signed: Changing, form: Form) -> Response:
        kind = _kind(_field(form, "kind"))
        fields = EventData.fields(kind)
        values = {f.name: _field(form, f.name) for f in fields} | {"at": _field(form, "at")}
        try:
            data: dict[str, Any] = {}
            for f in fields:
                value = values[f.name]
                if value:
                    data[f.name] = (
                        _local_time(value, web, f.name).isoformat()  # type: ignore[union-attr]
                        if f.kind == "time"
                        else value
                    )
            record_event(
                engine=web.engine,
                policy=web.rules(),
                now=web.clock(),
                actor=_actor(signed),
                dispute_id=dispute_id,
                event=NewEvent(kind, at=_local_time(values["at"], web, "at"), data=data or None),
            )
        except BadInput as exc:
            if status_of(exc) != 400:
                raise
            return dispute_page(
                request,
                signed,
                dispute_id,
                open_kind=kind,
                values=values,
                error=first_line(exc),
                status_code=400,
            )
        return RedirectResponse(f"/disputes/{dispute_id}?recorded={kind}#timeline", status_code=303)

    # -- a supervisor's desk -----------------------------------------------------------------

    @app.get("/queue")
    def queue(request: Request, signed: Person) -> Response:
        viewer, now = signed.viewer, web.clock()
        filters, given = _filters(request, web.rules())
        page = queue_view(
            engine=web.engine,
            policy=web.rules(),
            viewer=viewer,
            now=now,
            zone=web.zone,
            filters=filters,
            cursor=request.query_params.get("cursor") or None,
            limit=QUEUE_PAGE,
        )
        count = overdue_count(engine=web.engine, viewer=viewer, now=now, filters=filters)
        t = Words(_language(request), web.rules())
        units = org.units(viewer, (UnitLevel.township, UnitLevel.village))
        bulk = [a for a in BULK_ACTIONS if viewer.may(Action(a))]
        staff = org.staff(viewer) if "assign" in bulk else []
        names = {u["code"]: u["name"] for u in units}  # the filter's, and those it lacks
        shown = [
            *(i["unit"] for i in page["items"]),
            *(i["next_decision"]["unit"] for i in page["items"] if i["next_decision"]),
            *(p["unit"] for p in staff),
        ]
        names.update(
            unit_names(engine=web.engine, codes=[c for c in shown if c and c not in names])
        )
        rows = [
            {
                **item,
                "state": row_state(item, now),
                "next_text": next_decision_text(t, item["next_decision"], now, names),
            }
            for item in page["items"]
        ]
        more = "/queue?" + urlencode({**given, "cursor": page["next"]}) if page["next"] else None
        notice = request.query_params.get("notice")
        done = request.query_params.get("count", "")
        return render(
            request,
            "queue.html",
            signed,
            rows=rows,
            more=more,
            first=("/queue?" + urlencode(given)) if request.query_params.get("cursor") else None,
            given=given,
            count=count,
            units=units,
            levels=list(Level),
            risks=list(Risk),
            statuses=[Status.reported, Status.mediating, Status.resolved],
            bulk=bulk,
            staff=staff,
            notice=notice if notice in BULK_ACTIONS and done.isdigit() else None,
            notice_count=done,
            names=names,
            # the ledger of the unit looked at, as an Excel workbook
            export_units=export_units(viewer),
            export_unit=given.get("unit") or viewer.unit,
            export_statuses=list(STATUS_FILTERS),
        )

    @app.post("/queue/bulk")
    def bulk(request: Request, signed: Changing, form: Form) -> Response:
        action = _field(form, "action")
        if action not in BULK_ACTIONS:
            raise BadInput(f"unknown bulk action {action!r}; expected one of {BULK_ACTIONS}")
        ids = []
        for text_id in _fields(form, "dispute"):
            if not text_id.isdigit() or len(text_id) > 18:
                raise BadInput(f"not a dispute number: {text_id!r}")
            ids.append(int(text_id))
        if not ids:
            raise BadInput(Words(_language(request), web.rules())("queue.bulk_none"))
        if len(ids) > LONGEST_PAGE:
            raise BadInput(f"at most {LONGEST_PAGE} disputes at once, not {len(ids)}")
        policy, now, actor = web.rules(), web.clock(), _actor(signed)
        try:
            if action == "acknowledge":
                count = acknowledge_disputes(
                    engine=web.engine, policy=policy, now=now, actor=actor, dispute_ids=ids
                )
            else:
                data = {"person": _field(form, "person")} if action == "assign" else None
                count = len(
                    record_on_many(
                        engine=web.engine,
                        policy=policy,
                        now=now,
                        actor=actor,
                        changes={d: [NewEvent(action, data=data)] for d in ids},
                    )
                )
        except Refusals as exc:
            if status_of(exc) in (403, 404):
                raise
            lines = [f"#{d}: {first_line(e)}" for d, e in exc.refused.items()]
            raise BadInput("; ".join(lines) + " — nothing was changed") from None
        back = local_path(_field(form, "back") or None, "/queue")
        glue = "&" if "?" in back else "?"
        return RedirectResponse(
            f"{back}{glue}{urlencode({'notice': action, 'count': count})}", status_code=303
        )

    @app.get("/escalations")
    def escalations(request: Request, signed: Person) -> Response:
        viewer, now = signed.viewer, web.clock()
        filters, given = _filters(request, web.rules())
        rows = escalations_view(
            engine=web.engine,
            now=now,
            zone=web.zone,
            unit=filters.unit,
            level=filters.level,
            risk=filters.risk,
            overdue_only=filters.overdue,
            viewer=viewer,
            limit=ESCALATIONS_SHOWN + 1,
        )
        for row in rows:
            for step in row["ladder"]:
                step["spent"] = spent(step["since"], step["until"], now)
        units = org.units(viewer, (UnitLevel.township, UnitLevel.village))
        return render(
            request,
            "escalations.html",
            signed,
            rows=rows[:ESCALATIONS_SHOWN],
            cut=len(rows) > ESCALATIONS_SHOWN,
            shown=ESCALATIONS_SHOWN,
            given=given,
            units=units,
            levels=list(Level),
            risks=list(Risk),
            names=unit_names(
                engine=web.engine,
                codes=[s["unit"] for r in rows for s in r["ladder"]] + [r["unit"] for r in rows],
            ),
        )

    # -- the ledger (台账) -------------------------------------------------------------------

    def export_units(viewer: Viewer) -> list[dict[str, Any]]:
        """The units whose ledger ``viewer`` may give out, for a select: theirs and those
        below it, down to villages (and grids, for a village's or a grid's people)."""
        low = viewer.level in (UnitLevel.village, UnitLevel.grid)
        levels = (
            tuple(UnitLevel) if low else (UnitLevel.county, UnitLevel.township, UnitLevel.village)
        )
        return org.units(viewer, levels)

    def ledger_page(
        request: Request,
        signed: Signed,
        *,
        name: str | None = None,
        preview: Preview | None = None,
        problems: Sequence[str] = (),
        error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        query = request.query_params
        done = {k: query.get(k, "") for k in ("rows", "recorded", "already", "events")}
        return render(
            request,
            "ledger.html",
            signed,
            status_code=status_code,
            may_import=signed.viewer.may(Action.report),
            largest_mb=LARGEST // 2**20,
            file_name=name,
            preview=preview,
            problems=problems,
            error=error,
            done=done if preview is None and all(v.isdigit() for v in done.values()) else None,
            export_units=export_units(signed.viewer),
            export_unit=signed.viewer.unit,
            export_statuses=list(STATUS_FILTERS),
            names=unit_names(engine=web.engine, codes=[signed.viewer.unit]),
        )

    @app.exception_handler(TooLarge)
    def _too_large(request: Request, exc: TooLarge) -> Response:
        message = Words(_language(request), web.rules())("ledger.too_large", mb=LARGEST // 2**20)
        try:
            signed = signed_in(request)
        except NotSignedIn:
            return failure(request, 413, message)
        return ledger_page(request, signed, error=message, status_code=413)

    def ledger_refused(
        request: Request, signed: Signed, exc: BadInput, name: str | None = None
    ) -> Response:
        """The page again with what is wrong with the ledger: every problem, or one line."""
        if isinstance(exc, Problems):
            return ledger_page(request, signed, name=name, problems=exc.lines, status_code=400)
        if status_of(exc) == 403:
            raise exc
        return ledger_page(request, signed, name=name, error=first_line(exc), status_code=400)

    # -- the reports (周研判报告, 月督查通报) ------------------------------------------------

    def report_kinds(language: str) -> dict[str, str]:
        labels: Language = "en" if language == "en" else "zh"
        return {name: r.label_in(labels) for name, r in web.rules().rules.reports.items()}

    @app.get("/reports")
    def reports_page(request: Request, signed: Person) -> Response:
        """The reports stored of one's subtree, and a form to open any one."""
        permit(signed.viewer, Action.reports)
        found = list_reports(engine=web.engine, policy=web.rules(), actor=_actor(signed))
        units = org.units(signed.viewer, (UnitLevel.county, UnitLevel.township, UnitLevel.village))
        return render(
            request,
            "reports.html",
            signed,
            found=found,
            kinds=report_kinds(_language(request)),
            units=units,
            rate=percent,
        )

    @app.get("/reports/open")
    def report_open(signed: Person, name: str, unit: str, period: str = "") -> Response:
        """The form's report: its page (the last period when none is named)."""
        label = period.strip() or "latest"
        return RedirectResponse(report_path(name, unit, label), status_code=303)

    def report_of(signed: Signed, name: str, unit: str, label: str) -> dict[str, Any]:
        """Report ``name`` of ``unit`` for the period ``label`` (2026-W10, 2026-03, or latest),
        as the person reads it: stored, or made now; 404 outside their scope."""
        policy, now = web.rules(), web.clock()
        named = None if label == "latest" else label
        rule = report_rule(policy, name)
        period = find_period(
            policy,
            name,
            week=named if rule.period == "week" else None,
            month=named if rule.period == "month" else None,
            now=now,
        )
        return read_report(
            engine=web.engine,
            policy=policy,
            name=name,
            unit=unit,
            period=period,
            now=now,
            actor=_actor(signed),
        )

    @app.get("/reports/{name}/{unit}/{label}")
    def report_page(request: Request, signed: Person, name: str, unit: str, label: str) -> Response:
        content = report_of(signed, name, unit, label)
        base = report_path(name, unit, content["period"]["label"])
        if label == "latest":
            return RedirectResponse(base, status_code=303)
        totals = content["totals"]
        return render(
            request,
            "report.html",
            signed,
            c=content,
            base=base,
            kind_label=report_kinds(_language(request)).get(name, name),
            columns=COLUMNS,
            small=("screened", "resolved", "open", "overdue"),
            zero=not any(totals[f] for f in FIGURES),
            rate=percent,
        )

    @app.get("/reports/{name}/{unit}/{label}/disputes")
    def report_behind(
        request: Request,
        signed: Person,
        name: str,
        unit: str,
        label: str,
        figure: str,
        row: str | None = None,
    ) -> Response:
        """The disputes behind one figure of a report (of a row, or the total): those the
        person may see now."""
        content = report_of(signed, name, unit, label)
        if figure not in FIGURES:
            raise BadInput(f"figure: not a figure of a report: {figure[:40]!r}")
        ids = traced_disputes(content, figure=figure, row=row)
        found = disputes_now(engine=web.engine, actor=_actor(signed), ids=ids)
        names = {u["unit"]: u["name"] for u in content["units"]}
        return render(
            request,
            "report_disputes.html",
            signed,
            c=content,
            base=report_path(name, unit, content["period"]["label"]),
            kind_label=report_kinds(_language(request)).get(name, name),
            figure=figure,
            row_name=names.get(row or "", content["name"]),
            total=len(ids),
            hidden=len(ids) - len(found),
            found=found,
            names=unit_names(engine=web.engine, codes={d["unit_code"] for d in found}),
        )

    @app.get("/reports/{name}/{unit}/{label}/{chart}.png")
    def report_chart(signed: Person, name: str, unit: str, label: str, chart: str) -> Response:
        """A report's chart, drawn with a CJK font: 化解率 by unit (rate) or the trend."""
        if chart not in CHARTS:
            raise NotFound(f"unknown chart {chart[:40]!r}")
        content = report_of(signed, name, unit, label)
        return Response(
            chart_png(content, chart), media_type="image/png", headers={"Cache-Control": "private"}
        )

    @app.get("/reports/{name}/{unit}/{label}/file.{kind}")
    def report_file(signed: Person, name: str, unit: str, label: str, kind: str) -> Response:
        """A report as an Excel workbook or a Word circular."""
        if kind not in FORMATS:
            raise NotFound(f"unknown file {kind[:10]!r}")
        content = report_of(signed, name, unit, label)
        out = io.BytesIO()
        write_report_file(content, kind, out)
        file_name = f"{unit}-{name}-{content['period']['label']}.{kind}"
        return Response(
            out.getvalue(),
            media_type=FORMATS[kind],
            headers={"Content-Disposition": f'attachment; filename="{file_name}"'},
        )

    # -- filing completeness (填报完整性) ------------------------------------------------

    @app.get("/filing")
    def filing_page(
        request: Request,
        signed: Person,
        unit: str | None = None,
        day: str | None = None,
        week: str | None = None,
    ) -> Response:
        """The filing board of a township or county of one's subtree (one's own by default,
        or the first township under a county one's for a village's people) for a day
        (yesterday by default) or a week."""
        permit(signed.viewer, Action.reports)
        policy, now = web.rules(), web.clock()
        units = org.units(signed.viewer, (UnitLevel.county, UnitLevel.township))
        code = unit or (units[0]["code"] if units else signed.viewer.unit)
        day, week = (day or "").strip() or None, (week or "").strip() or None
        if day is None and week is None:
            day = (now.astimezone(web.zone).date() - timedelta(days=1)).isoformat()
        try:
            period = filing_period(day=day, week=week, zone=web.zone)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        found = filing_board(
            engine=web.engine,
            policy=policy,
            unit=code,
            start=period.start,
            end=period.end,
            label=period.label,
            now=now,
            actor=_actor(signed),
        )
        t = Words(_language(request), policy)
        return render(
            request,
            "filing.html",
            signed,
            b=found,
            units=units,
            day=day,
            week=week,
            labels={o["name"]: o["label"] for o in found["obligations"]},
            span=lambda minutes: t.span(timedelta(minutes=minutes or 0)),
        )

    # -- finding disputes by a party's phone or ID number ---------------------------------

    @app.get("/find")
    def find_page(request: Request, signed: Person) -> Response:
        return render(request, "find.html", signed, found=None, error=None)

    @app.post("/find")
    def find_by_number(request: Request, signed: Changing, form: Form) -> Response:
        """The disputes of one's scope naming a phone or an ID number: posted, never in
        the address, and found by its keyed hash."""
        phone, number = _field(form, "phone") or None, _field(form, "id_number") or None
        try:
            found = find_by_party(
                engine=web.engine,
                viewer=signed.viewer,
                zone=web.zone,
                phone=phone,
                id_number=number,
            )
        except BadInput as exc:
            return render(request, "find.html", signed, status_code=400, found=None, error=str(exc))
        names = unit_names(engine=web.engine, codes={d["unit"] for d in found})
        return render(request, "find.html", signed, found=found, error=None, names=names)

    @app.get("/ledger")
    def ledger(request: Request, signed: Person) -> Response:
        return ledger_page(request, signed)

    @app.get("/ledger/import", include_in_schema=False)
    def ledger_import_page(signed: Person) -> Response:
        return RedirectResponse("/ledger", status_code=303)

    @app.post("/ledger/import")
    def ledger_preview(request: Request, signed: Uploading, form: Upload) -> Response:
        """A ledger uploaded, checked by a dry run: its problems, or what it would bring in."""
        permit(signed.viewer, Action.report)
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            t = Words(_language(request), web.rules())
            return ledger_page(request, signed, error=t("ledger.no_file"), status_code=400)
        name = None
        try:
            name = ledger_name(upload.filename)
            found = check(
                engine=web.engine,
                policy=web.rules(),
                now=web.clock(),
                actor=_actor(signed),
                name=name,
                content=upload.file.read(LARGEST + 1),
            )
        except TooLarge:
            raise
        except BadInput as exc:
            return ledger_refused(request, signed, exc, name)
        return ledger_page(request, signed, name=name, preview=found)

    @app.post("/ledger/import/confirm")
    def ledger_import(request: Request, signed: Confirming, form: Confirmation) -> Response:
        """The ledger of a preview brought in, checked again in full as it is."""
        permit(signed.viewer, Action.report)
        name = None
        try:
            name = ledger_name(_field(form, "name"))
            summary = bring_in(
                engine=web.engine,
                policy=web.rules(),
                now=web.clock(),
                actor=_actor(signed),
                name=name,
                content=decoded(_field(form, "data")),
            )
        except TooLarge:
            raise
        except BadInput as exc:
            return ledger_refused(request, signed, exc, name)
        said = {
            "rows": summary.rows,
            "recorded": summary.recorded,
            "already": summary.already,
            "events": summary.events,
        }
        return RedirectResponse(f"/ledger?{urlencode(said)}", status_code=303)

    @app.get("/ledger/export.xlsx")
    def ledger_export(request: Request, signed: Person) -> Response:
        """A unit's ledger as an Excel workbook: ?unit= (the person's own by default),
        from= and to= (days of the report, both included), status=."""
        query = request.query_params
        unit = query.get("unit") or signed.viewer.unit
        if "\x00" in unit or len(unit) > 64:
            raise BadInput("unit: not a unit")
        start, end = _day(query.get("from"), "from"), _day(query.get("to"), "to")
        now = web.clock()
        handle, written = tempfile.mkstemp(prefix="fq-ledger-", suffix=".xlsx")
        os.close(handle)
        out = Path(written)
        try:
            export_ledger(
                engine=web.engine,
                policy=web.rules(),
                now=now,
                actor=_actor(signed),
                unit=unit,
                out=out,
                start=start,
                end=end,
                status=query.get("status") or None,
            )
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        return FileResponse(
            out,
            media_type=XLSX,
            headers={
                "Content-Disposition": download_disposition(unit, now.astimezone(web.zone).date())
            },
            background=BackgroundTask(out.unlink, missing_ok=True),
        )

    # -- the rules (administrators) --------------------------------------------------------

    def rules_page(
        request: Request,
        signed: Signed,
        *,
        text: str | None = None,
        problems: Sequence[str] = (),
        diff: dict[str, Any] | None = None,
        cut: bool = False,
        reason: str = "",
        status_code: int = 200,
    ) -> Response:
        policy = web.rules()
        if text is None:  # the rules in force, as YAML, to start from
            text = yaml.safe_dump(
                policy.rules.model_dump(mode="json", by_alias=True, exclude_defaults=True),
                allow_unicode=True,
                sort_keys=False,
                width=100,
            )
        codes = [*diff["counts"]["by_unit"], *(d["unit"] for d in diff["disputes"])] if diff else []
        history = rules_history_view(engine=web.engine, zone=web.zone)
        last = history[-1] if history else None
        in_force = last["label"] if last else policy.label
        return render(
            request,
            "rules.html",
            signed,
            status_code=status_code,
            in_force=in_force,
            applied=last is not None and request.query_params.get("applied") == last["to_version"],
            text=text,
            problems=problems,
            diff=diff,
            cut=cut,
            reason=reason,
            history=history,
            value=_rule_value,
            kinds=KINDS,
            names=unit_names(engine=web.engine, codes=codes),
        )

    def _uploaded(text: str, signed: Signed) -> Policy:
        """The rule file of the form; RulesError listing its problems."""
        ruleset = parse_ruleset(text, name=RULES_UPLOAD)
        return Policy.from_ruleset(
            ruleset, source=f"{RULES_UPLOAD} (on the web, by {signed.viewer.person})"
        )

    @app.get("/rules")
    def rules(request: Request, signed: Person) -> Response:
        permit(signed.viewer, Action.rules)
        return rules_page(request, signed)

    @app.post("/rules/preview")
    def rules_preview(request: Request, signed: Changing, form: Form) -> Response:
        permit(signed.viewer, Action.rules)
        text = _field(form, "text")
        try:
            new = _uploaded(text, signed)
        except RulesError as exc:
            return rules_page(request, signed, text=text, problems=exc.lines, status_code=400)
        found: list[dict[str, Any]] = []

        def keep(changed: ChangedDispute) -> None:  # the first ones: the page lists no more
            if len(found) < RULES_DISPUTES_SHOWN:
                found.append(shape_changed(changed, web.zone))

        diff = diff_rules(
            engine=web.engine,
            policy=new,
            fallback=web.rules(),
            now=web.clock(),
            viewer=signed.viewer,
            largest=RULES_PREVIEW_LARGEST,
            found=keep,
        )
        shaped = {
            **shape_versions(diff),
            "rules": shape_keys(diff.keys),
            "disputes": found,
            "counts": shape_counts(diff),
        }
        return rules_page(request, signed, text=text, diff=shaped, cut=diff.changed > len(found))

    @app.post("/rules/apply")
    def rules_apply(request: Request, signed: Changing, form: Form) -> Response:
        permit(signed.viewer, Action.rules)
        text, reason = _field(form, "text"), _field(form, "reason")
        try:
            new = _uploaded(text, signed)
        except RulesError as exc:
            return rules_page(request, signed, text=text, problems=exc.lines, status_code=400)
        if new.version != _field(form, "version"):
            raise BadInput("the rule file changed after its preview: preview it again")
        if _field(form, "confirm") != "yes":
            raise BadInput("confirm that you have read the change before putting it in force")
        apply_rules(
            engine=web.engine, policy=new, now=web.clock(), actor=_actor(signed), reason=reason
        )
        # The app's rules follow within seconds (RulesInForce); the page reads the history.
        return RedirectResponse(f"/rules?applied={new.version}", status_code=303)

    # -- accounts (administrators) ---------------------------------------------------------

    def accounts_page(
        request: Request,
        signed: Signed,
        *,
        password: dict[str, str] | None = None,
        back: str | None = None,
    ) -> Response:
        permit(signed.viewer, Action.org)
        query = request.query_params
        if back is not None:  # after a password is set: the list the administrator was on
            query = QueryParams(urlsplit(back).query)
        after = query.get("after", "")
        unit_code, _, person = after.partition("|")
        view = accounts_view(
            engine=web.engine,
            viewer=signed.viewer,
            zone=web.zone,
            unit=query.get("unit") or None,
            after=(unit_code, person) if person else None,
        )
        units = org.units(signed.viewer, tuple(UnitLevel))
        response = render(
            request,
            "accounts.html",
            signed,
            view=view,
            units=units,
            password=password,
            done=query.get("done") if password is None else None,
            person=query.get("person", ""),
            count=query.get("count", "0"),
            names={u["code"]: u["name"] for u in units},
        )
        if password is not None:  # shown once: kept by no cache
            response.headers["Cache-Control"] = "no-store"
        return response

    def _accounts_back(form: FormData) -> str:
        """The list of accounts the form came from (never another page)."""
        back = local_path(_field(form, "back"), "/accounts")
        return back if back.startswith("/accounts") else "/accounts"

    def _back_to_accounts(form: FormData, **said: str) -> str:
        parts = urlsplit(_accounts_back(form))
        kept = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("done", "person", "count")]
        return parts.path + "?" + urlencode([*kept, *said.items()])

    @app.get("/accounts")
    def accounts(request: Request, signed: Person) -> Response:
        return accounts_page(request, signed)

    @app.post("/accounts/{person}/password")
    def account_password(request: Request, signed: Changing, form: Form, person: str) -> Response:
        permit(signed.viewer, Action.org)
        new = secrets.token_urlsafe(ACCOUNT_PASSWORD_BYTES)
        set_password(
            engine=web.engine, now=web.clock(), actor=_actor(signed), person=person, password=new
        )
        return accounts_page(
            request,
            signed,
            password={"person": person, "value": new},
            back=_accounts_back(form),
        )

    @app.post("/accounts/{person}/disable")
    def account_disable(request: Request, signed: Changing, form: Form, person: str) -> Response:
        permit(signed.viewer, Action.org)
        if person == signed.viewer.person:
            raise BadInput("you cannot disable your own account: another administrator may")
        disable_account(engine=web.engine, now=web.clock(), actor=_actor(signed), person=person)
        return RedirectResponse(
            _back_to_accounts(form, done="disabled", person=person), status_code=303
        )

    @app.post("/accounts/{person}/revoke")
    def account_revoke(request: Request, signed: Changing, form: Form, person: str) -> Response:
        permit(signed.viewer, Action.org)
        count = revoke_tokens(
            engine=web.engine, now=web.clock(), actor=_actor(signed), person=person
        )
        return RedirectResponse(
            _back_to_accounts(form, done="revoked", person=person, count=str(count)),
            status_code=303,
        )

    @app.get("/healthz", include_in_schema=False)
    def health() -> JSONResponse:
        with reading(web.engine) as session:
            session.execute(text("SELECT 1"))
        return JSONResponse({"ok": True, "rules": web.rules().label})

    return app


def _here(request: Request) -> str:
    """The page asked for, with its query: where to come back to."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _mine(signed: Signed, web: Web) -> set[str]:
    """The task targets that are the viewer's: their own, their unit's, and those of the
    grids without a worker that their village covers."""
    return answering_view(engine=web.engine, person=signed.viewer.person)


def _kind(text_kind: str) -> EventKind:
    try:
        kind = EventKind(text_kind)
    except ValueError:
        raise NotFound(f"unknown event kind {text_kind!r}") from None
    if kind not in _ON_PAGE:
        raise NotFound(f"{kind} is not recorded from a dispute's page")
    return kind


# Follow-ups offered only where they follow something: the court's result on a dispute that
# owes it, 司法确认 once the parties were told of it (or applied).
_FOLLOW_UPS = {
    EventKind.court_result: (),
    EventKind.confirmation_notice: (),
    EventKind.confirmation_apply: (EventKind.confirmation_notice,),
    EventKind.confirmation_result: (EventKind.confirmation_apply,),
}


def _actions(signed: Signed, dispute: dict[str, Any], policy: Policy) -> list[EventKind]:
    """The events the viewer may record on ``dispute`` now: what their role allows and
    what the dispute's state takes (a follow-up only where it follows something)."""
    now_allowed = allowed_now(
        Status(dispute["status"]), paused=dispute["paused"], level=Level(dispute["level"])
    )
    owed = {
        policy.rules.obligations[o["kind"]].fulfilled_by
        for o in dispute["obligations"]
        if o["kind"] in policy.rules.obligations
    }
    happened = {EventKind(k) for k in dispute.get("kinds", [e["kind"] for e in dispute["events"]])}
    return [
        k
        for k in now_allowed
        if k in _ON_PAGE
        and signed.viewer.may(Action.of_event(k))
        and (k not in _FOLLOW_UPS or k in owed or bool(set(_FOLLOW_UPS[k]) & happened))
    ]


def _local_time(value: str, web: Web, what: str) -> datetime | None:
    """A time from a form (``datetime-local``: no offset, in the rules' zone)."""
    return parse_time(value, zone=web.rules().zone, what=what) if value else None


def _filters(request: Request, policy: Policy) -> tuple[QueueFilters, dict[str, str]]:
    """The queue's filters from the URL, and those given (to keep in links); a category
    by its code or any of its names."""
    query = request.query_params
    given = {
        k: query[k]
        for k in ("unit", "level", "risk", "status", "category", "overdue")
        if query.get(k)
    }
    for name, kind in (("level", Level), ("risk", Risk), ("status", Status)):
        if name in given and given[name] not in {m.value for m in kind}:
            raise BadInput(f"{name}: unknown value {given[name]!r}")
    for name in ("unit", "category"):
        if "\x00" in given.get(name, "") or len(given.get(name, "")) > 64:
            raise BadInput(f"{name}: not a {name}")
    filters = QueueFilters(
        unit=given.get("unit"),
        level=Level(given["level"]) if "level" in given else None,
        risk=Risk(given["risk"]) if "risk" in given else None,
        status=Status(given["status"]) if "status" in given else None,
        overdue=given.get("overdue") in ("1", "true", "on"),
        category=(
            lookup(policy.rules.categories, given["category"]) or given["category"]
            if "category" in given
            else None
        ),
    )
    return filters, given


def _day(value: str | None, name: str) -> date | None:
    """A day of a query (``2026-12-02``), or None if not given."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{name}: not a day (YYYY-MM-DD): {value[:40]!r}") from None


def _rule_value(value: Any) -> str:
    """A rule key's value as the rules page shows it: as written, or — when absent."""
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
