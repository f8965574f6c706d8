"""What the models are given: a notice's title and body, checked before any model sees them.

Bad input gets an answer, not an exception: an empty text, a text with no letters (only emoji,
punctuation or digits) and a text beyond ``MAX_CHARS`` are refused with a reason.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

MAX_CHARS = 50_000  # a notice longer than this is not a notice (a pasted file, a mistake)
MIN_LETTERS = 2


@dataclass(frozen=True)
class Refusal:
    reason: str


def notice_text(title: str | None, body: str | None) -> str | Refusal:
    """The text a model reads (title, then body), or why there is none to read."""
    title, body = (title or "").strip(), (body or "").strip()
    text = f"{title}\n{body}".strip()
    if not text:
        return Refusal("the title and body are empty")
    if len(text) > MAX_CHARS:
        return Refusal(f"the text is {len(text):,} characters long; suggestions read notices "
                       f"of at most {MAX_CHARS:,}")
    if count_letters(text) < MIN_LETTERS:
        return Refusal("the text has no words to read (only emoji, symbols or digits)")
    return text


def count_letters(text: str, stop_at: int = MIN_LETTERS) -> int:
    """Letters (any script), counted up to ``stop_at``."""
    count = 0
    for char in text:
        if unicodedata.category(char).startswith("L"):
            count += 1
            if count >= stop_at:
                break
    return count
