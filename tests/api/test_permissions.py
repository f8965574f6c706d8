"""Every scope boundary: refused with 403 naming the field, allowed just inside it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from clarion.store.api_models import AuditEntry

from .conftest import auth

NOTE = {"default": {"title": "Note", "body": "Dear {{ recipient.name }}, {{ what }}."}}


def message(**over):  # type: ignore[no-untyped-def]
    body = {"category": "library", "channels": ["inbox"], "to": [{"id": "T000001"}],
            "content": NOTE, "variables": {"what": "a book is due"}}
    return {**body, **over}


def campaign(**over):  # type: ignore[no-untyped-def]
    body = {"name": "New arrivals", "category": "library", "channels": ["inbox"],
            "audience": {"roles": ["teacher"]}, "content": NOTE, "variables": {"what": "hi"}}
    return {**body, **over}


@pytest.fixture
def library(make_key):  # type: ignore[no-untyped-def]
    return make_key("library", categories=["library"], channels=["inbox", "email"],
                    audiences=["role:teacher"])


@pytest.fixture
def started(app):  # type: ignore[no-untyped-def]
    """Record campaign starts instead of reaching Prefect (the Prefect path has its own test)."""
    calls = []

    async def start(parameters, key):  # type: ignore[no-untyped-def]
        calls.append((parameters, key))
        return f"run-{len(calls)}"
    app.state.clarion.start_campaign = start
    return calls


def refused(r, field):  # type: ignore[no-untyped-def]
    assert r.status_code == 403, r.text
    assert r.json()["error"]["field"] == field, r.text
    return True


def test_keys_missing_unknown_revoked(client, campus, make_key, store):
    campus(60)
    assert client.post("/v1/messages", json=message()).status_code == 401
    r = client.post("/v1/messages", json=message(), headers=auth("clk_not-a-key"))
    assert r.status_code == 401 and r.json()["error"]["field"] == "Authorization"
    assert client.get("/v1/inbox", headers=auth("clk_x")).status_code == 401
    key = make_key()
    assert client.post("/v1/messages", json=message(), headers=auth(key)).status_code == 202
    from clarion.security import list_keys, revoke_key
    revoke_key(store, list_keys(store)[-1]["id"])
    assert client.post("/v1/messages", json=message(), headers=auth(key)).status_code == 401
    assert "clk_" not in r.text


def test_category_priority_channel_boundaries(client, campus, library, make_key):
    campus(60)
    h = auth(library)
    assert client.post("/v1/messages", json=message(), headers=h).status_code == 202
    assert refused(client.post("/v1/messages", json=message(category="academic"), headers=h),
                   "category")
    assert refused(client.post("/v1/messages", json=message(channels=["sms"]), headers=h),
                   "channels")
    assert refused(client.post("/v1/messages", json=message(priority="emergency"), headers=h),
                   "priority")
    anything = auth(make_key("campus-office", categories=["*"]))
    assert refused(client.post("/v1/messages", json=message(priority="emergency"),
                               headers=anything), "priority")
    assert refused(client.post("/v1/messages", json=message(category="emergency"),
                               headers=anything), "category")
    security = auth(make_key("security", categories=["emergency", "safety"]))
    r = client.post("/v1/messages", json=message(priority="emergency", category="safety"),
                    headers=security)
    assert r.status_code == 202, r.text


def test_audience_boundaries_for_messages(client, campus, library, make_key):
    campus(60)
    h = auth(library)
    assert refused(client.post("/v1/messages", json=message(to=[{"id": "T000001"},
                                                                 {"id": "S000001"}]),
                               headers=h), "to.1.id")
    raw = message(to=[{"sms": "+8613800000000"}], channels=["inbox"])
    assert refused(client.post("/v1/messages", json=raw, headers=h), "to")
    direct = auth(make_key("it", categories=["library"], audiences=["addresses"]))
    assert client.post("/v1/messages", json=raw, headers=direct).status_code == 202
    staff = auth(make_key("office", categories=["library"], audiences=["department:Library"]))
    assert refused(client.post("/v1/messages", json=message(), headers=staff), "to.0.id")


def test_audience_boundaries_for_campaigns(client, campus, library, started):
    campus(60)
    h = auth(library)
    r = client.post("/v1/campaigns", json=campaign(), headers=h)
    assert r.status_code == 202, r.text
    assert r.json()["flow_run_id"] == "run-1"
    narrower = campaign(audience={"roles": ["teacher"], "grades": ["2024"]}, name="narrow")
    assert client.post("/v1/campaigns", json=narrower, headers=h).status_code in (202, 422)
    assert refused(client.post("/v1/campaigns", json=campaign(audience={"roles": ["student"]}),
                               headers=h), "audience.roles")
    assert refused(client.post("/v1/campaigns", json=campaign(audience={"grades": ["2024"]}),
                               headers=h), "audience.grades")
    assert refused(client.post("/v1/campaigns", json=campaign(audience={"everyone": True}),
                               headers=h), "audience.everyone")
    assert refused(client.post("/v1/campaigns", json=campaign(
        audience={"ids": ["T000001", "S000001"]}), headers=h), "audience.ids")
    assert refused(client.post("/v1/campaigns", json=campaign(channels=["sms"]), headers=h),
                   "channels")
    assert len(started) == 1  # nothing refused reached Prefect


def test_rate_limit_answers_429_with_retry_after(client, campus, make_key):
    campus(20)
    h = auth(make_key("slow", rate=1))
    assert client.post("/v1/messages", json=message(), headers=h).status_code == 202
    r = client.post("/v1/messages", json=message(), headers=h)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1


def test_each_key_sees_only_its_own(client, campus, library, make_key):
    campus(20)
    r = client.post("/v1/messages", json=message(), headers=auth(library))
    message_id = r.json()["message_id"]
    other = auth(make_key("research"))
    assert client.get(f"/v1/messages/{message_id}", headers=other).status_code == 404
    assert client.get(f"/v1/messages/{message_id}", headers=auth(library)).status_code == 200
    page = client.get("/v1/recipients/T000001/deliveries", headers=other).json()
    assert page["items"] == []


def test_mutating_calls_are_audited(client, campus, library, store):
    campus(20)
    client.post("/v1/messages", json=message(), headers=auth(library))
    client.post("/v1/messages", json=message(category="x"), headers=auth(library))
    with store.session() as s:
        rows = s.execute(select(AuditEntry.action, AuditEntry.outcome, AuditEntry.actor)).all()
    outcomes = sorted((a, o) for a, o, _ in rows)
    assert outcomes == [("message.create", "ok"), ("message.create", "refused:403")]
    assert all(actor.endswith("(library)") and "clk_" not in actor for _, _, actor in rows)
