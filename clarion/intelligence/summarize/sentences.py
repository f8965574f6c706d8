"""Split a notice into sentences and a sentence into clauses, never inside a fact."""

from __future__ import annotations

import re

from .facts import find_facts, inside_fact

_SENTENCE_END = re.compile(r"[。！？!?；;]+[”」』）)]*|\n+|"
                            r"(?<!Dr)(?<!Mr)(?<!Ms)(?<!Mrs)(?<!Prof)(?<!No)(?<!St)(?<!vs)"
                            r"(?<=[a-z0-9)\"'])\.(?=\s+[A-Z0-9\"'(])")
_CLAUSE_END = re.compile(r"[，、：:]|,(?=\s)|\s[–—-]\s")
_SALUTATION = re.compile(r"^(?:各位|亲爱的|尊敬的|全校|各有关|老师们|同学们|Dear\b)[^：:,，\n]{0,14}[：:,，]\s*", re.I)


def split_sentences(text: str) -> list[str]:
    return _split(text, _SENTENCE_END)


def split_clauses(sentence: str) -> list[str]:
    return _split(sentence, _CLAUSE_END)


def strip_salutation(sentence: str) -> str:
    """"各位同学：因…" → "因…"; "Dear students, the …" → "the …"."""
    stripped = _SALUTATION.sub("", sentence, count=1)
    return stripped if len(stripped) >= 4 else sentence


def _split(text: str, boundary: re.Pattern[str]) -> list[str]:
    facts = find_facts(text)
    pieces, start = [], 0
    for match in boundary.finditer(text):
        if inside_fact(facts, match.start()) or inside_fact(facts, match.end()):
            continue
        pieces.append(text[start:match.end()])
        start = match.end()
    pieces.append(text[start:])
    return [p.strip() for p in pieces if p.strip() and re.search(r"\w", p)]
