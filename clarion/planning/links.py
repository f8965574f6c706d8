"""Link tracking: in a category with ``track_links`` on, the links a delivery carries (an
e-mail's text and HTML, the ``url`` of an inbox, WeCom or other card message) go through a
signed redirect, ``GET /v1/l/{token}`` on ``CLARION_PUBLIC_URL``, that records the first
click of each delivery as an engagement signal (only for people who allow profiling) and
answers 303 to the original link.

The target travels inside the token, signed with ``CLARION_LINK_SECRET`` and expiring after
``CLARION_LINK_TRACKING_TTL_DAYS``: the redirect never goes anywhere a token did not name
(no open redirect), and only to http(s).  Tracking is not policy: critical categories and
every priority are tracked alike.  A link whose wrapped form would not fit its field, and
links past the first ``MAX_LINKS_PER_FIELD`` of a field, stay as they were.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from .. import signing
from ..content_limits import SMS_KINDS, is_web_link, rules_for
from ..settings import Settings
from ..store import engagement as sql
from ..store.db import Store
from . import engagement

log = logging.getLogger("clarion.planning.links")
PURPOSE = "link"
PATH = "/v1/l/"
MAX_LINKS_PER_FIELD = 100
UNTRACKED_KINDS = SMS_KINDS | {"webhook"}  # no room in an SMS; a webhook is read by a system
TEXT_LINK = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
HREF = re.compile(r"""(\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
TRAILING = ".,;:!?"  # sentence punctuation after a link in text is not part of it
CLOSING = {")": "(", "]": "["}  # nor a closing bracket the link did not open


@dataclass(frozen=True)
class Click:
    delivery_id: str
    url: str


class LinkTracker:
    """Wraps the links of one notice's deliveries (the expiry is the same for all)."""

    def __init__(self, settings: Settings, now: datetime):
        self.links = signing.PublicLinks(settings, PURPOSE, PATH,
                                         settings.link_tracking_ttl_days, now)

    def url(self, delivery_id: str, target: str) -> str:
        return self.links.url([delivery_id, target])

    def wrap(self, kind: str, fields: dict[str, str], delivery_id: str) -> dict[str, str]:
        """``fields`` (rendered for a channel of adapter type ``kind``) with their links
        going through the redirect of ``delivery_id``."""
        if kind in UNTRACKED_KINDS:
            return fields
        names = ("text", "html") if kind == "email" else ("url",)
        rules = rules_for(kind)
        for name in names:
            if fields.get(name):
                wrapped = self._wrapped(name, fields[name], delivery_id)
                rule = rules.get(name)
                if rule is None or rule.measure(wrapped) <= rule.most:
                    fields[name] = wrapped
        return fields

    def _wrapped(self, name: str, value: str, delivery_id: str) -> str:
        if name == "url":
            return self.url(delivery_id, value) if is_web_link(value) else value
        if name == "html":
            return _rewrite_hrefs(value, lambda link: self.url(delivery_id, link))
        return _rewrite_text(value, lambda link: self.url(delivery_id, link))


def _rewrite_text(text: str, wrap: Any) -> str:
    count = 0

    def one(match: re.Match[str]) -> str:
        nonlocal count
        link = _link_in(match.group(0))
        count += 1
        if count > MAX_LINKS_PER_FIELD or not is_web_link(link):
            return match.group(0)
        return wrap(link) + match.group(0)[len(link):]
    return TEXT_LINK.sub(one, text)


def _link_in(candidate: str) -> str:
    """The link at the start of ``candidate``: without the punctuation that ends a sentence
    or closes a bracket around it (``(see https://x.cn/a_(b))``)."""
    link = candidate.rstrip(TRAILING)
    while link[-1:] in CLOSING and link.count(link[-1]) > link.count(CLOSING[link[-1]]):
        link = link[:-1].rstrip(TRAILING)
    return link


def _rewrite_hrefs(markup: str, wrap: Any) -> str:
    count = 0

    def one(match: re.Match[str]) -> str:
        nonlocal count
        link = html.unescape(match.group(3)).strip()
        count += 1
        if count > MAX_LINKS_PER_FIELD or not is_web_link(link):
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{html.escape(wrap(link), quote=True)}" \
               f"{match.group(2)}"
    return HREF.sub(one, markup)


def read(settings: Settings, token: str, now: float | None = None) -> Click:
    """What a tracked link points to; signing.BadToken when it was changed, is not ours or
    has expired."""
    fields = signing.read_link(settings, PURPOSE, token, 2, now)
    if not is_web_link(fields[1]):
        raise signing.BadToken("token", "this link is not valid")
    return Click(*fields)


def record_click(store: Store, settings: Settings, click: Click, at: datetime) -> bool:
    """Record the first click of the link's delivery (later ones add nothing); True if it
    was recorded.  A database that cannot take it does not stop the reader: it is logged
    and they go on to the link."""
    try:
        with store.connect() as conn:
            first = sql.not_recorded_in(conn, [click.delivery_id], "clicked")
            return bool(first) and engagement.record_in(conn, settings, first, "clicked",
                                                        at) > 0
    except SQLAlchemyError as exc:
        log.warning("a link click was not recorded: database error %s", type(exc).__name__)
        return False
