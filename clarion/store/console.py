"""The console's own SQL: staff accounts, sessions, failed sign-ins, campaign approvals.
Each change that staff make writes its audit row in the same transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from . import audit
from .console_models import (CampaignApproval, LoginAttempt, SavedSegment, StaffAccount,
                             StaffSession, TemplateVersion)
from .db import Store
from .models import utcnow


def _plain(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {c.name: getattr(row, c.name) for c in row.__table__.columns}


# --- staff ------------------------------------------------------------------------------------

def add_staff(store: Store, values: dict[str, Any], audit_row: dict[str, Any]) -> None:
    with store.session() as s:
        s.add(StaffAccount(**values))
        s.flush()
        audit.add(s.connection(), audit_row)


def staff_by_email(store: Store, email: str) -> dict[str, Any] | None:
    with store.session() as s:
        return _plain(s.execute(select(StaffAccount).where(
            StaffAccount.email == email)).scalar_one_or_none())


def staff_by_id(store: Store, staff_id: str) -> dict[str, Any] | None:
    with store.session() as s:
        return _plain(s.get(StaffAccount, staff_id))


def list_staff(store: Store) -> list[dict[str, Any]]:
    with store.session() as s:
        rows = s.execute(select(StaffAccount).order_by(StaffAccount.email)).scalars().all()
        return [_plain(r) for r in rows]  # type: ignore[misc]


def disable_staff(store: Store, staff_id: str, audit_row: dict[str, Any]) -> bool:
    with store.session() as s:
        done = s.execute(update(StaffAccount).where(StaffAccount.id == staff_id,
                                                     StaffAccount.disabled_at.is_(None))
                         .values(disabled_at=utcnow())).rowcount
        s.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id))
        audit.add(s.connection(), audit_row if done else None)
    return bool(done)


# --- sessions ---------------------------------------------------------------------------------

def add_session(store: Store, token_hash: str, staff_id: str, csrf: str,
                expires_at: datetime) -> None:
    with store.session() as s:
        s.add(StaffSession(token_hash=token_hash, staff_id=staff_id, csrf_token=csrf,
                           expires_at=expires_at))


def session_row(store: Store, token_hash: str) -> dict[str, Any] | None:
    with store.read() as conn:
        row = conn.execute(select(StaffSession.__table__).where(
            StaffSession.token_hash == token_hash)).first()
    return dict(row._mapping) if row is not None else None


def drop_session(store: Store, token_hash: str) -> None:
    with store.session() as s:
        s.execute(delete(StaffSession).where(StaffSession.token_hash == token_hash))


def drop_expired_sessions(store: Store, now: datetime) -> None:
    with store.session() as s:
        s.execute(delete(StaffSession).where(StaffSession.expires_at < now))


# --- throttling -------------------------------------------------------------------------------

def note_failure(store: Store, email: str) -> None:
    with store.session() as s:
        s.add(LoginAttempt(email=email))


def failures_since(store: Store, email: str, since: datetime) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).where(
            LoginAttempt.email == email, LoginAttempt.at >= since)).scalar() or 0


def clear_failures(store: Store, email: str) -> None:
    with store.session() as s:
        s.execute(delete(LoginAttempt).where(LoginAttempt.email == email))


# --- approvals --------------------------------------------------------------------------------

def put_request(store: Store, campaign_id: str, requested_by: str, needs_approval: bool,
                audience_size: int) -> None:
    """Who asked for a campaign from the console (before its flow run starts)."""
    with store.session() as s:
        if s.get(CampaignApproval, campaign_id) is None:
            s.add(CampaignApproval(campaign_id=campaign_id, requested_by=requested_by,
                                   requester_needs_approval=needs_approval,
                                   audience_size=audience_size, state="none"))


def approval(store: Store, campaign_id: str) -> dict[str, Any] | None:
    with store.session() as s:
        return _plain(s.get(CampaignApproval, campaign_id))


def mark_waiting(store: Store, campaign_id: str, reason: str, audience_size: int,
                 flow_run_id: str | None, audit_row: dict[str, Any]) -> None:
    with store.session() as s:
        row = s.get(CampaignApproval, campaign_id)
        if row is None:
            row = CampaignApproval(campaign_id=campaign_id, requester_needs_approval=False)
            s.add(row)
        row.state, row.reason, row.flow_run_id = "waiting", reason, flow_run_id
        row.audience_size = audience_size
        s.flush()
        audit.add(s.connection(), audit_row)


def decide(store: Store, campaign_id: str, state: str, by: str | None, comment: str | None,
           audit_row: dict[str, Any]) -> None:
    with store.session() as s:
        s.execute(update(CampaignApproval).where(CampaignApproval.campaign_id == campaign_id)
                  .values(state=state, decided_by=by, decided_at=utcnow(), comment=comment))
        audit.add(s.connection(), audit_row)


def waiting_approvals(store: Store) -> list[dict[str, Any]]:
    with store.session() as s:
        rows = s.execute(select(CampaignApproval).where(CampaignApproval.state == "waiting")
                         .order_by(CampaignApproval.created_at)).scalars().all()
        return [_plain(r) for r in rows]  # type: ignore[misc]


def session_lifetime(hours: float) -> timedelta:
    return timedelta(hours=hours)


def set_locale(store: Store, staff_id: str, locale: str, audit_row: dict[str, Any]) -> None:
    with store.session() as s:
        s.execute(update(StaffAccount).where(StaffAccount.id == staff_id).values(locale=locale))
        audit.add(s.connection(), audit_row)


# --- saved segments and template versions -----------------------------------------------------

def put_segment(store: Store, name: str, audience: dict[str, Any], by: str,
                audit_row: dict[str, Any]) -> None:
    with store.session() as s:
        s.merge(SavedSegment(name=name, audience=audience, created_by=by, created_at=utcnow()))
        s.flush()
        audit.add(s.connection(), audit_row)


def segments(store: Store) -> list[dict[str, Any]]:
    with store.session() as s:
        rows = s.execute(select(SavedSegment).order_by(SavedSegment.name)).scalars().all()
        return [_plain(r) for r in rows]  # type: ignore[misc]


def add_template_version(store: Store, name: str, variants: dict[str, Any], by: str,
                         audit_row: dict[str, Any]) -> None:
    with store.session() as s:
        s.add(TemplateVersion(name=name, variants=variants, saved_by=by))
        s.flush()
        audit.add(s.connection(), audit_row)


def template_versions(store: Store, name: str) -> list[dict[str, Any]]:
    with store.session() as s:
        rows = s.execute(select(TemplateVersion).where(TemplateVersion.name == name)
                         .order_by(TemplateVersion.id.desc()).limit(50)).scalars().all()
        return [_plain(r) for r in rows]  # type: ignore[misc]


def audit_entries(store: Store, *, actor: str = "", action: str = "", target: str = "",
                  limit: int = 200) -> list[dict[str, Any]]:
    """The newest audit rows, filtered by actor and action prefixes and target."""
    from .api_models import AuditEntry
    A = AuditEntry.__table__
    query = select(A)
    if actor:
        query = query.where(A.c.actor.like(actor.replace("%", "") + "%"))
    if action:
        query = query.where(A.c.action.like(action.replace("%", "") + "%"))
    if target:
        query = query.where(A.c.target == target)
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(query.order_by(A.c.id.desc()).limit(limit))]
