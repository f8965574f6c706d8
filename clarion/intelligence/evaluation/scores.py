"""Classification scores computed the same way for the shipped corpus and a site's retraining."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..categories import CATEGORIES, EMERGENCY


@dataclass(frozen=True)
class CategoryScores:
    labels: tuple[str, ...]
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    f1: tuple[float, ...]
    support: tuple[int, ...]
    confusion: tuple[tuple[int, ...], ...]  # rows: true label, columns: predicted
    macro_f1: float
    accuracy: float

    def recall_of(self, label: str) -> float | None:
        if label not in self.labels or self.support[self.labels.index(label)] == 0:
            return None
        return self.recall[self.labels.index(label)]

    @property
    def emergency_recall(self) -> float | None:
        return self.recall_of(EMERGENCY)

    def summary(self) -> dict[str, float | None]:
        return {"macro_f1": round(self.macro_f1, 4), "accuracy": round(self.accuracy, 4),
                "emergency_recall": self.emergency_recall, "examples": sum(self.support)}


def score(truth: Sequence[str], predicted: Sequence[str]) -> CategoryScores:
    """Per-category precision/recall/F1 over the labels present in either list."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    present = set(truth) | set(predicted)
    labels = [c for c in CATEGORIES if c in present] + sorted(present - set(CATEGORIES))
    p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    in_truth = [i for i, label in enumerate(labels) if label in set(truth)]
    matrix = confusion_matrix(truth, predicted, labels=labels)
    return CategoryScores(tuple(labels), tuple(map(float, p)), tuple(map(float, r)),
                          tuple(map(float, f)), tuple(map(int, s)),
                          tuple(tuple(map(int, row)) for row in matrix),
                          float(sum(f[i] for i in in_truth) / max(1, len(in_truth))),
                          float(accuracy_score(truth, predicted)))


def format_scores(scores: CategoryScores) -> str:
    lines = [f"{'category':<10} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}"]
    for i, label in enumerate(scores.labels):
        lines.append(f"{label:<10} {scores.precision[i]:>9.3f} {scores.recall[i]:>7.3f} "
                     f"{scores.f1[i]:>6.3f} {scores.support[i]:>8}")
    lines.append(f"macro-F1 {scores.macro_f1:.3f}   accuracy {scores.accuracy:.3f}")
    lines += ["", "confusion matrix (rows: true, columns: predicted)",
              " " * 11 + " ".join(f"{label[:9]:>9}" for label in scores.labels)]
    for label, row in zip(scores.labels, scores.confusion):
        lines.append(f"{label:<10} " + " ".join(f"{v:>9}" for v in row))
    return "\n".join(lines)
