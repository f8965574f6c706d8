"""Read the shipped corpus and split it by family, so near-duplicates never straddle the split."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class Notice:
    id: str
    family: str
    category: str
    lang: str
    office: str
    title: str
    body: str
    summary: str | None = None
    hard: str | None = None


def corpus_path() -> Path:
    return DATA_DIR / "corpus.jsonl.gz"


def load_corpus(path: Path | None = None) -> list[Notice]:
    with gzip.open(path or corpus_path(), "rt", encoding="utf-8") as lines:
        return [Notice(**json.loads(line)) for line in lines]


def split_by_family(notices: list[Notice], test_every: int = 5,
                    salt: str = "clarion-split-1") -> tuple[list[Notice], list[Notice]]:
    """(train, test): within each category, every ``test_every``-th family (in a fixed hashed
    order) goes whole to the test side — about 1/test_every of the families of each category."""
    families: dict[str, set[str]] = defaultdict(set)
    for notice in notices:
        families[notice.category].add(notice.family)
    test_families: set[str] = set()
    for names in families.values():
        ordered = sorted(names, key=lambda f: hashlib.sha256(f"{salt}/{f}".encode()).hexdigest())
        test_families.update(ordered[::test_every])
    train = [n for n in notices if n.family not in test_families]
    test = [n for n in notices if n.family in test_families]
    return train, test
