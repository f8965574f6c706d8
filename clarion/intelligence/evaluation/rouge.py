"""ROUGE-1, ROUGE-2 and ROUGE-L (F1) on mixed Chinese/English text.

Tokens: each CJK character is a token; a run of Latin letters or of digits is a token
(lower-cased); punctuation and spaces are not tokens.  So Chinese is scored on characters and
English on words, and a mixed notice on both.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[A-Za-z]+|\d+")


@dataclass(frozen=True)
class Rouge:
    rouge1: float
    rouge2: float
    rougeL: float


def rouge_tokens(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text)]


def rouge(candidate: str, reference: str) -> Rouge:
    c, r = rouge_tokens(candidate), rouge_tokens(reference)
    return Rouge(_ngram_f1(c, r, 1), _ngram_f1(c, r, 2), _f1(_lcs(c, r), len(c), len(r)))


def _ngram_f1(c: list[str], r: list[str], n: int) -> float:
    grams_c = Counter(tuple(c[i:i + n]) for i in range(len(c) - n + 1))
    grams_r = Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
    overlap = sum((grams_c & grams_r).values())
    return _f1(overlap, sum(grams_c.values()), sum(grams_r.values()))


def _f1(overlap: int, candidate: int, reference: int) -> float:
    if not overlap:
        return 0.0
    precision, recall = overlap / candidate, overlap / reference
    return 2 * precision * recall / (precision + recall)


def _lcs(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]
