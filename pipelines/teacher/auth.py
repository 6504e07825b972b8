"""Signing in, sessions and CSRF for the teacher app.

Sign-in is a local password per roster username (``python -m pipelines app passwd``), checked
against a scrypt hash in the app store. The design leaves room for an OIDC provider: whatever
proves the person, the session holds only their roster id, and access is recomputed from the
roster on every request (:func:`pipelines.teacher.access.viewer_from_roster`), so a change in the
roster (a teacher leaves a class) takes effect at once.

Sessions are Starlette's signed cookies (itsdangerous, HttpOnly, SameSite=Lax). Every form
carries the session's CSRF token, and every POST is refused (403) without it.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import defaultdict, deque

from fastapi import Request

SESSION_PERSON = "pid"
SESSION_CSRF = "csrf"


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


def csrf_ok(request: Request, submitted: str | None) -> bool:
    """The form's token is this session's (constant-time comparison)."""
    expected = request.session.get(SESSION_CSRF)
    return bool(expected and submitted) and hmac.compare_digest(str(expected), str(submitted))


def sign_in(request: Request, person_id: str) -> None:
    """A fresh session for ``person_id`` (a new CSRF token too: no fixation across sign-ins)."""
    request.session.clear()
    request.session[SESSION_PERSON] = person_id
    request.session[SESSION_CSRF] = secrets.token_urlsafe(32)


def signed_in(request: Request) -> str | None:
    person = request.session.get(SESSION_PERSON)
    return person if isinstance(person, str) and person else None


class Throttle:
    """At most ``attempts`` failures per key within ``window_s`` (per username, per address).

    In memory, per process: enough to slow a password guesser down to a handful of tries per
    window; a deployment with several app processes puts a shared limiter in front as well.
    """

    def __init__(self, attempts: int, window_s: float) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures[key]
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.attempts for k in keys)

    def fail(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for k in keys:
                self._recent(k, now).append(now)

    def clear(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._failures.pop(k, None)
