"""Expand one family's templates into one notice: [[optional]], {slot} and {a|b} choices."""

from __future__ import annotations

import random
import re

OPTIONAL = re.compile(r"\[\[(.+?)\]\]", re.S)
BRACES = re.compile(r"\{([^{}]+)\}")


class Expander:
    """One notice's choices: a slot keeps its value wherever it appears (title, body, summary)."""

    def __init__(self, rng: random.Random, pools: dict[str, list[str]], fixed: dict[str, str]):
        self.rng = rng
        self.pools = pools
        self.values = dict(fixed)
        self.kept: dict[str, bool] = {}

    def expand(self, text: str) -> str:
        text = self.rng.choice(split_top_level(text))
        text = OPTIONAL.sub(self._optional, text)
        return BRACES.sub(self._brace, text)

    def _optional(self, match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in self.kept:
            self.kept[key] = self.rng.random() < 0.5
        return key if self.kept[key] else ""

    def _brace(self, match: re.Match[str]) -> str:
        inner = match.group(1)
        if "|" in inner:
            return self.rng.choice(inner.split("|"))
        if inner not in self.values:
            if inner not in self.pools:
                raise KeyError(f"unknown slot {{{inner}}}")
            self.values[inner] = self.rng.choice(self.pools[inner])
        return self.values[inner]


def split_top_level(text: str) -> list[str]:
    """``A|B {x|y}`` → ``["A", "B {x|y}"]``: whole-text alternatives (used by titles)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "|" and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]
