"""The teacher and student web app: class pages, cards, check-ins and student voice.

Server-rendered (FastAPI + Jinja2, autoescaped), no JavaScript: every page works with a
keyboard and a screen reader, and at phone width. It reads what the Dagster assets built
(profiles, starters, the roster) and the statements behind them; it writes only through the LRS
(check-ins and student voice become statements, like any tool's) and into its own store
(accounts, private notes, starter feedback: ``warehouse.app_store``).

Access (``pipelines.teacher.access``): every route resolves the signed-in person's
:class:`~pipelines.teacher.access.Viewer` from the roster and asks it first. The same rules hold
for the JSON API under ``/api``, which the OpenAPI schema describes.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import structlog
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response

from dagster_project.profiles.logic import profile_from_json
from dagster_project.profiles.people import full_name
from pipelines.teacher import auth
from pipelines.teacher.access import Viewer, viewer_from_roster
from pipelines.teacher.card import TEMPLATES, Card, card_context, jinja, lines_view, load_card
from pipelines.teacher.settings import TeacherSettings
from pipelines.teacher.statements import (
    CHECKIN_TOPICS,
    checkin_statement,
    feedback_statement,
    reflection_statement,
    voice_statement,
)
from pipelines.teacher.student_view import student_lines
from pipelines.teacher.triage import NEEDS, rank_class
from warehouse.app_store import AlreadyAnswered, AppStore
from warehouse.client import Warehouse
from warehouse.profile_store import ProfileStore
from warehouse.settings import LrsStoreSettings, WarehouseSettings
from warehouse.sqlstore import store_engine

log = structlog.get_logger(__name__)

SECURITY_HEADERS: Mapping[str, str] = {
    # Nothing but this origin's own stylesheet; no scripts at all; forms post only here.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # children's data: never kept by a shared browser's cache
}
NOT_TALKED = "notalked"
UNANSWERED = "unanswered"
AWAITING = "awaiting"
MAX_REFLECTION = 1000  # characters of a question, an answer or a reply


class NotSignedIn(Exception):
    """No valid session (or the roster no longer knows the person)."""


class Forbidden(Exception):
    """Signed in, but this is not theirs to see."""


@dataclass(frozen=True)
class Me:
    """The signed-in person: their access and their roster row."""

    viewer: Viewer
    person: Mapping[str, Any]

    @property
    def name(self) -> str:
        return full_name(self.person["given_name"], self.person["family_name"]) or str(
            self.person["username"]
        )


class RosterNames:
    """People's and classes' names, read at most once per ``ttl_s`` per process.

    Every page shows names and the roster changes with an import, not per request; re-reading
    both tables on every page was a tenth of a card's time. Access is never cached: who may see
    what is read from the roster on every request (``me``). A rename or an erasure shows within
    ``ttl_s`` (``TEACHER_NAMES_TTL_S``, 0 turns the cache off).
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._at = -float("inf")
        self._names: dict[str, tuple[str, str]] = {}
        self._titles: dict[str, str] = {}

    def _fresh(self, store: ProfileStore) -> None:
        with self._lock:
            if time.monotonic() - self._at >= self.ttl_s:
                self._names, self._titles = store.people_names(), store.class_names()
                self._at = time.monotonic()

    def names(self, store: ProfileStore) -> dict[str, tuple[str, str]]:
        self._fresh(store)
        return self._names

    def titles(self, store: ProfileStore) -> dict[str, str]:
        self._fresh(store)
        return self._titles


class BadInput(Exception):
    """A form the app cannot take as it is (the message says what to change)."""


class LrsUnavailable(Exception):
    """The LRS did not take the statement (down, or it refused it)."""


def create_app(
    settings: TeacherSettings | None = None,
    warehouse: WarehouseSettings | None = None,
    store: LrsStoreSettings | None = None,
) -> FastAPI:
    """The app over one warehouse and one transactional store (the LRS's)."""
    settings = settings or TeacherSettings()
    wh = Warehouse(warehouse or WarehouseSettings())
    records = AppStore(store_engine(store or LrsStoreSettings()), settings.org)
    tz: tzinfo = ZoneInfo(settings.timezone)
    throttle = auth.Throttle(settings.signin_attempts, settings.signin_window_s)
    roster = RosterNames(settings.names_ttl_s)
    env = jinja()
    css = (TEMPLATES / "app.css").read_text(encoding="utf-8")

    app = FastAPI(
        title="Learning conversations: teacher and student app",
        description="Class pages and student cards; the JSON API under /api has the same access "
        "rules as the pages (teachers: their classes' students; students: themselves).",
        docs_url=None,
        redoc_url=None,
    )
    secret = settings.secret_key.get_secret_value() or secrets.token_urlsafe(32)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="lrp_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.cookie_secure,
    )

    @app.middleware("http")
    async def _security_headers(request: Request, call_next: Callable[..., Any]) -> Response:
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    # -- who is asking ---------------------------------------------------------------------------
    def me(request: Request) -> Me:
        pid = auth.signed_in(request)
        if pid is None:
            raise NotSignedIn
        with wh.session() as s:
            store = ProfileStore(s)
            person = store.roster_user(person_id=pid)
            if person is None or not person["enabled"]:
                request.session.clear()
                raise NotSignedIn
            own = store.enrollments_of(pid)
            members = store.class_members([c for c, _ in own])
        return Me(viewer_from_roster(pid, str(person["role"]), own, members), person)

    def page(request: Request, template: str, who: Me | None, status: int = 200, **ctx: Any) -> Any:
        flash = request.session.pop("flash", None)
        body = env.get_template(template).render(
            me=who.viewer if who else None,
            me_name=who.name if who else "",
            csrf=auth.csrf_token(request),
            flash=flash,
            **ctx,
        )
        return HTMLResponse(body, status_code=status)

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, _: NotSignedIn) -> Response:
        if is_api(request):
            return JSONResponse({"error": "sign in first"}, status_code=401)
        return RedirectResponse("/signin", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, _: Forbidden) -> Response:
        if is_api(request):
            return JSONResponse({"error": "not yours to see"}, status_code=403)
        return page(
            request,
            "error.html.j2",
            None,
            status=403,
            title="Not available",
            message="This page is not one you can open. Go back to your own pages.",
        )

    @app.exception_handler(BadInput)
    async def _bad_input(request: Request, exc: BadInput) -> Response:
        return page(request, "error.html.j2", None, status=400, title="Not saved", message=str(exc))

    @app.exception_handler(LrsUnavailable)
    async def _lrs_down(request: Request, exc: LrsUnavailable) -> Response:
        log.warning("teacher_app_lrs_unavailable", error=str(exc))
        return page(
            request,
            "error.html.j2",
            None,
            status=503,
            title="Not saved",
            message="The learning record store did not take this just now, so nothing was "
            "saved. Please try again in a minute.",
        )

    def check_csrf(request: Request, token: str) -> None:
        if not auth.csrf_ok(request, token):
            raise Forbidden

    def teacher_of(request: Request, csrf: str, student_id: str) -> Me:
        """A form posted about one student: the session's token, and a teacher of theirs."""
        check_csrf(request, csrf)
        who = me(request)
        if who.viewer.is_student or not who.viewer.may_see_student(student_id):
            raise Forbidden
        return who

    def done(request: Request, message: str, url: str) -> RedirectResponse:
        """After a form: say what happened on the next page (post/redirect/get)."""
        request.session["flash"] = message
        return RedirectResponse(url, status_code=303)

    # -- reading ---------------------------------------------------------------------------------
    def class_view(who: Me, class_id: str, need: str = "") -> dict[str, Any]:
        if not who.viewer.may_see_class(class_id):
            raise Forbidden
        with wh.session() as s:
            store = ProfileStore(s)
            members = [u for c, u, r in store.class_members([class_id]) if r == "student"]
            profiles = {pid: profile_from_json(t) for pid, t in store.profiles_of(members).items()}
            names = who.viewer.visible_names(roster.names(store))
            pairs = store.checkin_pairs(members)
            title = roster.titles(store).get(class_id, "Class")
        talked = {st for adult, st in pairs if adult == who.viewer.person_id}
        questions = records.class_questions(class_id)
        answers = records.answers(question_ids=[q.id for q in questions])
        answered = {(a.question_id, a.student_id) for a in answers}
        awaiting = {a.student_id for a in answers if not a.replies}
        unanswered = {pid: sum((q.id, pid) not in answered for q in questions) for pid in members}
        rows = rank_class(list(profiles.values()), talked)
        if need == NOT_TALKED:
            rows = [r for r in rows if not r.talked_with_me]
        elif need == UNANSWERED:
            rows = [r for r in rows if unanswered.get(r.person_id)]
        elif need == AWAITING:
            rows = [r for r in rows if r.person_id in awaiting]
        elif need in NEEDS:
            rows = [r for r in rows if need in r.needs]
        return {
            "id": class_id,
            "title": title,
            "need": need,
            "not_talked": sum(1 for p in profiles if p not in talked),
            "missing": len(set(members) - set(profiles)),
            "questions": [
                {
                    "text": q.text,
                    "when": _local(q.created_at, tz),
                    "answered": sum((q.id, pid) in answered for pid in members),
                    "of": len(members),
                }
                for q in questions
            ],
            "rows": [
                {
                    **asdict(r),
                    "id": r.person_id,
                    "name": _name(names, r.person_id),
                    "unanswered": unanswered.get(r.person_id, 0),
                    "awaiting_reply": r.person_id in awaiting,
                }
                for r in rows
            ],
        }

    def reflections(view: CardView, student_id: str) -> list[dict[str, Any]]:
        """The questions a student was asked, each with their answer and the replies; for the
        student themself or their teachers only (the caller checked)."""
        names, classes = view.names, view.classes
        questions = records.questions_for(student_id, classes)
        answers = {a.question_id: a for a in records.answers(student_ids=[student_id])}
        out = []
        for q in questions:
            a = answers.get(q.id)
            out.append(
                {
                    "id": q.id,
                    "text": q.text,
                    "when": _local(q.created_at, tz),
                    "by": _name(names, q.author_id, "a teacher"),
                    "to_class": q.class_id is not None,
                    "answer": None
                    if a is None
                    else {
                        "id": a.id,
                        "text": a.text,
                        "when": _local(a.created_at, tz),
                        "replies": [
                            {
                                "text": r.text,
                                "when": _local(r.created_at, tz),
                                "by": _name(names, r.author_id, "a teacher"),
                            }
                            for r in a.replies
                        ],
                    },
                }
            )
        return out

    @dataclass
    class CardView:
        """What a card page reads, in one warehouse session: the card (None before the first
        build), the names the reader may see, and the student's classes."""

        ctx: dict[str, Any] | None
        names: Mapping[str, tuple[str, str]]
        classes: list[str]
        card: Card | None = None

    def card_view(who: Me, student_id: str) -> CardView:
        if not who.viewer.may_see_student(student_id):
            raise Forbidden
        with wh.session() as s:
            store = ProfileStore(s)
            names = who.viewer.visible_names(roster.names(store))
            classes = [c for c, r in store.enrollments_of(student_id) if r == "student"]
            try:
                card = load_card(store, student_id, names, roster.titles(store))
            except KeyError:
                return CardView(None, names, classes)
        ctx = card_context(card, tz)
        ctx["never"] = card.profile.adult.last_checkin is None
        return CardView(ctx, names, classes, card)

    # -- writing through the LRS -----------------------------------------------------------------
    def send(statement: dict[str, Any]) -> None:
        try:
            response = httpx.post(
                settings.lrs_url.rstrip("/") + "/statements",
                json=statement,
                auth=(settings.lrs_key, settings.lrs_secret.get_secret_value()),
                headers={"X-Experience-API-Version": "1.0.3"},
                timeout=settings.lrs_timeout_s,
            )
        except httpx.HTTPError as exc:
            raise LrsUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise LrsUnavailable(f"{response.status_code}: {response.text[:300]}")

    # -- routes: signing in ----------------------------------------------------------------------
    @app.get("/healthz", include_in_schema=False)
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/static/app.css", include_in_schema=False)
    def stylesheet() -> Response:
        return Response(css, media_type="text/css")

    @app.get("/signin", response_class=HTMLResponse, include_in_schema=False)
    def signin_form(request: Request) -> Any:
        return page(request, "signin.html.j2", None, error="", username="")

    @app.post("/signin", response_class=HTMLResponse, include_in_schema=False)
    def signin(
        request: Request,
        username: str = Form(..., max_length=200),
        password: str = Form(..., max_length=1000),
        csrf: str = Form(""),
    ) -> Any:
        check_csrf(request, csrf)
        address = request.client.host if request.client else "?"
        keys = (f"user:{username.lower()}", f"addr:{address}")
        if throttle.blocked(*keys):
            return page(
                request,
                "signin.html.j2",
                None,
                status=429,
                error="Too many failed attempts. Wait a few minutes and try again.",
                username=username,
            )
        person = None
        if records.check_password(username, password):
            with wh.session() as s:
                person = ProfileStore(s).roster_user(username=username)
        if person is None or not person["enabled"]:
            throttle.fail(*keys)
            log.info("teacher_app_signin_failed")  # no username: it may be a typed password
            return page(
                request,
                "signin.html.j2",
                None,
                status=401,
                error="That username and password do not match.",
                username=username,
            )
        throttle.clear(*keys)
        auth.sign_in(request, str(person["sourced_id"]))
        return RedirectResponse("/", status_code=303)

    @app.post("/signout", include_in_schema=False)
    def signout(request: Request, csrf: str = Form("")) -> Any:
        check_csrf(request, csrf)
        request.session.clear()
        return RedirectResponse("/signin", status_code=303)

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Any:
        who = me(request)
        if who.viewer.is_student:
            return RedirectResponse("/me", status_code=303)
        if who.viewer.is_teacher:
            return RedirectResponse("/classes", status_code=303)
        raise Forbidden

    # -- routes: teachers ------------------------------------------------------------------------
    def my_classes(who: Me) -> list[dict[str, Any]]:
        if not who.viewer.is_teacher:
            raise Forbidden
        with wh.session() as s:
            store = ProfileStore(s)
            titles = roster.titles(store)
            members = store.class_members(sorted(who.viewer.class_ids))
        counts: dict[str, int] = {}
        for c, _, r in members:
            counts[c] = counts.get(c, 0) + (r == "student")
        return [
            {"id": c, "title": titles.get(c, c), "students": counts.get(c, 0)}
            for c in sorted(who.viewer.class_ids, key=lambda c: titles.get(c, c))
        ]

    @app.get("/classes", response_class=HTMLResponse, include_in_schema=False)
    def classes_page(request: Request) -> Any:
        who = me(request)
        return page(request, "classes.html.j2", who, classes=my_classes(who))

    @app.get("/classes/{class_id}", response_class=HTMLResponse, include_in_schema=False)
    def class_page(request: Request, class_id: str, need: str = "") -> Any:
        who = me(request)
        view = class_view(who, class_id, need)
        filters = [
            ("", "Everyone"),
            *NEEDS.items(),
            (NOT_TALKED, "I have not talked with"),
            (UNANSWERED, "Has not answered"),
            (AWAITING, "Waiting for a reply"),
        ]
        return page(request, "class.html.j2", who, filters=filters, **view)

    @app.get("/students/{student_id}", response_class=HTMLResponse, include_in_schema=False)
    def student_page(request: Request, student_id: str) -> Any:
        who = me(request)
        if who.viewer.is_student:
            raise Forbidden  # a student's own card is /me, which speaks to them
        view = card_view(who, student_id)
        ctx = view.ctx
        if ctx is None:
            return page(
                request,
                "error.html.j2",
                who,
                title="No card yet",
                message="Nothing has been built for this student yet: no logged activity, "
                "or the profiles have not been rebuilt since they joined.",
            )
        names = view.names
        notes = [
            {
                "iso": n.created_at.isoformat(),
                "when": f"{n.created_at.astimezone(tz):%a %d %b %H:%M}",
                "author": _name(names, n.author_id, "a colleague"),
                "topic": CHECKIN_TOPICS.get(n.topic, n.topic),
                "note": n.note,
            }
            for n in records.notes(student_id)
        ]
        feedback = {
            "action": f"/students/{student_id}/starters",
            "csrf": auth.csrf_token(request),
            "verdicts": {k: v for (sid, k), v in records.feedback([student_id]).items()},
        }
        return page(
            request,
            "student.html.j2",
            who,
            topics=list(CHECKIN_TOPICS.items()),
            notes=notes,
            feedback=feedback,
            reflections=reflections(view, student_id),
            **ctx,
        )

    @app.post("/students/{student_id}/checkins", include_in_schema=False)
    def log_checkin(
        request: Request,
        student_id: str,
        topic: str = Form(...),
        note: str = Form("", max_length=2000),
        csrf: str = Form(""),
    ) -> Any:
        who = teacher_of(request, csrf, student_id)
        if topic not in CHECKIN_TOPICS:
            return page(
                request,
                "error.html.j2",
                who,
                status=400,
                title="Not saved",
                message="Pick what the conversation was about from the list.",
            )
        with wh.session() as s:
            store = ProfileStore(s)
            student = store.roster_user(person_id=student_id)
            # The class of theirs that I teach, for the statement's context.
            shared = sorted(
                c
                for c, u, r in store.class_members(sorted(who.viewer.class_ids))
                if u == student_id and r == "student"
            )
        if student is None:
            raise Forbidden
        statement = checkin_statement(who.person, student, topic, shared[0] if shared else "")
        send(statement)
        records.add_note(
            student_id, who.viewer.person_id, statement["id"], topic, " ".join(note.split())
        )
        return done(
            request,
            "Conversation logged. The card updates at the next build.",
            f"/students/{student_id}",
        )

    @app.post("/students/{student_id}/starters/{kind}", include_in_schema=False)
    def starter_feedback(
        request: Request,
        student_id: str,
        kind: str,
        verdict: str = Form(...),
        csrf: str = Form(""),
    ) -> Any:
        who = teacher_of(request, csrf, student_id)
        with wh.session() as s:
            student = ProfileStore(s).roster_user(person_id=student_id)
        if student is None:
            raise Forbidden
        try:
            statement = feedback_statement(who.person, student, kind, verdict)
        except ValueError:
            raise Forbidden from None
        send(statement)  # the next build reads it from the pipeline, like every statement
        records.set_feedback(student_id, kind, who.viewer.person_id, verdict)
        return done(
            request, "Thank you: the next build takes this into account.", f"/students/{student_id}"
        )

    # -- routes: reflection questions ------------------------------------------------------------
    def _text(text: str) -> str:
        words = " ".join(text.split())
        if not words or len(words) > MAX_REFLECTION:
            raise BadInput(f"Write between 1 and {MAX_REFLECTION} characters.")
        return words

    @app.post("/classes/{class_id}/questions", include_in_schema=False)
    def ask_class(
        request: Request,
        class_id: str,
        text: str = Form(..., max_length=4000),
        csrf: str = Form(""),
    ) -> Any:
        check_csrf(request, csrf)
        who = me(request)
        if not who.viewer.may_see_class(class_id):
            raise Forbidden
        records.ask(who.viewer.person_id, _text(text), class_id=class_id)
        return done(
            request, "Question sent to the class. Each answer is private.", f"/classes/{class_id}"
        )

    @app.post("/students/{student_id}/questions", include_in_schema=False)
    def ask_student(
        request: Request,
        student_id: str,
        text: str = Form(..., max_length=4000),
        csrf: str = Form(""),
    ) -> Any:
        who = teacher_of(request, csrf, student_id)
        records.ask(who.viewer.person_id, _text(text), student_id=student_id)
        return done(request, "Question sent.", f"/students/{student_id}")

    @app.post("/students/{student_id}/answers/{answer_id}/replies", include_in_schema=False)
    def reply(
        request: Request,
        student_id: str,
        answer_id: str,
        text: str = Form(..., max_length=4000),
        csrf: str = Form(""),
    ) -> Any:
        who = teacher_of(request, csrf, student_id)
        if not any(a.id == answer_id for a in records.answers(student_ids=[student_id])):
            raise Forbidden  # not this student's answer
        records.reply(answer_id, who.viewer.person_id, _text(text))
        return done(request, "Reply sent.", f"/students/{student_id}")

    @app.post("/me/questions/{question_id}/answer", include_in_schema=False)
    def answer_question(
        request: Request,
        question_id: str,
        text: str = Form(..., max_length=4000),
        csrf: str = Form(""),
    ) -> Any:
        check_csrf(request, csrf)
        who = me(request)
        if not who.viewer.is_student:
            raise Forbidden
        question = records.question(question_id)
        mine = question is not None and (
            question.student_id == who.viewer.person_id
            or (question.class_id is not None and question.class_id in who.viewer.class_ids)
        )
        if not mine:
            raise Forbidden
        words = _text(text)
        mine_answers = records.answers(student_ids=[who.viewer.person_id])
        if any(a.question_id == question_id for a in mine_answers):
            raise BadInput("You have answered this one already.")
        send(reflection_statement(who.person, question_id, settings.activity_base))
        try:
            records.answer(question_id, who.viewer.person_id, words)
        except AlreadyAnswered as exc:
            raise BadInput("You have answered this one already.") from exc
        return done(request, "Answer sent. Only your teachers can read it.", "/me")

    # -- routes: students ------------------------------------------------------------------------
    @app.get("/me", response_class=HTMLResponse, include_in_schema=False)
    def my_card(request: Request) -> Any:
        who = me(request)
        if not who.viewer.is_student:
            raise Forbidden
        view = card_view(who, who.viewer.person_id)
        ctx = view.ctx or {"name": who.name, "classes": "", "as_of_label": "", "dimensions": []}
        if view.card is not None:  # the same profile, in words spoken to the student
            lines = student_lines(view.card.profile, view.names)
            ctx = {**ctx, "dimensions": lines_view(lines, view.card, tz)}
        return page(
            request, "me.html.j2", who, reflections=reflections(view, who.viewer.person_id), **ctx
        )

    @app.post("/me/voice", include_in_schema=False)
    def add_voice(
        request: Request,
        kind: str = Form(...),
        text: str = Form(..., max_length=2000),
        csrf: str = Form(""),
    ) -> Any:
        check_csrf(request, csrf)
        who = me(request)
        if not who.viewer.is_student:
            raise Forbidden
        try:
            statement = voice_statement(who.person, kind, text, settings.activity_base)
        except ValueError as exc:
            return page(
                request, "error.html.j2", who, status=400, title="Not saved", message=str(exc)
            )
        send(statement)
        return done(request, "Added. Your teachers will see it on your card.", "/me")

    # -- the JSON API ----------------------------------------------------------------------------
    @app.get("/api/me", tags=["api"])
    def api_me(request: Request) -> dict[str, Any]:
        """The signed-in person and what they may open."""
        who = me(request)
        v = who.viewer
        return {
            "person_id": v.person_id,
            "role": v.role,
            "classes": sorted(v.class_ids) if v.is_teacher else [],
        }

    @app.get("/api/classes", tags=["api"])
    def api_classes(request: Request) -> list[dict[str, Any]]:
        """The classes the signed-in teacher teaches."""
        return my_classes(me(request))

    @app.get("/api/classes/{class_id}", tags=["api"])
    def api_class(request: Request, class_id: str, need: str = "") -> dict[str, Any]:
        """A class's students in the order of who most needs a conversation, with reasons."""
        return class_view(me(request), class_id, need)

    @app.get("/api/students/{student_id}", tags=["api"])
    def api_student(request: Request, student_id: str) -> dict[str, Any]:
        """A student's card: starters and dimensions, each with the statements behind it."""
        ctx = card_view(me(request), student_id).ctx
        if ctx is None:
            return {"person_id": student_id, "built": False}
        return {"built": True, **ctx}

    return app


def _local(moment: datetime, tz: tzinfo) -> str:
    return f"{moment.astimezone(tz):%a %d %b %H:%M}"


def _name(names: Mapping[str, tuple[str, str]], person_id: str, fallback: str = "a student") -> str:
    given, family = names.get(person_id, ("", ""))
    return full_name(given, family) or fallback


def serve(settings: TeacherSettings | None = None) -> Any:
    """The app's uvicorn server (h11 with bounded headers and idle timeouts, as the LRS)."""
    import uvicorn

    settings = settings or TeacherSettings()
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        http="h11",
        h11_max_incomplete_event_size=64 * 1024,
        timeout_keep_alive=5,
        limit_concurrency=500,
    )
    return uvicorn.Server(config)


def set_password(
    username: str,
    password: str,
    settings: TeacherSettings | None = None,
    store: LrsStoreSettings | None = None,
) -> None:
    """Create or replace a sign-in password for a roster username."""
    settings = settings or TeacherSettings()
    AppStore(store_engine(store or LrsStoreSettings()), settings.org).set_password(
        username, password
    )
