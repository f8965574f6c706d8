"""Small models and logs for the intelligence tests (the full evaluation is a command:
``python -m clarion.intelligence.evaluate``)."""

from __future__ import annotations

import pytest

from clarion.intelligence.classifier import CategoryModel, Example, TrainingConfig, train_model
from clarion.intelligence.corpus import Notice, load_corpus, split_by_family


@pytest.fixture(scope="session")
def corpus() -> list[Notice]:
    return load_corpus()


@pytest.fixture(scope="session")
def split(corpus: list[Notice]) -> tuple[list[Notice], list[Notice]]:
    return split_by_family(corpus)


@pytest.fixture(scope="session")
def small_model(split: tuple[list[Notice], list[Notice]]) -> CategoryModel:
    """Trained on every third notice of the training families; threshold tuned on 3 folds."""
    train, _test = split
    examples = [Example(n.title, n.body, n.category, n.family) for n in train[::3]]
    return train_model(examples, TrainingConfig(folds=3))


def as_examples(notices: list[Notice]) -> list[Example]:
    return [Example(n.title, n.body, n.category, n.family) for n in notices]


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """No test here touches a database: the PostgreSQL pass of scripts/test.sh skips them."""
    for item in items:
        if "tests/intelligence/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.sqlite_only)
