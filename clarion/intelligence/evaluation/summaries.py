"""Summaries scored against the hand-written references of the held-out families.

Two checks besides ROUGE: every summary fits its limit, and no summary names a date, time,
number or link that its notice does not contain.  A lead baseline (the body's beginning, cut
at the limit outside any fact) shows what ranking adds.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import mean
from typing import Callable, Sequence

from ..corpus import Notice, load_corpus, split_by_family
from ..summarize.facts import numbers_absent_from
from ..summarize.sms import segment_limit, sms_length
from ..summarize.summarizer import cut, summarize
from .rouge import Rouge, rouge


@dataclass(frozen=True)
class SummaryScores:
    method: str
    notices: int
    rouge: Rouge
    over_limit: int
    invented_facts: int


def textrank_summary(notice: Notice) -> str:
    return summarize(notice.body, notice.title).text


def lead_summary(notice: Notice) -> str:
    limit = segment_limit(notice.title + notice.body)
    body = notice.body.strip()
    return body if sms_length(body) <= limit else cut(body, limit)


METHODS: dict[str, Callable[[Notice], str]] = {"textrank": textrank_summary, "lead": lead_summary}


def held_out_with_references() -> list[Notice]:
    _train, test = split_by_family(load_corpus())
    return [n for n in test if n.summary]


def fits_one_segment(summary: str, notice: Notice) -> bool:
    """Within the source's segment size and within the summary's own encoding's."""
    limit = min(segment_limit(notice.title + notice.body), segment_limit(summary))
    return sms_length(summary) <= limit


def score_method(name: str, notices: Sequence[Notice]) -> SummaryScores:
    summaries = [METHODS[name](n) for n in notices]
    scores = [rouge(s, n.summary or "") for s, n in zip(summaries, notices)]
    over = sum(1 for s, n in zip(summaries, notices) if not fits_one_segment(s, n))
    invented = sum(1 for s, n in zip(summaries, notices) if numbers_absent_from(s, n.title + n.body))
    return SummaryScores(name, len(notices), Rouge(mean(r.rouge1 for r in scores),
                                                   mean(r.rouge2 for r in scores),
                                                   mean(r.rougeL for r in scores)), over, invented)


def evaluate_summaries() -> list[SummaryScores]:
    notices = held_out_with_references()
    return [score_method(name, notices) for name in METHODS]


def format_summaries(results: list[SummaryScores]) -> str:
    lines = [f"held-out notices with a reference summary: {results[0].notices} "
             f"(limit: one SMS segment, 70 UCS-2 / 160 GSM-7)",
             f"{'method':<10} {'ROUGE-1':>8} {'ROUGE-2':>8} {'ROUGE-L':>8} {'over limit':>11} "
             f"{'invented facts':>15}"]
    for r in results:
        lines.append(f"{r.method:<10} {r.rouge.rouge1:>8.3f} {r.rouge.rouge2:>8.3f} "
                     f"{r.rouge.rougeL:>8.3f} {r.over_limit:>11} {r.invented_facts:>15}")
    return "\n".join(lines)
