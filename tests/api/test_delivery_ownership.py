"""A delivery belongs to the key whose campaign or message produced it: keys of the same
system (the same ``--system`` name) are distinct identities, and a foreign delivery answers
exactly as an unknown one does."""

from __future__ import annotations

import asyncio

from clarion import campaigns
from clarion.domain import CampaignRequest, delivery_id_for
from clarion.planning import fanout
from clarion.security import create_key, rotate_key
from clarion.store.models import Delivery

from .conftest import EVERYTHING, auth

NOTE = {"default": {"title": "Note", "body": "Dear {{ recipient.name }}, a book is due."}}


def _key(store, api_settings) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(key id, key) of a new key of the system ``library``."""
    return create_key(store, api_settings, "library", EVERYTHING["categories"],
                      EVERYTHING["channels"], EVERYTHING["audiences"], 1000.0)


def _message_delivery(client, key: str, recipient: str) -> str:  # type: ignore[no-untyped-def]
    r = client.post("/v1/messages", headers=auth(key), json={
        "category": "library", "channels": ["inbox"], "to": [{"id": recipient}],
        "content": NOTE})
    assert r.status_code == 202, r.text
    return delivery_id_for(r.json()["message_id"], recipient, "inbox")


def _campaign_deliveries(store, settings, key_id: str) -> set[str]:  # type: ignore[no-untyped-def]
    """A campaign to the teachers started by ``key_id``, fanned out; its delivery ids."""
    request = CampaignRequest.model_validate({
        "name": "New arrivals", "category": "library", "channels": ["inbox"],
        "audience": {"roles": ["teacher"]}, "content": NOTE, "source": "library",
        "idempotency_key": f"{key_id}:arrivals"})
    prepared = campaigns.prepare(store, settings, request)
    cid, _ = campaigns.register(store, request, prepared.route, None, key_id)
    asyncio.run(fanout.fan_out(store, settings, cid, "inbox"))
    with store.read() as conn:
        return set(conn.execute(Delivery.__table__.select().with_only_columns(
            Delivery.id).where(Delivery.campaign_id == cid)).scalars())


def _not_found(client, key: str, delivery_id: str) -> dict:  # type: ignore[no-untyped-def]
    r = client.get(f"/v1/deliveries/{delivery_id}", headers=auth(key))
    assert r.status_code == 404, r.text
    body = r.json()
    body["error"]["message"] = body["error"]["message"].replace(delivery_id, "ID")
    return body


def test_keys_of_the_same_system_read_only_their_own_deliveries(
        client, campus, store, settings, api_settings):
    campus(40)
    (a_id, a), (b_id, b) = _key(store, api_settings), _key(store, api_settings)
    mine = _message_delivery(client, a, "S000001")
    theirs = _message_delivery(client, b, "S000001")
    assert client.get(f"/v1/deliveries/{mine}", headers=auth(a)).status_code == 200
    assert client.get(f"/v1/deliveries/{theirs}", headers=auth(b)).status_code == 200
    assert _not_found(client, a, theirs) == _not_found(client, a, "d_no_such_delivery")
    assert _not_found(client, b, mine) == _not_found(client, b, "d_no_such_delivery")
    listed = {k: [d["id"] for d in client.get("/v1/recipients/S000001/deliveries",
                                              headers=auth(k)).json()["items"]]
              for k in (a, b)}
    assert listed == {a: [mine], b: [theirs]}


def test_a_campaigns_deliveries_belong_to_the_key_that_started_it(
        client, campus, store, settings, api_settings):
    campus(40)
    (a_id, a), (_b_id, b) = _key(store, api_settings), _key(store, api_settings)
    ids = _campaign_deliveries(store, settings, a_id)
    assert ids
    some = sorted(ids)[0]
    assert client.get(f"/v1/deliveries/{some}", headers=auth(a)).status_code == 200
    assert _not_found(client, b, some) == _not_found(client, b, "d_no_such_delivery")
    recipient = client.get(f"/v1/deliveries/{some}", headers=auth(a)).json()[
        "delivery"]["recipient_id"]
    page = client.get(f"/v1/recipients/{recipient}/deliveries", headers=auth(b)).json()
    assert page["items"] == []
    rotated = rotate_key(store, api_settings, a_id)
    assert rotated is not None
    assert client.get(f"/v1/deliveries/{some}", headers=auth(a)).status_code == 401
    assert client.get(f"/v1/deliveries/{some}", headers=auth(rotated)).status_code == 200
