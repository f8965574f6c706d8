"""TextRank over sentences: PageRank on a graph whose edges are shared words.

Similarity of two sentences as in Mihalcea & Tarau (2004): shared tokens over the sum of the
logs of their lengths.
"""

from __future__ import annotations

import math
from typing import Sequence


def similarity(a: set[str], b: set[str]) -> float:
    shared = len(a & b)
    if not shared or len(a) < 2 or len(b) < 2:
        return 0.0
    return shared / (math.log(len(a)) + math.log(len(b)))


def textrank(token_sets: Sequence[set[str]], damping: float = 0.85,
             iterations: int = 50, tolerance: float = 1e-6) -> list[float]:
    """One score per sentence; uniform when no sentence shares a word with another."""
    import numpy as np

    n = len(token_sets)
    if n == 0:
        return []
    weights = np.array([[similarity(a, b) if i != j else 0.0 for j, b in enumerate(token_sets)]
                        for i, a in enumerate(token_sets)])
    out = weights.sum(axis=1, keepdims=True)
    transition = np.divide(weights, out, out=np.full_like(weights, 1.0 / n), where=out > 0)
    scores = np.full(n, 1.0 / n)
    for _ in range(iterations):
        updated = (1 - damping) / n + damping * transition.T @ scores
        if np.abs(updated - scores).sum() < tolerance:
            scores = updated
            break
        scores = updated
    return [float(s) for s in scores]
