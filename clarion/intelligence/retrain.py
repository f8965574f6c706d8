"""Retrain from a site's own history and promote only a model at least as good as the current.

The input is the site's notices with their staff-chosen categories, ``(title, body, category)``
(campaigns and messages; the wiring feeds them).  A fixed slice of it is held out; the
candidate is trained on the shipped corpus plus the rest, and both the candidate and the model
in use are scored on that same slice.  The candidate is promoted when its macro-F1 is at least
the current model's and its emergency recall is no lower; otherwise it is kept, marked refused.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Iterable, Sequence

from .classifier import CategoryModel, Example, TrainingConfig, train_model
from .evaluation.scores import CategoryScores, score
from .registry import ModelRegistry, ModelVersion


@dataclass(frozen=True)
class RetrainOutcome:
    version: ModelVersion
    promoted: bool
    reason: str
    candidate: CategoryScores
    current: CategoryScores | None


def site_examples(rows: Iterable[tuple[str, str, str]]) -> list[Example]:
    """The site's (title, body, category) rows; each row is its own group."""
    return [Example(title or "", body or "", category) for title, body, category in rows]


def holdout_split(examples: Sequence[Example], every: int = 5) -> tuple[list[Example], list[Example]]:
    """(fit, held out): a fixed ~1/every of the examples (by a hash of group or text)."""
    def held(e: Example) -> bool:
        key = (e.group or e.text).encode()
        return int(hashlib.sha256(key).hexdigest(), 16) % every == 0
    return [e for e in examples if not held(e)], [e for e in examples if held(e)]


def retrain(examples: Sequence[Example], registry: ModelRegistry, *,
            base: Sequence[Example] = (), config: TrainingConfig = TrainingConfig()) -> RetrainOutcome:
    """Train on ``base`` (e.g. the shipped corpus) + the site's fit part; then ``consider``."""
    fit, held_out = holdout_split(examples)
    if not held_out:
        raise ValueError("the site history is too small to hold out a slice for scoring")
    started = time.perf_counter()
    candidate = train_model(list(base) + fit, config)
    seconds = time.perf_counter() - started
    return consider(candidate, held_out, registry,
                    {"trained_on": len(base) + len(fit), "site_examples": len(examples),
                     "train_seconds": round(seconds, 2)})


def consider(candidate: CategoryModel, held_out: Sequence[Example], registry: ModelRegistry,
             info: dict | None = None) -> RetrainOutcome:
    """Score the candidate and the model in use on ``held_out``; promote the candidate if it
    is at least as good.  The candidate is stored either way, with its verdict."""
    truth = [e.category for e in held_out]
    texts = [e.text for e in held_out]
    mine = score(truth, candidate.predict(texts))
    current_name = registry.current_name()
    theirs = score(truth, registry.load(current_name).predict(texts)) if current_name else None
    promoted, reason = verdict(mine, theirs)
    metrics = {**(info or {}), "held_out": len(held_out), "scores": mine.summary(),
               "compared_with": current_name,
               "current_scores": theirs.summary() if theirs else None,
               "promoted": promoted, "reason": reason,
               "emergency_threshold": candidate.emergency_threshold}
    version = registry.add(candidate, metrics)
    if promoted:
        registry.promote(version.name, reason)
    return RetrainOutcome(version, promoted, reason, mine, theirs)


def verdict(candidate: CategoryScores, current: CategoryScores | None) -> tuple[bool, str]:
    if current is None:
        return True, "no model in use"
    if candidate.macro_f1 < current.macro_f1:
        return False, f"macro-F1 {candidate.macro_f1:.3f} < current {current.macro_f1:.3f}"
    mine, theirs = candidate.emergency_recall, current.emergency_recall
    if mine is not None and theirs is not None and mine < theirs:
        return False, f"emergency recall {mine:.3f} < current {theirs:.3f}"
    return True, f"macro-F1 {candidate.macro_f1:.3f} ≥ current {current.macro_f1:.3f}"


def corpus_examples() -> list[Example]:
    from .corpus import load_corpus

    return [Example(n.title, n.body, n.category, n.family) for n in load_corpus()]


def bootstrap(registry: ModelRegistry, config: TrainingConfig = TrainingConfig()) -> ModelVersion:
    """A site's first model: trained on the whole shipped corpus and put in use if none is.
    (Its held-out figures are those of ``python -m clarion.intelligence.evaluate``.)"""
    started = time.perf_counter()
    examples = corpus_examples()
    model = train_model(examples, config)
    version = registry.add(model, {"source": "shipped corpus", "trained_on": len(examples),
                                   "train_seconds": round(time.perf_counter() - started, 2),
                                   "emergency_threshold": model.emergency_threshold})
    if registry.current_name() is None:
        registry.promote(version.name, "first model, from the shipped corpus")
    return version
