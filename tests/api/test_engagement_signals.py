"""Engagement signals recorded where they happen: an inbox message read — in the
transaction of its status change, only for people who allow profiling."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from clarion.store import engagement

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
