"""Extractive summaries that fit one SMS segment (or any limit) and keep facts whole.

Sentences of the body are ranked by TextRank over jieba tokens, weighted up for the dates,
times and numbers they carry and for coming early; the best that fit the limit are kept, in
their original order.  When no sentence fits, the best sentence's clauses are used the same
way; when no sentence or clause fits, the best sentence is cut at the last point before the
limit that is not inside a fact, and marked with "…" ("..." in GSM-7 text).  Nothing is rephrased, so no date, time or number can
change or appear from nowhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from .facts import find_facts, inside_fact
from .sentences import split_clauses, split_sentences, strip_salutation
from .sms import is_gsm7, segment_limit, sms_length
from .textrank import textrank

ELLIPSIS = "…"
# chosen on the training families' references (ROUGE-1 0.517 with none of them, 0.565 with these)
FACT_BONUS, POSITION_BONUS, COMPRESSED_FACTOR = 0.7, 0.6, 1.2


@dataclass(frozen=True)
class Summary:
    text: str
    limit: int
    length: int
    method: str  # "sentences", "clauses", "cut", "title" or "empty"


def summarize(body: str, title: str = "", limit: int | None = None) -> Summary:
    """A summary of at most ``limit`` SMS units (default: one segment for this text)."""
    body = (body or "").strip()
    limit = limit or segment_limit(f"{title}{body}")
    sentences = [strip_salutation(s) for s in split_sentences(body) if not _salutation_only(s)]
    if not sentences:
        return _from_title(title, limit)
    units, scores = candidates(sentences, limit)
    chosen = fit(units, scores, limit)
    if chosen:
        method = "sentences" if all(u in sentences for u in chosen) else "clauses"
        return _summary(join(chosen), limit, method)
    best = sentences[max(range(len(sentences)), key=scores.__getitem__)]
    return _summary(cut(best, limit), limit, "cut")


def candidates(sentences: list[str], limit: int) -> tuple[list[str], list[float]]:
    """The sentences, and for each sentence too long to fit, its best clauses that do (a
    little below the sentence's own score)."""
    scores = rank(sentences)
    units, unit_scores = list(sentences), list(scores)
    for sentence, score in zip(sentences, scores):
        if sms_length(sentence) <= limit:
            continue
        clauses = split_clauses(sentence)
        shorter = join(fit(clauses, rank(clauses), limit)).rstrip(" ，,、：:") if len(clauses) > 1 else ""
        if shorter:
            units.append(shorter)
            unit_scores.append(score * COMPRESSED_FACTOR)
    return units, unit_scores


def rank(units: Sequence[str]) -> list[float]:
    from ..features import jieba_tokens

    tokens = [set(jieba_tokens(u.lower())) for u in units]
    centrality = textrank(tokens)
    top = max(centrality, default=1.0) or 1.0
    scores = []
    for i, (unit, score) in enumerate(zip(units, centrality)):
        facts = min(3, sum(1 for f in find_facts(unit) if f.kind in ("date", "time", "link")))
        scores.append(score / top + FACT_BONUS * facts + POSITION_BONUS / (1 + i))
    return scores


def fit(units: Sequence[str], scores: Sequence[float], limit: int) -> list[str]:
    """The highest-scoring units whose joined text fits ``limit``, in text order."""
    chosen: list[int] = []
    for i in sorted(range(len(units)), key=lambda k: -scores[k]):
        trial = sorted(chosen + [i])
        if sms_length(join([units[k] for k in trial])) <= limit:
            chosen = trial
    return [units[k] for k in chosen]


def join(units: Sequence[str]) -> str:
    text = ""
    for unit in units:
        glue = " " if text and (text[-1].isascii() or unit[0].isascii()) else ""
        text += glue + unit
    return text


def cut(text: str, limit: int) -> str:
    """``text`` cut before ``limit`` at a point outside every fact (and, in Latin text, at a
    space), with an ellipsis."""
    facts = find_facts(text)
    end = min(len(text), limit - 1)
    while end > 0 and (sms_length(_with_ellipsis(text[:end])) > limit
                       or inside_fact(facts, end) or _mid_word(text, end)):
        end -= 1
    return _with_ellipsis(text[:end]) if end else ""


def _with_ellipsis(text: str) -> str:
    """"…" (or "..." in GSM-7 text, which "…" would turn into UCS-2), after a space where
    Latin text (a link, say) would run into it."""
    text = text.rstrip(" ，,、：:")
    mark = "..." if is_gsm7(text) else ELLIPSIS
    return text + (" " + mark if text[-1:].isascii() and text[-1:].isalnum() else mark)


def _salutation_only(sentence: str) -> bool:
    return len(sentence) <= 20 and sentence.rstrip().endswith(("：", ":")) and not find_facts(sentence)


def _mid_word(text: str, end: int) -> bool:
    return end < len(text) and bool(re.match(r"[A-Za-z0-9]{2}", text[end - 1:end + 1]))


def _from_title(title: str, limit: int) -> Summary:
    title = (title or "").strip()
    if not title:
        return _summary("", limit, "empty")
    text = title if sms_length(title) <= limit else cut(title, limit)
    return _summary(text, limit, "title")


def _summary(text: str, limit: int, method: str) -> Summary:
    return Summary(text, limit, sms_length(text), method)
