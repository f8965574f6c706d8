"""Category suggestion for a notice, and the "never downgrades" check.

``suggest`` answers every input: an unusable text (empty, emoji only, too long) or a site with
no model yet gives ``category=None`` with the reason; a low-confidence guess is also withheld.
``check_category`` never changes what the sender chose: it returns a flag to show them when the
text reads like a more critical category (an emergency sent as ``campus``, say).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .categories import EMERGENCY, criticality
from .classifier import CategoryModel
from .text import Refusal, notice_text

MIN_CONFIDENCE = 0.4   # below this a suggestion is withheld (an emergency has its own threshold)
FLAG_CONFIDENCE = 0.6  # a non-emergency category must be this likely to flag a downgrade
# A flag only asks the sender to look again, so it is raised more readily than a suggestion:
# at the model's emergency threshold or at this probability, whichever is lower.
FLAG_EMERGENCY = 0.2


@dataclass(frozen=True)
class Suggestion:
    category: str | None
    confidence: float
    reason: str
    scores: dict[str, float] = field(default_factory=dict)
    model_version: str | None = None


@dataclass(frozen=True)
class CategoryFlag:
    sent_as: str
    looks_like: str
    confidence: float
    message: str


def suggest(title: str | None, body: str | None, model: Any = None) -> Suggestion:
    """``model``: a CategoryModel, a (version, CategoryModel) pair, or None for the site's own."""
    text = notice_text(title, body)
    if isinstance(text, Refusal):
        return Suggestion(None, 0.0, text.reason)
    resolved = _resolve(model)
    if isinstance(resolved, Refusal):
        return Suggestion(None, 0.0, resolved.reason)
    version, classifier = resolved
    row = classifier.probabilities([text])[0]
    category = classifier.decide(row)
    scores = {c: round(float(p), 4) for c, p in zip(classifier.classes, row)}
    confidence = scores[category]
    if category == EMERGENCY and confidence < 0.5:
        reason = (f"emergency probability {confidence:.2f} reaches the emergency threshold "
                  f"{classifier.emergency_threshold:.2f}: a missed emergency costs more")
    elif confidence < MIN_CONFIDENCE:
        return Suggestion(None, confidence, f"unsure: {_top(scores)}", scores, version)
    else:
        reason = f"most likely: {_top(scores)}"
    return Suggestion(category, confidence, reason, scores, version)


def check_category(sent_as: str, title: str | None, body: str | None,
                   model: Any = None, tier: Any = criticality) -> CategoryFlag | None:
    """A flag when the text looks more critical than ``sent_as``; None when it does not (or
    when there is nothing to judge).  ``tier``: how critical a category is (by default the
    models' own table; a site passes its own, which knows its critical categories)."""
    resolved = _resolve(model)
    if isinstance(resolved, Refusal):
        return None
    suggestion = suggest(title, body, resolved)
    threshold = min(FLAG_EMERGENCY, resolved[1].emergency_threshold)
    for category, probability in sorted(suggestion.scores.items(), key=lambda kv: -kv[1]):
        if tier(category) <= tier(sent_as):
            continue
        needed = threshold if category == EMERGENCY else FLAG_CONFIDENCE
        if probability >= needed:
            return CategoryFlag(sent_as, category, probability, _flag_message(
                sent_as, category, probability))
    return None


def _flag_message(sent_as: str, category: str, probability: float) -> str:
    why = ("emergencies go out at once, in the urgent lane, past quiet hours and caps"
           if category == EMERGENCY else f"{category} notices are not held or hidden")
    return (f"this text reads like {category} ({probability:.0%}) but is sent as {sent_as}; "
            f"{why}. Send it as {category} if it is one — it has not been changed.")


def _top(scores: dict[str, float], n: int = 2) -> str:
    best = sorted(scores.items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{c} {p:.2f}" for c, p in best)


def _resolve(model: Any) -> tuple[str | None, CategoryModel] | Refusal:
    if isinstance(model, CategoryModel):
        return None, model
    if isinstance(model, tuple):
        return model
    from .serving import NoModel
    try:
        return site_model().get()
    except NoModel:
        return Refusal("no category model yet (`clarion models bootstrap` trains the first)")


_site_models: dict[Any, Any] = {}


def site_model() -> Any:
    """The CurrentModel of this site's data folder (one per folder, created on first use)."""
    from ..settings import get_settings
    data_dir = get_settings().data_dir.resolve()
    if data_dir not in _site_models:
        from .registry import ModelRegistry
        from .serving import CurrentModel
        _site_models[data_dir] = CurrentModel(ModelRegistry.for_data_dir(data_dir))
    return _site_models[data_dir]
