"""The site's policy through the API: categories and routing rules (keys with the ``policy``
ability), people's preferences (theirs through the inbox token; anyone's for keys with the
``preferences`` ability), and the same policy applied to ``POST /v1/messages``.  Bad input
is refused naming its field, and nothing already stored changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from clarion.domain import delivery_id_for
from clarion.security import issue_inbox_token
from clarion.store import deliveries
from clarion.store.api_models import AuditEntry

from .conftest import auth

NOTE = {"default": {"title": "Note", "body": "Dear {{ recipient.name }}, the fair is on."}}


@pytest.fixture
def admin(make_key):  # type: ignore[no-untyped-def]
    return auth(make_key("registrar", abilities=["policy", "preferences"]))


@pytest.fixture
def sender(make_key):  # type: ignore[no-untyped-def]
    return auth(make_key("campus-office"))


def _audit(store, action: str) -> list:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return conn.execute(select(AuditEntry).where(AuditEntry.action == action)).all()


def _field(r, status: int) -> str:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    return r.json()["error"]["field"]


def test_rules_are_set_listed_shown_and_deleted_with_an_audit_entry(client, store, admin,
                                                                     sender):
    rule = {"channels": ["email", "sms"], "mode": "fallback"}
    assert _field(client.put("/v1/rules/campus", json=rule, headers=sender), 403) \
        == "authorization"
    r = client.put("/v1/rules/campus", json=rule, headers=admin)
    assert r.status_code == 200 and r.json()["mode"] == "fallback", r.text
    assert client.get("/v1/rules", headers=sender).json()["items"][0]["channels"] == \
        ["email", "sms"]
    assert client.get("/v1/rules/campus", headers=sender).json()["category"] == "campus"
    [entry] = _audit(store, "rule.set")
    assert entry.target == "campus/*" and entry.detail == "fallback: email → sms"
    assert entry.actor.startswith("key:")
    assert client.delete("/v1/rules/campus", headers=admin).status_code == 204
    assert client.get("/v1/rules/campus", headers=admin).status_code == 404
    assert len(_audit(store, "rule.delete")) == 1


def test_bad_rules_and_categories_are_refused_naming_the_field(client, store, admin):
    client.put("/v1/rules/campus", json={"channels": ["sms"], "mode": "first"}, headers=admin)
    before = client.get("/v1/rules", headers=admin).json()
    assert _field(client.put("/v1/rules/campus", json={"channels": ["sms", "pigeon"]},
                             headers=admin), 422) == "channels"
    assert _field(client.put("/v1/rules/nonesuch", json={"channels": ["sms"]},
                             headers=admin), 422) == "category"
    assert _field(client.put("/v1/rules/campus", json={"channels": ["sms"], "mode": "some"},
                             headers=admin), 422) == "mode"
    assert client.get("/v1/rules", headers=admin).json() == before
    cats = client.get("/v1/categories", headers=admin).json()
    for bad, field in (({"quiet_hours": "22:00-25:00"}, "quiet_hours"),
                       ({"quiet_hours": "soon"}, "quiet_hours"),
                       ({"cap_per_day": 0}, "cap_per_day"),
                       ({"digest": {"every": "week"}}, "digest"),
                       ({"critical": True, "opt_in": True}, None)):
        r = client.put("/v1/categories/campus", json=bad, headers=admin)
        assert r.status_code == 422, r.text
        assert (r.json()["error"]["field"] or "").startswith(field or ""), r.text
    assert client.get("/v1/categories", headers=admin).json() == cats
    r = client.put("/v1/categories/exams", json={"critical": True, "quiet_hours": None,
                                                 "description": "Exams"}, headers=admin)
    assert r.status_code == 200 and r.json()["critical"] is True
    assert len(_audit(store, "category.set")) == 1


def test_people_change_their_own_preferences_but_not_critical_ones(client, campus,
                                                                   api_settings, store):
    campus(10)
    token = auth(issue_inbox_token(api_settings, "S000001"))
    view = client.get("/v1/inbox/preferences", headers=token).json()
    emergency = next(i for i in view["items"] if i["category"] == "emergency")
    assert emergency["critical"] is True
    r = client.put("/v1/inbox/preferences", headers=token,
                   json={"preferences": [{"category": "campus", "channel": "email",
                                          "opted_in": False}]})
    assert r.status_code == 200, r.text
    campus_item = next(i for i in r.json()["items"] if i["category"] == "campus")
    assert campus_item["channels"] == {"email": False}
    for bad, field in (({"category": "emergency", "opted_in": False},
                        "preferences.0.opted_in"),
                       ({"category": "nonesuch", "opted_in": False}, "preferences.0.category"),
                       ({"category": "campus", "channel": "pigeon", "opted_in": False},
                        "preferences.0.channel")):
        r = client.put("/v1/inbox/preferences", headers=token, json={"preferences": [bad]})
        assert _field(r, 422) == field
    after = client.get("/v1/inbox/preferences", headers=token).json()
    assert next(i for i in after["items"] if i["category"] == "campus")["channels"] == \
        {"email": False}  # nothing of the refused changes was stored
    assert [e.actor for e in _audit(store, "preferences.set")] == ["recipient:S000001"]


def test_staff_change_preferences_of_people_within_their_audiences(client, campus, make_key):
    campus(60)
    library = auth(make_key("library", audiences=["role:teacher"], abilities=["preferences"]))
    plain = auth(make_key("library2", audiences=["role:teacher"]))
    change = {"preferences": [{"category": "library", "opted_in": False}]}
    assert client.put("/v1/preferences/T000001", json=change, headers=library).status_code \
        == 200
    assert _field(client.put("/v1/preferences/T000001", json=change, headers=plain), 403) \
        == "authorization"
    # outside the key's audiences and unknown: the same answer
    outside = client.put("/v1/preferences/S000001", json=change, headers=library)
    unknown = client.put("/v1/preferences/S999999", json=change, headers=library)
    assert outside.status_code == unknown.status_code == 404
    assert outside.json()["error"]["message"].replace("S000001", "X") == \
        unknown.json()["error"]["message"].replace("S999999", "X")
    assert outside.json()["error"]["field"] == "recipient_id"


def test_a_message_to_someone_who_opted_out_is_skipped_with_the_reason(
        client, campus, store, make_key, api_settings):
    campus(10)
    key = auth(make_key("campus-office"))
    client.put("/v1/inbox/preferences", headers=auth(issue_inbox_token(api_settings, "S000002")),
               json={"preferences": [{"category": "campus", "channel": "inbox",
                                      "opted_in": False}]})
    body = {"category": "campus", "channels": ["inbox"], "content": NOTE,
            "to": [{"id": "S000001"}, {"id": "S000002"}]}
    r = client.post("/v1/messages", json=body, headers=key)
    assert r.status_code == 202, r.text
    mid = r.json()["message_id"]
    row, steps = deliveries.trace(store, delivery_id_for(mid, "S000002", "inbox"))
    assert (row["status"], row["code"]) == ("skipped", "opted_out")
    assert steps[0]["reason"] == "opted out of campus on inbox"
    assert deliveries.trace(store, delivery_id_for(mid, "S000001", "inbox"))[0]["status"] \
        == "queued"
    info = client.get(f"/v1/messages/{mid}", headers=key).json()
    assert info["decisions"] == {"inbox": {"skipped": {"opted_out": 1}}}
    critical = {**body, "category": "safety"}  # a critical category reaches everyone
    r = client.post("/v1/messages", json=critical, headers=key)
    mid = r.json()["message_id"]
    assert deliveries.trace(store, delivery_id_for(mid, "S000002", "inbox"))[0]["status"] \
        == "queued"


def test_messages_follow_their_categorys_rule_when_channels_are_auto(client, campus, store,
                                                                    admin):
    campus(10)
    body = {"category": "library", "channels": "auto", "content": NOTE,
            "to": [{"id": "S000001"}]}
    assert _field(client.post("/v1/messages", json=body, headers=admin), 422) == "channels"
    client.put("/v1/rules/library", json={"channels": ["email", "inbox"], "mode": "first"},
               headers=admin)
    r = client.post("/v1/messages", json=body, headers=admin)
    assert r.status_code == 202 and r.json()["deliveries"] == 1, r.text
    mid = r.json()["message_id"]
    assert deliveries.trace(store, delivery_id_for(mid, "S000001", "email"))[0] is not None
    assert _field(client.post("/v1/messages", json={**body, "category": "nonesuch"},
                              headers=admin), 422) == "category"
