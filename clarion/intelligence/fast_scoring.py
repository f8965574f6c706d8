"""Score one notice without scikit-learn's per-call overhead.

A fitted pipeline (FeatureUnion of TF-IDF vectorisers → multinomial logistic regression)
spends most of a one-notice call validating input and dispatching through joblib.  This does
the same arithmetic directly: the vectorisers' own analysers and vocabularies, sublinear TF ×
IDF, L2 norm per part, the union's weights, then the linear model and a softmax.  A test checks
it against ``pipeline.predict_proba``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class _Part:
    analyse: Callable[[str], list[str]]
    vocabulary: dict[str, int]
    idf: Any
    offset: int
    weight: float
    sublinear: bool


class FastScorer:
    def __init__(self, pipeline: Any):
        import numpy as np

        union, model = pipeline.named_steps["features"], pipeline.named_steps["model"]
        weights = union.transformer_weights or {}
        self.parts: list[_Part] = []
        offset = 0
        for name, vectoriser in union.transformer_list:
            self.parts.append(_Part(vectoriser.build_analyzer(), vectoriser.vocabulary_,
                                    vectoriser.idf_, offset, float(weights.get(name, 1.0)),
                                    bool(vectoriser.sublinear_tf)))
            offset += len(vectoriser.vocabulary_)
        self.coef_columns = np.ascontiguousarray(model.coef_.T)  # features × classes
        self.intercept = model.intercept_

    def probabilities(self, text: str) -> Any:
        import numpy as np

        logits = self.intercept.copy()
        for part in self.parts:
            indices, values = _tfidf(part, text)
            if indices:
                logits += part.weight * (values @ self.coef_columns[indices])
        logits -= logits.max()
        exp = np.exp(logits)
        return exp / exp.sum()


def _tfidf(part: _Part, text: str) -> tuple[list[int], Any]:
    import numpy as np

    counts = Counter(t for t in part.analyse(text) if t in part.vocabulary)
    indices = [part.offset + part.vocabulary[t] for t in counts]
    if not indices:
        return [], None
    tf = [1 + math.log(c) if part.sublinear else float(c) for c in counts.values()]
    values = np.array(tf) * part.idf[[part.vocabulary[t] for t in counts]]
    return indices, values / np.linalg.norm(values)
