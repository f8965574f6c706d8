"""Staff accounts: Argon2 password hashes, a role, and for senders the scopes of an API key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import Rejected
from ..security import Scopes
from ..store import audit
from ..store import console as sql
from ..store.db import Store
from .permissions import ROLES

_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("not a password")  # verify against it when there is no such account
LOCALES = ("zh-CN", "en")


@dataclass(frozen=True)
class Staff:
    id: str
    email: str
    name: str
    role: str
    scopes: Scopes
    locale: str
    needs_approval: bool

    @property
    def actor(self) -> str:
        return f"staff:{self.email}"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Staff:
        sc = row["scopes"] or {}
        scopes = Scopes(tuple(sc.get("categories", ["*"])), tuple(sc.get("channels", ["*"])),
                        tuple(sc.get("audiences", ["*"])))
        return cls(row["id"], row["email"], row["name"], row["role"], scopes, row["locale"],
                   bool(row["needs_approval"]))


def _scopes(role: str, categories: list[str], audiences: list[str], channels: list[str]
            ) -> dict[str, list[str]]:
    """A sender is limited to what it is given; the other roles send nothing or anything."""
    if role != "sender":
        return {"categories": ["*", "emergency"], "audiences": ["*"], "channels": ["*"]}
    if not categories or not audiences:
        raise Rejected("categories" if not categories else "audiences",
                       "a sender needs the categories and audiences it may reach")
    return {"categories": categories, "audiences": audiences, "channels": channels or ["*"]}


def create_staff(store: Store, email: str, password: str, role: str, actor: str, *,
                 name: str | None = None, categories: list[str] = (),  # type: ignore[assignment]
                 audiences: list[str] = (), channels: list[str] = (),  # type: ignore[assignment]
                 locale: str = "zh-CN", needs_approval: bool = False) -> str:
    """A new account; refused naming the field (unknown role, short password, taken address)."""
    email = email.strip().lower()
    if role not in ROLES:
        raise Rejected("role", f"unknown role {role!r}; known: {', '.join(ROLES)}")
    if "@" not in email or len(email) > 320:
        raise Rejected("email", "give an e-mail address")
    if len(password) < 10:
        raise Rejected("password", "at least 10 characters")
    if locale not in LOCALES:
        raise Rejected("locale", f"one of {', '.join(LOCALES)}")
    if sql.staff_by_email(store, email) is not None:
        raise Rejected("email", f"{email} has an account already")
    staff_id = "s_" + uuid.uuid4().hex[:16]
    values = {"id": staff_id, "email": email, "name": name or email.split("@")[0],
              "password_hash": _HASHER.hash(password), "role": role,
              "scopes": _scopes(role, list(categories), list(audiences), list(channels)),
              "locale": locale, "needs_approval": needs_approval}
    sql.add_staff(store, values, audit.entry(actor, "staff.create", email, "ok", role))
    return staff_id


def authenticate(store: Store, email: str, password: str) -> Staff | None:
    """The account if the password is right and it is not disabled (same work either way)."""
    row = sql.staff_by_email(store, email.strip().lower())
    try:
        _HASHER.verify(row["password_hash"] if row else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row["disabled_at"] is not None:
        return None
    return Staff.from_row(row)


def staff(store: Store, staff_id: str) -> Staff | None:
    row = sql.staff_by_id(store, staff_id)
    return Staff.from_row(row) if row and row["disabled_at"] is None else None
