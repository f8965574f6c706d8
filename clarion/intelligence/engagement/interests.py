"""Interests: implicit-feedback collaborative filtering over person × topic reads.

``AlsInterests`` is the ``implicit`` library's alternating least squares (Hu, Koren & Volinsky
2008) on a matrix of read counts (confidence 1 + alpha·reads); ``PopularInterests`` is the
baseline that ranks topics by how often anyone reads them.  Both answer ``scores(rows)`` and
``rank(person_id)``; a topic is a category or "category/tag".
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from .events import EngagementLog


def read_matrix(log: EngagementLog) -> Any:
    """CSR people × topics of read counts."""
    import numpy as np
    from scipy.sparse import csr_matrix

    read = log.read
    shape = (len(log.people), len(log.topics))
    ones = np.ones(int(read.sum()), dtype=np.float32)
    matrix = csr_matrix((ones, (log.person[read], log.topic[read])), shape=shape)
    matrix.sum_duplicates()
    return matrix


@dataclass
class AlsInterests:
    people: dict[str, int]
    topics: list[str]
    person_factors: Any
    topic_factors: Any

    def scores(self, rows: Any) -> Any:
        return self.person_factors[rows] @ self.topic_factors.T

    def rank(self, person_id: str) -> list[str]:
        """Topics by predicted interest; [] for a person never seen (use the rule's order)."""
        row = self.people.get(person_id)
        if row is None:
            return []
        return [self.topics[i] for i in (-self.scores([row])[0]).argsort()]


@dataclass
class PopularInterests:
    topics: list[str]
    popularity: Any

    def scores(self, rows: Any) -> Any:
        import numpy as np
        return np.tile(self.popularity, (len(rows), 1))

    def rank(self, person_id: str) -> list[str]:
        return [self.topics[i] for i in (-self.popularity).argsort()]


def fit_als(log: EngagementLog, factors: int = 16, iterations: int = 15,
            regularization: float = 0.1, alpha: float = 2.0, seed: int = 0) -> AlsInterests:
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    confidence = read_matrix(log) * alpha
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # implicit's BLAS-threads advice, heeded
        model = AlternatingLeastSquares(factors=factors, iterations=iterations,
                                        regularization=regularization, random_state=seed)
        model.fit(confidence.tocsr(), show_progress=False)
    return AlsInterests({p: i for i, p in enumerate(log.people)}, list(log.topics),
                        _to_numpy(model.user_factors), _to_numpy(model.item_factors))


def learned_interests(log: EngagementLog, factors: int = 16) -> dict[str, dict[str, float]]:
    """Per person, a score per topic from ALS with ``factors`` factors (at most one per
    topic), rounded to 4 places: what a person's profile keeps."""
    model = fit_als(log, factors=min(factors, len(log.topics)))
    scores = model.scores(list(range(len(log.people))))
    return {p: {t: round(float(s), 4) for t, s in zip(log.topics, scores[i])}
            for i, p in enumerate(log.people)}


def fit_popularity(log: EngagementLog) -> PopularInterests:
    import numpy as np

    counts = np.bincount(log.topic[log.read], minlength=len(log.topics)).astype(np.float64)
    return PopularInterests(list(log.topics), counts)


def _to_numpy(array: Any) -> Any:
    return array.to_numpy() if hasattr(array, "to_numpy") else array
