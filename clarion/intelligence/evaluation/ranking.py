"""Ranking metrics with binary relevance, averaged over people."""

from __future__ import annotations

import math
from typing import Any, Sequence


def precision_at(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    return sum(1 for i in ranked[:k] if i in relevant) / k


def ndcg_at(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    gain = sum(1 / math.log2(rank + 2) for rank, i in enumerate(ranked[:k]) if i in relevant)
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return gain / ideal if ideal else 0.0


def mean_ranking_scores(scores: Any, relevant: dict[int, set[int]], k_precision: int = 5,
                        k_ndcg: int = 10) -> tuple[float, float]:
    """(mean precision@k, mean NDCG@k) over the rows of ``relevant``; ``scores`` holds one row
    of topic scores per key of ``relevant``, in the same order."""
    import numpy as np

    precision, ndcg = [], []
    for row_scores, wanted in zip(scores, relevant.values()):
        ranked = list(np.argsort(-row_scores, kind="stable")[:max(k_precision, k_ndcg)])
        precision.append(precision_at(ranked, wanted, k_precision))
        ndcg.append(ndcg_at(ranked, wanted, k_ndcg))
    return float(np.mean(precision)), float(np.mean(ndcg))
