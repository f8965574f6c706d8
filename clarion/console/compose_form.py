"""The Compose form as a CampaignRequest, within the scopes of the staff member sending it
(the same checks as an API key's: clarion.api.permissions)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from .. import campaigns
from ..api import permissions
from ..api.errors import ApiError
from ..domain import Audience, CampaignRequest
from ..errors import Rejected
from ..security import Forbidden, Principal, Scopes
from ..store import console as sql
from ..store.db import Store
from .accounts import Staff

CONTENT_FIELDS = {"title": ("default", "title"), "body": ("default", "body"),
                  "email_subject": ("email", "subject"), "email_text": ("email", "text"),
                  "email_html": ("email", "html"), "sms_text": ("sms", "text")}


def principal(member: Staff) -> Principal:
    return Principal(member.id, "console", member.scopes, 0.0)


def allowed_values(scopes: Scopes, kind: str, known: list[str]) -> list[str]:
    """What of ``known`` (roles, departments, grades) a sender may pick."""
    if scopes.any_audience or "everyone" in scopes.audiences:
        return known
    allowed = {a.split(":", 1)[1] for a in scopes.audiences if a.startswith(kind + ":")}
    return [k for k in known if k in allowed]


def _variables(text: str) -> dict[str, Any]:
    text = text.strip()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise Rejected("variables", f"not JSON: {exc.msg}") from exc
    pairs = [line.split("=", 1) for line in text.splitlines() if line.strip()]
    if any(len(p) != 2 for p in pairs):
        raise Rejected("variables", "one name=value a line")
    return {k.strip(): v.strip() for k, v in pairs}


def _content(form: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The form's content fields as variants (default, email, sms)."""
    variants: dict[str, dict[str, str]] = {}
    for name, (variant, field) in CONTENT_FIELDS.items():
        value = (form.get(name) or "").strip()
        if value:
            variants.setdefault(variant, {})[field] = value
    default = variants.get("default", {})
    for name in variants.keys() - {"default"}:  # a channel's variant: what it leaves out
        inherited = {field: default[source] for field, source in _FROM_DEFAULT[name].items()
                     if source in default}  # comes from the default, in its own fields
        variants[name] = {**inherited, **variants[name]}
    return variants


# a variant's own fields (clarion.variants) and the default's field each one falls back on
_FROM_DEFAULT = {"email": {"subject": "title", "text": "body"}, "sms": {"text": "body"}}


def _audience(store: Store, form: dict[str, Any]) -> Audience:
    segment = (form.get("segment") or "").strip()
    if segment:
        found = next((s for s in sql.segments(store) if s["name"] == segment), None)
        if found is None:
            raise Rejected("segment", f"no saved segment {segment!r}")
        return Audience.model_validate(found["audience"])
    return Audience(roles=form.get("roles[]", []), departments=form.get("departments[]", []),
                    grades=form.get("grades[]", []), everyone=form.get("everyone") == "on")


def _first_error(exc: ValidationError) -> Rejected:
    err = exc.errors()[0]
    return Rejected(".".join(str(p) for p in err["loc"]) or "request", err["msg"])


def build_request(store: Store, member: Staff, form: dict[str, Any]) -> CampaignRequest:
    """The form as a request; refused naming the field."""
    try:
        audience = _audience(store, form)
        channels = form.get("channels[]") or "auto"
        template = (form.get("template") or "").strip()
        body = {"name": (form.get("name") or "").strip(), "audience": audience,
                "category": form.get("category") or "general",
                "priority": form.get("priority") or "normal", "channels": channels,
                "variables": _variables(form.get("variables") or ""), "source": "console",
                "idempotency_key": f"console:{member.id}:{form.get('nonce') or ''}"}
        if form.get("content_mode") == "template":
            body["template"] = template
        else:
            body["content"] = _content(form)
        return CampaignRequest.model_validate(body)
    except ValidationError as exc:
        raise _first_error(exc) from exc


def check_scopes(store: Store, settings: Any, member: Staff, request: CampaignRequest) -> None:
    """The sender's scopes, as for an API key: 403-like Rejected naming the field."""
    who = principal(member)
    try:
        permissions.check_request(who, request)
        permissions.check_campaign_ids(who, store, request.audience)
        route = campaigns.route_of(store, settings, request)
        who.scopes.check_channels(list(route.channels))
    except ApiError as exc:
        raise Rejected(exc.field or "request", exc.message) from exc
    except Forbidden as exc:
        raise Rejected(exc.field, exc.message) from exc


def scheduled_time(text: str, zone: str) -> datetime | None:
    """A ``datetime-local`` value in the site's time zone, or None (send now)."""
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=ZoneInfo(zone))
    except ValueError as exc:
        raise Rejected("schedule", "give a date and time") from exc
