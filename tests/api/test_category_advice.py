"""Categories from the text through the API: ``"category": "auto"`` takes the site model's
suggestion; a category the sender chose is never changed, but a text that reads more
critical than it is flagged in the answer."""

from __future__ import annotations

from functools import lru_cache

import pytest

from .conftest import auth

FIRE = {"default": {"title": "紧急通知：化学楼火情",
                    "body": "化学楼三层发生火情，请立即从最近的安全出口撤离，不要乘坐电梯。"}}
FAIR = {"default": {"title": "Club fair this Saturday",
                    "body": "Over sixty student clubs show what they do on the main square, "
                            "10:00 to 16:00. Free drinks and a band."}}


@lru_cache(maxsize=1)
def _small_model():  # type: ignore[no-untyped-def]
    """Trained on every third notice of the shipped corpus (the full model is the
    evaluation's business; here the wiring is tested)."""
    from clarion.intelligence.classifier import Example, TrainingConfig, train_model
    from clarion.intelligence.corpus import load_corpus
    notices = load_corpus()[::3]
    return train_model([Example(n.title, n.body, n.category, n.family) for n in notices],
                       TrainingConfig(folds=3))


@pytest.fixture
def site_model(settings):  # type: ignore[no-untyped-def]
    from clarion.intelligence.registry import ModelRegistry
    registry = ModelRegistry.for_data_dir(settings.data_dir)
    registry.promote(registry.add(_small_model(), {"source": "test"}).name)
    return registry


def _message(content: dict, category: str) -> dict:
    return {"category": category, "channels": ["inbox"], "to": [{"id": "S000001"}],
            "content": content}


def test_auto_takes_the_suggestion_and_a_downgrade_is_flagged(client, campus, make_key,
                                                               site_model):
    campus(5)
    key = auth(make_key())
    r = client.post("/v1/messages", json=_message(FIRE, "auto"), headers=key)
    assert r.status_code == 202, r.text
    assert r.json()["category"] == "emergency"
    assert "suggested" in r.json()["warnings"][0]["message"]
    info = client.get(f"/v1/messages/{r.json()['message_id']}", headers=key).json()
    assert info["category"] == "emergency"
    r = client.post("/v1/messages", json=_message(FAIR, "auto"), headers=key)
    assert r.json()["category"] == "campus", r.text
    flagged = client.post("/v1/messages", json=_message(FIRE, "campus"), headers=key)
    assert flagged.status_code == 202 and flagged.json()["category"] == "campus"  # unchanged
    [note] = flagged.json()["warnings"]
    assert note["field"] == "category" and "reads like emergency" in note["message"]
    assert client.post("/v1/messages", json=_message(FAIR, "campus"),
                       headers=key).json()["warnings"] == []


def test_auto_without_words_or_without_a_model_is_refused_naming_the_field(
        client, campus, make_key, settings):
    campus(5)
    key = auth(make_key())
    r = client.post("/v1/messages", json=_message(FAIR, "auto"), headers=key)
    assert r.status_code == 422 and r.json()["error"]["field"] == "category", r.text
    assert "clarion models bootstrap" in r.json()["error"]["message"]
    from clarion.intelligence.registry import ModelRegistry
    registry = ModelRegistry.for_data_dir(settings.data_dir)
    registry.promote(registry.add(_small_model(), {}).name)
    emoji = {"default": {"title": "🎉🎉", "body": "🔥🔥🔥"}}
    r = client.post("/v1/messages", json=_message(emoji, "auto"), headers=key)
    assert r.status_code == 422 and r.json()["error"]["field"] == "category", r.text
    assert "no words" in r.json()["error"]["message"]


def test_a_campaign_with_auto_starts_with_the_suggested_category(client, campus, make_key,
                                                                 site_model, app):
    campus(20)
    starts = []

    async def start(parameters, key):  # type: ignore[no-untyped-def]
        starts.append(parameters)
        return "run-1"
    app.state.clarion.start_campaign = start
    body = {"name": "Fire", "category": "auto", "priority": "emergency", "channels": ["inbox"],
            "audience": {"everyone": True}, "content": FIRE}
    r = client.post("/v1/campaigns", json=body, headers=auth(make_key()))
    assert r.status_code == 202, r.text
    assert r.json()["category"] == "emergency"
    assert starts[0]["request"]["category"] == "emergency"  # the flow gets it decided
