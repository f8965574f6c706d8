"""SQL of API keys: stored as an HMAC of the key, never the key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from .api_models import ApiKey
from .db import Store
from .models import utcnow


def add(store: Store, values: dict[str, Any]) -> None:
    with store.session() as s:
        s.add(ApiKey(**values))


def set_secret(store: Store, key_id: str, key_hash: str, prefix: str) -> bool:
    """A new secret for an unrevoked key; False if there is none."""
    with store.session() as s:
        row = s.get(ApiKey, key_id)
        if row is None or row.revoked_at is not None:
            return False
        row.key_hash, row.prefix = key_hash, prefix
        return True


def revoke(store: Store, key_id: str) -> bool:
    with store.session() as s:
        return bool(s.execute(update(ApiKey).where(ApiKey.id == key_id,
                                                   ApiKey.revoked_at.is_(None))
                              .values(revoked_at=utcnow())).rowcount)


def all_keys(store: Store) -> list[ApiKey]:
    with store.session() as s:
        return list(s.execute(select(ApiKey).order_by(ApiKey.created_at)).scalars().all())


def by_hash(store: Store, digest: str) -> ApiKey | None:
    with store.session() as s:
        return s.execute(select(ApiKey).where(ApiKey.key_hash == digest)).scalar_one_or_none()
