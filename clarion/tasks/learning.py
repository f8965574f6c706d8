"""Tasks of the retrain-models flow: the category model, the people's profiles."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import task

from clarion.planning import clock, profiles, retraining
from clarion.tasks.common import context, retry_if_transient


@task(name="retrain-category-model", retries=1, retry_delay_seconds=30,
      retry_condition_fn=retry_if_transient)
def retrain_category_model() -> dict[str, Any]:
    settings, store = context()
    return retraining.retrain_category(store, settings, clock.now())


@task(name="learn-profiles", retries=1, retry_delay_seconds=30,
      retry_condition_fn=retry_if_transient)
def learn_profiles() -> dict[str, Any]:
    _settings, store = context()
    return asdict(profiles.learn(store, clock.now()))
