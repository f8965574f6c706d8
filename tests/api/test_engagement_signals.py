"""Engagement signals recorded where they happen: an inbox message read, a provider's
delivery report or an e-mail's bounce — each in the transaction of its status change, only
for people who allow profiling; and that choice made by the person through the inbox
preferences (audited, checked, and forgetting what was recorded of them)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from pydantic import SecretStr
from sqlalchemy import select, update

from clarion.channels.webhook import sign
from clarion.store import engagement
from clarion.store.api_models import AuditEntry
from clarion.store.models import Delivery

from .conftest import RECEIPT_SECRET, auth
from .inbox_site import deliveries_of, events, into_inbox, reader, send


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _items(client, headers) -> list[dict]:  # type: ignore[no-untyped-def]
    r = client.get("/v1/inbox", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_reading_an_inbox_message_records_one_read_for_people_who_allow_profiling(
        client, campus, make_key, store, api_settings):
    campus(20)
    engagement.set_profiling(store, "S000002", False)
    message_id = send(client, make_key(), ["S000001", "S000002"])
    into_inbox(store, message_id)
    for rid in ("S000001", "S000002"):
        headers = reader(api_settings, rid)
        [item] = _items(client, headers)
        for _ in range(2):  # a second reading adds nothing
            assert client.post(f"/v1/inbox/{item['id']}/read", headers=headers).status_code \
                == 204
    [read] = events(store)
    assert (read.kind, read.recipient_id, read.category, read.channel) == \
        ("read", "S000001", "library", "inbox")
    assert read.sent_at is not None and _utc(read.at) >= _utc(read.sent_at)
    assert read.local_hour == _utc(read.at).astimezone(ZoneInfo("Asia/Shanghai")).hour
    statuses = {d.recipient_id: d.status for d in deliveries_of(store, message_id)}
    assert statuses == {"S000001": "read", "S000002": "read"}


def _report(client, provider: str, *receipts: dict) -> dict:  # type: ignore[no-untyped-def]
    raw = json.dumps({"receipts": list(receipts)}).encode()
    ts = str(int(time.time()))
    r = client.post(f"/v1/receipts/{provider}", content=raw, headers={
        "X-Clarion-Timestamp": ts, "X-Clarion-Signature": sign(RECEIPT_SECRET, ts, raw),
        "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    return r.json()


def test_receipts_record_delivered_and_email_bounces_in_their_transaction(
        client, campus, make_key, store, api_settings):
    campus(20)
    api_settings.receipt_secrets["email"] = SecretStr(RECEIPT_SECRET)
    engagement.set_profiling(store, "S000002", False)
    message_id = send(client, make_key(), ["S000001", "S000002", "S000003"], "campus",
                      ("sms", "email"))
    with store.session() as s:  # as a worker would have recorded them
        s.execute(update(Delivery).where(Delivery.message_id == message_id)
                  .values(status="sent"))
    ids = {(d.recipient_id, d.channel): d.id for d in deliveries_of(store, message_id)}
    assert _report(client, "sms", {"delivery_id": ids["S000001", "sms"], "status": "delivered"},
                   {"delivery_id": ids["S000003", "sms"], "status": "failed", "code": "E1"}
                   )["updated"] == 2
    assert _report(client, "email",
                   {"delivery_id": ids["S000001", "email"], "status": "failed", "code": "5.1.1"},
                   {"delivery_id": ids["S000002", "email"], "status": "failed", "code": "5.1.1"},
                   {"delivery_id": ids["S000003", "email"], "status": "delivered"}
                   )["updated"] == 3
    recorded = {(e.recipient_id, e.channel, e.kind) for e in events(store)}
    assert recorded == {("S000001", "sms", "delivered"), ("S000001", "email", "bounced"),
                        ("S000003", "email", "delivered")}  # not S000002 (no profiling),
    # nor S000003's failed SMS (that says nothing of its reader)
    again = _report(client, "sms", {"delivery_id": ids["S000001", "sms"], "status": "delivered"})
    assert again == {"updated": 0, "unknown": 0, "ignored": 1} and len(events(store)) == 3


def _audit(store) -> list:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return conn.execute(select(AuditEntry.actor, AuditEntry.detail).where(
            AuditEntry.action == "preferences.set").order_by(AuditEntry.id)).all()


def _learned(store, rid: str) -> None:  # type: ignore[no-untyped-def]
    engagement.put_profiles(store, [{"recipient_id": rid, "channel_order": ["inbox"],
                                     "usual_hour": 20, "interests": {"library": 0.5},
                                     "events": 30}])
    with store.connect() as conn:
        engagement.record_in(conn, [{"id": "d_x", "recipient_id": rid, "category": "library",
                                     "channel": "inbox"}], "read",
                             datetime.now(timezone.utc), lambda tz, at: 9)


def test_a_person_opts_out_of_profiling_through_the_inbox_preferences(
        client, campus, store, api_settings):
    campus(10)
    me = reader(api_settings, "S000001")
    _learned(store, "S000001")
    assert client.get("/v1/inbox/preferences", headers=me).json()["profiling"] is True
    r = client.put("/v1/inbox/preferences", headers=me, json={"profiling": False})
    assert r.status_code == 200, r.text
    assert r.json()["profiling"] is False
    assert client.get("/v1/inbox/preferences", headers=me).json()["profiling"] is False
    assert engagement.page_profiles(store, ["S000001"]) == {} and events(store) == []
    assert not engagement.profiling_of(store, "S000001")
    assert _audit(store) == [("recipient:S000001", "profiling=off")]

    both = {"preferences": [{"category": "campus", "channel": "email", "opted_in": False}],
            "profiling": True}
    r = client.put("/v1/inbox/preferences", headers=me, json=both)
    assert r.status_code == 200 and r.json()["profiling"] is True, r.text
    assert next(i for i in r.json()["items"] if i["category"] == "campus")["channels"] == \
        {"email": False}
    assert _audit(store)[-1] == ("recipient:S000001", "campus/email=out; profiling=on")


def test_bad_profiling_changes_are_refused_naming_the_field_and_change_nothing(
        client, campus, store, api_settings):
    campus(10)
    me = reader(api_settings, "S000001")
    for bad, field in (({"profiling": "no"}, "profiling"), ({"profiling": 0}, "profiling"),
                       ({"profiling": None, "preferences": None}, None),
                       ({"profiling": False, "preferences": [
                           {"category": "nonesuch", "opted_in": False}]},
                        "preferences.0.category"),
                       ({"profiling": False, "colour": "blue"}, "colour")):
        r = client.put("/v1/inbox/preferences", headers=me, json=bad)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == field, r.text
    assert engagement.profiling_of(store, "S000001") and _audit(store) == []
    assert client.get("/v1/inbox/preferences", headers=me).json()["profiling"] is True


def test_staff_see_a_persons_profiling_choice_but_cannot_make_it(client, campus, make_key,
                                                                 store):
    campus(10)
    staff = auth(make_key("registrar", abilities=["preferences"]))
    assert client.get("/v1/preferences/S000001", headers=staff).json()["profiling"] is True
    r = client.put("/v1/preferences/S000001", headers=staff, json={
        "preferences": [{"category": "campus", "opted_in": False}], "profiling": False})
    assert r.status_code == 422 and r.json()["error"]["field"] == "profiling", r.text
    assert engagement.profiling_of(store, "S000001")
