"""API keys (hashed, scoped, cached briefly) and the campus app's signed inbox tokens.

A key is ``clk_<random>``; only HMAC-SHA256(pepper, key) is stored, so a database dump yields
no usable key.  Scopes are lists per key; ``"*"`` allows anything in that list except the
emergency priority, which must be granted by name (``categories: ["emergency", …]``).
Audience scopes read ``role:<r>``, ``department:<d>``, ``grade:<g>``, ``everyone`` (whole
campus), ``addresses`` (raw phone numbers / e-mail addresses) or ``*``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .domain import Audience, Priority
from .store import api_keys
from .store.api_models import ApiKey
from .store.db import Store

KEY_PREFIX = "clk_"
EMERGENCY = "emergency"
# A key's requests per second (burst: one second's worth) unless given: room for a producing
# system's bursts (a night's overdue notices, 20 concurrent posts) while one runaway caller
# still leaves most of an API process (~450–770 requests/s, docs/BENCHMARKS.md) to the others.
DEFAULT_RATE = 100.0


class ApiSettings(BaseSettings):
    """The API's own ``CLARION_*`` settings (the rest live in clarion.settings)."""

    model_config = SettingsConfigDict(env_prefix="CLARION_", extra="ignore")

    api_key_pepper: SecretStr = SecretStr("clarion-dev-pepper")  # set it in production
    api_key_cache_seconds: float = 5.0  # a revoked key may work this long in other processes
    inbox_token_secret: SecretStr | None = None  # no secret: no inbox token is valid
    inbox_token_ttl: int = 7 * 24 * 3600
    inbox_poll_seconds: float = 0.25  # one query for all open streams, this often
    inbox_streams_per_recipient: int = 4  # open inbox streams of one recipient, per process
    inbox_streams_total: int = 1000  # open inbox streams of everyone, per process
    receipt_secrets: dict[str, SecretStr] = {}  # provider -> HMAC secret of its callbacks
    api_max_body_bytes: int = 1_000_000
    idempotency_wait_seconds: float = 10.0


# --- scopes ------------------------------------------------------------------------------------

class Forbidden(Exception):
    """Outside the key's scopes; ``field`` names the part of the request at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


ABILITIES = ("policy", "preferences")  # beyond sending: change categories and rules; people's
# preferences


@dataclass(frozen=True)
class Scopes:
    categories: tuple[str, ...]
    channels: tuple[str, ...]
    audiences: tuple[str, ...]
    abilities: tuple[str, ...] = ()

    def check_ability(self, ability: str) -> None:
        if ability not in self.abilities:
            raise Forbidden("authorization", f"this key may not do that (it needs the "
                                             f"ability {ability!r})")

    def check_category(self, category: str, priority: Priority) -> None:
        if priority is Priority.EMERGENCY and EMERGENCY not in self.categories:
            raise Forbidden("priority", "this key may not send emergency messages")
        if category == EMERGENCY and EMERGENCY not in self.categories:
            raise Forbidden("category", "this key may not send category 'emergency'")
        if "*" not in self.categories and category not in self.categories:
            raise Forbidden("category", f"this key may not send category {category!r}")

    def check_channels(self, channels: list[str]) -> None:
        refused = [c for c in channels if "*" not in self.channels and c not in self.channels]
        if refused:
            raise Forbidden("channels", f"this key may not use channel(s) {', '.join(refused)}")

    def _allowed(self, kind: str) -> set[str]:
        return {a.split(":", 1)[1] for a in self.audiences if a.startswith(f"{kind}:")}

    @property
    def any_audience(self) -> bool:
        return "*" in self.audiences

    def check_audience_filters(self, audience: Audience) -> None:
        """``everyone`` and the role/department/grade part (the ids are checked by the caller).

        Filters are combined with AND, so the part stays inside the scopes when any one
        dimension is wholly allowed."""
        if self.any_audience:
            return
        if audience.everyone and "everyone" not in self.audiences:
            raise Forbidden("audience.everyone", "this key may not address everyone")
        given = {"role": [r.strip().lower() for r in audience.roles],
                 "department": audience.departments, "grade": audience.grades}
        present = {k: v for k, v in given.items() if v}
        if present and not any(set(v) <= self._allowed(k) for k, v in present.items()):
            first = next(iter(present))
            raise Forbidden(f"audience.{first}s",
                            f"outside this key's audiences ({', '.join(self.audiences) or 'none'})")

    def allows_recipient(self, recipient: Mapping[str, Any]) -> bool:
        """A known person is inside the scopes when one of role, department, grade is."""
        if self.any_audience or "everyone" in self.audiences:
            return True
        roles = {r.lower() for r in recipient.get("roles") or []}
        return bool(roles & self._allowed("role")
                    or recipient.get("department") in self._allowed("department")
                    or recipient.get("grade") in self._allowed("grade"))

    def check_addresses(self) -> None:
        if not (self.any_audience or "addresses" in self.audiences):
            raise Forbidden("to", "this key may not send to raw addresses; use recipient ids")


@dataclass(frozen=True)
class Principal:
    """The caller behind a verified key."""

    key_id: str
    system: str
    scopes: Scopes
    rate: float

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}({self.system})"


# --- keys --------------------------------------------------------------------------------------

def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str, pepper: SecretStr) -> str:
    return hmac.new(pepper.get_secret_value().encode(), key.encode(), hashlib.sha256).hexdigest()


def _principal(row: ApiKey) -> Principal:
    scopes = Scopes(tuple(row.categories["allow"]), tuple(row.channels["allow"]),
                    tuple(row.audiences["allow"]), tuple((row.abilities or {}).get("allow", ())))
    return Principal(row.id, row.system, scopes, row.rate)


def create_key(store: Store, settings: ApiSettings, system: str, categories: list[str],
               channels: list[str], audiences: list[str], rate: float = DEFAULT_RATE,
               abilities: list[str] | None = None) -> tuple[str, str]:
    """Store a new key's hash; return (key id, the key itself — shown once)."""
    unknown = sorted(set(abilities or ()) - set(ABILITIES))
    if unknown:
        raise ValueError(f"unknown abilities {', '.join(unknown)}; known: {', '.join(ABILITIES)}")
    key, key_id = new_key(), "k_" + uuid.uuid4().hex[:16]
    api_keys.add(store, dict(id=key_id, system=system, prefix=key[:12],
                             key_hash=hash_key(key, settings.api_key_pepper),
                             categories={"allow": categories}, channels={"allow": channels},
                             audiences={"allow": audiences}, rate=rate,
                             abilities={"allow": list(abilities or ())}))
    return key_id, key


def rotate_key(store: Store, settings: ApiSettings, key_id: str) -> str | None:
    """Give the key a new secret (the old one stops working); None if there is no such key."""
    key = new_key()
    if not api_keys.set_secret(store, key_id, hash_key(key, settings.api_key_pepper), key[:12]):
        return None
    _CACHE.clear()
    return key


def revoke_key(store: Store, key_id: str) -> bool:
    done = api_keys.revoke(store, key_id)
    _CACHE.clear()
    return done


def list_keys(store: Store) -> list[dict[str, Any]]:
    return [{"id": r.id, "system": r.system, "prefix": r.prefix + "…",
             "categories": r.categories["allow"], "channels": r.channels["allow"],
             "audiences": r.audiences["allow"], "rate": r.rate,
             "abilities": (r.abilities or {}).get("allow", []),
             "created_at": r.created_at.isoformat(),
             "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None}
            for r in api_keys.all_keys(store)]


class _KeyCache:
    """hash -> (principal or None, expiry): a per-request check costs one HMAC, not a query."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[Principal | None, float]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> tuple[bool, Principal | None]:
        with self._lock:
            hit = self._items.get(digest)
        if hit is None or hit[1] < time.monotonic():
            return False, None
        return True, hit[0]

    def put(self, digest: str, principal: Principal | None, ttl: float) -> None:
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[digest] = (principal, time.monotonic() + ttl)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_CACHE = _KeyCache()


def verify_key(store: Store, settings: ApiSettings, key: str) -> Principal | None:
    """The principal of a valid, unrevoked key, else None."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    digest = hash_key(key, settings.api_key_pepper)
    cached, principal = _CACHE.get(digest)
    if cached:
        return principal
    row = api_keys.by_hash(store, digest)
    principal = _principal(row) if row is not None and row.revoked_at is None else None
    _CACHE.put(digest, principal, settings.api_key_cache_seconds)
    return principal


# --- inbox tokens ------------------------------------------------------------------------------

def _mac(secret: SecretStr, payload: str) -> str:
    digest = hmac.new(secret.get_secret_value().encode(), payload.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def issue_inbox_token(settings: ApiSettings, recipient_id: str, ttl: int | None = None,
                      now: float | None = None) -> str:
    """``recipient_id.expiry.signature``, for the campus app's sign-in to hand out."""
    if settings.inbox_token_secret is None:
        raise RuntimeError("CLARION_INBOX_TOKEN_SECRET is not set")
    expiry = int((time.time() if now is None else now) + (ttl or settings.inbox_token_ttl))
    payload = f"{recipient_id}.{expiry}"
    return f"{payload}.{_mac(settings.inbox_token_secret, payload)}"


@dataclass(frozen=True)
class InboxReader:
    """The recipient behind a valid inbox token, and when the token expires (epoch seconds)."""

    recipient_id: str
    expires_at: int


def read_inbox_token(settings: ApiSettings, token: str, now: float | None = None
                     ) -> InboxReader | None:
    """The reader of a valid, unexpired token, else None."""
    if settings.inbox_token_secret is None or len(token) > 300:
        return None
    parts = token.rsplit(".", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[0]:
        return None
    recipient_id, expiry, signature = parts
    expected = _mac(settings.inbox_token_secret, f"{recipient_id}.{expiry}")
    if not hmac.compare_digest(expected, signature):
        return None
    if int(expiry) <= (time.time() if now is None else now):
        return None
    return InboxReader(recipient_id, int(expiry))


def verify_inbox_token(settings: ApiSettings, token: str, now: float | None = None) -> str | None:
    """The recipient id of a valid, unexpired token, else None."""
    reader = read_inbox_token(settings, token, now)
    return reader.recipient_id if reader is not None else None
