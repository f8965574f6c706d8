"""The weekly retrain of the category model from the site's own notices (staff-chosen
categories), promoted only if it scores at least as well as the one in use on a held-out
slice.  Run by the ``retrain-models`` flow, with the people's profiles
(clarion.planning.profiles)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..settings import Settings
from ..store import engagement as sql
from ..store.db import Store

HISTORY = timedelta(days=365)
MIN_SITE_NOTICES = 20  # fewer: nothing to hold out and score; the model in use stays


def retrain_category(store: Store, settings: Settings, now: datetime,
                     config: Any = None) -> dict[str, Any]:
    from ..intelligence.classifier import TrainingConfig
    from ..intelligence.registry import ModelRegistry
    from ..intelligence.retrain import bootstrap, corpus_examples, retrain, site_examples
    registry = ModelRegistry.for_data_dir(settings.data_dir)
    if registry.current_name() is None:
        first = bootstrap(registry, config or TrainingConfig())
        return {"version": first.name, "promoted": True, "reason": "first model, from the "
                                                                   "shipped corpus"}
    rows = sql.site_notices(store, now - HISTORY)
    if len(rows) < MIN_SITE_NOTICES:
        return {"version": registry.current_name(), "promoted": False,
                "reason": f"{len(rows)} site notices: too few to score a new model"}
    outcome = retrain(site_examples(rows), registry, base=corpus_examples(),
                      config=config or TrainingConfig())
    return {"version": outcome.version.name, "promoted": outcome.promoted,
            "reason": outcome.reason, "site_notices": len(rows)}
