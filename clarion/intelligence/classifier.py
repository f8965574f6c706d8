"""The category model: TF-IDF features (``features.py``) and a multinomial logistic regression,
with an emergency threshold tuned for recall.

A missed emergency is the costly error, so the model says ``emergency`` whenever its emergency
probability reaches a threshold lower than the arg-max would need.  The threshold is tuned on
out-of-fold predictions over the *training* examples (grouped folds, so a family never helps
predict itself) to reach ``emergency_recall_target``; the held-out data never sees the tuning.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from .categories import EMERGENCY


@dataclass(frozen=True)
class Example:
    """One labeled notice: the corpus's, or a site's campaign or message with its category."""

    title: str
    body: str
    category: str
    group: str | None = None  # examples of one group (a family) stay on one side of a split

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.body}"


@dataclass(frozen=True)
class TrainingConfig:
    c: float = 20.0
    emergency_weight: float = 2.0
    emergency_recall_target: float = 0.99
    threshold_bounds: tuple[float, float] = (0.08, 0.5)
    folds: int = 5
    max_char_ngram: int = 3
    char_weight: float = 0.3
    lexicon: bool = True


@dataclass
class CategoryModel:
    pipeline: Any
    emergency_threshold: float
    trained_on: int
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.pipeline.classes_]

    def probabilities(self, texts: Sequence[str]) -> Any:
        """One row per text; a single text takes the direct path of ``fast_scoring``."""
        if len(texts) == 1:
            return self._fast().probabilities(texts[0])[None, :]
        return self.pipeline.predict_proba(list(texts))

    def _fast(self) -> Any:
        if "_fast_scorer" not in self.__dict__:
            from .fast_scoring import FastScorer
            self.__dict__["_fast_scorer"] = FastScorer(self.pipeline)
        return self.__dict__["_fast_scorer"]

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_fast_scorer"}

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.decide(row) for row in self.probabilities(texts)]

    def decide(self, row: Any) -> str:
        classes = self.classes
        if EMERGENCY in classes and row[classes.index(EMERGENCY)] >= self.emergency_threshold:
            return EMERGENCY
        return classes[max(range(len(classes)), key=lambda i: row[i])]


def train_model(examples: Sequence[Example], config: TrainingConfig = TrainingConfig(),
                tune: bool = True) -> CategoryModel:
    """Fit on every example; tune the emergency threshold on grouped out-of-fold predictions."""
    texts, labels = [e.text for e in examples], [e.category for e in examples]
    threshold = config.threshold_bounds[1]
    if tune and EMERGENCY in labels:
        threshold = tune_emergency_threshold(examples, config)
    pipeline = _pipeline(labels, config).fit(texts, labels)
    return CategoryModel(pipeline, threshold, len(examples), asdict(config))


def tune_emergency_threshold(examples: Sequence[Example], config: TrainingConfig) -> float:
    """The highest threshold whose out-of-fold emergency recall reaches the target."""
    import numpy as np

    scores = out_of_fold_emergency_scores(examples, config)
    if scores.size == 0:
        return config.threshold_bounds[1]
    low, high = config.threshold_bounds
    quantile = float(np.quantile(scores, 1.0 - config.emergency_recall_target))
    return float(min(high, max(low, quantile)))


def out_of_fold_emergency_scores(examples: Sequence[Example], config: TrainingConfig) -> Any:
    """P(emergency) of each emergency example, from a model that did not see its group."""
    import numpy as np
    from sklearn.model_selection import GroupKFold

    labels = np.array([e.category for e in examples])
    groups = [e.group or f"#{i}" for i, e in enumerate(examples)]
    folds = min(config.folds, len(set(groups)))
    scores: list[float] = []
    for train, test in GroupKFold(n_splits=folds).split(labels, labels, groups):
        if len(set(labels[train])) < 2 or EMERGENCY not in set(labels[train]):
            continue
        fitted = _pipeline(list(labels[train]), config).fit(
            [examples[i].text for i in train], labels[train])
        column = list(fitted.classes_).index(EMERGENCY)
        wanted = [i for i in test if labels[i] == EMERGENCY]
        if wanted:
            scores.extend(fitted.predict_proba([examples[i].text for i in wanted])[:, column])
    return np.array(scores)


def _pipeline(labels: Sequence[str], config: TrainingConfig) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from .features import build_vectoriser

    weights = {c: (config.emergency_weight if c == EMERGENCY else 1.0) for c in set(labels)}
    model = LogisticRegression(C=config.c, max_iter=3000, class_weight=weights)
    return Pipeline([("features", build_vectoriser(config.max_char_ngram, config.char_weight, config.lexicon)), ("model", model)])
