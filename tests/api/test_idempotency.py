"""Idempotency-Key: a repeat returns the first answer; 20 at once create one message."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from clarion.store.api_models import Message
from clarion.store.models import Delivery

from .conftest import auth

BODY = {"category": "library", "channels": ["inbox", "sms"],
        "to": [{"id": f"S{n:06d}"} for n in range(1, 11)],
        "content": {"default": {"title": "Due", "body": "{{ recipient.name }}: due today"}}}


def counts(store):  # type: ignore[no-untyped-def]
    with store.session() as s:
        return (s.scalar(select(func.count()).select_from(Message)),
                s.scalar(select(func.count()).select_from(Delivery)))


def test_twenty_concurrent_repeats_create_one_message(live_api, campus, make_key, store):
    campus(40)
    headers = {**auth(make_key()), "Idempotency-Key": "overdue-2026-11-26"}

    def post(_i: int) -> httpx.Response:
        return httpx.post(f"{live_api.url}/v1/messages", json=BODY, headers=headers, timeout=30)
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(post, range(20)))
    assert {r.status_code for r in answers} == {202}, [r.text for r in answers]
    assert len({r.json()["message_id"] for r in answers}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in answers) == 19
    assert counts(store) == (1, 20)


def test_same_key_other_body_is_refused_and_keys_are_per_api_key(client, campus, make_key,
                                                                  store):
    campus(20)
    first = {**auth(make_key()), "Idempotency-Key": "k1"}
    r1 = client.post("/v1/messages", json=BODY, headers=first)
    r2 = client.post("/v1/messages", json=BODY, headers=first)
    assert r1.json() == r2.json() and r2.headers["Idempotent-Replayed"] == "true"
    other_body = {**BODY, "to": [{"id": "S000001"}]}
    r3 = client.post("/v1/messages", json=other_body, headers=first)
    assert r3.status_code == 422 and r3.json()["error"]["field"] == "Idempotency-Key"
    second = {**auth(make_key("other")), "Idempotency-Key": "k1"}
    r4 = client.post("/v1/messages", json=BODY, headers=second)
    assert r4.status_code == 202 and r4.json()["message_id"] != r1.json()["message_id"]
    assert counts(store) == (2, 40)


def test_a_refused_request_releases_its_key(client, campus, make_key):
    campus(20)
    headers = {**auth(make_key()), "Idempotency-Key": "fix-and-retry"}
    bad = {**BODY, "content": {"default": {"title": "x", "body": "{{ missing }}"}}}
    assert client.post("/v1/messages", json=bad, headers=headers).status_code == 422
    # the same key with a corrected request is a new request, not a replay of the refusal
    r = client.post("/v1/messages", json=BODY, headers=headers)
    assert r.status_code == 202 and "Idempotent-Replayed" not in r.headers
