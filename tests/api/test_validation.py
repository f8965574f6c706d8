"""Bad input: 4xx naming the field, never 500, nothing created."""

from __future__ import annotations

from sqlalchemy import func, select

from clarion.content import save_template
from clarion.store.models import Delivery

from .conftest import auth

OK = {"category": "library", "channels": ["inbox"], "to": [{"id": "S000001"}],
      "content": {"default": {"title": "t", "body": "b"}}}


def error(r, status, field):  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field, r.text
    return r.json()["error"]["message"]


def test_bad_requests_name_the_field(client, campus, make_key, store):
    campus(20)
    h = auth(make_key())
    post = lambda body: client.post("/v1/messages", json=body, headers=h)  # noqa: E731
    assert "pager" in error(post({**OK, "channels": ["pager"]}), 422, "channels")
    assert "nosuch" in error(post({**OK, "content": None, "template": "nosuch"}), 422, "template")
    error(post({**OK, "to": [{"id": "NOBODY"}]}), 422, "to.0.id")
    error(post({**OK, "to": []}), 422, "to")
    error(post({**OK, "to": [{"id": f"S{i:06d}"} for i in range(1001)]}), 422, "to")
    error(post({**OK, "to": [{"sms": "not a phone"}]}), 422, "to.0.sms")
    error(post({**OK, "content": {"default": {"title": "t", "body": "{{ room }}"}}}), 422,
          "variables.room")
    escape = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    error(post({**OK, "content": {"default": {"title": "t", "body": escape}}}), 422,
          "content.default.body")
    sneaky = "{{ cycler.next.__globals__ }}"
    error(post({**OK, "content": {"default": {"title": "t", "body": sneaky}}}), 422,
          "content.default.body")
    r = client.post("/v1/messages", content=b"{not json", headers={**h, "Content-Type":
                                                                     "application/json"})
    assert r.status_code == 422
    huge = client.post("/v1/messages", content=b"x" * 1_100_000, headers=h)
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "too_large"
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Delivery)) == 0


def test_a_stored_template_by_name(client, campus, make_key):
    campus(20)
    from clarion.store.db import store_for
    from clarion.settings import get_settings
    save_template(store_for(get_settings().db_url), "overdue",
                  {"default": {"title": "Overdue", "body": "{{ recipient.name }}, return {{ book }}"}})
    h = auth(make_key())
    body = {**OK, "content": None, "template": "overdue", "variables": {"book": "SICP"}}
    assert client.post("/v1/messages", json=body, headers=h).status_code == 202
    error(client.post("/v1/messages", json={**body, "variables": {}}, headers=h), 422,
          "variables.book")


def test_health_and_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    client.get("/v1/messages/m_nothing")
    text = client.get("/metrics").text
    assert 'clarion_api_requests_total{method="GET",route="/v1/messages/{message_id}",status="401"}' in text


def test_an_oversized_chunked_body_is_413(live_api, make_key):
    import httpx

    def chunks():  # no Content-Length: Transfer-Encoding: chunked
        for _ in range(30):
            yield b"x" * 50_000

    for path in ("/v1/messages", "/v1/campaigns"):
        r = httpx.post(f"{live_api.url}{path}", content=chunks(), timeout=30,
                       headers={**auth(make_key()), "Content-Type": "application/json"})
        assert r.status_code == 413, r.text
        assert r.json()["error"] == {"code": "too_large", "field": "body",
                                     "message": "the body exceeds 1000000 bytes"}
