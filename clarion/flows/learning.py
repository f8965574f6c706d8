"""The ``retrain-models`` flow (weekly): the category model from the site's own notices,
promoted only if at least as good as the one in use; each person's profile from what they
read."""

from __future__ import annotations

from typing import Any

from prefect import flow

from clarion.tasks.learning import learn_profiles, retrain_category_model


@flow(name="retrain-models", log_prints=True)
def retrain_models() -> dict[str, Any]:
    return {"category": retrain_category_model(), "profiles": learn_profiles()}
