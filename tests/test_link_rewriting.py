"""Which links a tracked delivery's fields carry through the redirect, and how they are
found in text and HTML: sentence punctuation and brackets around a link stay outside it,
only http(s) links are wrapped, and a field keeps its links when wrapping would not fit."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from clarion import signing
from clarion.planning import links
from clarion.planning.links import LinkTracker
from clarion.settings import Settings

SETTINGS = Settings(public_url="https://notify.campus.example.edu/")
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _targets(tracker: LinkTracker, text: str) -> list[str]:
    tokens = re.findall(r"/v1/l/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)", text)
    return [links.read(SETTINGS, t, NOW.timestamp()).url for t in tokens]


def test_links_in_text_end_where_the_sentence_or_bracket_does():
    tracker = LinkTracker(SETTINGS, NOW)
    text = ("Read https://a.example.edu/x?y=1. Or (see https://en.example.org/wiki/A_(b)), "
            "[https://b.example.edu/]! ftp://c.example.edu/ stays; so does https:// alone")
    out = tracker.wrap("email", {"subject": "s", "text": text}, "d_1")["text"]
    assert _targets(tracker, out) == ["https://a.example.edu/x?y=1",
                                      "https://en.example.org/wiki/A_(b)",
                                      "https://b.example.edu/"]
    assert out.startswith("Read https://notify.campus.example.edu/v1/l/")
    assert "). Or (see" not in out and "), [" in out and "]! ftp://c.example.edu/ stays" in out
    assert out.endswith("so does https:// alone")


def test_html_hrefs_are_unescaped_signed_and_escaped_again():
    tracker = LinkTracker(SETTINGS, NOW)
    markup = ("<a href='https://a.example.edu/?p=1&amp;q=2'>x</a> <a HREF=\"javascript:x()\">"
              "y</a> https://not.a.link.example.edu/")
    out = tracker.wrap("email", {"html": markup}, "d_1")["html"]
    assert _targets(tracker, out) == ["https://a.example.edu/?p=1&q=2"]
    assert 'HREF="javascript:x()"' in out and out.endswith(" https://not.a.link.example.edu/")


def test_url_fields_of_cards_are_wrapped_sms_and_webhooks_never():
    tracker = LinkTracker(SETTINGS, NOW)
    for kind in ("inbox", "wecom_app", "dingtalk", "feishu", "webpush"):
        out = tracker.wrap(kind, {"title": "t", "body": "https://x.example.edu/ in a body",
                                  "url": "https://x.example.edu/"}, "d_1")
        assert _targets(tracker, out["url"]) == ["https://x.example.edu/"], kind
        assert out["body"] == "https://x.example.edu/ in a body"  # only the link field
    for kind in ("sms_gateway", "aliyun_sms", "webhook"):
        fields = {"text": "https://x.example.edu/", "url": "https://x.example.edu/"}
        assert tracker.wrap(kind, dict(fields), "d_1") == fields
    assert tracker.wrap("inbox", {"url": "javascript:x()"}, "d_1") == {"url": "javascript:x()"}


def test_a_link_whose_wrapped_form_would_not_fit_stays_as_it_was():
    tracker = LinkTracker(SETTINGS, NOW)
    long_url = "https://x.example.edu/" + "a" * 1400  # fits an inbox url (2,000); wrapped not
    assert tracker.wrap("inbox", {"url": long_url}, "d_1") == {"url": long_url}
    many = " ".join(f"https://x.example.edu/{i}" for i in range(links.MAX_LINKS_PER_FIELD + 5))
    out = tracker.wrap("email", {"text": many}, "d_1")["text"]
    assert len(_targets(tracker, out)) == links.MAX_LINKS_PER_FIELD
    assert out.endswith(f"https://x.example.edu/{links.MAX_LINKS_PER_FIELD + 4}")


def test_the_redirect_goes_only_where_a_token_of_ours_says():
    tracker = LinkTracker(SETTINGS, NOW)
    token = tracker.url("d_1", "https://x.example.edu/").rsplit("/", 1)[1]
    assert links.read(SETTINGS, token, NOW.timestamp()) == links.Click("d_1",
                                                                      "https://x.example.edu/")
    for bad in (token + "x", token.replace(".", ".x", 1)):
        with pytest.raises(signing.BadToken, match="not valid"):
            links.read(SETTINGS, bad, NOW.timestamp())
    with pytest.raises(signing.BadToken, match="not valid"):
        links.read(Settings(link_secret="another-secret"), token, NOW.timestamp())
    later = NOW.timestamp() + SETTINGS.link_tracking_ttl_days * 86400 + 1
    with pytest.raises(signing.BadToken, match="expired"):
        links.read(SETTINGS, token, later)
