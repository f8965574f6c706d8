"""Server-side sessions: the cookie holds a random token, the database its hash, the staff
member, the CSRF token and the expiry.  Sign-in is throttled per e-mail address."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..store import console as sql
from ..store.db import Store
from .accounts import Staff, staff
from .settings import ConsoleSettings

COOKIE = "clarion_session"
LOGIN_CSRF_COOKIE = "clarion_login_csrf"


@dataclass(frozen=True)
class Session:
    token: str
    staff: Staff
    csrf: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def open_session(store: Store, settings: ConsoleSettings, member: Staff) -> Session:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = datetime.now(timezone.utc)
    sql.drop_expired_sessions(store, now)
    sql.add_session(store, _hash(token), member.id, csrf,
                    now + timedelta(hours=settings.session_hours))
    return Session(token, member, csrf)


def load_session(store: Store, token: str | None) -> Session | None:
    """The live session of this cookie, else None (unknown, expired, account disabled)."""
    if not token or len(token) > 100:
        return None
    row = sql.session_row(store, _hash(token))
    if row is None or _aware(row["expires_at"]) <= datetime.now(timezone.utc):
        return None
    member = staff(store, row["staff_id"])
    return Session(token, member, row["csrf_token"]) if member else None


def close_session(store: Store, token: str) -> None:
    sql.drop_session(store, _hash(token))


def throttled(store: Store, settings: ConsoleSettings, email: str) -> bool:
    since = datetime.now(timezone.utc) - timedelta(seconds=settings.login_window_s)
    return sql.failures_since(store, email.strip().lower(), since) >= settings.login_failures


def note_failure(store: Store, email: str) -> None:
    sql.note_failure(store, email.strip().lower()[:320])


def note_success(store: Store, email: str) -> None:
    sql.clear_failures(store, email.strip().lower())


def same_token(given: str | None, expected: str | None) -> bool:
    return bool(given and expected and secrets.compare_digest(given, expected))
