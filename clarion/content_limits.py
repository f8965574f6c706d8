"""How much each channel kind may carry, and what a link may be.

A rendered field is held to its channel kind's rule before any delivery exists, so that an
output bomb (``{{ 'x' * 1000000 }}`` as an SMS) is a 422 naming the field rather than twenty
1 MB text messages or a row RabbitMQ refuses.  SMS are measured in segments (GSM 03.38
septets, else UCS-2), push payloads in UTF-8 bytes, the rest in characters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

SMS_KINDS = frozenset({"sms", "sms_gateway", "aliyun_sms", "tencent_sms"})
SMS_SEGMENTS = 10  # the most parts of one concatenated SMS
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")  # two septets each
WEB_SCHEMES = ("http", "https")


GSM_ALL = GSM_BASIC | GSM_EXTENSION


def _gsm_septets(text: str) -> int | None:
    """Septets of ``text`` in the GSM 7-bit alphabet, or None if it needs UCS-2."""
    chars = set(text)
    if chars <= GSM_BASIC:
        return len(text)
    if not chars <= GSM_ALL:
        return None
    return len(text) + sum(text.count(c) for c in chars & GSM_EXTENSION)


def sms_segments(text: str) -> int:
    """How many SMS segments ``text`` takes: 160/153 septets, or 70/67 UCS-2 code units."""
    septets = _gsm_septets(text)
    if septets is not None:
        single, part, units = 160, 153, septets
    else:
        single, part, units = 70, 67, len(text.encode("utf-16-le")) // 2
    return 1 if units <= single else -(-units // part)


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def is_web_link(url: str) -> bool:
    """An absolute http(s) URL with a host (never ``javascript:``, ``data:`` …)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in WEB_SCHEMES and bool(parts.netloc)


@dataclass(frozen=True)
class FieldRule:
    """What one rendered field may hold: at most ``most`` ``unit`` (measured by ``measure``)."""

    what: str  # "an SMS", "an email subject"
    most: int
    unit: str = "characters"
    measure: Callable[[str], int] = len
    link: bool = False  # must be empty or an http(s) URL

    @property
    def max_chars(self) -> int:
        """No text of more characters than this can satisfy the rule (rendering stops there)."""
        return self.most * 153 if self.unit == "segments" else self.most

    def capacity(self) -> str:
        return f"{self.what} carries at most {self.most:,} {self.unit}"

    def refusal(self, text: str) -> str | None:
        """Why ``text`` cannot be sent, or None.  Never quotes the text."""
        size = self.measure(text)
        if size > self.most:
            return f"renders to {size:,} {self.unit}; {self.capacity()}"
        if self.link and text and not is_web_link(text):
            return "a link must be an http:// or https:// URL"
        return None


def _rules(kind: str, **limits: int) -> dict[str, FieldRule]:
    return {name: FieldRule(f"{kind} {name}", most, link=name == "url")
            for name, most in limits.items()}


def _bytes(kind: str, **limits: int) -> dict[str, FieldRule]:
    return {name: FieldRule(f"{kind} {name}", most, "bytes", utf8_bytes, link=name == "url")
            for name, most in limits.items()}


EMAIL_RULES = _rules("an email's", subject=998, text=1_000_000, html=1_000_000)
SMS_RULES = {"text": FieldRule("an SMS", SMS_SEGMENTS, "segments", sms_segments)}
INBOX_RULES = _rules("an inbox message's", title=500, body=100_000, url=2000)
PUSH_RULES = _bytes("a push notification's", title=250, body=2000, url=1000)  # 4 KB payloads
MESSAGE_RULES = _rules("a message's", title=1000, body=100_000, url=2000)
RULES_BY_KIND: Mapping[str, Mapping[str, FieldRule]] = {
    "email": EMAIL_RULES, "inbox": INBOX_RULES, "webpush": PUSH_RULES, "fcm": PUSH_RULES}


def rules_for(kind: str) -> Mapping[str, FieldRule]:
    """The rules of a channel kind (an adapter type, or a channel named like one)."""
    return SMS_RULES if kind in SMS_KINDS else RULES_BY_KIND.get(kind, MESSAGE_RULES)
