"""Retraining from a small site history: a better model is promoted, a worse one refused."""

from __future__ import annotations

import random

from clarion.intelligence.classifier import Example, TrainingConfig, train_model
from clarion.intelligence.registry import ModelRegistry
from clarion.intelligence.retrain import consider, holdout_split, retrain, site_examples

CONFIG = TrainingConfig(folds=3)


def site_history(split, size: int = 260) -> list[Example]:
    """A site's campaigns and messages: (title, body, staff-chosen category) rows."""
    _train, test = split
    rows = [(n.title, n.body, n.category) for n in random.Random(7).sample(test, size)]
    return site_examples(rows)


def shuffled(examples: list[Example]) -> list[Example]:
    labels = [e.category for e in examples]
    random.Random(3).shuffle(labels)
    return [Example(e.title, e.body, label) for e, label in zip(examples, labels)]


def test_first_model_is_promoted_then_a_worse_one_is_refused(tmp_path, split):
    registry = ModelRegistry(tmp_path)
    history = site_history(split)
    first = retrain(history, registry, config=CONFIG)
    assert first.promoted and registry.current_name() == first.version.name
    assert first.candidate.macro_f1 > 0.7

    fit, held_out = holdout_split(history)
    worse = consider(train_model(shuffled(fit), CONFIG), held_out, registry)
    assert not worse.promoted and "macro-F1" in worse.reason
    assert worse.candidate.macro_f1 < worse.current.macro_f1
    assert registry.current_name() == first.version.name          # still serving the first
    assert registry.versions()[-1].metrics["promoted"] is False  # kept, marked refused


def test_a_better_model_replaces_a_worse_one(tmp_path, split):
    registry = ModelRegistry(tmp_path)
    history = site_history(split)
    fit, held_out = holdout_split(history)
    assert consider(train_model(shuffled(fit), CONFIG), held_out, registry).promoted  # none yet
    better = retrain(history, registry, config=CONFIG)
    assert better.promoted and better.candidate.macro_f1 > better.current.macro_f1
    assert registry.current_name() == better.version.name
    assert better.version.metrics["compared_with"] == "v0001"
