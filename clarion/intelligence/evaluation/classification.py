"""The shipped corpus's held-out evaluation of category suggestion.

Train on the training families, tune the emergency threshold on grouped folds of those same
families, then score once on the held-out families.  Nothing about the held-out side is used
before it is scored.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from ..categories import EMERGENCY
from ..classifier import CategoryModel, Example, TrainingConfig, train_model
from ..corpus import Notice, load_corpus, split_by_family
from .scores import CategoryScores, format_scores, score


@dataclass(frozen=True)
class HoldoutResult:
    scores: CategoryScores
    model: CategoryModel
    train_notices: int
    train_families: int
    test_notices: int
    test_families: int
    train_seconds: float
    mistakes: tuple[tuple[str, str, str, int], ...]  # (family, true, predicted, count)
    flags: dict[str, float]  # the "never downgrades" check on the held-out notices


def examples_of(notices: Sequence[Notice]) -> list[Example]:
    return [Example(n.title, n.body, n.category, n.family) for n in notices]


def evaluate_holdout(config: TrainingConfig = TrainingConfig()) -> HoldoutResult:
    train, test = split_by_family(load_corpus())
    started = time.perf_counter()
    model = train_model(examples_of(train), config)
    seconds = time.perf_counter() - started
    predicted = model.predict([e.text for e in examples_of(test)])
    truth = [n.category for n in test]
    mistakes = Counter((n.family, n.category, p) for n, p in zip(test, predicted) if p != n.category)
    return HoldoutResult(score(truth, predicted), model, len(train), _families(train), len(test),
                         _families(test), seconds,
                         tuple((f, t, p, k) for (f, t, p), k in mistakes.most_common()),
                         downgrade_flags(model, test))


def downgrade_flags(model: CategoryModel, notices: Sequence[Notice]) -> dict[str, float]:
    """Emergencies sent as ``campus``: the share flagged; every other notice sent as its own
    category: the share flagged anyway (a false alarm to the sender)."""
    from ..suggest import check_category

    emergencies = [n for n in notices if n.category == EMERGENCY]
    others = [n for n in notices if n.category != EMERGENCY]
    caught = sum(1 for n in emergencies if check_category("campus", n.title, n.body, model))
    false = sum(1 for n in others if check_category(n.category, n.title, n.body, model))
    return {"emergencies sent as campus, flagged": caught / max(1, len(emergencies)),
            "others sent as their own category, flagged": false / max(1, len(others))}


def cross_validate(config: TrainingConfig, folds: int = 5) -> CategoryScores:
    """Grouped cross-validation on the training families only (for choosing a configuration)."""
    from sklearn.model_selection import GroupKFold

    train, _test = split_by_family(load_corpus())
    examples = examples_of(train)
    predicted = [""] * len(examples)
    groups = [e.group for e in examples]
    for fit_idx, held_idx in GroupKFold(n_splits=folds).split(examples, groups=groups):
        model = train_model([examples[i] for i in fit_idx], config)
        for i, label in zip(held_idx, model.predict([examples[i].text for i in held_idx])):
            predicted[i] = label
    return score([e.category for e in examples], predicted)


def format_holdout(result: HoldoutResult) -> str:
    head = (f"held-out split by family: trained on {result.train_notices} notices of "
            f"{result.train_families} families, scored on {result.test_notices} notices of "
            f"{result.test_families} other families\n"
            f"emergency threshold (tuned on training folds): "
            f"{result.model.emergency_threshold:.3f}; training took {result.train_seconds:.1f} s\n")
    recall = result.scores.emergency_recall
    tail = f"\nemergency recall {recall:.3f}\n" if recall is not None else "\n"
    tail += "".join(f"{name}: {share:.1%}\n" for name, share in result.flags.items())
    if result.mistakes:
        tail += "\nmistakes by family (family: true -> predicted × notices)\n" + "\n".join(
            f"  {f}: {t} -> {p} × {k}" for f, t, p, k in result.mistakes)
    return head + "\n" + format_scores(result.scores) + "\n" + tail


def _families(notices: Sequence[Notice]) -> int:
    return len({n.family for n in notices})
