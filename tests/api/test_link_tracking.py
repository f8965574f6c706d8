"""Link tracking end to end: a category with ``track_links`` has the links of its e-mails
(text and HTML) and inbox messages go through ``GET /v1/l/{token}``, which records the
delivery's first click (for people who allow profiling) and answers 303 to the original
link; a changed, foreign or expired token is a 4xx naming it, never a redirect."""

from __future__ import annotations

import email
import re
from datetime import datetime, timedelta, timezone
from email import policy as email_policy
from urllib.parse import urlsplit

from clarion import signing
from clarion.planning.links import LinkTracker
from clarion.planning.unsubscribe import Links
from clarion.store import engagement

from ..conftest import wait_until
from ..site import set_category
from .inbox_site import deliveries_of, events, reader, send

LIST = "https://library.example.edu/new?shelf=2&lang=zh"
TRACKED = re.compile(r"http://127\.0\.0\.1:8000(/v1/l/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")
CONTENT = {"default": {"title": "New books", "body": "This week's new books.", "url": LIST},
           "email": {"subject": "New books", "text": f"The list: {LIST}. Questions: reply.",
                     "html": '<p><a href="https://library.example.edu/new?shelf=2&amp;lang=zh">'
                             'the list</a> <a href="mailto:lib@campus.example.edu">write</a></p>'}}


def _eml(folder, delivery_id: str) -> email.message.EmailMessage:  # type: ignore[no-untyped-def]
    path = next(folder.glob(f"{delivery_id}@*.eml"))
    return email.message_from_bytes(path.read_bytes(), policy=email_policy.default)


def _follow(client, path: str, **headers: str):  # type: ignore[no-untyped-def]
    return client.get(path, follow_redirects=False, headers=headers)


def _sent(store, message_id: str) -> bool:  # type: ignore[no-untyped-def]
    return all(d.status == "sent" for d in deliveries_of(store, message_id))


def test_tracked_email_and_inbox_links_redirect_and_record_the_first_click(
        client, campus, make_key, store, api_settings, smtp_capture, workers):
    campus(10)
    set_category(store, "library", track_links=True)
    engagement.set_profiling(store, "S000002", False)
    message_id = send(client, make_key(), ["S000001", "S000002"], "library", ("email", "inbox"),
                      CONTENT)
    workers.start(channels="email,inbox")
    wait_until(lambda: _sent(store, message_id), timeout=60, message="the notice sent")
    ids = {(d.recipient_id, d.channel): d.id for d in deliveries_of(store, message_id)}
    mail = _eml(smtp_capture.folder, ids["S000001", "email"])
    text, markup = (mail.get_body((part,)).get_content() for part in ("plain", "html"))
    assert LIST not in text and "library.example.edu" not in markup
    assert 'href="mailto:lib@campus.example.edu"' in markup  # only http(s) links are tracked
    [in_text] = TRACKED.findall(text)
    [in_html] = TRACKED.findall(markup)
    assert "/v1/unsubscribe/" in text  # the unsubscribe link itself is not wrapped
    for _ in range(2):
        for path in (in_text, in_html):
            r = _follow(client, path)
            assert (r.status_code, r.headers["location"]) == (303, LIST), r.text
    [item] = client.get("/v1/inbox", headers=reader(api_settings, "S000001")).json()["items"]
    assert TRACKED.fullmatch(item["url"])
    assert _follow(client, urlsplit(item["url"]).path).headers["location"] == LIST
    clicks = {(e.delivery_id, e.recipient_id) for e in events(store, "clicked")}
    assert clicks == {(ids["S000001", "email"], "S000001"), (ids["S000001", "inbox"], "S000001")}
    assert len(events(store, "clicked")) == 2  # the first click of each delivery, once
    theirs = _eml(smtp_capture.folder, ids["S000002", "email"]).get_body(("plain",)).get_content()
    assert _follow(client, TRACKED.findall(theirs)[0]).status_code == 303  # not recorded:
    assert len(events(store, "clicked")) == 2  # S000002 does not allow profiling


def test_links_are_tracked_only_where_the_category_says_and_critical_ones_alike(
        client, campus, make_key, store):
    campus(10)
    plain = send(client, make_key(), ["S000001"], "campus", ("inbox", "email"), CONTENT)
    rows = {d.channel: d.content for d in deliveries_of(store, plain)}
    assert rows["inbox"]["url"] == LIST and f"{LIST}." in rows["email"]["text"]
    set_category(store, "safety", track_links=True)
    alert = send(client, make_key(), ["S000001"], "safety", ("inbox",), CONTENT,
                 priority="emergency")
    [row] = deliveries_of(store, alert)
    assert TRACKED.fullmatch(row.content["url"])
    assert _follow(client, urlsplit(row.content["url"]).path).headers["location"] == LIST


def _token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_bad_and_expired_tokens_are_refused_naming_the_token(client, settings, store):
    now = datetime.now(timezone.utc)
    good = _token(LinkTracker(settings, now).url("d_1", LIST))
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    expired = _token(LinkTracker(settings, now - timedelta(days=91)).url("d_1", LIST))
    foreign = _token(Links(settings, now).url("S000001", "campus", "email"))  # unsubscribe
    secret = settings.link_secret.get_secret_value().encode()
    script = signing.sign(secret, "link", ["d_1", "javascript:alert(1)"], int(now.timestamp())
                          + 60)
    for token, status, code in ((tampered, 400, "bad_token"), (foreign, 400, "bad_token"),
                                (script, 400, "bad_token"), (expired, 410, "expired")):
        r = _follow(client, f"/v1/l/{token}")
        assert r.status_code == status and "location" not in r.headers, r.text
        assert r.json()["error"]["code"] == code and r.json()["error"]["field"] == "token"
    page = _follow(client, f"/v1/l/{expired}", accept="text/html,application/xhtml+xml")
    assert page.status_code == 410 and "expired" in page.text
    assert page.headers["content-type"].startswith("text/html")
    assert _follow(client, "/v1/l/short").json()["error"]["field"] == "token"  # 422
    assert _follow(client, f"/v1/l/{good}").headers["location"] == LIST
    assert events(store) == []  # no such delivery: nothing to record


def test_an_address_outside_the_directory_gets_its_links_as_written(client, make_key, store):
    set_category(store, "library", track_links=True)
    body = {"category": "library", "channels": ["email"], "content": CONTENT,
            "to": [{"email": "visitor@example.org"}]}
    r = client.post("/v1/messages", json=body, headers={"Authorization": f"Bearer {make_key()}"})
    assert r.status_code == 202, r.text
    [row] = deliveries_of(store, r.json()["message_id"])
    assert row.recipient_id.startswith("x_") and f"{LIST}." in row.content["text"]
