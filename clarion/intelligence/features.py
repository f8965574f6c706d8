"""Features of a notice: jieba word tokens (Chinese and English alike), a token per category
word of the shipped lexicon (``data/lexicon.txt``) and character n-grams.

Digits are folded to ``0`` so that dates and room numbers do not become features of their own.
The analyser is a module-level function so that a trained vectoriser pickles.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

LEXICON_PATH = Path(__file__).resolve().parent / "data" / "lexicon.txt"
MAX_LEXICON_HITS = 5  # per category and notice

_DIGITS = re.compile(r"\d+")
_WORDLIKE = re.compile(r"\w", re.UNICODE)


def normalise(text: str) -> str:
    return _DIGITS.sub("0", text.lower())


def notice_tokens(text: str) -> list[str]:
    """jieba's word tokens of the normalised text, then ``lex:<category>`` tokens."""
    normalised = normalise(text)
    words = jieba_tokens(normalised)
    return words + lexicon_tokens(normalised, set(words))


def plain_tokens(text: str) -> list[str]:
    """jieba's word tokens only (the setup without the lexicon, for comparison)."""
    return jieba_tokens(normalise(text))


def jieba_tokens(normalised: str) -> list[str]:
    """Word tokens; punctuation and spaces dropped."""
    return [t for t in _jieba().lcut(normalised) if _WORDLIKE.search(t)]


def lexicon_tokens(normalised: str, words: set[str]) -> list[str]:
    """A ``lex:<category>`` token per lexicon entry present: a single English word must be one
    of ``words`` (the text's tokens); a Chinese word or an English phrase, a substring."""
    tokens: list[str] = []
    for category, (single, phrases) in _lexicon_entries().items():
        hits = len(single & words) + sum(1 for p in phrases if p in normalised)
        tokens.extend([f"lex:{category}"] * min(MAX_LEXICON_HITS, hits))
    return tokens


def read_lexicon(path: Path = LEXICON_PATH) -> dict[str, list[str]]:
    lexicon: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            category, _, words = line.partition(":")
            lexicon[category.strip()] = [w.strip().lower() for w in words.split("|") if w.strip()]
    return lexicon


@lru_cache(maxsize=1)
def _lexicon_entries() -> dict[str, tuple[frozenset[str], tuple[str, ...]]]:
    entries = {}
    for category, words in read_lexicon().items():
        single = frozenset(w for w in words if w.isascii() and re.fullmatch(r"[\w-]+", w))
        entries[category] = (single, tuple(w for w in words if w not in single))
    return entries


@lru_cache(maxsize=1)
def _jieba() -> Any:
    """jieba's tokeniser, with the lexicon's Chinese words in its dictionary."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    for words in read_lexicon().values():
        for word in words:
            if not word.isascii():
                tokenizer.add_word(word)
    return tokenizer


def build_vectoriser(max_char_ngram: int = 3, char_weight: float = 0.3,
                     lexicon: bool = True) -> Any:
    """A FeatureUnion: TF-IDF of jieba and lexicon tokens, and (weighted by ``char_weight``;
    0 leaves them out) of character 1…n-grams within word bounds."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    words = TfidfVectorizer(analyzer=notice_tokens if lexicon else plain_tokens, sublinear_tf=True, min_df=1)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, max_char_ngram),
                            preprocessor=normalise, sublinear_tf=True, min_df=2)
    if char_weight <= 0:
        return FeatureUnion([("words", words)])
    return FeatureUnion([("words", words), ("chars", chars)],
                        transformer_weights={"words": 1.0, "chars": char_weight})
