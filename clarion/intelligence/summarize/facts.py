"""Facts a summary must carry intact: dates, times, numbers, links, e-mail addresses and
room or building codes (Chinese and English forms).

The summariser never cuts inside a fact's span, and its tests check that a summary names no
date, time or number that the source does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTH = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|" \
         r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
_WEEKDAY = r"(?:Mon|Tues?|Wed(?:nes)?|Thu(?:rs)?|Fri|Sat(?:ur)?|Sun)(?:day)?"
_ZH_TIME = r"(?:上午|下午|晚上|中午|早上|凌晨|今晚)?\d{1,2}(?:[:：]\d{2}|点半?)"
PATTERNS: tuple[tuple[str, str], ...] = (
    ("link", r"https?://[^\s，。；！？、）)\]】\"'<>…]+[^\s，。；！？、）)\]】\"'<>….,;:!?]"),
    ("email", r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    ("date", r"(?:\d{4}年)?\d{1,2}月\d{1,2}[日号](?:（(?:周|星期)[一二三四五六日天]）)?"),
    ("date", r"\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2}"),
    ("date", rf"(?:{_WEEKDAY},? )?\d{{1,2}} {_MONTH}\b|(?:{_WEEKDAY},? )?{_MONTH} \d{{1,2}}\b"),
    ("date", rf"\b{_WEEKDAY}\b|(?:周|星期)[一二三四五六日天]|今天|明天|今晚|明日|今日|\b(?:today|tomorrow|tonight)\b"),
    ("time", rf"{_ZH_TIME}(?:\s*[至到—–-]\s*{_ZH_TIME})?"),
    ("time", r"\b\d{1,2}(?:[:.]\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.)(?![a-z])"),
    ("number", r"[A-Za-z]*\d+(?:[.,:]\d+)*[A-Za-z]*%?(?:-\d+)*"),
)
_COMPILED = [(kind, re.compile(pattern, re.I)) for kind, pattern in PATTERNS]
CHECKED_KINDS = frozenset({"date", "time", "number", "link", "email"})


@dataclass(frozen=True)
class Fact:
    kind: str
    start: int
    end: int
    text: str


def find_facts(text: str) -> list[Fact]:
    """Non-overlapping facts in text order; where two overlap, the longer (earlier) wins."""
    found = [Fact(kind, m.start(), m.end(), m.group())
             for kind, pattern in _COMPILED for m in pattern.finditer(text)]
    found.sort(key=lambda f: (f.start, -(f.end - f.start)))
    facts: list[Fact] = []
    for fact in found:
        if not facts or fact.start >= facts[-1].end:
            facts.append(fact)
        elif fact.end > facts[-1].end and fact.start == facts[-1].start:
            facts[-1] = fact
    return facts


def numbers_absent_from(summary: str, source: str) -> list[str]:
    """The dates, times, numbers and links of ``summary`` that ``source`` does not contain
    (each must appear there whole: a fact that starts or ends with a digit may not continue
    a longer digit run of the source, so "3" is not found in "13")."""
    return [f.text for f in find_facts(summary)
            if f.kind in CHECKED_KINDS and not _contains(source, f.text)]


def _contains(source: str, fact: str) -> bool:
    before = "(?<![0-9])" if fact[:1].isdigit() else ""
    after = "(?![0-9])" if fact[-1:].isdigit() else ""
    pattern = rf"{before}{re.escape(fact)}{after}"
    return re.search(pattern, source, re.I) is not None


def inside_fact(facts: list[Fact], position: int) -> bool:
    """True when a cut at ``position`` would split a fact."""
    return any(f.start < position < f.end for f in facts)
